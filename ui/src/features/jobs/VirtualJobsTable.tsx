import { ActionIcon, Box, Group, Text, UnstyledButton, VisuallyHidden } from "@mantine/core";
import { IconArrowDown, IconArrowUp, IconCopy, IconPlayerStop, IconRefresh, IconShieldCheck } from "@tabler/icons-react";
import { measureElement, useVirtualizer } from "@tanstack/react-virtual";
import { memo, useCallback, useEffect, useLayoutEffect, useRef } from "react";
import type { CSSProperties, ReactNode, RefObject } from "react";
import type { Job, JobState } from "../../bindings";
import { errorDetails } from "../../api/errors";
import { formatBytes, formatDateTime, formatEta, formatRate, jobBytes, jobDuration } from "./format";
import { JobProgressCell } from "./JobProgressCell";
import { isActive } from "../../api/jobStates";
import { canRetry } from "./retry";
import type { JobRow, JobSort, JobSortKey } from "./jobFilters";
import classes from "./VirtualJobsTable.module.css";

/** A row's height before it is measured; most rows are about this tall. */
export const ROW_ESTIMATE = 64;
// At the default window (1280 px) the table is about 1,020 px wide: the columns' minimums, their
// gaps and the row's padding fit in it, so Cancel and Retry are on screen without scrolling. In a
// narrower window the body scrolls sideways, the header with it, and the actions stay in view.
const COLUMNS = "minmax(160px, 2fr) 104px minmax(110px, 1fr) minmax(190px, 2fr) 136px minmax(150px, 2fr) 48px";
const MIN_ROW_WIDTH = 160 + 104 + 110 + 190 + 136 + 150 + 48 + 6 * 12 + 2 * 12;

const gridRow: CSSProperties = { display: "grid", gridTemplateColumns: COLUMNS, columnGap: 12, alignItems: "center" };
/** The rows' class reads its columns from here (VirtualJobsTable.module.css). */
const rowsColumns = { "--jobs-table-columns": COLUMNS } as CSSProperties;

type Props = {
  /** How many rows the table has (the jobs that match), loaded or not. */
  count: number;
  /** The row at an index, or undefined while its block is being fetched. */
  rowAt: (index: number) => JobRow | undefined;
  /** Told which rows are in view (with overscan), so their blocks are fetched. */
  onRange: (first: number, last: number) => void;
  sort: JobSort;
  onSort: (sort: JobSort) => void;
  onCancel: (job: Job) => void;
  cancellingId?: string | null;
  /** Absent: no retry buttons. */
  onRetry?: (job: Job) => void;
  /** Id of the job whose retry is being submitted. */
  retryingId?: string | null;
  onOpen?: (job: Job) => void;
  /** Height of the scrolling area. */
  height?: number | string;
};

/** A column title; sortable columns toggle their order on a click (newest first for dates). */
function ColumnHeader({ label, sortKey, sort, onSort }: { label: ReactNode; sortKey?: JobSortKey; sort: JobSort; onSort: (s: JobSort) => void }) {
  if (!sortKey) {
    return (
      <div role="columnheader">
        <Text size="sm" fw={600}>
          {label}
        </Text>
      </div>
    );
  }
  const active = sort.key === sortKey;
  // aria-sort belongs on the column header (ARIA), not on the button inside it.
  return (
    <div role="columnheader" aria-sort={active ? (sort.desc ? "descending" : "ascending") : "none"}>
      <UnstyledButton
        onClick={() => onSort({ key: sortKey, desc: active ? !sort.desc : sortKey === "created_at" })}
        data-testid={`jobs-sort-${sortKey}`}
        style={{ fontWeight: 600, fontSize: "var(--mantine-font-size-sm)" }}
      >
        <Group gap={4} wrap="nowrap">
          {label}
          {active && (sort.desc ? <IconArrowDown size={14} aria-hidden /> : <IconArrowUp size={14} aria-hidden />)}
        </Group>
      </UnstyledButton>
    </div>
  );
}

/** The columns in order; those with a key sort the jobs in the core. */
const HEADERS: readonly { label: ReactNode; sortKey?: JobSortKey }[] = [
  { label: "Name", sortKey: "name" },
  { label: "State", sortKey: "state" },
  { label: "Connection", sortKey: "connection" },
  { label: "Progress" },
  { label: "Created", sortKey: "created_at" },
  { label: "Outcome" },
  { label: <VisuallyHidden>Actions</VisuallyHidden> },
];

function Cell({ children }: { children: ReactNode }) {
  return (
    <div role="cell" className={classes.cell}>
      {children}
    </div>
  );
}

// Rows are built from plain elements styled by classes (VirtualJobsTable.module.css) with the
// theme's CSS variables: a row is rendered for every scroll step, and Mantine's Tooltip, Badge
// and CopyButton cost several times more per row, inline styles about as much again (measured
// in bench/ui-scale). The job's page (a click on its name) has the full view.
const STATE_STYLE: Record<JobState, { className: string; label: string }> = {
  queued: { className: `${classes.state} ${classes.gray}`, label: "Queued" },
  running: { className: `${classes.state} ${classes.blue}`, label: "Running" },
  succeeded: { className: `${classes.state} ${classes.teal}`, label: "Succeeded" },
  failed: { className: `${classes.state} ${classes.red}`, label: "Failed" },
  cancelled: { className: `${classes.state} ${classes.yellow}`, label: "Cancelled" },
  interrupted: { className: `${classes.state} ${classes.orange}`, label: "Interrupted" },
};

function StateLabel({ state }: { state: JobState }) {
  const { className, label } = STATE_STYLE[state];
  return (
    <span data-testid="job-state" className={className}>
      {label}
    </span>
  );
}

function ProgressText({ job }: { job: Job }) {
  const p = job.progress;
  if (job.state === "queued") return <div className={classes.dimmed}>Waiting for a free slot</div>;
  if (!p || p.bytes_done === 0) return <div className={classes.dimmed}>—</div>;
  // A finished stream of unknown length has its total now: the same "X of Y" as every other row.
  const total = p.bytes_total ?? (job.state === "succeeded" ? p.bytes_done : null);
  return (
    <div className={classes.dimmed}>
      {formatBytes(p.bytes_done)}
      {total !== null ? ` of ${formatBytes(total)}` : ""}
    </div>
  );
}

/** How long a finished job took and its average rate: "took 3 min 12 s · 45 MiB/s". */
function DurationText({ job }: { job: Job }) {
  const seconds = jobDuration(job);
  if (seconds === null) return null;
  const bytes = jobBytes(job);
  return (
    <div className={classes.dimmed} data-testid="job-duration">
      took {formatEta(seconds)}
      {bytes > 0 && seconds > 0 ? ` · ${formatRate(bytes / seconds)}` : ""}
    </div>
  );
}

type RowProps = {
  row: JobRow;
  start: number;
  index: number;
  cancelling: boolean;
  retrying: boolean;
  onCancel: (job: Job) => void;
  onRetry: ((job: Job) => void) | null;
  onOpen: (job: Job) => void;
  measure: (el: HTMLElement | null) => void;
};

/** What every row of the scrolling area carries: its place for the virtualizer and for screen readers. */
function rowPlace(index: number, start: number, measure: (el: HTMLElement | null) => void) {
  return {
    role: "row",
    ref: measure,
    "data-index": index,
    "aria-rowindex": index + 2,
    className: classes.row,
    style: { transform: `translateY(${start}px)` },
  };
}

// Memoised: a progress event re-renders only the row whose job object changed.
const JobRowView = memo(function JobRowView({ row, start, index, cancelling, retrying, onCancel, onRetry, onOpen, measure }: RowProps) {
  const { job } = row;
  return (
    <div {...rowPlace(index, start, measure)} data-testid="job-row" data-job-state={job.state} data-job-id={job.id}>
      <Cell>
        <button
          type="button"
          onClick={() => onOpen(job)}
          data-testid="job-open"
          title={`Open ${job.name}`}
          className={classes.open}
        >
          <div className={`${classes.text} ${classes.name}`}>{job.name}</div>
          <div className={classes.dimmed}>{job.kind}</div>
        </button>
      </Cell>
      <Cell>
        <StateLabel state={job.state} />
      </Cell>
      <Cell>
        <div className={classes.text} title={row.connection}>
          {row.connection || "—"}
        </div>
        <div className={classes.dimmed}>{row.provider === "none" ? "local" : row.provider}</div>
      </Cell>
      <Cell>{job.state === "running" ? <JobProgressCell job={job} /> : <ProgressText job={job} />}</Cell>
      <Cell>
        <div className={classes.text}>{formatDateTime(job.created_at)}</div>
        <DurationText job={job} />
      </Cell>
      <Cell>
        {job.error ? (
          <div className={classes.errorLine}>
            <div data-testid="job-error" title={job.error.message} className={`${classes.text} ${classes.error}`}>
              {job.error.message}
            </div>
            <ActionIcon
              variant="subtle"
              color="gray"
              size="sm"
              aria-label="Copy details"
              title="Copy details"
              onClick={() => void navigator.clipboard?.writeText(errorDetails(job.error!, `job “${job.name}” (${job.id})`))}
            >
              <IconCopy size={14} aria-hidden />
            </ActionIcon>
          </div>
        ) : job.result ? (
          <div>
            <div className={`${classes.text} ${classes.mono}`} title={job.result.path} data-testid="job-result-path">
              {job.result.path}
            </div>
            {job.result.verified && (
              <div
                data-testid={`job-verified-${job.id}`}
                title="Every file matched the manifest before the package got its final name"
                className={`${classes.dimmed} ${classes.verified}`}
              >
                <IconShieldCheck size={14} aria-hidden /> Verified · {formatBytes(job.result.bytes)}
                {job.result.manifest_algorithm && ` · ${job.result.manifest_algorithm.toUpperCase()}`}
              </div>
            )}
          </div>
        ) : (
          <div className={classes.dimmed}>—</div>
        )}
      </Cell>
      <div role="cell" className={`${classes.cell} ${classes.actions}`}>
        {isActive(job.state) && (
          <ActionIcon
            variant="subtle"
            color="red"
            size="lg"
            loading={cancelling}
            onClick={() => onCancel(job)}
            aria-label={`Cancel ${job.name}`}
            title="Cancel job"
            data-testid="job-cancel"
          >
            <IconPlayerStop size={18} aria-hidden />
          </ActionIcon>
        )}
        {onRetry && canRetry(job) && (
          <ActionIcon
            variant="subtle"
            size="lg"
            loading={retrying}
            onClick={() => onRetry(job)}
            aria-label={`Retry ${job.name}`}
            title="Retry export (continues from its checkpoint where possible)"
            data-testid="job-retry"
          >
            <IconRefresh size={18} aria-hidden />
          </ActionIcon>
        )}
      </div>
    </div>
  );
});

/** A row whose job is still on its way from the core (scrolled to, or a new query). */
function PendingRow({ start, index, measure }: { start: number; index: number; measure: (el: HTMLElement | null) => void }) {
  const place = rowPlace(index, start, measure);
  return (
    <div {...place} style={{ ...place.style, height: ROW_ESTIMATE }} aria-busy data-testid="job-row-pending">
      <Cell>
        <div className={classes.dimmed}>Loading…</div>
      </Cell>
    </div>
  );
}

/** The column titles; memoised, so a new list of rows does not render them again. */
const TableHeader = memo(function TableHeader({
  sort,
  onSort,
  scrollRef,
}: {
  sort: JobSort;
  onSort: (sort: JobSort) => void;
  /** Scrolled sideways with the body (which has the scroll bar). */
  scrollRef: RefObject<HTMLDivElement | null>;
}) {
  return (
    <div role="rowgroup" ref={scrollRef} style={{ overflow: "hidden" }}>
      <div
        role="row"
        aria-rowindex={1}
        style={{ ...gridRow, minWidth: MIN_ROW_WIDTH, padding: "8px 12px", borderBottom: "1px solid var(--mantine-color-default-border)" }}
      >
        {HEADERS.map((column, i) => (
          <ColumnHeader key={i} label={column.label} sortKey={column.sortKey} sort={sort} onSort={onSort} />
        ))}
      </div>
    </div>
  );
});

/**
 * The jobs list for any number of jobs: only the rows in view (plus a few) are in the DOM,
 * each measured as it renders so taller rows (errors, several disks) take their room.
 */
export const VirtualJobsTable = memo(function VirtualJobsTable({
  count,
  rowAt,
  onRange,
  sort,
  onSort,
  onCancel,
  cancellingId = null,
  onRetry,
  retryingId = null,
  onOpen,
  height = "calc(100vh - 290px)",
}: Props) {
  const scrollRef = useRef<HTMLDivElement>(null);
  const headerRef = useRef<HTMLDivElement>(null);
  // Rows are memoised: hand them callbacks that stay the same while the parent re-renders.
  const handlers = useRef({ onCancel, onOpen, onRetry });
  useLayoutEffect(() => {
    handlers.current = { onCancel, onOpen, onRetry };
  });
  const cancel = useCallback((job: Job) => handlers.current.onCancel(job), []);
  const open = useCallback((job: Job) => handlers.current.onOpen?.(job), []);
  const retry = useCallback((job: Job) => handlers.current.onRetry?.(job), []);
  const hasRetry = onRetry !== undefined;
  // The virtualizer is read afresh on every render and nothing here is memoised by the React
  // Compiler, which is what this rule guards against.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtualizer = useVirtualizer({
    count,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_ESTIMATE,
    overscan: 8,
    // Keyed by index (the default): a key function that changes with every new list would make
    // the virtualizer rebuild its measurements of all 100,000 rows on each progress event.
    // Without layout (tests, a hidden window) a measured 0 would pull every row into view.
    measureElement: (el, entry, instance) => measureElement(el, entry, instance) || ROW_ESTIMATE,
  });
  const items = virtualizer.getVirtualItems();
  const first = items[0]?.index ?? 0;
  const last = items[items.length - 1]?.index ?? 0;
  useEffect(() => onRange(first, last), [onRange, first, last]);
  return (
    <Box
      role="table"
      aria-label="Jobs"
      aria-rowcount={count + 1}
      style={{ border: "1px solid var(--mantine-color-default-border)", borderRadius: "var(--mantine-radius-sm)" }}
    >
      <TableHeader sort={sort} onSort={onSort} scrollRef={headerRef} />
      <div
        ref={scrollRef}
        role="rowgroup"
        data-testid="jobs-scroll"
        style={{ height, minHeight: 240, overflow: "auto", position: "relative" }}
        onScroll={(e) => {
          if (headerRef.current) headerRef.current.scrollLeft = e.currentTarget.scrollLeft;
        }}
      >
        <div style={{ height: virtualizer.getTotalSize(), position: "relative", minWidth: MIN_ROW_WIDTH, ...rowsColumns }}>
          {items.map((item) => {
            const row = rowAt(item.index);
            if (!row) return <PendingRow key={item.key} start={item.start} index={item.index} measure={virtualizer.measureElement} />;
            return (
              // Keyed by position, not by job: when a filter or a new job changes which job a
              // position shows, its row is updated in place instead of unmounted and built
              // again, which is most of what a keystroke in the search box costs.
              <JobRowView
                key={item.key}
                row={row}
                start={item.start}
                index={item.index}
                cancelling={cancellingId === row.job.id}
                retrying={retryingId === row.job.id}
                onCancel={cancel}
                onRetry={hasRetry ? retry : null}
                onOpen={open}
                measure={virtualizer.measureElement}
              />
            );
          })}
        </div>
      </div>
    </Box>
  );
});

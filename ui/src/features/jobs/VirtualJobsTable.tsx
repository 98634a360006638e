import { ActionIcon, Box, Group, Stack, Text, Tooltip, UnstyledButton, VisuallyHidden } from "@mantine/core";
import { IconArrowDown, IconArrowUp, IconPlayerStop } from "@tabler/icons-react";
import { measureElement, useVirtualizer } from "@tanstack/react-virtual";
import type { VirtualItem } from "@tanstack/react-virtual";
import { memo, useRef } from "react";
import type { CSSProperties, ReactNode } from "react";
import type { Job } from "../../bindings";
import { errorDetails } from "../../api/errors";
import { CopyDetailsButton } from "../../components/ErrorAlert";
import { formatDateTime } from "./format";
import { JobProgressCell } from "./JobProgressCell";
import { isActive, JobStateBadge } from "./JobStateBadge";
import type { JobRow, JobSort, JobSortKey } from "./jobFilters";

/** A row's height before it is measured; most rows are about this tall. */
export const ROW_ESTIMATE = 64;
const COLUMNS = "minmax(180px, 2fr) 112px minmax(130px, 1.2fr) minmax(200px, 2fr) 150px minmax(160px, 2fr) 48px";

const gridRow: CSSProperties = { display: "grid", gridTemplateColumns: COLUMNS, columnGap: 12, alignItems: "center" };

type Props = {
  rows: readonly JobRow[];
  sort: JobSort;
  onSort: (sort: JobSort) => void;
  onCancel: (job: Job) => void;
  cancellingId?: string | null;
  onOpen?: (job: Job) => void;
  /** Height of the scrolling area. */
  height?: number | string;
};

function SortHeader({ label, sortKey, sort, onSort }: { label: string; sortKey: JobSortKey; sort: JobSort; onSort: (s: JobSort) => void }) {
  const active = sort.key === sortKey;
  return (
    <UnstyledButton
      onClick={() => onSort({ key: sortKey, desc: active ? !sort.desc : sortKey === "created_at" })}
      aria-sort={active ? (sort.desc ? "descending" : "ascending") : "none"}
      data-testid={`jobs-sort-${sortKey}`}
      style={{ fontWeight: 600, fontSize: "var(--mantine-font-size-sm)" }}
    >
      <Group gap={4} wrap="nowrap">
        {label}
        {active && (sort.desc ? <IconArrowDown size={14} aria-hidden /> : <IconArrowUp size={14} aria-hidden />)}
      </Group>
    </UnstyledButton>
  );
}

function Cell({ children }: { children: ReactNode }) {
  return (
    <div role="cell" style={{ minWidth: 0 }}>
      {children}
    </div>
  );
}

type RowProps = {
  row: JobRow;
  item: VirtualItem;
  cancelling: boolean;
  onCancel: (job: Job) => void;
  onOpen?: (job: Job) => void;
  measure: (el: HTMLElement | null) => void;
};

// Memoised: a progress event re-renders only the row whose job object changed.
const JobRowView = memo(function JobRowView({ row, item, cancelling, onCancel, onOpen, measure }: RowProps) {
  const { job } = row;
  return (
    <div
      role="row"
      ref={measure}
      data-index={item.index}
      aria-rowindex={item.index + 2}
      data-testid="job-row"
      data-job-state={job.state}
      data-job-id={job.id}
      style={{
        ...gridRow,
        position: "absolute",
        top: 0,
        left: 0,
        right: 0,
        transform: `translateY(${item.start}px)`,
        padding: "8px 12px",
        borderBottom: "1px solid var(--mantine-color-default-border)",
      }}
    >
      <Cell>
        <UnstyledButton onClick={() => onOpen?.(job)} disabled={!onOpen} data-testid="job-open" style={{ maxWidth: "100%" }}>
          <Text size="sm" fw={600} truncate title={job.name}>
            {job.name}
          </Text>
          <Text size="xs" c="dimmed">
            {job.kind}
          </Text>
        </UnstyledButton>
      </Cell>
      <Cell>
        <JobStateBadge state={job.state} />
      </Cell>
      <Cell>
        <Text size="sm" truncate title={row.connection}>
          {row.connection || "—"}
        </Text>
        <Text size="xs" c="dimmed">
          {row.provider === "none" ? "local" : row.provider}
        </Text>
      </Cell>
      <Cell>
        <JobProgressCell job={job} />
      </Cell>
      <Cell>
        <Text size="sm">{formatDateTime(job.created_at)}</Text>
      </Cell>
      <Cell>
        {job.error ? (
          <Stack gap={2} align="flex-start">
            <Text size="sm" c="red" lineClamp={2} title={job.error.message} data-testid="job-error">
              {job.error.message}
            </Text>
            <CopyDetailsButton text={errorDetails(job.error, `job “${job.name}” (${job.id})`)} />
          </Stack>
        ) : job.result ? (
          <Text size="sm" truncate title={job.result.path} ff="monospace">
            {job.result.path}
          </Text>
        ) : (
          <Text size="sm" c="dimmed">
            —
          </Text>
        )}
      </Cell>
      <Cell>
        {isActive(job.state) && (
          <Tooltip label="Cancel job" withArrow openDelay={300}>
            <ActionIcon
              variant="subtle"
              color="red"
              size="lg"
              loading={cancelling}
              onClick={() => onCancel(job)}
              aria-label={`Cancel ${job.name}`}
              data-testid="job-cancel"
            >
              <IconPlayerStop size={18} aria-hidden />
            </ActionIcon>
          </Tooltip>
        )}
      </Cell>
    </div>
  );
});

/**
 * The jobs list for any number of jobs: only the rows in view (plus a few) are in the DOM,
 * each measured as it renders so taller rows (errors, several disks) take their room.
 */
export function VirtualJobsTable({ rows, sort, onSort, onCancel, cancellingId = null, onOpen, height = "calc(100vh - 290px)" }: Props) {
  const scrollRef = useRef<HTMLDivElement>(null);
  // The virtualizer is read afresh on every render and nothing here is memoised by the React
  // Compiler, which is what this rule guards against.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_ESTIMATE,
    overscan: 8,
    getItemKey: (index) => rows[index]?.job.id ?? index,
    // Without layout (tests, a hidden window) a measured 0 would pull every row into view.
    measureElement: (el, entry, instance) => measureElement(el, entry, instance) || ROW_ESTIMATE,
  });
  const items = virtualizer.getVirtualItems();
  return (
    <Box
      role="table"
      aria-label="Jobs"
      aria-rowcount={rows.length + 1}
      style={{ border: "1px solid var(--mantine-color-default-border)", borderRadius: "var(--mantine-radius-sm)" }}
    >
      <div role="rowgroup">
        <div role="row" aria-rowindex={1} style={{ ...gridRow, padding: "8px 12px", borderBottom: "1px solid var(--mantine-color-default-border)" }}>
          <div role="columnheader">
            <SortHeader label="Name" sortKey="name" sort={sort} onSort={onSort} />
          </div>
          <div role="columnheader">
            <SortHeader label="State" sortKey="state" sort={sort} onSort={onSort} />
          </div>
          <div role="columnheader">
            <SortHeader label="Connection" sortKey="connection" sort={sort} onSort={onSort} />
          </div>
          <div role="columnheader">
            <Text size="sm" fw={600}>
              Progress
            </Text>
          </div>
          <div role="columnheader">
            <SortHeader label="Created" sortKey="created_at" sort={sort} onSort={onSort} />
          </div>
          <div role="columnheader">
            <Text size="sm" fw={600}>
              Outcome
            </Text>
          </div>
          <div role="columnheader">
            <VisuallyHidden>Actions</VisuallyHidden>
          </div>
        </div>
      </div>
      <div ref={scrollRef} role="rowgroup" data-testid="jobs-scroll" style={{ height, minHeight: 240, overflow: "auto", position: "relative" }}>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative", minWidth: 980 }}>
          {items.map((item) => {
            const row = rows[item.index];
            if (!row) return null;
            return (
              <JobRowView
                key={item.key}
                row={row}
                item={item}
                cancelling={cancellingId === row.job.id}
                onCancel={onCancel}
                onOpen={onOpen}
                measure={virtualizer.measureElement}
              />
            );
          })}
        </div>
      </div>
    </Box>
  );
}

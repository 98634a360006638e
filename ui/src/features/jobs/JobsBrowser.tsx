import { Stack, Text } from "@mantine/core";
import { lazy, Suspense, useCallback, useMemo, useState } from "react";
import type { ReactNode } from "react";
import type { Connection, Job } from "../../bindings";
import { JOB_BLOCK, useConnections, useJobPages } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";
import { JobsFilterBar } from "./JobsFilterBar";
import { DEFAULT_SORT, NO_FILTERS, jobRow, toJobQuery } from "./jobFilters";
import type { JobFilters, JobSort } from "./jobFilters";
import { VirtualJobsTable } from "./VirtualJobsTable";

type Props = {
  onCancel: (job: Job) => void;
  cancellingId?: string | null;
  /** Absent: no retry buttons. */
  onRetry?: (job: Job) => void;
  retryingId?: string | null;
  /** Shown instead of the table while there are no jobs at all. */
  empty?: ReactNode;
  /** Connections by id; read from the query cache when not given. */
  connections?: readonly Connection[];
  height?: number | string;
};

// A job's page draws a chart: loaded (with the charts library) when a job is first opened.
const JobDetailDrawer = lazy(() => import("./JobDetailDrawer").then((m) => ({ default: m.JobDetailDrawer })));

/**
 * Filters, sort and a virtualised table over every job the core holds (100,000 and more): the
 * core filters, sorts and counts, and the table fetches the rows in view a block at a time.
 */
export function JobsBrowser({ onCancel, cancellingId = null, onRetry, retryingId = null, empty, connections, height }: Props) {
  const connectionsQuery = useConnections();
  const connectionList = useMemo(() => connections ?? connectionsQuery.data ?? [], [connections, connectionsQuery.data]);
  const byId = useMemo(() => new Map(connectionList.map((c) => [c.id, c])), [connectionList]);
  const [filters, setFilters] = useState<JobFilters>(NO_FILTERS);
  const [sort, setSort] = useState<JobSort>(DEFAULT_SORT);
  const [range, setRange] = useState<[number, number]>([0, JOB_BLOCK - 1]);
  const [openId, setOpenId] = useState<string | null>(null);
  // Not deferred: a keystroke's render only changes the query (the rows change when the core
  // answers), so deferring it would only add a render pass before the request goes out.
  const query = useMemo(() => toJobQuery(filters, sort), [filters, sort]);
  const { pages, matched, total, error, settling } = useJobPages(query, range[0], range[1]);

  const rowAt = useCallback(
    (index: number) => {
      const job = pages.get(Math.floor(index / JOB_BLOCK))?.jobs[index % JOB_BLOCK];
      return job ? jobRow(job, byId) : undefined;
    },
    [pages, byId],
  );
  const onRange = useCallback((first: number, last: number) => {
    setRange((r) => (r[0] === first && r[1] === last ? r : [first, last]));
  }, []);
  // The provider filter offers the kinds of the connections there are, and "no connection".
  const providers = useMemo(() => [...new Set(connectionList.map((c) => c.kind as string)), "none"].sort(), [connectionList]);
  // Stable, so the (memoised) table skips the keystroke's first render, which changes only the
  // search box.
  const open = useCallback((job: Job) => setOpenId(job.id), []);

  if (error && matched === null) return <ErrorAlert error={error} title="Could not load jobs" />;
  if (matched === null || total === null) return <LoadingBlock label="Loading jobs" />;
  if (total === 0 && empty) return <>{empty}</>;

  return (
    <Stack gap="sm">
      <JobsFilterBar
        filters={filters}
        onChange={setFilters}
        connections={connectionList}
        providers={providers}
        shown={matched}
        total={total}
        busy={settling}
        answers={settling ? null : query.text}
      />
      {error && <ErrorAlert error={error} title="Could not load some of the jobs" />}
      {matched === 0 ? (
        <Text size="sm" c="dimmed" ta="center" py="xl" data-testid="jobs-none-match">
          No job matches these filters. Clear them to see all {total.toLocaleString()} jobs.
        </Text>
      ) : (
        <VirtualJobsTable
          count={matched}
          rowAt={rowAt}
          onRange={onRange}
          sort={sort}
          onSort={setSort}
          onCancel={onCancel}
          cancellingId={cancellingId}
          onRetry={onRetry}
          retryingId={retryingId}
          onOpen={open}
          height={height}
        />
      )}
      {openId !== null && (
        <Suspense fallback={null}>
          <JobDetailDrawer jobId={openId} onClose={() => setOpenId(null)} />
        </Suspense>
      )}
    </Stack>
  );
}

import { Stack, Text } from "@mantine/core";
import { lazy, Suspense, useCallback, useDeferredValue, useMemo, useState } from "react";
import { JOB_LIST_LIMIT } from "../../bindings";
import type { Connection, Job } from "../../bindings";
import { useConnections } from "../../api/hooks";
import { JobsFilterBar } from "./JobsFilterBar";
import { DEFAULT_SORT, JobListCache, NO_FILTERS, jobRow } from "./jobFilters";
import type { JobFilters, JobSort } from "./jobFilters";
import { VirtualJobsTable } from "./VirtualJobsTable";

type Props = {
  jobs: readonly Job[];
  onCancel: (job: Job) => void;
  cancellingId?: string | null;
  /** Absent: no retry buttons. */
  onRetry?: (job: Job) => void;
  retryingId?: string | null;
  /** Connections by id; read from the query cache when not given. */
  connections?: readonly Connection[];
  height?: number | string;
};

// A job's page draws a chart: loaded (with the charts library) when a job is first opened.
const JobDetailDrawer = lazy(() => import("./JobDetailDrawer").then((m) => ({ default: m.JobDetailDrawer })));

/** Filters, sort and a virtualised table: the jobs list at any size (100,000 jobs and more). */
export function JobsBrowser({ jobs, onCancel, cancellingId = null, onRetry, retryingId = null, connections, height }: Props) {
  const connectionsQuery = useConnections();
  const connectionList = useMemo(() => connections ?? connectionsQuery.data ?? [], [connections, connectionsQuery.data]);
  const byId = useMemo(() => new Map(connectionList.map((c) => [c.id, c])), [connectionList]);
  const [filters, setFilters] = useState<JobFilters>(NO_FILTERS);
  const [sort, setSort] = useState<JobSort>(DEFAULT_SORT);
  const [openId, setOpenId] = useState<string | null>(null);
  // Typing stays responsive: the input updates at once, the list right after.
  const text = useDeferredValue(filters.text);

  const [cache] = useState(() => new JobListCache());
  const rows = useMemo(() => jobs.map((j) => jobRow(j, byId)), [jobs, byId]);
  // The core lists jobs newest first and new ones are prepended, so the default order needs no
  // sort at all; other orders are kept across progress events (see JobListCache).
  const sorted = useMemo(
    () => (sort.key === DEFAULT_SORT.key && sort.desc === DEFAULT_SORT.desc ? rows : cache.sort(rows, sort)),
    [cache, rows, sort],
  );
  const { states, provider, connectionId } = filters;
  const shown = useMemo(
    () => cache.filter(sorted, { states, provider, connectionId, text }),
    [cache, sorted, states, provider, connectionId, text],
  );
  const providers = useMemo(() => [...new Set(rows.map((r) => r.provider))].sort(), [rows]);
  // Stable, so the (memoised) table skips the keystroke's first render, which changes only the
  // search box.
  const open = useCallback((job: Job) => setOpenId(job.id), []);

  return (
    <Stack gap="sm">
      <JobsFilterBar
        filters={filters}
        onChange={setFilters}
        connections={connectionList}
        providers={providers}
        shown={shown.length}
        total={jobs.length}
      />
      {jobs.length >= JOB_LIST_LIMIT && (
        <Text size="sm" c="dimmed" data-testid="jobs-list-cut">
          Only the newest {JOB_LIST_LIMIT.toLocaleString()} jobs are listed and searched here; older jobs are kept but not
          listed.
        </Text>
      )}
      {shown.length === 0 ? (
        <Text size="sm" c="dimmed" ta="center" py="xl" data-testid="jobs-none-match">
          No job matches these filters. Clear them to see all {jobs.length.toLocaleString()} jobs.
        </Text>
      ) : (
        <VirtualJobsTable
          rows={shown}
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

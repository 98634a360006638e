// The Jobs table's filters and sort as the core's JobQuery, and what a row shows of its job.
// The core filters, sorts and pages (it holds every job; the window only the rows in view);
// `sortRows` and `filterRows` do the same in the browser for the preview build's mock core.
import type { Connection, Job, JobPage, JobQuery, JobSortKey, JobState } from "../../bindings";

export type JobFilters = {
  /** Empty: every state. */
  states: JobState[];
  /** A provider kind (`vsphere`, …), `none` for jobs without a connection, or null for all. */
  provider: string | null;
  connectionId: string | null;
  /** Case-insensitive words, all of which must appear in the name, id, connection or error. */
  text: string;
};

export const NO_FILTERS: JobFilters = { states: [], provider: null, connectionId: null, text: "" };

export type { JobSortKey };
export type JobSort = { key: JobSortKey; desc: boolean };
export const DEFAULT_SORT: JobSort = { key: "created_at", desc: true };

/** What filtering and sorting need of a job, computed once per job object. */
export type JobRow = {
  job: Job;
  provider: string;
  connection: string;
  /** Lower-case name, id, connection name and error message. */
  haystack: string;
};

const rowCache = new WeakMap<Job, { connections: ReadonlyMap<string, Connection>; row: JobRow }>();

export function jobRow(job: Job, connections: ReadonlyMap<string, Connection>): JobRow {
  const cached = rowCache.get(job);
  if (cached && cached.connections === connections) return cached.row;
  const conn = job.connection_id ? connections.get(job.connection_id) : undefined;
  const provider = conn?.kind ?? (job.connection_id ? "unknown" : "none");
  const connection = conn?.name ?? "";
  const row = {
    job,
    provider,
    connection,
    haystack: `${job.name}\n${job.id}\n${connection}\n${job.error?.message ?? ""}`.toLowerCase(),
  };
  rowCache.set(job, { connections, row });
  return row;
}

const STATE_ORDER: Record<JobState, number> = { running: 0, queued: 1, failed: 2, interrupted: 3, cancelled: 4, succeeded: 5 };

function compare(a: JobRow, b: JobRow, key: JobSortKey): number {
  switch (key) {
    case "created_at":
      // ISO 8601 UTC strings sort as text; ties keep the list's order.
      return a.job.created_at < b.job.created_at ? -1 : a.job.created_at > b.job.created_at ? 1 : 0;
    case "name":
      return a.job.name.localeCompare(b.job.name);
    case "state":
      return STATE_ORDER[a.job.state] - STATE_ORDER[b.job.state];
    case "provider":
      return a.provider < b.provider ? -1 : a.provider > b.provider ? 1 : 0;
    case "connection":
      return a.connection.localeCompare(b.connection);
  }
}

/** Sorted rows; stable, so equal keys keep the core's newest-first order. */
export function sortRows(rows: readonly JobRow[], sort: JobSort): JobRow[] {
  const indexed = rows.map((row, i) => ({ row, i }));
  const dir = sort.desc ? -1 : 1;
  indexed.sort((x, y) => dir * compare(x.row, y.row, sort.key) || x.i - y.i);
  return indexed.map((x) => x.row);
}

export function filterRows(rows: readonly JobRow[], filters: JobFilters): JobRow[] {
  const words = filters.text.toLowerCase().split(/\s+/).filter(Boolean);
  const states = filters.states.length > 0 ? new Set(filters.states) : null;
  if (!states && !filters.provider && !filters.connectionId && words.length === 0) return rows.slice();
  return rows.filter(
    (r) =>
      (!states || states.has(r.job.state)) &&
      (!filters.provider || r.provider === filters.provider) &&
      (!filters.connectionId || r.job.connection_id === filters.connectionId) &&
      words.every((w) => r.haystack.includes(w)),
  );
}

export function isFiltered(filters: JobFilters): boolean {
  return filters.states.length > 0 || filters.provider !== null || filters.connectionId !== null || filters.text.trim() !== "";
}

/** The query for the table's filters and sort (without its page). */
export function toJobQuery(filters: JobFilters, sort: JobSort): Omit<JobQuery, "offset" | "limit"> {
  return {
    states: filters.states,
    provider: filters.provider,
    connection_id: filters.connectionId,
    text: filters.text.trim(),
    sort: sort.key,
    desc: sort.desc,
  };
}

/**
 * What the core's `query_jobs` answers, computed in the browser over a list of jobs (newest
 * first): for the preview build's mock core and for tests.
 */
export function queryJobsLocally(jobs: readonly Job[], connections: readonly Connection[], query: JobQuery): JobPage {
  const byId = new Map(connections.map((c) => [c.id, c]));
  const rows = jobs.map((j) => jobRow(j, byId));
  const filters: JobFilters = {
    states: query.states,
    provider: query.provider,
    connectionId: query.connection_id,
    text: query.text,
  };
  const matched = sortRows(filterRows(rows, filters), { key: query.sort, desc: query.desc });
  return {
    jobs: matched.slice(query.offset, query.offset + query.limit).map((r) => r.job),
    matched: matched.length,
    total: jobs.length,
  };
}

// Filtering and sorting of the jobs list, pure so it can be measured and tested on 100,000 jobs.
import type { Connection, Job, JobState } from "../../bindings";

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

export type JobSortKey = "created_at" | "name" | "state" | "provider" | "connection";
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

function sortValue(r: JobRow, key: JobSortKey): string {
  switch (key) {
    case "created_at":
      return r.job.created_at;
    case "name":
      return r.job.name;
    case "state":
      return r.job.state;
    case "provider":
      return r.provider;
    case "connection":
      return r.connection;
  }
}

/** How many searches besides the current one's prefixes a {@link JobListCache} keeps. */
const MAX_EXTENSIONS = 32;

/**
 * Sort and filter that reuse their earlier results when they can. A progress event replaces
 * one job object and changes no sort key, so the previous order is reapplied instead of
 * sorting 100,000 jobs again. Searches are kept per text for the same rows and other filters:
 * a text seen before (deleting back, typing it again) is a lookup, and a new one narrows the
 * matches of its longest known prefix (`vm-00` looks only among the matches of `vm-0`).
 * Results are the same as `sortRows` / `filterRows` on the same input.
 */
export class JobListCache {
  private sorted: { rows: readonly JobRow[]; sort: JobSort; order: number[] } | null = null;
  private searches: { source: readonly JobRow[]; filters: JobFilters; byText: Map<string, readonly JobRow[]> } | null = null;

  sort(rows: readonly JobRow[], sort: JobSort): JobRow[] {
    const prev = this.sorted;
    const reusable =
      prev !== null &&
      prev.sort.key === sort.key &&
      prev.sort.desc === sort.desc &&
      prev.rows.length === rows.length &&
      rows.every((r, i) => {
        const p = prev.rows[i]!;
        return p === r || (p.job.id === r.job.id && sortValue(p, sort.key) === sortValue(r, sort.key));
      });
    let order: number[];
    if (reusable) {
      order = prev.order;
    } else {
      const dir = sort.desc ? -1 : 1;
      order = rows.map((_, i) => i);
      order.sort((a, b) => dir * compare(rows[a]!, rows[b]!, sort.key) || a - b);
    }
    this.sorted = { rows, sort, order };
    return order.map((i) => rows[i]!);
  }

  /**
   * The rows of `source` that match `filters`; the same array for the same source, filters and
   * (case-insensitive) text, and `source` itself when nothing is filtered out.
   */
  filter(source: readonly JobRow[], filters: JobFilters): readonly JobRow[] {
    const prev = this.searches;
    const sameScope =
      prev !== null &&
      prev.source === source &&
      prev.filters.provider === filters.provider &&
      prev.filters.connectionId === filters.connectionId &&
      prev.filters.states.length === filters.states.length &&
      prev.filters.states.every((s, i) => filters.states[i] === s);
    const byText = sameScope ? prev.byText : new Map<string, readonly JobRow[]>();
    this.searches = { source, filters, byText };

    const text = filters.text.toLowerCase();
    let result = byText.get(text);
    if (result === undefined) {
      // Every word of a prefix is part of a word of the longer text, so the longer text's
      // matches are among the prefix's.
      let base: readonly JobRow[] = source;
      let baseLength = -1;
      for (const [known, rows] of byText) {
        if (known.length > baseLength && text.startsWith(known)) {
          base = rows;
          baseLength = known.length;
        }
      }
      const kept = filterRows(base, filters);
      result = kept.length === base.length ? base : kept;
    }
    // Kept: the prefixes of this text (deleting back) and, up to a limit, the longer texts it
    // is a prefix of (typing it again); the rest no longer lie on the way.
    let extensions = 0;
    for (const known of [...byText.keys()].sort((a, b) => a.length - b.length)) {
      if (text.startsWith(known)) continue;
      if (known.startsWith(text) && extensions < MAX_EXTENSIONS) extensions += 1;
      else byText.delete(known);
    }
    byText.set(text, result);
    return result;
  }
}

export function isFiltered(filters: JobFilters): boolean {
  return filters.states.length > 0 || filters.provider !== null || filters.connectionId !== null || filters.text.trim() !== "";
}

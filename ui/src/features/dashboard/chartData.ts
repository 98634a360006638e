// Pure functions from core data to the points each chart plots, and from those points to the
// table "Export data" saves — so the file holds exactly what the chart shows.
import type { HeatCell, JobStats, MetricSeries, MetricsSample, ProviderOutcomes } from "../../bindings";
import type { ChartTable } from "./exportData";

export const isoTime = (t: number) => new Date(t * 1000).toISOString();

export type LineInfo = { key: string; label: string };

/** One row per second: `t` and each job's bytes/s (null when the job did not run then). */
export type ThroughputRow = { t: number } & Record<string, number | null>;

export function liveThroughput(
  samples: readonly MetricsSample[],
  jobName: (id: string) => string,
): { rows: ThroughputRow[]; lines: LineInfo[] } {
  const ids: string[] = [];
  for (const s of samples) for (const j of s.jobs) if (!ids.includes(j.job_id)) ids.push(j.job_id);
  const rows = samples.map((s) => {
    const row: ThroughputRow = { t: s.t };
    for (const id of ids) row[id] = s.jobs.find((j) => j.job_id === id)?.bytes_per_second ?? null;
    return row;
  });
  return { rows, lines: ids.map((id) => ({ key: id, label: jobName(id) })) };
}

export function throughputTable(name: string, rows: readonly ThroughputRow[], lines: readonly LineInfo[]): ChartTable {
  return {
    name,
    columns: ["t", "time", ...lines.map((l) => `${l.label} (B/s)`)],
    rows: rows.map((r) => [r.t, isoTime(r.t), ...lines.map((l) => r[l.key] ?? null)]),
  };
}

export type SeriesRow = { t: number; value: number | null; peak: number | null };

/** The first line of a process-wide series (CPU, memory or write rate). */
export function seriesRows(series: MetricSeries | undefined): SeriesRow[] {
  return (series?.lines[0]?.points ?? []).map((p) => ({ t: p.t, value: p.value, peak: p.peak }));
}

export function seriesTable(name: string, unit: string, rows: readonly SeriesRow[]): ChartTable {
  return {
    name,
    columns: ["t", "time", `average (${unit})`, `peak (${unit})`],
    rows: rows.map((r) => [r.t, isoTime(r.t), r.value, r.peak]),
  };
}

export const OUTCOMES = ["succeeded", "failed", "cancelled", "interrupted"] as const;

export function providerBars(stats: JobStats | undefined): ProviderOutcomes[] {
  return stats?.by_provider ?? [];
}

export function providerTable(rows: readonly ProviderOutcomes[]): ChartTable {
  return {
    name: "jobs-per-provider",
    columns: ["provider", ...OUTCOMES],
    rows: rows.map((r) => [r.provider, r.succeeded, r.failed, r.cancelled, r.interrupted]),
  };
}

export type RunPoint = {
  job_id: string;
  name: string;
  provider: string;
  outcome: string;
  bytes: number;
  duration_seconds: number;
  finished_at: number;
};

/** Finished jobs that ran (have a duration): x = bytes, y = seconds. */
export function runPoints(stats: JobStats | undefined): RunPoint[] {
  return (stats?.runs ?? []).flatMap((r) =>
    r.duration_seconds === null
      ? []
      : [
          {
            job_id: r.job_id,
            name: r.name,
            provider: r.provider,
            outcome: r.outcome,
            bytes: r.bytes,
            duration_seconds: r.duration_seconds,
            finished_at: r.finished_at,
          },
        ],
  );
}

export function runTable(rows: readonly RunPoint[]): ChartTable {
  return {
    name: "duration-vs-size",
    columns: ["job_id", "name", "provider", "outcome", "bytes", "duration_seconds", "finished_at"],
    rows: rows.map((r) => [r.job_id, r.name, r.provider, r.outcome, r.bytes, r.duration_seconds, isoTime(r.finished_at)]),
  };
}

export const WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] as const;

/** All 168 cells, Monday 00 h first, zeros included. */
export function heatCells(stats: JobStats | undefined): HeatCell[] {
  const cells: HeatCell[] = [];
  for (let weekday = 0; weekday < 7; weekday++) {
    for (let hour = 0; hour < 24; hour++) {
      const found = stats?.heatmap.find((c) => c.weekday === weekday && c.hour === hour);
      cells.push({ weekday, hour, count: found?.count ?? 0 });
    }
  }
  return cells;
}

export function heatTable(cells: readonly HeatCell[]): ChartTable {
  return {
    name: "runs-by-weekday-hour",
    columns: ["weekday", "hour", "runs"],
    rows: cells.map((c) => [WEEKDAYS[c.weekday] ?? String(c.weekday), c.hour, c.count]),
  };
}

/**
 * The names of the jobs that have live samples, as a string that changes only when one of them
 * does (not on every progress event, which replaces the jobs list).
 */
export function liveJobNames(nameOf: (id: string) => string | undefined, samples: readonly MetricsSample[]): string {
  const wanted = new Set<string>();
  for (const s of samples) for (const j of s.jobs) wanted.add(j.job_id);
  const pairs: [string, string][] = [];
  for (const id of wanted) {
    const name = nameOf(id);
    if (name !== undefined) pairs.push([id, name]);
  }
  // Two exports of one VM (a retry, a schedule's next run) share a name: number them in the order
  // they appear in the samples, so the legend tells their lines apart.
  const count = new Map<string, number>();
  for (const [, name] of pairs) count.set(name, (count.get(name) ?? 0) + 1);
  const seen = new Map<string, number>();
  for (const pair of pairs) {
    if ((count.get(pair[1]) ?? 0) < 2) continue;
    const n = (seen.get(pair[1]) ?? 0) + 1;
    seen.set(pair[1], n);
    pair[1] = `${pair[1]} (${n})`;
  }
  return JSON.stringify(pairs);
}

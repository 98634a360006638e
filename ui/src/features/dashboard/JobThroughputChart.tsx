import { useMemo } from "react";
import { CartesianGrid, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { MetricSeries } from "../../bindings";
import { ChartCard, ChartEmpty } from "./ChartCard";
import { seriesRows, seriesTable } from "./chartData";
import type { SeriesRow } from "./chartData";
import { CHART_HEIGHT, formatRate, fullTime, timeTicks } from "./format";

/** Stored buckets, then the live seconds after the last stored one. */
export function mergeLive(stored: readonly SeriesRow[], live: readonly SeriesRow[]): SeriesRow[] {
  const last = stored[stored.length - 1]?.t ?? -Infinity;
  return [...stored, ...live.filter((p) => p.t > last)];
}

/** One job's throughput over its run (stored history plus, while it runs, the live seconds). */
export function JobThroughputChart({ jobId, series, live }: { jobId: string; series: MetricSeries | undefined; live: readonly SeriesRow[] }) {
  const rows = useMemo(() => mergeLive(seriesRows(series), live), [series, live]);
  const table = useMemo(() => seriesTable(`throughput-${jobId.slice(0, 8)}`, "B/s", rows), [jobId, rows]);
  const axis = useMemo(() => timeTicks(rows[0]?.t ?? 0, rows[rows.length - 1]?.t ?? 0), [rows]);
  return (
    <ChartCard
      testId="chart-job-throughput"
      title="Throughput"
      description={series ? `Average per ${series.bucket_seconds} s over the job's run.` : undefined}
      table={table}
    >
      {rows.length === 0 ? (
        <ChartEmpty>No throughput recorded for this job (it moved no data, or ran before metrics were kept).</ChartEmpty>
      ) : (
        <ResponsiveContainer width="100%" height={CHART_HEIGHT} initialDimension={{ width: 560, height: CHART_HEIGHT }}>
          <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 0, left: 8 }}>
            <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.4} />
            <XAxis dataKey="t" type="number" domain={["dataMin", "dataMax"]} ticks={axis.ticks} tickFormatter={axis.label} minTickGap={40} />
            <YAxis tickFormatter={(v: number) => formatRate(v)} width={84} />
            <Tooltip labelFormatter={(t) => fullTime(Number(t))} formatter={(v) => formatRate(Number(v))} />
            <Line dataKey="value" name="average" stroke="var(--mantine-color-blue-6)" dot={false} strokeWidth={2} isAnimationActive={false} />
          </LineChart>
        </ResponsiveContainer>
      )}
    </ChartCard>
  );
}

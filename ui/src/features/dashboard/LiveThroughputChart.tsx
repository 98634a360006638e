import { useMemo } from "react";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { MetricsSample } from "../../bindings";
import { ChartCard, ChartEmpty } from "./ChartCard";
import { liveThroughput, throughputTable } from "./chartData";
import { CHART_HEIGHT, PALETTE, formatRate, fullTime, timeTicks } from "./format";

type Props = {
  samples: readonly MetricsSample[];
  jobName: (id: string) => string;
};

/** One line per running job, one point a second, from the core's live samples. */
export function LiveThroughputChart({ samples, jobName }: Props) {
  const { rows, lines } = useMemo(() => liveThroughput(samples, jobName), [samples, jobName]);
  const table = useMemo(() => throughputTable("throughput-live", rows, lines), [rows, lines]);
  const axis = useMemo(() => timeTicks(rows[0]?.t ?? 0, rows[rows.length - 1]?.t ?? 0), [rows]);
  return (
    <ChartCard
      testId="chart-throughput"
      title="Live throughput"
      description="Bytes per second of each running job, the last five minutes, updated every second."
      table={table}
    >
      {lines.length === 0 ? (
        <ChartEmpty>No export is running. A line per job appears here as soon as one starts.</ChartEmpty>
      ) : (
        <ResponsiveContainer width="100%" height={CHART_HEIGHT} initialDimension={{ width: 640, height: CHART_HEIGHT }}>
          <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 0, left: 8 }}>
            <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.4} />
            <XAxis
              dataKey="t"
              type="number"
              domain={["dataMin", "dataMax"]}
              ticks={axis.ticks}
              tickFormatter={axis.label}
              minTickGap={40}
            />
            <YAxis tickFormatter={(v: number) => formatRate(v)} width={84} />
            <Tooltip labelFormatter={(t) => fullTime(Number(t))} formatter={(v) => formatRate(Number(v))} />
            <Legend />
            {lines.map((line, i) => (
              <Line
                key={line.key}
                dataKey={line.key}
                name={line.label}
                stroke={PALETTE[i % PALETTE.length]}
                dot={false}
                strokeWidth={2}
                isAnimationActive={false}
                connectNulls={false}
              />
            ))}
          </LineChart>
        </ResponsiveContainer>
      )}
    </ChartCard>
  );
}

import { useMemo } from "react";
import { CartesianGrid, Legend, ResponsiveContainer, Scatter, ScatterChart, Tooltip, XAxis, YAxis } from "recharts";
import { ChartCard, ChartEmpty } from "./ChartCard";
import { OUTCOMES, runTable } from "./chartData";
import type { RunPoint } from "./chartData";
import { CHART_HEIGHT, OUTCOME_COLORS, formatBytes, formatDuration } from "./format";

/** Each finished job that ran: its size against how long it took, coloured by outcome. */
export function DurationSizeChart({ points, truncated = false }: { points: readonly RunPoint[]; truncated?: boolean }) {
  const table = useMemo(() => runTable(points), [points]);
  const byOutcome = useMemo(
    () => OUTCOMES.map((o) => ({ outcome: o, points: points.filter((p) => p.outcome === o) })).filter((g) => g.points.length > 0),
    [points],
  );
  return (
    <ChartCard
      testId="chart-duration-size"
      title="Duration vs size"
      description={truncated ? "The most recent finished jobs of the range (older ones left out)." : "Finished jobs of the selected range."}
      table={table}
    >
      {points.length === 0 ? (
        <ChartEmpty>No job finished in this range.</ChartEmpty>
      ) : (
        <ResponsiveContainer width="100%" height={CHART_HEIGHT} initialDimension={{ width: 480, height: CHART_HEIGHT }}>
          <ScatterChart margin={{ top: 8, right: 16, bottom: 0, left: 8 }}>
            <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.4} />
            <XAxis dataKey="bytes" type="number" name="Size" tickFormatter={(v: number) => formatBytes(v)} />
            <YAxis dataKey="duration_seconds" type="number" name="Duration" tickFormatter={(v: number) => formatDuration(v)} width={84} />
            <Tooltip
              cursor={{ strokeDasharray: "3 3" }}
              formatter={(v, name) => [name === "Size" ? formatBytes(Number(v)) : formatDuration(Number(v)), name]}
            />
            <Legend />
            {byOutcome.map((g) => (
              <Scatter key={g.outcome} name={g.outcome} data={g.points} fill={OUTCOME_COLORS[g.outcome]} isAnimationActive={false} />
            ))}
          </ScatterChart>
        </ResponsiveContainer>
      )}
    </ChartCard>
  );
}

import { useMemo } from "react";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { ProviderOutcomes } from "../../bindings";
import { ChartCard, ChartEmpty } from "./ChartCard";
import { OUTCOMES, providerTable } from "./chartData";
import { CHART_HEIGHT, OUTCOME_COLORS } from "./format";

/** Finished jobs per provider, stacked by outcome. */
export function ProviderOutcomeChart({ rows }: { rows: readonly ProviderOutcomes[] }) {
  const table = useMemo(() => providerTable(rows), [rows]);
  return (
    <ChartCard testId="chart-providers" title="Jobs per provider" description="Finished in the selected range, by outcome." table={table}>
      {rows.length === 0 ? (
        <ChartEmpty>No job finished in this range.</ChartEmpty>
      ) : (
        <ResponsiveContainer width="100%" height={CHART_HEIGHT} initialDimension={{ width: 480, height: CHART_HEIGHT }}>
          <BarChart data={[...rows]} margin={{ top: 8, right: 16, bottom: 0, left: 0 }}>
            <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.4} />
            <XAxis dataKey="provider" />
            <YAxis allowDecimals={false} width={40} />
            <Tooltip />
            <Legend />
            {OUTCOMES.map((o) => (
              <Bar key={o} dataKey={o} stackId="outcome" fill={OUTCOME_COLORS[o]} isAnimationActive={false} />
            ))}
          </BarChart>
        </ResponsiveContainer>
      )}
    </ChartCard>
  );
}

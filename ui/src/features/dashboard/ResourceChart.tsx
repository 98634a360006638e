import { SegmentedControl } from "@mantine/core";
import { useMemo, useState } from "react";
import { Area, AreaChart, Brush, CartesianGrid, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { MetricKind, MetricSeries } from "../../bindings";
import { ChartCard, ChartEmpty } from "./ChartCard";
import { seriesRows, seriesTable } from "./chartData";
import { CHART_HEIGHT, formatUnit, fullTime, tickTime, timeTicks } from "./format";

const VIEWS: { value: MetricKind; label: string; file: string; color: string }[] = [
  { value: "cpu_percent", label: "CPU", file: "app-cpu", color: "var(--mantine-color-grape-6)" },
  { value: "rss_bytes", label: "Memory", file: "app-memory", color: "var(--mantine-color-cyan-6)" },
  { value: "write_rate", label: "Write rate", file: "write-rate", color: "var(--mantine-color-blue-6)" },
];

type Props = {
  /** `app_resource_series`: CPU, memory and write rate over the selected range. */
  series: readonly MetricSeries[];
};

/**
 * The app's resource use over the selected range, one metric at a time (each has its own unit).
 * The brush zooms in; "Export data" saves the points between its handles.
 */
export function ResourceChart({ series }: Props) {
  const [metric, setMetric] = useState<MetricKind>("cpu_percent");
  const [zoom, setZoom] = useState<{ start: number; end: number } | null>(null);
  const view = VIEWS.find((v) => v.value === metric) ?? VIEWS[0]!;
  const current = series.find((s) => s.metric === metric);
  const unit = current?.unit ?? "";
  const rows = useMemo(() => seriesRows(current), [current]);
  // A new range or metric shows everything again.
  const [zoomKey, setZoomKey] = useState("");
  const key = `${metric}:${rows[0]?.t ?? ""}:${rows.length}`;
  if (key !== zoomKey) {
    setZoomKey(key);
    setZoom(null);
  }
  const start = zoom ? Math.min(zoom.start, rows.length - 1) : 0;
  const end = zoom ? Math.min(zoom.end, rows.length - 1) : rows.length - 1;
  const visible = useMemo(() => rows.slice(start, end + 1), [rows, start, end]);
  const table = useMemo(
    () => seriesTable(view.file, unit === "bytes_per_second" ? "B/s" : unit === "bytes" ? "B" : "%", visible),
    [view.file, unit, visible],
  );
  // Ticks over what is shown: the whole range, or the brushed points when zoomed.
  const shownFrom = zoom || !current ? (visible[0]?.t ?? 0) : current.range.from;
  const shownTo = zoom || !current ? (visible[visible.length - 1]?.t ?? 0) : current.range.to;
  const axis = useMemo(() => timeTicks(shownFrom, shownTo), [shownFrom, shownTo]);
  const span = current ? current.range.to - current.range.from : 0;
  return (
    <ChartCard
      testId="chart-resources"
      title="App resource use"
      description={
        current ? `Average per ${current.bucket_seconds} s, with the peak in the tooltip. Drag the handles below to zoom.` : undefined
      }
      table={table}
      controls={
        <SegmentedControl
          size="xs"
          value={metric}
          onChange={(v) => setMetric(v as MetricKind)}
          data={VIEWS.map((v) => ({ value: v.value, label: v.label }))}
          data-testid="resources-metric"
        />
      }
    >
      {rows.length === 0 ? (
        <ChartEmpty>No samples in this range yet: the app records them while it runs.</ChartEmpty>
      ) : (
        <ResponsiveContainer width="100%" height={CHART_HEIGHT + 40} initialDimension={{ width: 640, height: CHART_HEIGHT + 40 }}>
          <AreaChart data={rows} margin={{ top: 8, right: 16, bottom: 0, left: 8 }}>
            <CartesianGrid strokeDasharray="3 3" strokeOpacity={0.4} />
            <XAxis
              dataKey="t"
              type="number"
              // The whole range, so a few points of a fresh history sit where they belong in time;
              // zoomed, the brushed points fill the width.
              domain={zoom || !current ? ["dataMin", "dataMax"] : [current.range.from, current.range.to]}
              allowDataOverflow={false}
              ticks={axis.ticks}
              tickFormatter={axis.label}
              minTickGap={40}
            />
            <YAxis tickFormatter={(v: number) => formatUnit(unit, v)} width={84} />
            <Tooltip
              labelFormatter={(t) => fullTime(Number(t))}
              formatter={(v, name) => [formatUnit(unit, Number(v)), name === "peak" ? "Peak" : "Average"]}
            />
            <Area dataKey="value" name="average" stroke={view.color} fill={view.color} fillOpacity={0.25} isAnimationActive={false} />
            <Brush
              dataKey="t"
              height={24}
              startIndex={start}
              endIndex={end}
              tickFormatter={(t: number) => tickTime(t, span)}
              onChange={(r) => {
                if (typeof r.startIndex === "number" && typeof r.endIndex === "number") {
                  setZoom({ start: r.startIndex, end: r.endIndex });
                }
              }}
            />
          </AreaChart>
        </ResponsiveContainer>
      )}
    </ChartCard>
  );
}

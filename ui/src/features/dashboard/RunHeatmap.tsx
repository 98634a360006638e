import { Box, Text, Tooltip } from "@mantine/core";
import { useMemo } from "react";
import type { HeatCell } from "../../bindings";
import { ChartCard } from "./ChartCard";
import { WEEKDAYS, heatTable } from "./chartData";

const HOURS = Array.from({ length: 24 }, (_, h) => h);

/** Runs by weekday × hour they started (local time): when backups happen. */
export function RunHeatmap({ cells }: { cells: readonly HeatCell[] }) {
  const table = useMemo(() => heatTable(cells), [cells]);
  const max = Math.max(1, ...cells.map((c) => c.count));
  const count = (d: number, h: number) => cells.find((c) => c.weekday === d && c.hour === h)?.count ?? 0;
  return (
    <ChartCard testId="chart-heatmap" title="Runs by weekday and hour" description="When jobs of the selected range started, in local time." table={table}>
      <Box
        role="grid"
        aria-label="Runs by weekday and hour"
        style={{ display: "grid", gridTemplateColumns: "2.5rem repeat(24, minmax(0, 1fr))", gap: 2 }}
      >
        <span />
        {HOURS.map((h) => (
          <Text key={h} size="10px" c="dimmed" ta="center" aria-hidden>
            {h % 3 === 0 ? String(h).padStart(2, "0") : ""}
          </Text>
        ))}
        {WEEKDAYS.map((day, d) => (
          <Box key={day} role="row" style={{ display: "contents" }}>
            <Text size="xs" c="dimmed" role="rowheader">
              {day}
            </Text>
            {HOURS.map((h) => {
              const n = count(d, h);
              const label = `${day} ${String(h).padStart(2, "0")}:00–${String(h + 1).padStart(2, "0")}:00: ${n} run${n === 1 ? "" : "s"}`;
              return (
                <Tooltip key={h} label={label} openDelay={200} withinPortal={false}>
                  <Box
                    role="gridcell"
                    aria-label={label}
                    data-testid={`heat-cell-${d}-${h}`}
                    data-count={n}
                    style={{
                      aspectRatio: "1",
                      minHeight: 10,
                      borderRadius: 2,
                      background:
                        n === 0
                          ? "var(--mantine-color-default-border)"
                          : `color-mix(in srgb, var(--mantine-color-teal-6) ${Math.round(25 + (75 * n) / max)}%, transparent)`,
                    }}
                  />
                </Tooltip>
              );
            })}
          </Box>
        ))}
      </Box>
    </ChartCard>
  );
}

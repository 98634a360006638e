import { Paper, SimpleGrid, Text } from "@mantine/core";
import type { JobStats } from "../../bindings";
import { formatBytes } from "./format";

type Stat = { testId: string; label: string; value: string; hint?: string };

function outcome(stats: JobStats | undefined, name: string): string {
  const n = stats?.by_outcome.find((o) => o.outcome === name)?.count;
  return n === undefined ? "—" : String(n);
}

/**
 * The figures at the top of the dashboard. `stats` covers the last 24 hours; running and
 * queued are "now". There is no scheduler in this build yet, so the next run shows "—".
 */
export function StatCards({
  stats,
  now,
  nextRun = null,
}: {
  stats: JobStats | undefined;
  /** Running and queued from the live jobs list, which events keep current; else from `stats`. */
  now?: { running: number; queued: number };
  nextRun?: string | null;
}) {
  const running = now?.running ?? stats?.running;
  const queued = now?.queued ?? stats?.queued;
  const items: Stat[] = [
    { testId: "stat-running", label: "Running", value: running === undefined ? "—" : String(running) },
    { testId: "stat-queued", label: "Queued", value: queued === undefined ? "—" : String(queued) },
    { testId: "stat-succeeded-24h", label: "Succeeded, 24 h", value: outcome(stats, "succeeded") },
    { testId: "stat-failed-24h", label: "Failed, 24 h", value: outcome(stats, "failed") },
    { testId: "stat-bytes-24h", label: "Exported, 24 h", value: stats ? formatBytes(stats.bytes_exported) : "—" },
    { testId: "stat-next-run", label: "Next scheduled run", value: nextRun ?? "—", hint: nextRun ? undefined : "No schedule" },
  ];
  return (
    <SimpleGrid cols={{ base: 2, sm: 3, lg: 6 }} spacing="sm">
      {items.map((s) => (
        <Paper key={s.testId} withBorder p="sm" radius="md" data-testid={s.testId}>
          <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
            {s.label}
          </Text>
          <Text size="xl" fw={700} data-testid={`${s.testId}-value`} title={s.hint}>
            {s.value}
          </Text>
        </Paper>
      ))}
    </SimpleGrid>
  );
}

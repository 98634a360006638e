import { Progress, Stack, Text } from "@mantine/core";
import type { Job } from "../../bindings";
import { formatBytes, formatEta, formatRate, percent } from "./format";

/** Progress bar with bytes, rate and time left for a running job; a short word otherwise. */
export function JobProgressCell({ job }: { job: Job }) {
  const progress = job.progress;
  if (job.state === "queued") {
    return (
      <Text size="sm" c="dimmed">
        Waiting for a free slot
      </Text>
    );
  }
  if (job.state !== "running") {
    return progress && progress.bytes_done > 0 ? (
      <Text size="sm" c="dimmed">
        {formatBytes(progress.bytes_done)}
        {progress.bytes_total !== null ? ` of ${formatBytes(progress.bytes_total)}` : ""}
      </Text>
    ) : (
      <Text size="sm" c="dimmed">
        —
      </Text>
    );
  }
  if (!progress) {
    return (
      <Stack gap={4}>
        <Progress value={100} animated striped aria-label="Starting" />
        <Text size="xs" c="dimmed">
          Starting…
        </Text>
      </Stack>
    );
  }
  const pct = percent(progress.bytes_done, progress.bytes_total);
  const parts = [
    progress.bytes_total !== null
      ? `${formatBytes(progress.bytes_done)} of ${formatBytes(progress.bytes_total)}`
      : formatBytes(progress.bytes_done),
    // A non-finite rate crosses IPC as null.
    formatRate(progress.rate_bps ?? 0),
    progress.eta_seconds !== null ? `${formatEta(progress.eta_seconds)} left` : null,
  ].filter((p): p is string => p !== null);
  return (
    <Stack gap={4} data-testid="job-progress">
      <Progress
        value={pct ?? 100}
        animated={pct === null}
        striped={pct === null}
        aria-label={pct !== null ? `${Math.floor(pct)}% done` : "In progress"}
      />
      <Text size="xs" c="dimmed">
        {pct !== null ? `${Math.floor(pct)}% · ` : ""}
        {parts.join(" · ")}
      </Text>
    </Stack>
  );
}

import { Progress, Stack, Text } from "@mantine/core";
import type { DiskProgress, Job } from "../../bindings";
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
      {/* Unknown total (a vSphere NFC stream): striped, not animated — the byte count and
          rate below move, and twenty animated bars kept the web process repainting. */}
      <Progress
        value={pct ?? 100}
        striped={pct === null}
        aria-label={pct !== null ? `${Math.floor(pct)}% done` : "In progress"}
      />
      <Text size="xs" c="dimmed">
        {pct !== null ? `${Math.floor(pct)}% · ` : ""}
        {parts.join(" · ")}
      </Text>
      {progress.disks.length > 0 && <DiskProgressList disks={progress.disks} />}
    </Stack>
  );
}

/** One thin bar per disk, so a slow disk among several is visible. */
function DiskProgressList({ disks }: { disks: readonly DiskProgress[] }) {
  return (
    <Stack gap={4} mt={4} aria-label="Disks" role="list">
      {disks.map((disk) => {
        const pct = percent(disk.bytes_done, disk.bytes_total);
        const label = disk.name || `Disk ${disk.index + 1}`;
        return (
          <Stack gap={1} key={disk.index} role="listitem" data-testid="job-disk-progress" data-disk-index={disk.index}>
            <Text size="xs" c="dimmed" truncate title={label}>
              {label} ·{" "}
              {disk.bytes_total !== null
                ? `${formatBytes(disk.bytes_done)} of ${formatBytes(disk.bytes_total)}`
                : formatBytes(disk.bytes_done)}
            </Text>
            <Progress
              size="xs"
              value={pct ?? 100}
              striped={pct === null}
              aria-label={pct !== null ? `${label}: ${Math.floor(pct)}% done` : `${label}: in progress`}
            />
          </Stack>
        );
      })}
    </Stack>
  );
}

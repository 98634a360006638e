import { Badge } from "@mantine/core";
import type { JobState } from "../../bindings";

const STATE_STYLE: Record<JobState, { color: string; label: string }> = {
  queued: { color: "gray", label: "Queued" },
  running: { color: "blue", label: "Running" },
  succeeded: { color: "teal", label: "Succeeded" },
  failed: { color: "red", label: "Failed" },
  cancelled: { color: "yellow", label: "Cancelled" },
  interrupted: { color: "orange", label: "Interrupted" },
};

export function JobStateBadge({ state }: { state: JobState }) {
  const style = STATE_STYLE[state];
  return (
    <Badge color={style.color} variant="light" data-testid="job-state">
      {style.label}
    </Badge>
  );
}

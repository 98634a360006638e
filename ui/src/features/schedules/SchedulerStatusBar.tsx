import { Badge, Button, Card, Group, Text, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconAlertTriangle, IconPlayerPause, IconPlayerPlay } from "@tabler/icons-react";
import { usePauseSchedules, useResumeSchedules, useSchedulerStatus } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { formatLocal, formatRelative } from "./format";
import { useNow } from "./useNow";

/** The scheduler as the tray shows it: paused or not, runs in progress, next run, last failure. */
export function SchedulerStatusBar() {
  const status = useSchedulerStatus();
  const pause = usePauseSchedules();
  const resume = useResumeSchedules();
  const now = useNow();

  if (status.isError) return <ErrorAlert error={status.error} title="Could not read the scheduler's status" />;
  if (!status.data) return null;
  const s = status.data;

  const onError = (title: string) => (error: Error) =>
    notifications.show({ color: "red", title, message: error.message });

  return (
    <Card withBorder padding="sm" mb="md" data-testid="scheduler-status" data-paused={s.paused}>
      <Group justify="space-between" wrap="wrap" gap="sm">
        <Group gap="md" wrap="wrap">
          {s.paused ? (
            <Tooltip label="Nothing fires while paused; due times are recorded as skipped. Run now still works." withArrow multiline maw={320}>
              <Badge color="yellow" variant="filled" data-testid="scheduler-state">
                Paused
              </Badge>
            </Tooltip>
          ) : (
            <Badge color="teal" variant="light" data-testid="scheduler-state">
              Active
            </Badge>
          )}
          {!s.active_here && (
            <Text size="xs" c="dimmed">
              Another HyperSDK process (the app or <code>hyperctl scheduler</code>) is firing the schedules.
            </Text>
          )}
          <Text size="sm" data-testid="scheduler-running">
            {s.running.length === 0
              ? "No run in progress"
              : s.running.length === 1
                ? `Running: ${s.running[0]?.schedule_name ?? ""}`
                : `${s.running.length} runs in progress`}
          </Text>
          <Text size="sm" data-testid="scheduler-next">
            {s.next ? (
              <>
                Next: <b>{s.next.schedule_name}</b> at {formatLocal(s.next.at)}{" "}
                <Text span size="xs" c="dimmed">
                  ({formatRelative(s.next.at, now)})
                </Text>
              </>
            ) : (
              "Nothing scheduled"
            )}
          </Text>
          {s.last_run_failed && (
            <Badge color="red" variant="light" leftSection={<IconAlertTriangle size={12} aria-hidden />} data-testid="scheduler-last-failed">
              Last run failed
            </Badge>
          )}
        </Group>
        {s.paused ? (
          <Button
            size="xs"
            leftSection={<IconPlayerPlay size={14} aria-hidden />}
            loading={resume.isPending}
            onClick={() => resume.mutate(undefined, { onError: onError("Could not resume the schedules") })}
            data-testid="schedules-resume"
          >
            Resume all
          </Button>
        ) : (
          <Button
            size="xs"
            variant="default"
            leftSection={<IconPlayerPause size={14} aria-hidden />}
            loading={pause.isPending}
            onClick={() => pause.mutate(undefined, { onError: onError("Could not pause the schedules") })}
            data-testid="schedules-pause"
          >
            Pause all
          </Button>
        )}
      </Group>
    </Card>
  );
}

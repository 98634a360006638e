import { Alert, List, Loader, Stack, Text } from "@mantine/core";
import { IconCalendarTime } from "@tabler/icons-react";
import type { ScheduleDetail } from "../../bindings";
import type { CoreError } from "../../api/errors";
import { formatInZone, formatLocal, formatRelative } from "./format";
import { useNow } from "./useNow";

type SchedulePreviewProps = {
  /** The core's view of the saved schedule; undefined while loading or before the first save. */
  detail: ScheduleDetail | undefined;
  loading?: boolean;
  error?: CoreError | null;
  /** The form differs from what was saved: the times shown are the saved ones. */
  stale?: boolean;
  /** Shown when there is nothing saved yet. */
  placeholder?: string;
  /** `schedule` gives `schedule-description` and `schedule-next-runs`. */
  testIdPrefix?: string;
};

/**
 * The plain-language description and the next fire times, as the core computes them (with its
 * daylight-saving rules): the window never evaluates cron expressions itself.
 */
export function SchedulePreview({ detail, loading, error, stale, placeholder, testIdPrefix = "schedule" }: SchedulePreviewProps) {
  const now = useNow();
  if (loading) return <Loader size="sm" aria-label="Loading the next run times" />;
  if (error) {
    return (
      <Text size="sm" c="red">
        {error.message}
      </Text>
    );
  }
  if (!detail) {
    return (
      <Text size="sm" c="dimmed" data-testid={`${testIdPrefix}-preview-pending`}>
        {placeholder ?? "The description and the next run times appear here once the schedule is saved."}
      </Text>
    );
  }
  const { schedule, upcoming } = detail;
  return (
    <Stack gap={6} opacity={stale ? 0.55 : 1}>
      {stale && (
        <Alert color="yellow" variant="light" p="xs">
          <Text size="xs">Showing the saved schedule; save to see the times for your changes.</Text>
        </Alert>
      )}
      <Text size="sm" fw={600} data-testid={`${testIdPrefix}-description`}>
        {schedule.description}
      </Text>
      {upcoming.length === 0 ? (
        <Text size="sm" c="dimmed" data-testid={`${testIdPrefix}-next-runs`} data-count={0}>
          {schedule.enabled ? "No upcoming runs." : "Disabled: no upcoming runs."}
        </Text>
      ) : (
        <List
          size="sm"
          spacing={2}
          icon={<IconCalendarTime size={14} aria-hidden />}
          data-testid={`${testIdPrefix}-next-runs`}
          data-count={upcoming.length}
        >
          {upcoming.map((at) => (
            <List.Item key={at} title={formatInZone(at, schedule.time_zone)}>
              {formatLocal(at)}{" "}
              <Text span size="xs" c="dimmed">
                ({formatRelative(at, now)})
              </Text>
            </List.Item>
          ))}
        </List>
      )}
    </Stack>
  );
}

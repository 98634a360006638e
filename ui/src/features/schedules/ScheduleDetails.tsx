import { ActionIcon, Alert, Button, Card, Group, List, SimpleGrid, Stack, Text, Title, Tooltip } from "@mantine/core";
import type { ReactNode } from "react";
import { IconAlertTriangle, IconEraser, IconPlayerPlay, IconX } from "@tabler/icons-react";
import type { Connection, ExportFormat, RetentionItem } from "../../bindings";
import { useRetentionPreview, useScheduleDetail, useScheduleHistory } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";
import { describeRetention, describeSelection, formatLocal } from "./format";
import { HistoryTable } from "./HistoryTable";
import { SchedulePreview } from "./SchedulePreview";
import { zoneLabel } from "./timeZones";

function describeFormat(f: ExportFormat): string {
  const parts: string[] = [f.package.toUpperCase()];
  if (f.compression !== "none") parts.push(f.compression_level === null ? f.compression : `${f.compression} ${f.compression_level}`);
  parts.push(f.manifest.toUpperCase());
  if (f.disk_format) parts.push(f.disk_format);
  return parts.join(", ");
}

function Fact({ label, children }: { label: string; children: ReactNode }) {
  return (
    <Stack gap={0}>
      <Text size="xs" c="dimmed" fw={600} tt="uppercase">
        {label}
      </Text>
      <Text size="sm" component="div" style={{ overflowWrap: "anywhere" }}>
        {children}
      </Text>
    </Stack>
  );
}

function RetentionResult({ items }: { items: readonly RetentionItem[] }) {
  if (items.length === 0) {
    return (
      <Text size="sm" data-testid="retention-preview-result" data-count={0}>
        Retention would delete nothing now.
      </Text>
    );
  }
  return (
    <Stack gap={4} data-testid="retention-preview-result" data-count={items.length}>
      <Text size="sm" fw={600}>
        Would delete the files of {items.length === 1 ? "1 run" : `${items.length} runs`}:
      </Text>
      <List size="sm" spacing={4}>
        {items.map((item) => (
          <List.Item key={item.execution_id}>
            Run of {formatLocal(item.scheduled_for)} ({item.status})
            <List size="xs" withPadding>
              {item.paths.map((p) => (
                <List.Item key={p}>
                  <Text span size="xs" ff="monospace">
                    {p}
                  </Text>
                </List.Item>
              ))}
            </List>
          </List.Item>
        ))}
      </List>
    </Stack>
  );
}

type ScheduleDetailsProps = {
  scheduleId: string;
  connections: readonly Connection[];
  runningNow?: boolean;
  onRunNow: () => void;
  onClose: () => void;
};

/** One schedule: what it does, its next runs, its history (live) and a retention dry run. */
export function ScheduleDetails({ scheduleId, connections, runningNow, onRunNow, onClose }: ScheduleDetailsProps) {
  const detail = useScheduleDetail(scheduleId);
  const history = useScheduleHistory(scheduleId);
  const retention = useRetentionPreview();
  const schedule = detail.data?.schedule;

  return (
    <Card withBorder padding="lg" mt="lg" data-testid="schedule-details-panel" data-schedule-id={scheduleId}>
      <Group justify="space-between" mb="md" wrap="nowrap">
        <Title order={3} size="h4">
          {schedule ? schedule.name : "Schedule"}
        </Title>
        <Group gap="xs">
          <Button
            size="xs"
            color="teal"
            leftSection={<IconPlayerPlay size={14} aria-hidden />}
            loading={runningNow}
            onClick={onRunNow}
            data-testid="schedule-details-run-now"
          >
            Run now
          </Button>
          <Tooltip label="Close" withArrow>
            <ActionIcon variant="subtle" color="gray" onClick={onClose} aria-label="Close the details">
              <IconX size={18} aria-hidden />
            </ActionIcon>
          </Tooltip>
        </Group>
      </Group>
      {detail.isPending && <LoadingBlock label="Loading the schedule" />}
      {detail.isError && <ErrorAlert error={detail.error} title="Could not load the schedule" />}
      {schedule && (
        <Stack gap="lg">
          {schedule.problem && (
            <Alert color="orange" variant="light" icon={<IconAlertTriangle size={18} aria-hidden />} title="This schedule cannot run as it stands">
              <Text size="sm" data-testid="schedule-details-problem">
                {schedule.problem}
              </Text>
            </Alert>
          )}
          <SimpleGrid cols={{ base: 1, md: 2 }} spacing="lg">
            <Stack gap="sm">
              <Fact label="VMs">
                {schedule.template.selection.kind === "fixed" ? "" : "Rule: "}
                {describeSelection(schedule.template.selection)} on{" "}
                {connections.find((c) => c.id === schedule.template.connection_id)?.name ?? "a removed connection"}
              </Fact>
              <Fact label="Destination">
                <Text span size="sm" ff="monospace">
                  {schedule.template.destination_dir}
                </Text>
              </Fact>
              <Fact label="Format">{describeFormat(schedule.template.format)}</Fact>
              <Fact label="Retention">{describeRetention(schedule.retention)}</Fact>
              <Fact label="Missed runs">
                {schedule.missed_run_policy === "run_once" ? "Run once at start-up" : "Skipped"}
              </Fact>
            </Stack>
            <Stack gap={4}>
              <Text size="xs" c="dimmed" fw={600} tt="uppercase">
                Next runs · <span style={{ textTransform: "none" }}>{schedule.cron} · {zoneLabel(schedule.time_zone)}</span>
              </Text>
              <SchedulePreview detail={detail.data} testIdPrefix="schedule-details" />
            </Stack>
          </SimpleGrid>

          <Stack gap="xs">
            <Group justify="space-between">
              <Title order={4} size="h5">
                Retention
              </Title>
              <Button
                size="xs"
                variant="default"
                leftSection={<IconEraser size={14} aria-hidden />}
                loading={retention.isPending}
                onClick={() => retention.mutate(scheduleId)}
                data-testid="retention-preview"
              >
                Preview what would be deleted
              </Button>
            </Group>
            <Text size="xs" c="dimmed">
              A dry run: nothing is deleted. Retention runs after each run and only deletes files this schedule recorded.
            </Text>
            {retention.isError && <ErrorAlert error={retention.error} title="Could not preview retention" />}
            {retention.data && <RetentionResult items={retention.data} />}
          </Stack>

          <Stack gap="xs">
            <Title order={4} size="h5">
              History
            </Title>
            {history.isPending && <LoadingBlock label="Loading the history" />}
            {history.isError && <ErrorAlert error={history.error} title="Could not load the history" />}
            {history.data && <HistoryTable runs={history.data} />}
          </Stack>
        </Stack>
      )}
    </Card>
  );
}

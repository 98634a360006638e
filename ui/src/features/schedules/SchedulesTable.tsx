import { ActionIcon, Badge, Group, Stack, Switch, Table, Text, Tooltip, UnstyledButton, VisuallyHidden } from "@mantine/core";
import { IconAlertTriangle, IconListDetails, IconPencil, IconPlayerPlay, IconTrash } from "@tabler/icons-react";
import type { ReactNode } from "react";
import type { Connection, Schedule } from "../../bindings";
import { describeRetention, describeSelection, formatInZone, formatLocal, formatRelative } from "./format";
import { RunStatusBadge } from "./RunStatusBadge";
import { zoneLabel } from "./timeZones";
import { useNow } from "./useNow";

type RowActionProps = {
  label: string;
  hint: string;
  testId: string;
  color?: string;
  loading?: boolean;
  onClick: () => void;
  children: ReactNode;
};

function RowAction({ label, hint, testId, color, loading, onClick, children }: RowActionProps) {
  return (
    <Tooltip label={hint} withArrow openDelay={300}>
      <ActionIcon
        variant="subtle"
        color={color}
        size="lg"
        aria-label={label}
        loading={loading}
        onClick={onClick}
        data-testid={testId}
      >
        {children}
      </ActionIcon>
    </Tooltip>
  );
}

/** When the next run is, in this computer's time and relative to now. */
export function NextRunCell({ schedule, now }: { schedule: Schedule; now: number }) {
  if (!schedule.enabled) {
    return (
      <Text size="sm" c="dimmed">
        Disabled
      </Text>
    );
  }
  if (!schedule.next_run) {
    return (
      <Text size="sm" c="dimmed">
        —
      </Text>
    );
  }
  const due = new Date(schedule.next_run).getTime() <= now;
  return (
    <Stack gap={0} data-testid="schedule-next-run" data-next-run={schedule.next_run}>
      <Tooltip label={`${formatInZone(schedule.next_run, schedule.time_zone)} on the schedule's clock`} withArrow>
        <Text size="sm">{formatLocal(schedule.next_run)}</Text>
      </Tooltip>
      <Text size="xs" c={due ? "orange" : "dimmed"}>
        {due ? "due: runs when a scheduler is running" : formatRelative(schedule.next_run, now)}
      </Text>
    </Stack>
  );
}

type SchedulesTableProps = {
  schedules: readonly Schedule[];
  connections: readonly Connection[];
  selectedId: string | null;
  /** Id of the schedule whose "Run now" / enable switch is in flight. */
  runningId?: string | null;
  togglingId?: string | null;
  onSelect: (schedule: Schedule) => void;
  onRunNow: (schedule: Schedule) => void;
  onToggle: (schedule: Schedule, enabled: boolean) => void;
  onEdit: (schedule: Schedule) => void;
  onRemove: (schedule: Schedule) => void;
};

export function SchedulesTable({
  schedules,
  connections,
  selectedId,
  runningId = null,
  togglingId = null,
  onSelect,
  onRunNow,
  onToggle,
  onEdit,
  onRemove,
}: SchedulesTableProps) {
  const now = useNow();
  const connectionName = (id: string) => connections.find((c) => c.id === id)?.name ?? null;
  return (
    <Table.ScrollContainer minWidth={900}>
      <Table verticalSpacing="sm" highlightOnHover aria-label="Schedules">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>When</Table.Th>
            <Table.Th>Next run</Table.Th>
            <Table.Th>Last run</Table.Th>
            <Table.Th>Enabled</Table.Th>
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {schedules.map((s) => {
            const connection = connectionName(s.template.connection_id);
            return (
              <Table.Tr
                key={s.id}
                data-testid="schedule-row"
                data-schedule-name={s.name}
                data-schedule-id={s.id}
                data-schedule-status={s.last_status ?? "never"}
                data-schedule-enabled={s.enabled}
                bg={s.id === selectedId ? "var(--mantine-primary-color-light)" : undefined}
                aria-selected={s.id === selectedId}
              >
                <Table.Td miw={180}>
                  <Stack gap={2}>
                    <Group gap={6} wrap="nowrap">
                      <UnstyledButton onClick={() => onSelect(s)} data-testid="schedule-open">
                        <Text size="sm" fw={600}>
                          {s.name}
                        </Text>
                      </UnstyledButton>
                      {s.problem && (
                        <Tooltip label={s.problem} withArrow multiline maw={360}>
                          <Badge
                            color="orange"
                            variant="light"
                            tt="none"
                            leftSection={<IconAlertTriangle size={12} aria-hidden />}
                            data-testid="schedule-problem"
                            aria-label={s.problem}
                          >
                            Needs attention
                          </Badge>
                        </Tooltip>
                      )}
                    </Group>
                    <Text size="xs" c="dimmed">
                      {describeSelection(s.template.selection)} · {connection ?? "removed connection"}
                    </Text>
                    <Text size="xs" c="dimmed">
                      {describeRetention(s.retention)}
                    </Text>
                  </Stack>
                </Table.Td>
                <Table.Td miw={180}>
                  <Text size="sm" data-testid="schedule-row-description">
                    {s.description}
                  </Text>
                  <Text size="xs" c="dimmed">
                    <Text span ff="monospace" size="xs">
                      {s.cron}
                    </Text>{" "}
                    · {zoneLabel(s.time_zone)}
                  </Text>
                </Table.Td>
                <Table.Td miw={170}>
                  <NextRunCell schedule={s} now={now} />
                </Table.Td>
                <Table.Td miw={130}>
                  {s.last_status ? (
                    <Stack gap={2} align="flex-start">
                      <RunStatusBadge status={s.last_status} testId="schedule-last-status" />
                      {s.last_run && (
                        <Text size="xs" c="dimmed" title={formatLocal(s.last_run)}>
                          {formatRelative(s.last_run, now)}
                        </Text>
                      )}
                    </Stack>
                  ) : (
                    <Text size="sm" c="dimmed">
                      Never run
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <Switch
                    checked={s.enabled}
                    disabled={togglingId === s.id}
                    onChange={(e) => onToggle(s, e.currentTarget.checked)}
                    aria-label={`${s.enabled ? "Disable" : "Enable"} ${s.name}`}
                    data-testid="schedule-enabled"
                  />
                </Table.Td>
                <Table.Td>
                  <Group gap={4} justify="flex-end" wrap="nowrap">
                    <RowAction
                      label={`Run ${s.name} now`}
                      hint="Run now"
                      testId="schedule-run-now"
                      color="teal"
                      loading={runningId === s.id}
                      onClick={() => onRunNow(s)}
                    >
                      <IconPlayerPlay size={18} aria-hidden />
                    </RowAction>
                    <RowAction label={`History of ${s.name}`} hint="History and details" testId="schedule-details" onClick={() => onSelect(s)}>
                      <IconListDetails size={18} aria-hidden />
                    </RowAction>
                    <RowAction label={`Edit ${s.name}`} hint="Edit" testId="schedule-edit" onClick={() => onEdit(s)}>
                      <IconPencil size={18} aria-hidden />
                    </RowAction>
                    <RowAction label={`Remove ${s.name}`} hint="Remove" testId="schedule-remove" color="red" onClick={() => onRemove(s)}>
                      <IconTrash size={18} aria-hidden />
                    </RowAction>
                  </Group>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

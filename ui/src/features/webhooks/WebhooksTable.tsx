import {
  ActionIcon,
  Badge,
  Button,
  Group,
  Stack,
  Switch,
  Table,
  Text,
  Tooltip,
  VisuallyHidden,
} from "@mantine/core";
import { IconHistory, IconKey, IconPencil, IconSend, IconTrash } from "@tabler/icons-react";
import type { ReactNode } from "react";
import type { DeliveryStatus, Webhook } from "../../bindings";
import { formatDateTime } from "../jobs/format";
import { DELIVERY_STATUS_STYLE, displayUrl, eventLabel, formatLatency } from "./format";

type RowActionProps = {
  label: string;
  hint: string;
  testId: string;
  color?: string;
  onClick: () => void;
  children: ReactNode;
};

function RowAction({ label, hint, testId, color, onClick, children }: RowActionProps) {
  return (
    <Tooltip label={hint} withArrow openDelay={300}>
      <ActionIcon variant="subtle" color={color} size="lg" aria-label={label} onClick={onClick} data-testid={testId}>
        {children}
      </ActionIcon>
    </Tooltip>
  );
}

/** `retrying`: a pending delivery that has been attempted and failed (the list's last delivery). */
export function DeliveryStatusBadge({ status, retrying = false }: { status: DeliveryStatus; retrying?: boolean }) {
  const style = retrying && status === "pending" ? { color: "orange", label: "Retrying" } : DELIVERY_STATUS_STYLE[status];
  return (
    <Badge color={style.color} variant="light" data-testid="delivery-status">
      {style.label}
    </Badge>
  );
}

type WebhooksTableProps = {
  webhooks: readonly Webhook[];
  /** Latency of recent deliveries by id, for the last-delivery column (the list has no latency). */
  latencies: ReadonlyMap<number, number>;
  /** Ids of hooks whose enabled switch is being changed. */
  switching: ReadonlySet<string>;
  onToggleEnabled: (webhook: Webhook, enabled: boolean) => void;
  onTest: (webhook: Webhook) => void;
  onShowDeliveries: (webhook: Webhook, status: DeliveryStatus | null) => void;
  onEdit: (webhook: Webhook) => void;
  onRemove: (webhook: Webhook) => void;
};

export function WebhooksTable({
  webhooks,
  latencies,
  switching,
  onToggleEnabled,
  onTest,
  onShowDeliveries,
  onEdit,
  onRemove,
}: WebhooksTableProps) {
  return (
    <Table.ScrollContainer minWidth={900}>
      <Table striped highlightOnHover verticalSpacing="sm" aria-label="Webhooks">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>URL</Table.Th>
            <Table.Th>Events</Table.Th>
            <Table.Th>Enabled</Table.Th>
            <Table.Th>Last delivery</Table.Th>
            <Table.Th>Queue</Table.Th>
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {webhooks.map((w) => (
            <Table.Tr key={w.id} data-testid="webhook-row" data-webhook-name={w.name} data-enabled={w.enabled}>
              <Table.Td>
                <Stack gap={2}>
                  <Text fw={600} size="sm">
                    {w.name}
                  </Text>
                  {w.has_secret && (
                    <Group gap={4} c="dimmed">
                      <IconKey size={12} aria-hidden />
                      <Text size="xs">Signed</Text>
                    </Group>
                  )}
                </Stack>
              </Table.Td>
              <Table.Td miw={200}>
                <Text size="sm" ff="monospace" style={{ overflowWrap: "anywhere" }} data-testid="webhook-row-url">
                  {displayUrl(w.url)}
                </Text>
              </Table.Td>
              <Table.Td maw={240}>
                <Group gap={4}>
                  {w.events.map((e) => (
                    <Badge key={e} variant="outline" color="gray" tt="none" size="sm">
                      {eventLabel(e)}
                    </Badge>
                  ))}
                </Group>
              </Table.Td>
              <Table.Td>
                <Stack gap={2}>
                  <Switch
                    checked={w.enabled}
                    disabled={switching.has(w.id)}
                    onChange={(e) => onToggleEnabled(w, e.currentTarget.checked)}
                    aria-label={`${w.name} enabled`}
                    data-testid="webhook-enabled"
                  />
                  {!w.enabled && w.disabled_reason && (
                    <Text size="xs" c="orange" maw={180} data-testid="webhook-disabled-reason">
                      {w.disabled_reason}
                    </Text>
                  )}
                </Stack>
              </Table.Td>
              <Table.Td miw={170}>
                <LastDelivery webhook={w} latency={w.last_delivery ? latencies.get(w.last_delivery.delivery_id) : undefined} />
              </Table.Td>
              <Table.Td>
                <Group gap={4} wrap="nowrap">
                  {w.pending === 0 && w.dead === 0 && (
                    <Text size="sm" c="dimmed">
                      —
                    </Text>
                  )}
                  {w.pending > 0 && (
                    <Button
                      size="compact-xs"
                      variant="light"
                      color="blue"
                      onClick={() => onShowDeliveries(w, "pending")}
                      data-testid="webhook-pending"
                    >
                      {w.pending} pending
                    </Button>
                  )}
                  {w.dead > 0 && (
                    <Button
                      size="compact-xs"
                      variant="light"
                      color="red"
                      onClick={() => onShowDeliveries(w, "dead")}
                      data-testid="webhook-dead"
                    >
                      {w.dead} dead
                    </Button>
                  )}
                </Group>
              </Table.Td>
              <Table.Td>
                <Group gap={4} justify="flex-end" wrap="nowrap">
                  <RowAction label={`Send a test event to ${w.name}`} hint="Send test event" testId="webhook-test" onClick={() => onTest(w)}>
                    <IconSend size={18} aria-hidden />
                  </RowAction>
                  <RowAction label={`Deliveries of ${w.name}`} hint="Delivery log" testId="webhook-log" onClick={() => onShowDeliveries(w, null)}>
                    <IconHistory size={18} aria-hidden />
                  </RowAction>
                  <RowAction label={`Edit ${w.name}`} hint="Edit" testId="webhook-edit" onClick={() => onEdit(w)}>
                    <IconPencil size={18} aria-hidden />
                  </RowAction>
                  <RowAction label={`Remove ${w.name}`} hint="Remove" testId="webhook-remove" color="red" onClick={() => onRemove(w)}>
                    <IconTrash size={18} aria-hidden />
                  </RowAction>
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function LastDelivery({ webhook, latency }: { webhook: Webhook; latency: number | undefined }) {
  const last = webhook.last_delivery;
  if (!last) {
    return (
      <Text size="sm" c="dimmed" data-testid="webhook-last-delivery">
        Never
      </Text>
    );
  }
  const details = [last.status_code !== null ? `HTTP ${last.status_code}` : null, latency !== undefined ? formatLatency(latency) : null]
    .filter(Boolean)
    .join(" · ");
  return (
    <Stack gap={2} data-testid="webhook-last-delivery" data-status={last.status}>
      <Group gap={6} wrap="nowrap">
        <DeliveryStatusBadge status={last.status} retrying />
        {details && (
          <Text size="sm" ff="monospace" style={{ whiteSpace: "nowrap" }}>
            {details}
          </Text>
        )}
      </Group>
      <Text size="xs" c="dimmed" title={last.at}>
        {last.event} · {formatDateTime(last.at)}
      </Text>
      {last.error && (
        <Text size="xs" c="red" lineClamp={2} title={last.error}>
          {last.error}
        </Text>
      )}
    </Stack>
  );
}

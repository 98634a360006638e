import {
  ActionIcon,
  Button,
  Code,
  Group,
  Modal,
  SegmentedControl,
  Stack,
  Table,
  Text,
  Tooltip,
  VisuallyHidden,
} from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconChevronDown, IconChevronRight, IconRepeat } from "@tabler/icons-react";
import { Fragment, useState } from "react";
import type { DeliveryStatus, Webhook, WebhookDelivery } from "../../bindings";
import { useRedeliverWebhook, useWebhookDeliveries } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";
import { formatDateTime } from "../jobs/format";
import { canRedeliver, formatLatency } from "./format";
import { DeliveryStatusBadge } from "./WebhooksTable";

/** How many deliveries the log shows (newest first). */
export const DELIVERY_LOG_LIMIT = 200;

type StatusFilter = DeliveryStatus | "all";
const FILTERS: { value: StatusFilter; label: string }[] = [
  { value: "all", label: "All" },
  { value: "pending", label: "Pending" },
  { value: "delivered", label: "Delivered" },
  { value: "dead", label: "Dead" },
  { value: "cancelled", label: "Cancelled" },
];

const EMPTY_TEXT: Record<StatusFilter, string> = {
  all: "Nothing sent yet. Deliveries appear here when a job it listens to is created, starts or ends; “Send test event” tries the hook now.",
  pending: "Nothing is waiting to be sent.",
  delivered: "No delivery has arrived yet.",
  dead: "No dead deliveries: nothing gave up.",
  cancelled: "No cancelled deliveries.",
};

type DeliveryLogModalProps = {
  /** The hook whose log is shown; null when closed. */
  webhook: Webhook | null;
  initialStatus: DeliveryStatus | null;
  /** Changes on every opening so the filter starts from `initialStatus`. */
  logKey: number;
  onClose: () => void;
};

export function DeliveryLogModal({ webhook, initialStatus, logKey, onClose }: DeliveryLogModalProps) {
  return (
    <Modal opened={webhook !== null} onClose={onClose} title={webhook ? `Deliveries of “${webhook.name}”` : "Deliveries"} size="80rem">
      {webhook && <DeliveryLog key={logKey} webhook={webhook} initialStatus={initialStatus} />}
    </Modal>
  );
}

type DeliveryLogProps = {
  webhook: Webhook;
  initialStatus?: DeliveryStatus | null;
};

/** One hook's delivery log, newest first, filterable by status, with "Redeliver". */
export function DeliveryLog({ webhook, initialStatus = null }: DeliveryLogProps) {
  const [status, setStatus] = useState<StatusFilter>(initialStatus ?? "all");
  const [expanded, setExpanded] = useState<number | null>(null);
  const deliveries = useWebhookDeliveries({
    webhook: webhook.id,
    status: status === "all" ? null : status,
    limit: DELIVERY_LOG_LIMIT,
  });
  const redeliver = useRedeliverWebhook();

  const resend = (delivery: WebhookDelivery) => {
    redeliver.mutate(delivery.id, {
      onSuccess: () =>
        notifications.show({
          color: "teal",
          title: "Delivery queued again",
          message: `#${delivery.id} ${delivery.event}: same event id, fresh attempts`,
        }),
    });
  };

  let body;
  if (deliveries.isPending) {
    body = <LoadingBlock label="Loading deliveries" />;
  } else if (deliveries.isError) {
    body = <ErrorAlert error={deliveries.error} title="Could not load the delivery log" />;
  } else if (deliveries.data.length === 0) {
    body = (
      <Text size="sm" c="dimmed" py="lg" ta="center" data-testid="deliveries-empty">
        {EMPTY_TEXT[status]}
      </Text>
    );
  } else {
    body = (
      <Table.ScrollContainer minWidth={860}>
        <Table verticalSpacing="xs" highlightOnHover aria-label="Deliveries">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>
                <VisuallyHidden>Payload</VisuallyHidden>
              </Table.Th>
              <Table.Th>Time</Table.Th>
              <Table.Th>Event</Table.Th>
              <Table.Th>Status</Table.Th>
              <Table.Th>HTTP</Table.Th>
              <Table.Th>Latency</Table.Th>
              <Table.Th>Attempts</Table.Th>
              <Table.Th>Error</Table.Th>
              <Table.Th>
                <VisuallyHidden>Actions</VisuallyHidden>
              </Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {deliveries.data.map((d) => (
              <Fragment key={d.id}>
                <DeliveryRow
                  delivery={d}
                  maxAttempts={webhook.max_attempts}
                  expanded={expanded === d.id}
                  onToggle={() => setExpanded((id) => (id === d.id ? null : d.id))}
                  redelivering={redeliver.isPending && redeliver.variables === d.id}
                  onRedeliver={() => resend(d)}
                />
                {expanded === d.id && (
                  <Table.Tr>
                    <Table.Td colSpan={9}>
                      <Stack gap={4}>
                        <Text size="xs" c="dimmed">
                          Event id {d.event_id}
                          {d.job_id ? ` · job ${d.job_id}` : ""} · delivery #{d.id}
                        </Text>
                        <Code block data-testid="delivery-payload">
                          {prettyJson(d.payload)}
                        </Code>
                      </Stack>
                    </Table.Td>
                  </Table.Tr>
                )}
              </Fragment>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
    );
  }

  return (
    <Stack gap="sm" data-testid="webhook-deliveries" data-webhook-name={webhook.name}>
      <Group justify="space-between">
        <SegmentedControl
          size="xs"
          value={status}
          onChange={(v) => setStatus(v as StatusFilter)}
          data={FILTERS}
          aria-label="Show deliveries"
          data-testid="delivery-filter"
        />
        <Text size="xs" c="dimmed">
          Newest first, up to {DELIVERY_LOG_LIMIT}. Finished deliveries are kept for 30 days.
        </Text>
      </Group>
      {redeliver.error && <ErrorAlert error={redeliver.error} title="Could not redeliver" />}
      {body}
    </Stack>
  );
}

type DeliveryRowProps = {
  delivery: WebhookDelivery;
  maxAttempts: number;
  expanded: boolean;
  onToggle: () => void;
  redelivering: boolean;
  onRedeliver: () => void;
};

function DeliveryRow({ delivery: d, maxAttempts, expanded, onToggle, redelivering, onRedeliver }: DeliveryRowProps) {
  const at = d.last_attempt_at ?? d.created_at;
  return (
    <Table.Tr data-testid="delivery-row" data-delivery-id={d.id} data-delivery-status={d.status}>
      <Table.Td w={36}>
        <ActionIcon
          variant="subtle"
          color="gray"
          onClick={onToggle}
          aria-expanded={expanded}
          aria-label={expanded ? `Hide the payload of delivery ${d.id}` : `Show the payload of delivery ${d.id}`}
        >
          {expanded ? <IconChevronDown size={16} aria-hidden /> : <IconChevronRight size={16} aria-hidden />}
        </ActionIcon>
      </Table.Td>
      <Table.Td>
        <Text size="sm" title={at}>
          {formatDateTime(at)}
        </Text>
      </Table.Td>
      <Table.Td>
        <Text size="sm" ff="monospace">
          {d.event}
        </Text>
      </Table.Td>
      <Table.Td>
        <DeliveryStatusBadge status={d.status} />
      </Table.Td>
      <Table.Td>
        <Text size="sm" ff="monospace" data-testid="delivery-status-code">
          {d.last_status_code ?? "—"}
        </Text>
      </Table.Td>
      <Table.Td>
        <Text size="sm" data-testid="delivery-latency">
          {d.last_latency_ms !== null ? formatLatency(d.last_latency_ms) : "—"}
        </Text>
      </Table.Td>
      <Table.Td>
        <Text size="sm" data-testid="delivery-attempts">
          {d.status === "pending" ? `${d.attempts} of ${maxAttempts}` : d.attempts}
        </Text>
      </Table.Td>
      <Table.Td maw={320}>
        {d.last_error && (
          <Text size="sm" c="red" lineClamp={2} title={d.last_error} data-testid="delivery-error">
            {d.last_error}
          </Text>
        )}
        {d.status === "pending" && d.next_attempt_at && (
          <Text size="xs" c="dimmed">
            Next attempt {formatDateTime(d.next_attempt_at)}
          </Text>
        )}
      </Table.Td>
      <Table.Td>
        {canRedeliver(d.status) && (
          <Tooltip label="Send again: same event id, fresh attempts" withArrow openDelay={300}>
            <Button
              size="compact-sm"
              variant="light"
              leftSection={<IconRepeat size={14} aria-hidden />}
              loading={redelivering}
              onClick={onRedeliver}
              data-testid="delivery-redeliver"
            >
              Redeliver
            </Button>
          </Tooltip>
        )}
      </Table.Td>
    </Table.Tr>
  );
}

function prettyJson(text: string): string {
  try {
    return JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    return text;
  }
}

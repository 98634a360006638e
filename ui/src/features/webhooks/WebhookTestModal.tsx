import { Alert, Group, Loader, Modal, SimpleGrid, Stack, Text } from "@mantine/core";
import { IconCircleCheck, IconCircleX } from "@tabler/icons-react";
import type { Webhook, WebhookTestResult } from "../../bindings";
import { CopyableValue } from "../../components/CopyableValue";
import { ErrorAlert } from "../../components/ErrorAlert";
import { displayUrl, formatLatency } from "./format";

type WebhookTestModalProps = {
  /** The hook being tested; null when closed. */
  webhook: Webhook | null;
  pending: boolean;
  result: WebhookTestResult | undefined;
  error: unknown;
  onClose: () => void;
};

export function WebhookTestModal({ webhook, pending, result, error, onClose }: WebhookTestModalProps) {
  const hasError = error !== null && error !== undefined;
  return (
    <Modal opened={webhook !== null} onClose={onClose} title={webhook ? `Test “${webhook.name}”` : "Send test event"} size="lg">
      <Stack gap="md">
        {pending && (
          <Group gap="sm">
            <Loader size="sm" />
            <Text size="sm">Sending a signed webhook.test event to {webhook ? displayUrl(webhook.url) : "the receiver"}…</Text>
          </Group>
        )}
        {!pending && hasError && <ErrorAlert error={error} title="The test could not be sent" />}
        {!pending && result && <WebhookTestResultView result={result} />}
      </Stack>
    </Modal>
  );
}

export function WebhookTestResultView({ result }: { result: WebhookTestResult }) {
  const status = result.status_code !== null ? `HTTP ${result.status_code}` : "No answer";
  return (
    <Stack gap="md" data-testid="webhook-test-result" data-ok={result.ok}>
      <Alert
        color={result.ok ? "teal" : "red"}
        variant="light"
        icon={result.ok ? <IconCircleCheck aria-hidden /> : <IconCircleX aria-hidden />}
        title={result.ok ? `Delivered: ${status} in ${formatLatency(result.latency_ms)}` : `Not delivered: ${status}`}
      >
        {result.ok
          ? "The receiver accepted the test event."
          : "The receiver did not accept the test event. Tests are not retried; fix the problem and send another."}
      </Alert>
      <SimpleGrid cols={2} spacing="sm">
        <Stack gap={2}>
          <Text size="xs" c="dimmed" fw={600} tt="uppercase">
            Status
          </Text>
          <Text size="sm" ff="monospace" data-testid="webhook-test-status">
            {status}
          </Text>
        </Stack>
        <Stack gap={2}>
          <Text size="xs" c="dimmed" fw={600} tt="uppercase">
            Latency
          </Text>
          <Text size="sm" data-testid="webhook-test-latency">
            {formatLatency(result.latency_ms)}
          </Text>
        </Stack>
      </SimpleGrid>
      {result.error && (
        <Stack gap={2}>
          <Text size="xs" c="dimmed" fw={600} tt="uppercase">
            Error
          </Text>
          <Text size="sm" c="red" style={{ whiteSpace: "pre-wrap" }} data-testid="webhook-test-error">
            {result.error}
          </Text>
        </Stack>
      )}
      <CopyableValue label="Event id" value={result.event_id} />
      <Text size="xs" c="dimmed">
        Recorded in the delivery log as #{result.delivery_id}.
      </Text>
    </Stack>
  );
}

import { Button, Stack } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconPlus, IconWebhook } from "@tabler/icons-react";
import { useMemo, useState } from "react";
import type { DeliveryStatus, Webhook } from "../../bindings";
import { toApiError } from "../../api/errors";
import {
  useSetWebhookEnabled,
  useTestWebhook,
  useWebhookDeliveries,
  useWebhookEvents,
  useWebhooks,
} from "../../api/hooks";
import { EmptyState } from "../../components/EmptyState";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";
import { PageHeader } from "../../components/PageHeader";
import { DeliveryLogModal } from "./DeliveryLog";
import { DisableWebhookDialog } from "./DisableWebhookDialog";
import { RemoveWebhookDialog } from "./RemoveWebhookDialog";
import { WebhookFormModal } from "./WebhookFormModal";
import { WebhookSettingsCard } from "./WebhookSettingsCard";
import { WebhooksTable } from "./WebhooksTable";
import { WebhookTestModal } from "./WebhookTestModal";

/**
 * The list's last delivery carries no latency; it is looked up among the newest deliveries of
 * every hook, one small query for the whole page (shown when found).
 */
export const RECENT_DELIVERIES_FILTER = { limit: 100 } as const;

/** `opened` is separate from the subject so dialogs keep their content while closing. */
type DialogState = { opened: boolean; webhook: Webhook | null; key: number };
const closedDialog: DialogState = { opened: false, webhook: null, key: 0 };

export function WebhooksPage() {
  const webhooks = useWebhooks();
  const eventNames = useWebhookEvents();
  const recent = useWebhookDeliveries((webhooks.data?.length ?? 0) > 0 ? RECENT_DELIVERIES_FILTER : null);
  const test = useTestWebhook();
  const setEnabled = useSetWebhookEnabled();
  const [form, setForm] = useState<DialogState>(closedDialog);
  const [removing, setRemoving] = useState<DialogState>(closedDialog);
  const [testing, setTesting] = useState<Webhook | null>(null);
  const [disabling, setDisabling] = useState<Webhook | null>(null);
  const [switching, setSwitching] = useState<ReadonlySet<string>>(new Set());
  const [log, setLog] = useState<{ webhook: Webhook | null; status: DeliveryStatus | null; key: number }>({
    webhook: null,
    status: null,
    key: 0,
  });

  const latencies = useMemo(() => {
    const map = new Map<number, number>();
    for (const d of recent.data ?? []) {
      if (d.last_latency_ms !== null) map.set(d.id, d.last_latency_ms);
    }
    return map;
  }, [recent.data]);

  // The log follows the list: a refreshed hook (new max attempts, new name) replaces the old one.
  const logWebhook = log.webhook ? (webhooks.data?.find((w) => w.id === log.webhook?.id) ?? log.webhook) : null;

  const openDialog =
    (set: typeof setForm) =>
    (webhook: Webhook | null): void =>
      set((s) => ({ opened: true, webhook, key: s.key + 1 }));
  const closeDialog = (set: typeof setForm) => () => set((s) => ({ ...s, opened: false }));
  const ready = eventNames.isSuccess;
  const openAdd = () => openDialog(setForm)(null);

  const startTest = (webhook: Webhook) => {
    setTesting(webhook);
    test.reset();
    test.mutate(webhook.id);
  };

  const applyEnabled = (webhook: Webhook, enabled: boolean, dropPending: boolean) => {
    setSwitching((s) => new Set(s).add(webhook.id));
    setEnabled.mutate(
      { id: webhook.id, enabled, dropPending },
      {
        onError: (error) =>
          notifications.show({
            color: "red",
            title: enabled ? `Could not turn on “${webhook.name}”` : `Could not turn off “${webhook.name}”`,
            message: toApiError(error).message,
          }),
        onSettled: () =>
          setSwitching((s) => {
            const next = new Set(s);
            next.delete(webhook.id);
            return next;
          }),
      },
    );
  };

  const toggleEnabled = (webhook: Webhook, enabled: boolean) => {
    if (!enabled && webhook.pending > 0) setDisabling(webhook);
    else applyEnabled(webhook, enabled, false);
  };

  let body;
  if (webhooks.isPending) {
    body = <LoadingBlock label="Loading webhooks" />;
  } else if (webhooks.isError) {
    body = <ErrorAlert error={webhooks.error} title="Could not load webhooks" />;
  } else if (webhooks.data.length === 0) {
    body = (
      <EmptyState
        icon={<IconWebhook size={30} />}
        title="No webhooks yet"
        testId="webhooks-empty"
        action={
          <Button leftSection={<IconPlus size={16} />} onClick={openAdd} disabled={!ready} data-testid="webhook-add-empty">
            Add your first webhook
          </Button>
        }
      >
        A webhook POSTs a JSON message to your chat, ticketing or automation system when a job is created,
        starts, completes or fails — retried until it arrives, even across restarts. Add one with your
        receiver&apos;s URL, then use “Send test event” to check that it answers.
      </EmptyState>
    );
  } else {
    body = (
      <WebhooksTable
        webhooks={webhooks.data}
        latencies={latencies}
        switching={switching}
        onToggleEnabled={toggleEnabled}
        onTest={startTest}
        onShowDeliveries={(webhook, status) => setLog((s) => ({ webhook, status, key: s.key + 1 }))}
        onEdit={openDialog(setForm)}
        onRemove={openDialog(setRemoving)}
      />
    );
  }

  return (
    <Stack gap="lg" data-testid="page-webhooks">
      <Stack gap={0}>
        <PageHeader
          title="Webhooks"
          description="Tell other systems about every job. Deliveries are signed, retried and kept in order until they arrive."
          actions={
            <Button leftSection={<IconPlus size={16} />} onClick={openAdd} disabled={!ready} data-testid="webhook-add">
              Add webhook
            </Button>
          }
        />
        {eventNames.isError && <ErrorAlert error={eventNames.error} title="Could not load the event names" />}
        {body}
      </Stack>
      <WebhookSettingsCard />
      {ready && (
        <WebhookFormModal
          opened={form.opened}
          formKey={form.key}
          eventNames={eventNames.data}
          webhook={form.webhook}
          onClose={closeDialog(setForm)}
        />
      )}
      <WebhookTestModal
        webhook={testing}
        pending={test.isPending}
        result={test.data}
        error={test.error}
        onClose={() => setTesting(null)}
      />
      <DeliveryLogModal
        webhook={logWebhook}
        initialStatus={log.status}
        logKey={log.key}
        onClose={() => setLog((s) => ({ ...s, webhook: null }))}
      />
      <DisableWebhookDialog
        webhook={disabling}
        onClose={() => setDisabling(null)}
        onChoose={(dropPending) => {
          if (disabling) applyEnabled(disabling, false, dropPending);
          setDisabling(null);
        }}
      />
      <RemoveWebhookDialog opened={removing.opened} webhook={removing.webhook} onClose={closeDialog(setRemoving)} />
    </Stack>
  );
}

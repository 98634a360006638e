import { Modal } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import type { Webhook, WebhookInput } from "../../bindings";
import { toApiError } from "../../api/errors";
import { useAddWebhook, useSetWebhookEnabled, useUpdateWebhook } from "../../api/hooks";
import { WebhookForm } from "./WebhookForm";

type WebhookFormModalProps = {
  opened: boolean;
  /** Changes on every opening so the form starts fresh. */
  formKey: number;
  eventNames: readonly string[];
  /** The hook to edit; null to add a new one. */
  webhook: Webhook | null;
  onClose: () => void;
};

export function WebhookFormModal({ opened, formKey, eventNames, webhook, onClose }: WebhookFormModalProps) {
  const add = useAddWebhook();
  const update = useUpdateWebhook();
  const setEnabled = useSetWebhookEnabled();

  const submit = async (input: WebhookInput, enabled: boolean) => {
    if (webhook) {
      const saved = await update.mutateAsync({ id: webhook.id, input });
      if (enabled !== saved.enabled) {
        // Pending deliveries keep waiting; dropping them is offered by the list's switch.
        await setEnabled.mutateAsync({ id: saved.id, enabled, dropPending: false });
      }
      notifications.show({ color: "teal", title: "Webhook saved", message: saved.name });
    } else {
      const added = await add.mutateAsync(input);
      if (enabled !== added.enabled) {
        try {
          await setEnabled.mutateAsync({ id: added.id, enabled, dropPending: false });
        } catch (error) {
          // The hook exists now: say so instead of offering to add it again.
          notifications.show({
            color: "red",
            title: `“${added.name}” was added but could not be turned off`,
            message: toApiError(error).message,
          });
          onClose();
          return;
        }
      }
      notifications.show({ color: "teal", title: "Webhook added", message: added.name });
    }
    onClose();
  };

  return (
    <Modal opened={opened} onClose={onClose} title={webhook ? `Edit “${webhook.name}”` : "Add webhook"} size="lg">
      <WebhookForm
        key={formKey}
        eventNames={eventNames}
        webhook={webhook ?? undefined}
        onSubmit={submit}
        onCancel={onClose}
      />
    </Modal>
  );
}

import { Button, Group, Modal, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import type { Webhook } from "../../bindings";
import { useRemoveWebhook } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";

type RemoveWebhookDialogProps = {
  opened: boolean;
  webhook: Webhook | null;
  onClose: () => void;
};

export function RemoveWebhookDialog({ opened, webhook, onClose }: RemoveWebhookDialogProps) {
  const remove = useRemoveWebhook();

  const close = () => {
    remove.reset();
    onClose();
  };

  const confirm = () => {
    if (!webhook) return;
    remove.mutate(webhook.id, {
      onSuccess: () => {
        notifications.show({ color: "teal", title: "Webhook removed", message: webhook.name });
        close();
      },
    });
  };

  const pending = webhook?.pending ?? 0;
  return (
    <Modal opened={opened} onClose={close} title="Remove webhook?">
      <Stack gap="md">
        <Text size="sm">
          Remove <b>{webhook?.name}</b>? Its delivery log
          {pending > 0 ? `, including ${pending} ${pending === 1 ? "delivery" : "deliveries"} still waiting,` : ""} and its
          stored secrets are deleted. This cannot be undone.
        </Text>
        {remove.error && <ErrorAlert error={remove.error} title="Could not remove the webhook" />}
        <Group justify="flex-end">
          <Button variant="default" onClick={close} disabled={remove.isPending} data-autofocus>
            Cancel
          </Button>
          <Button color="red" onClick={confirm} loading={remove.isPending} data-testid="confirm-remove">
            Remove
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

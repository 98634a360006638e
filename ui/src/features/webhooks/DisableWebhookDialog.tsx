import { Button, Group, Modal, Stack, Text } from "@mantine/core";
import type { Webhook } from "../../bindings";

type DisableWebhookDialogProps = {
  /** The hook being turned off while it has deliveries waiting; null when closed. */
  webhook: Webhook | null;
  onChoose: (dropPending: boolean) => void;
  onClose: () => void;
};

/** Turning off a hook with waiting deliveries: keep them for later, or drop them. */
export function DisableWebhookDialog({ webhook, onChoose, onClose }: DisableWebhookDialogProps) {
  const n = webhook?.pending ?? 0;
  return (
    <Modal opened={webhook !== null} onClose={onClose} title={webhook ? `Turn off “${webhook.name}”?` : "Turn off webhook?"}>
      <Stack gap="md">
        <Text size="sm">
          {n} {n === 1 ? "delivery is" : "deliveries are"} waiting to be sent. Keep them to send them when the hook is
          turned on again, or drop them (they stay in the log as cancelled and can be redelivered).
        </Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} data-autofocus>
            Cancel
          </Button>
          <Button variant="light" color="red" onClick={() => onChoose(true)} data-testid="webhook-disable-drop">
            Drop them
          </Button>
          <Button onClick={() => onChoose(false)} data-testid="webhook-disable-keep">
            Keep them waiting
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

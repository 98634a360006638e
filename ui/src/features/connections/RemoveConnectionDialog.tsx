import { Button, Group, Modal, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import type { Connection } from "../../bindings";
import { useRemoveConnection } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";

type RemoveConnectionDialogProps = {
  opened: boolean;
  connection: Connection | null;
  onClose: () => void;
};

export function RemoveConnectionDialog({ opened, connection, onClose }: RemoveConnectionDialogProps) {
  const remove = useRemoveConnection();

  const close = () => {
    remove.reset();
    onClose();
  };

  const confirm = () => {
    if (!connection) return;
    remove.mutate(connection.id, {
      onSuccess: () => {
        notifications.show({ color: "teal", title: "Connection removed", message: connection.name });
        close();
      },
    });
  };

  return (
    <Modal opened={opened} onClose={close} title="Remove connection?">
      <Stack gap="md">
        <Text size="sm">
          Remove <b>{connection?.name}</b>? Its settings and its stored secret are deleted. This cannot be
          undone.
        </Text>
        {remove.error && <ErrorAlert error={remove.error} title="Could not remove the connection" />}
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

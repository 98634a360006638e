import { Button, Group, Modal, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import type { Schedule } from "../../bindings";
import { useRemoveSchedule } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";

type RemoveScheduleDialogProps = {
  opened: boolean;
  schedule: Schedule | null;
  onClose: () => void;
  onRemoved?: (schedule: Schedule) => void;
};

export function RemoveScheduleDialog({ opened, schedule, onClose, onRemoved }: RemoveScheduleDialogProps) {
  const remove = useRemoveSchedule();

  const close = () => {
    remove.reset();
    onClose();
  };

  const confirm = () => {
    if (!schedule) return;
    remove.mutate(schedule.id, {
      onSuccess: () => {
        notifications.show({ color: "teal", title: "Schedule removed", message: schedule.name });
        onRemoved?.(schedule);
        close();
      },
    });
  };

  return (
    <Modal opened={opened} onClose={close} title="Remove schedule?">
      <Stack gap="md">
        <Text size="sm">
          Remove <b>{schedule?.name}</b> and its history? The backups it made stay on disk in{" "}
          <Text span ff="monospace" size="sm">
            {schedule?.template.destination_dir}
          </Text>
          . This cannot be undone.
        </Text>
        {remove.error && <ErrorAlert error={remove.error} title="Could not remove the schedule" />}
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

import { Button, Group, Modal, Stack, Text } from "@mantine/core";
import type { Job } from "../../bindings";

type Props = {
  /** The job to confirm; null: closed. */
  job: Job | null;
  onConfirm: (job: Job) => void;
  onClose: () => void;
};

/** Asks before a job is cancelled: a stray click must not throw away an hour's download. */
export function CancelJobDialog({ job, onConfirm, onClose }: Props) {
  return (
    <Modal opened={job !== null} onClose={onClose} title="Cancel this job?">
      <Stack gap="md">
        <Text size="sm">
          Stop <b>{job?.name}</b>? What it has written so far is removed and the server side is released; you can
          retry it later, which starts it again.
        </Text>
        <Group justify="flex-end">
          <Button variant="default" onClick={onClose} data-autofocus data-testid="cancel-job-keep">
            Keep running
          </Button>
          <Button
            color="red"
            onClick={() => {
              if (job) onConfirm(job);
              onClose();
            }}
            data-testid="cancel-job-confirm"
          >
            Cancel job
          </Button>
        </Group>
      </Stack>
    </Modal>
  );
}

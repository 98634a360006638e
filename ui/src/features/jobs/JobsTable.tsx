import { ActionIcon, Group, Stack, Table, Text, Tooltip, VisuallyHidden } from "@mantine/core";
import { IconPlayerStop } from "@tabler/icons-react";
import type { Job } from "../../bindings";
import { errorDetails } from "../../api/errors";
import { CopyDetailsButton } from "../../components/ErrorAlert";
import { formatDateTime } from "./format";
import { JobProgressCell } from "./JobProgressCell";
import { isActive, JobStateBadge } from "./JobStateBadge";

type JobsTableProps = {
  jobs: readonly Job[];
  onCancel: (job: Job) => void;
  /** Id of the job whose cancellation is in flight. */
  cancellingId?: string | null;
};

export function JobsTable({ jobs, onCancel, cancellingId = null }: JobsTableProps) {
  return (
    <Table.ScrollContainer minWidth={760}>
      <Table verticalSpacing="sm" highlightOnHover aria-label="Jobs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Progress</Table.Th>
            <Table.Th>Created</Table.Th>
            <Table.Th>Error</Table.Th>
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {jobs.map((job) => (
            <Table.Tr key={job.id} data-testid="job-row" data-job-state={job.state} data-job-id={job.id}>
              <Table.Td miw={140}>
                <Text size="sm" fw={600}>
                  {job.name}
                </Text>
                <Text size="xs" c="dimmed">
                  {job.kind}
                </Text>
              </Table.Td>
              <Table.Td>
                <JobStateBadge state={job.state} />
              </Table.Td>
              <Table.Td miw={200}>
                <JobProgressCell job={job} />
              </Table.Td>
              <Table.Td>
                <Text size="sm">
                  {formatDateTime(job.created_at)}
                </Text>
              </Table.Td>
              <Table.Td miw={160}>
                {job.error ? (
                  <Stack gap={2} align="flex-start">
                    <Text size="sm" c="red" data-testid="job-error" style={{ whiteSpace: "pre-wrap" }}>
                      {job.error.message}
                    </Text>
                    <CopyDetailsButton text={errorDetails(job.error, `job “${job.name}” (${job.id})`)} />
                  </Stack>
                ) : (
                  <Text size="sm" c="dimmed">
                    —
                  </Text>
                )}
              </Table.Td>
              <Table.Td>
                <Group justify="flex-end">
                  {isActive(job.state) && (
                    <Tooltip label="Cancel job" withArrow openDelay={300}>
                      <ActionIcon
                        variant="subtle"
                        color="red"
                        size="lg"
                        loading={cancellingId === job.id}
                        onClick={() => onCancel(job)}
                        aria-label={`Cancel ${job.name}`}
                        data-testid="job-cancel"
                      >
                        <IconPlayerStop size={18} aria-hidden />
                      </ActionIcon>
                    </Tooltip>
                  )}
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

import { ActionIcon, Group, Stack, Table, Text, Tooltip, VisuallyHidden } from "@mantine/core";
import { IconPlayerStop, IconRefresh } from "@tabler/icons-react";
import type { Job, JobState } from "../../bindings";
import { errorDetails } from "../../api/errors";
import { CopyDetailsButton } from "../../components/ErrorAlert";
import { formatDateTime } from "./format";
import { JobProgressCell } from "./JobProgressCell";
import { JobResultView } from "./JobResultView";
import { isActive, JobStateBadge } from "./JobStateBadge";

const RETRYABLE_STATES: readonly JobState[] = ["failed", "cancelled", "interrupted"];

/** Exports that ended without a result can run again (from their checkpoint where possible). */
export function canRetry(job: Job): boolean {
  return job.kind === "export" && RETRYABLE_STATES.includes(job.state);
}

type JobsTableProps = {
  jobs: readonly Job[];
  onCancel: (job: Job) => void;
  /** Id of the job whose cancellation is in flight. */
  cancellingId?: string | null;
  /** Absent: no retry buttons. */
  onRetry?: (job: Job) => void;
  /** Id of the job whose retry is being submitted. */
  retryingId?: string | null;
};

export function JobsTable({ jobs, onCancel, cancellingId = null, onRetry, retryingId = null }: JobsTableProps) {
  return (
    <Table.ScrollContainer minWidth={760}>
      <Table verticalSpacing="sm" highlightOnHover aria-label="Jobs">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Progress</Table.Th>
            <Table.Th>Created</Table.Th>
            <Table.Th>Outcome</Table.Th>
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
              <Table.Td miw={220} maw={420}>
                {job.result ? (
                  <JobResultView jobId={job.id} result={job.result} />
                ) : job.error ? (
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
                <Group justify="flex-end" gap={4} wrap="nowrap">
                  {onRetry && canRetry(job) && (
                    <Tooltip label="Retry export" withArrow openDelay={300}>
                      <ActionIcon
                        variant="subtle"
                        size="lg"
                        loading={retryingId === job.id}
                        onClick={() => onRetry(job)}
                        aria-label={`Retry ${job.name}`}
                        data-testid="job-retry"
                      >
                        <IconRefresh size={18} aria-hidden />
                      </ActionIcon>
                    </Tooltip>
                  )}
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

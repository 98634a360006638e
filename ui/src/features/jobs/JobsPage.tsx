import { Stack } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconListDetails } from "@tabler/icons-react";
import { useCancelJob, useJobs, useRetryJob } from "../../api/hooks";
import { EmptyState } from "../../components/EmptyState";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";
import { PageHeader } from "../../components/PageHeader";
import { JobsBrowser } from "./JobsBrowser";

export function JobsPage() {
  const jobs = useJobs();
  const cancel = useCancelJob();
  const retry = useRetryJob();

  let body;
  if (jobs.isPending) {
    body = <LoadingBlock label="Loading jobs" />;
  } else if (jobs.isError) {
    body = <ErrorAlert error={jobs.error} title="Could not load jobs" />;
  } else if (jobs.data.length === 0) {
    body = (
      <EmptyState icon={<IconListDetails size={30} />} title="No jobs yet" testId="jobs-empty">
        Exports you start appear here, with their progress, transfer rate and time left. Jobs keep
        their history after they finish.
      </EmptyState>
    );
  } else {
    body = (
      <Stack gap="md">
        {cancel.error && <ErrorAlert error={cancel.error} title="Could not cancel the job" />}
        {retry.error && <ErrorAlert error={retry.error} title="Could not retry the job" />}
        <JobsBrowser
          jobs={jobs.data}
          onCancel={(job) => cancel.mutate(job.id)}
          cancellingId={cancel.isPending ? cancel.variables : null}
          onRetry={(job) =>
            retry.mutate(job.id, {
              onSuccess: (queued) =>
                notifications.show({ color: "teal", title: "Export queued again", message: queued.name }),
            })
          }
          retryingId={retry.isPending ? retry.variables : null}
        />
      </Stack>
    );
  }

  return (
    <Stack gap={0} data-testid="page-jobs">
      <PageHeader title="Jobs" description="Exports and backups, queued, running and finished." />
      {body}
    </Stack>
  );
}

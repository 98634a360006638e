import { Stack } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconListDetails } from "@tabler/icons-react";
import { useState } from "react";
import type { Job } from "../../bindings";
import { useCancelJob, useRetryJob } from "../../api/hooks";
import { EmptyState } from "../../components/EmptyState";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageHeader } from "../../components/PageHeader";
import { CancelJobDialog } from "./CancelJobDialog";
import { JobsBrowser } from "./JobsBrowser";

export function JobsPage() {
  const cancel = useCancelJob();
  const retry = useRetryJob();
  const [confirming, setConfirming] = useState<Job | null>(null);
  return (
    <Stack gap={0} data-testid="page-jobs">
      <PageHeader title="Jobs" description="Exports and backups, queued, running and finished." />
      <Stack gap="md">
        {cancel.error && <ErrorAlert error={cancel.error} title="Could not cancel the job" />}
        {retry.error && <ErrorAlert error={retry.error} title="Could not retry the job" />}
        <JobsBrowser
          onCancel={setConfirming}
          cancellingId={cancel.isPending ? cancel.variables : null}
          onRetry={(job) =>
            retry.mutate(job.id, {
              onSuccess: (queued) =>
                notifications.show({ color: "teal", title: "Export queued again", message: queued.name }),
            })
          }
          retryingId={retry.isPending ? retry.variables : null}
          empty={
            <EmptyState icon={<IconListDetails size={30} />} title="No jobs yet" testId="jobs-empty">
              Exports you start appear here, with their progress, transfer rate and time left. Jobs keep
              their history after they finish.
            </EmptyState>
          }
        />
      </Stack>
      <CancelJobDialog job={confirming} onConfirm={(job) => cancel.mutate(job.id)} onClose={() => setConfirming(null)} />
    </Stack>
  );
}

import { Badge, Drawer, Group, ScrollArea, SimpleGrid, Stack, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useMemo, useState } from "react";
import type { JobDetail } from "../../bindings";
import { api } from "../../api/client";
import type { CoreError } from "../../api/errors";
import { useJobThroughputSeries } from "../../api/metricsHooks";
import { queryKeys } from "../../api/queryKeys";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";
import { useLiveMetrics } from "../../store/liveMetrics";
import { JobThroughputChart } from "../dashboard/JobThroughputChart";
import { formatBytes, formatDateTime, formatEta, formatRate, jobBytes, jobDuration } from "./format";
import { JobProgressCell } from "./JobProgressCell";
import { JobResultView } from "./JobResultView";
import { isActive } from "../../api/jobStates";
import { JobStateBadge } from "./JobStateBadge";

const toSeconds = (iso: string | null) => (iso ? Math.floor(new Date(iso).getTime() / 1000) : null);

/** Now, in seconds, moving on every `every` seconds while `active`. */
function useNow(every: number, active: boolean): number {
  const [now, setNow] = useState(() => Math.floor(Date.now() / 1000));
  useEffect(() => {
    if (!active) return;
    const timer = window.setInterval(() => setNow(Math.floor(Date.now() / 1000)), every * 1000);
    return () => window.clearInterval(timer);
  }, [every, active]);
  return now;
}

/** A job's own page: state, progress, its throughput over its run, and its event log. */
export function JobDetailDrawer({ jobId, onClose }: { jobId: string | null; onClose: () => void }) {
  return (
    <Drawer opened={jobId !== null} onClose={onClose} position="right" size="xl" title="Job" data-testid="job-detail">
      {jobId && <JobDetailBody jobId={jobId} />}
    </Drawer>
  );
}

function JobDetailBody({ jobId }: { jobId: string }) {
  const detail = useQuery<JobDetail, CoreError>({ queryKey: queryKeys.job(jobId), queryFn: () => api.getJob(jobId) });
  const job = detail.data?.job;
  const running = job ? isActive(job.state) : false;
  const now = useNow(10, running);
  const started = toSeconds(job?.started_at ?? null) ?? toSeconds(job?.created_at ?? null) ?? now;
  const finished = toSeconds(job?.finished_at ?? null);
  const range = useMemo(() => ({ from: started - 5, to: (finished ?? now) + 1 }), [started, finished, now]);
  const history = useJobThroughputSeries(jobId, range);
  const samples = useLiveMetrics((s) => s.samples);
  const live = useMemo(
    () =>
      running
        ? samples.flatMap((s) => {
            const j = s.jobs.find((x) => x.job_id === jobId);
            return j ? [{ t: s.t, value: j.bytes_per_second, peak: j.bytes_per_second }] : [];
          })
        : [],
    [samples, jobId, running],
  );

  if (detail.isPending) return <LoadingBlock label="Loading the job" />;
  if (detail.isError) return <ErrorAlert error={detail.error} title="Could not load the job" />;
  const { events } = detail.data;
  const current = detail.data.job;
  return (
    <Stack gap="md">
      <Group justify="space-between" wrap="nowrap">
        <Stack gap={2}>
          <Title order={3} size="h4">
            {current.name}
          </Title>
          <Text size="xs" c="dimmed" ff="monospace">
            {current.id}
          </Text>
        </Stack>
        <JobStateBadge state={current.state} />
      </Group>
      <JobTimes job={current} now={now} />
      <JobProgressCell job={current} />
      {current.error && <ErrorAlert error={current.error} title="Why it stopped" context={`job ${current.id}`} />}
      {current.result && <JobResultView jobId={current.id} result={current.result} />}
      <JobThroughputChart jobId={jobId} series={history.data} live={live} />
      <Stack gap="xs">
        <Title order={4} size="h5">
          Event log
        </Title>
        <ScrollArea.Autosize mah={320}>
          <Stack gap={6} data-testid="job-events">
            {events.map((e, i) => (
              <Group key={`${e.at}-${i}`} gap="sm" wrap="nowrap" align="flex-start" data-testid="job-event">
                <Text size="xs" c="dimmed" w={150} style={{ flexShrink: 0 }}>
                  {formatDateTime(e.at)}
                </Text>
                <Badge size="sm" variant="light" style={{ flexShrink: 0 }}>
                  {e.state}
                </Badge>
                <Text size="sm" style={{ whiteSpace: "pre-wrap" }}>
                  {e.message}
                </Text>
              </Group>
            ))}
          </Stack>
        </ScrollArea.Autosize>
      </Stack>
    </Stack>
  );
}

/** When the job started and ended, how long it took (or has run), and its average rate. */
function JobTimes({ job, now }: { job: JobDetail["job"]; now: number }) {
  const started = job.started_at;
  const seconds = jobDuration(job) ?? (started && isActive(job.state) ? Math.max(0, now - Date.parse(started) / 1000) : null);
  const bytes = jobBytes(job);
  const cell = (label: string, value: string, testId: string) => (
    <Stack gap={0}>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text size="sm" data-testid={testId}>
        {value}
      </Text>
    </Stack>
  );
  return (
    <SimpleGrid cols={4} spacing="sm" data-testid="job-times">
      {cell("Created", formatDateTime(job.created_at), "job-created")}
      {cell("Started", started ? formatDateTime(started) : "—", "job-started")}
      {cell("Ended", job.finished_at ? formatDateTime(job.finished_at) : "—", "job-ended")}
      {cell(
        job.finished_at ? "Took" : "Running for",
        seconds === null ? "—" : `${formatEta(seconds)}${bytes > 0 && seconds > 0 ? ` · ${formatBytes(bytes)} at ${formatRate(bytes / seconds)}` : ""}`,
        "job-duration-total",
      )}
    </SimpleGrid>
  );
}

import type { QueryClient } from "@tanstack/react-query";
import type { Job, JobDetail, JobProgress } from "../bindings";
import { queryKeys } from "./queryKeys";

/** Replaces (or prepends) one job in the cached list and detail, without refetching. */
export function upsertJob(queryClient: QueryClient, job: Job): void {
  queryClient.setQueryData<Job[]>(queryKeys.jobs, (jobs) => {
    if (!jobs) return jobs;
    const index = jobs.findIndex((j) => j.id === job.id);
    if (index === -1) return [job, ...jobs];
    const next = jobs.slice();
    next[index] = job;
    return next;
  });
  queryClient.setQueryData<JobDetail>(queryKeys.job(job.id), (detail) =>
    detail ? { ...detail, job } : detail,
  );
}

/** Applies a progress sample to the cached job, if that job is cached. */
export function applyJobProgress(queryClient: QueryClient, progress: JobProgress): void {
  queryClient.setQueryData<Job[]>(queryKeys.jobs, (jobs) => {
    if (!jobs) return jobs;
    const index = jobs.findIndex((j) => j.id === progress.job_id);
    if (index === -1) return jobs;
    const next = jobs.slice();
    const current = jobs[index];
    if (current) next[index] = { ...current, progress };
    return next;
  });
  queryClient.setQueryData<JobDetail>(queryKeys.job(progress.job_id), (detail) =>
    detail ? { ...detail, job: { ...detail.job, progress } } : detail,
  );
}

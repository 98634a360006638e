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

/**
 * Applies progress samples (at most one per job) to the cached jobs in one pass over the list and
 * one cache update, however many jobs they are for.
 */
export function applyJobProgress(queryClient: QueryClient, samples: JobProgress[]): void {
  if (samples.length === 0) return;
  const byJob = new Map(samples.map((p) => [p.job_id, p]));
  queryClient.setQueryData<Job[]>(queryKeys.jobs, (jobs) => {
    if (!jobs) return jobs;
    let next: Job[] | null = null;
    let left = byJob.size;
    for (let i = 0; i < jobs.length && left > 0; i++) {
      const current = jobs[i];
      const progress = current && byJob.get(current.id);
      if (!current || !progress) continue;
      next ??= jobs.slice();
      next[i] = { ...current, progress };
      left--;
    }
    return next ?? jobs;
  });
  for (const progress of samples) {
    queryClient.setQueryData<JobDetail>(queryKeys.job(progress.job_id), (detail) =>
      detail ? { ...detail, job: { ...detail.job, progress } } : detail,
    );
  }
}

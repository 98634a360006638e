// The jobs in the query cache follow the core's events without refetching: progress samples and
// job changes patch every cached copy of a job (the active list, the pages of the Jobs table, the
// job's page), and a change that can move a job between pages re-reads the pages in view.
import type { QueryClient } from "@tanstack/react-query";
import type { Job, JobDetail, JobPage, JobProgress } from "../bindings";
import { isActive } from "./jobStates";
import { queryKeys } from "./queryKeys";


/** The jobs with those `replace` returns a new object for replaced; the same array when none. */
function patchJobs(jobs: Job[], replace: (job: Job) => Job): Job[] {
  let next: Job[] | null = null;
  jobs.forEach((job, i) => {
    const updated = replace(job);
    if (updated !== job) {
      next ??= jobs.slice();
      next[i] = updated;
    }
  });
  return next ?? jobs;
}

function patchPage(page: JobPage | undefined, replace: (job: Job) => Job): JobPage | undefined {
  if (!page) return page;
  const jobs = patchJobs(page.jobs, replace);
  return jobs === page.jobs ? page : { ...page, jobs };
}

// ---------------------------------------------------------------- names of jobs seen

/** Names of the jobs this window has seen, for charts of jobs that have since ended. */
const names = new Map<string, string>();
const MAX_NAMES = 5000;

export function rememberJobNames(jobs: readonly Job[]): void {
  for (const job of jobs) {
    if (names.get(job.id) === job.name) continue;
    names.delete(job.id);
    names.set(job.id, job.name);
    if (names.size > MAX_NAMES) {
      const oldest = names.keys().next().value;
      if (oldest !== undefined) names.delete(oldest);
    }
  }
}

export function knownJobName(id: string): string | undefined {
  return names.get(id);
}

// ---------------------------------------------------------------- page refresh

/** How often, at most, the pages in view are re-read after job changes. */
export const PAGE_REFRESH_INTERVAL_MS = 500;
const refreshTimers = new WeakMap<QueryClient, ReturnType<typeof setTimeout>>();

/**
 * Re-reads the Jobs table's pages (only those on screen; the rest when next shown), at most
 * every {@link PAGE_REFRESH_INTERVAL_MS}: twenty exports starting at once is one refresh.
 */
export function refreshJobPages(queryClient: QueryClient): void {
  if (refreshTimers.has(queryClient)) return;
  refreshTimers.set(
    queryClient,
    setTimeout(() => {
      refreshTimers.delete(queryClient);
      void queryClient.invalidateQueries({ queryKey: queryKeys.jobPages });
    }, PAGE_REFRESH_INTERVAL_MS),
  );
}

// ---------------------------------------------------------------- events

/**
 * Applies a job as it is now: patched wherever it is cached, added to or dropped from the active
 * list, and the Jobs table's pages re-read (a new job, or a new state, can change which jobs a
 * page holds and in what order).
 */
export function upsertJob(queryClient: QueryClient, job: Job): void {
  rememberJobNames([job]);
  queryClient.setQueryData<Job[]>(queryKeys.activeJobs, (jobs) => {
    if (!jobs) return jobs;
    const index = jobs.findIndex((j) => j.id === job.id);
    if (!isActive(job.state)) return index === -1 ? jobs : jobs.filter((j) => j.id !== job.id);
    if (index === -1) return [job, ...jobs];
    const next = jobs.slice();
    next[index] = job;
    return next;
  });
  queryClient.setQueriesData<JobPage>({ queryKey: queryKeys.jobPages }, (page) =>
    patchPage(page, (j) => (j.id === job.id ? job : j)),
  );
  queryClient.setQueryData<JobDetail>(queryKeys.job(job.id), (detail) => (detail ? { ...detail, job } : detail));
  refreshJobPages(queryClient);
}

/**
 * Applies progress samples (at most one per job) to every cached copy of their jobs, one cache
 * update per query however many jobs they are for. Progress moves no job between pages.
 */
export function applyJobProgress(queryClient: QueryClient, samples: JobProgress[]): void {
  if (samples.length === 0) return;
  const byJob = new Map(samples.map((p) => [p.job_id, p]));
  const withProgress = (job: Job): Job => {
    const progress = byJob.get(job.id);
    return progress ? { ...job, progress } : job;
  };
  queryClient.setQueryData<Job[]>(queryKeys.activeJobs, (jobs) => jobs && patchJobs(jobs, withProgress));
  queryClient.setQueriesData<JobPage>({ queryKey: queryKeys.jobPages }, (page) => patchPage(page, withProgress));
  for (const progress of samples) {
    queryClient.setQueryData<JobDetail>(queryKeys.job(progress.job_id), (detail) =>
      detail ? { ...detail, job: { ...detail.job, progress } } : detail,
    );
  }
}

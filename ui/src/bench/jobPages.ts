// The Jobs table's first blocks, as the core would answer them, put in the query cache before any
// timing starts: the benchmarks time the window's own work (render, filter bar, table), and the
// core's answer is timed on its own (crates/hypersdk-core/examples/job_query_bench.rs).
import type { QueryClient } from "@tanstack/react-query";
import { commands } from "../bindings";
import type { Connection, Job, JobPage, JobQuery } from "../bindings";
import { JOB_BLOCK } from "../api/hooks";
import { queryKeys } from "../api/queryKeys";
import { DEFAULT_SORT, NO_FILTERS, queryJobsLocally, toJobQuery } from "../features/jobs/jobFilters";
import type { JobSort } from "../features/jobs/jobFilters";

export function seedJobPages(
  client: QueryClient,
  jobs: readonly Job[],
  connections: readonly Connection[],
  texts: readonly string[],
  sorts: readonly JobSort[] = [DEFAULT_SORT],
): void {
  const answers = new Map<string, JobPage>();
  const key = (q: JobQuery) => JSON.stringify(queryKeys.jobPage(q), Object.keys(q).sort());
  for (const sort of sorts) {
    for (const text of new Set(["", ...texts])) {
      const query = { ...toJobQuery({ ...NO_FILTERS, text }, sort), offset: 0, limit: JOB_BLOCK };
      const page = queryJobsLocally(jobs, connections, query);
      answers.set(key(query), page);
      client.setQueryData(queryKeys.jobPage(query), page);
    }
  }
  // A job event re-reads the pages in view a moment later, as in the app: answered from the
  // same table (a page not seeded is worked out, outside the timed steps).
  (commands as { queryJobs: typeof commands.queryJobs }).queryJobs = (query) =>
    Promise.resolve({ status: "ok", data: answers.get(key(query)) ?? queryJobsLocally(jobs, connections, query) });
}

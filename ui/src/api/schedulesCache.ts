import type { QueryClient } from "@tanstack/react-query";
import type { ScheduleExecution } from "../bindings";
import { queryKeys } from "./queryKeys";

/** Newest first, as the core lists them: by start, then by id (ids grow with time). */
function newestFirst(a: ScheduleExecution, b: ScheduleExecution): number {
  return b.started_at.localeCompare(a.started_at) || b.id - a.id;
}

/**
 * Replaces (or adds) one run in its schedule's cached history, without refetching: a run is
 * announced when it starts, is skipped and when it finishes.
 */
export function upsertScheduleRun(queryClient: QueryClient, run: ScheduleExecution): void {
  queryClient.setQueryData<ScheduleExecution[]>(queryKeys.scheduleHistory(run.schedule_id), (runs) => {
    if (!runs) return runs;
    const index = runs.findIndex((r) => r.id === run.id);
    if (index === -1) return [run, ...runs].sort(newestFirst);
    const next = runs.slice();
    next[index] = run;
    return next;
  });
}

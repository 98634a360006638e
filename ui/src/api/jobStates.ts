import type { JobState } from "../bindings";

/** Queued or running: the job can still be cancelled, and has not ended. */
export function isActive(state: JobState): boolean {
  return state === "queued" || state === "running";
}

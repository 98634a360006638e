import type { Job, JobState } from "../../bindings";

const RETRYABLE_STATES: readonly JobState[] = ["failed", "cancelled", "interrupted"];

/** Exports that ended without a result can run again (from their checkpoint where possible). */
export function canRetry(job: Job): boolean {
  return job.kind === "export" && RETRYABLE_STATES.includes(job.state);
}

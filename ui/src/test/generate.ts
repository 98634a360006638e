// Generated data at scale, for the jobs table tests and the UI benchmark (bench/ui-scale).
import type { Connection, Job, JobState } from "../bindings";

const STATES: JobState[] = ["succeeded", "succeeded", "succeeded", "failed", "cancelled", "interrupted", "succeeded", "failed"];
const KINDS: Connection["kind"][] = ["vsphere", "aws", "azure", "gcp", "hyperv", "proxmox"];

export function makeConnections(n: number): Connection[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `c-${i}`,
    kind: KINDS[i % KINDS.length]!,
    name: `${KINDS[i % KINDS.length]} site ${i}`,
    endpoint: `https://site-${i}.example`,
    username: "backup",
    options: {},
    has_secret: true,
    tls_fingerprint: null,
    created_at: "2026-01-01T00:00:00Z",
    updated_at: "2026-01-01T00:00:00Z",
  }));
}

/**
 * `n` jobs, newest first (as the core lists them): a few running and queued at the top, the
 * rest finished with a mix of outcomes over the past months; every 11th has no connection.
 */
export function makeJobs(n: number, connections: readonly Connection[]): Job[] {
  const start = Date.UTC(2026, 10, 26, 12, 0, 0);
  return Array.from({ length: n }, (_, i) => {
    const created = new Date(start - i * 97_000).toISOString();
    const state: JobState = i < 3 ? "running" : i < 6 ? "queued" : STATES[Math.floor(i / 5) % STATES.length]!;
    const conn = i % 11 === 10 ? null : connections[i % connections.length]!;
    const total = (1 + (i % 40)) * 1024 ** 3;
    return {
      id: `job-${String(i).padStart(6, "0")}-${(i * 2654435761) % 100000}`,
      name: `Export vm-${String(i % 10_000).padStart(5, "0")}`,
      kind: conn ? "export" : "ova_package",
      connection_id: conn?.id ?? null,
      state,
      created_at: created,
      started_at: state === "queued" ? null : created,
      finished_at: state === "running" || state === "queued" ? null : created,
      progress:
        state === "queued"
          ? null
          : { job_id: "", bytes_done: state === "running" ? total / 3 : total, bytes_total: total, rate_bps: 90e6, eta_seconds: 60, disks: [] },
      error:
        state === "failed"
          ? { code: "unreachable", message: `cannot reach site-${i % 50}.example: connection refused`, retryable: true }
          : null,
      result: null,
    };
  });
}

// Generated data at scale, for the jobs table tests and the UI benchmark (bench/ui-scale).
import type { Connection, Job, JobState, PowerState, VmInfo } from "../bindings";

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

const DATACENTERS = ["DC-East", "DC-West", "DC-Lab", "DC-Frankfurt"];
const TEAMS = ["payments", "web", "data", "platform", "finance", "ci"];
const ENVIRONMENTS = ["prod", "staging", "dev"];
const ROLES = ["web", "app", "db", "cache", "build", "mq", "log", "api"];
const POOLS = ["Gold", "Silver", "Bronze"];
const GUESTS = [
  "Ubuntu Linux (64-bit)",
  "Red Hat Enterprise Linux 9 (64-bit)",
  "Microsoft Windows Server 2022 (64-bit)",
  "Debian GNU/Linux 12 (64-bit)",
  "Microsoft Windows Server 2019 (64-bit)",
  "Rocky Linux (64-bit)",
  "SUSE Linux Enterprise 15 (64-bit)",
  "Other Linux (64-bit)",
];

/**
 * `n` VMs of one vCenter as discovery lists them: four datacenters, three clusters of eight
 * hosts each per datacenter, three resource pools per cluster, folders by team and environment
 * (`/DC-East/vm/payments/prod/db-00042`), mostly powered on, a mix of guest systems and sizes,
 * and one template in 250. Names are `ROLE-NNNNN`, unique. Listed in the core's order: by
 * path, then id.
 */
export function makeVms(n: number): VmInfo[] {
  const vms = Array.from({ length: n }, (_, i): VmInfo => {
    const dc = DATACENTERS[Math.floor(i / 7) % DATACENTERS.length]!;
    const cluster = `${dc.slice(3)}-Cluster-${(Math.floor(i / 3) % 3) + 1}`;
    const template = i % 250 === 7;
    const power: PowerState = template ? "powered_off" : i % 20 === 19 ? "suspended" : i % 20 >= 14 ? "powered_off" : "powered_on";
    const name = `${template ? "tpl" : ROLES[i % ROLES.length]}-${String(i).padStart(5, "0")}`;
    const team = TEAMS[Math.floor(i / 11) % TEAMS.length]!;
    const env = ENVIRONMENTS[Math.floor(i / 5) % ENVIRONMENTS.length]!;
    // Templates live in a folder of their own; some teams nest a level deeper.
    const folder = template ? "templates" : i % 9 === 0 ? `${team}/${env}/legacy` : `${team}/${env}`;
    return {
      id: `vm-${1000 + i}`,
      name,
      path: `/${dc}/vm/${folder}/${name}`,
      power_state: power,
      guest_os: GUESTS[Math.floor(i / 3) % GUESTS.length]!,
      cpus: [1, 2, 2, 4, 8, 16][i % 6]!,
      memory_mib: [2048, 4096, 8192, 16384, 65536][i % 5]!,
      disks: 1 + (i % 4),
      nics: 1 + (i % 3),
      template,
      tools_status: power === "powered_on" ? "guestToolsRunning" : i % 13 === 0 ? "guestToolsNotInstalled" : "guestToolsNotRunning",
      datacenter: dc,
      cluster,
      host: `esx-${String((i % 8) + 1).padStart(2, "0")}.${cluster.toLowerCase()}.example`,
      resource_pool: POOLS[i % POOLS.length]!,
    };
  });
  const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return vms.sort((a, b) => byText(a.path, b.path) || byText(a.id, b.id));
}

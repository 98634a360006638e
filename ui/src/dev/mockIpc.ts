// Browser-only preview data (`vite build --mode mock`); never part of the production bundle.
//
// URL parameters: `?section=jobs` opens a section, `?scenario=empty` starts with no data,
// `?scenario=startup-error` shows the start-up error screen, `?vms=10000` sets how many VMs
// the "Lab vCenter" connection lists (default 2,500). Webhooks: "Ops chat" answers 200, "Ticketing"
// 503 (its deliveries retry, then die); a URL containing "gone" answers 410 and turns its hook off.
import { emit as emitEvent } from "@tauri-apps/api/event";
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { SECTIONS, useNavigation } from "../store/navigation";
import type { Section } from "../store/navigation";
import { createScheduleMock, NOT_MINE } from "./mockSchedules";
import { queryJobsLocally } from "../features/jobs/jobFilters";
import type {
  ApiError,
  Connection,
  ConnectionInput,
  ConnectionTestResult,
  CoreEvent,
  DeliveryFilter,
  Diagnostic,
  ExportSpec,
  Job,
  JobProgress,
  JobQuery,
  PowerState,
  ProviderKindInfo,
  Settings,
  VmInfo,
  Webhook,
  WebhookDelivery,
  WebhookInput,
  WebhookSettings,
  WebhookTestResult,
} from "../bindings";
import { mockMetricsCommand, startMockSamples } from "./mockMetrics";

const kinds: ProviderKindInfo[] = [
  { kind: "vsphere", display_name: "VMware vSphere", default_port: 443, endpoint_hint: "vcenter.example.com", endpoint_optional: null, username_optional: null, username_label: "User name", secret_label: "Password", options: [{ key: "datacenter", label: "Datacenter", help: "Limit discovery to one datacenter", required: false, placeholder: "DC1" }], native_archive: null, export_options: [], discovery_available: true },
  { kind: "aws", display_name: "Amazon Web Services", default_port: 443, endpoint_hint: "https://ec2.us-east-1.amazonaws.com", endpoint_optional: null, username_optional: null, username_label: "Access key ID", secret_label: "Secret access key", options: [{ key: "region", label: "Region", help: "The AWS region to browse", required: true, placeholder: "us-east-1" }], native_archive: null, export_options: [], discovery_available: false },
  { kind: "azure", display_name: "Microsoft Azure", default_port: 443, endpoint_hint: "https://management.azure.com", endpoint_optional: null, username_optional: null, username_label: "Client ID", secret_label: "Client secret", options: [{ key: "tenant_id", label: "Tenant ID", help: "", required: true, placeholder: "" }, { key: "subscription_id", label: "Subscription ID", help: "", required: true, placeholder: "" }], native_archive: null, export_options: [], discovery_available: false },
  { kind: "gcp", display_name: "Google Cloud", default_port: 443, endpoint_hint: "https://compute.googleapis.com", endpoint_optional: null, username_optional: null, username_label: "Service account e-mail", secret_label: "Service account key (JSON)", options: [{ key: "project", label: "Project", help: "", required: true, placeholder: "my-project" }], native_archive: null, export_options: [], discovery_available: false },
  { kind: "hyperv", display_name: "Microsoft Hyper-V", default_port: 5986, endpoint_hint: "hyperv01.example.com", endpoint_optional: null, username_optional: null, username_label: "User name", secret_label: "Password", options: [], native_archive: null, export_options: [], discovery_available: false },
  { kind: "proxmox", display_name: "Proxmox VE", default_port: 8006, endpoint_hint: "https://pve.example.com:8006", endpoint_optional: null, username_optional: null, username_label: "User (user@realm)", secret_label: "Password or API token secret", options: [{ key: "token_id", label: "API token ID", help: "Leave empty to sign in with a password", required: false, placeholder: "root@pam!backup" }], native_archive: "Proxmox backup (.vma.zst, restores with qmrestore)", export_options: [{ key: "mode", label: "Backup mode", help: "How vzdump keeps the guest consistent while it reads it", choices: [["snapshot", "Snapshot (the VM keeps running)"], ["suspend", "Suspend"], ["stop", "Stop"]] }], discovery_available: false },
];

/** What the "Edge vCenter" presents: self-signed, so listing fails until it is pinned. */
const EDGE_FINGERPRINT = "3A:91:5C:0E:77:D2:48:B1:9F:60:2C:AA:13:E4:71:08:C5:3D:9B:26:F0:84:1E:6A:52:BD:07:C9:38:FE:A1:7C";
const fingerprintHex = (f: string) => f.replace(/:/g, "").toLowerCase();

const now = () => new Date().toISOString();
let connections: Connection[] = [
  { id: "c-1", kind: "vsphere", name: "Lab vCenter", endpoint: "https://vcenter.lab.local/sdk", username: "administrator@vsphere.local", options: { datacenter: "DC1" }, has_secret: true, tls_fingerprint: null, created_at: now(), updated_at: now() },
  { id: "c-2", kind: "vsphere", name: "Edge vCenter", endpoint: "https://vc-edge.branch.example/sdk", username: "exporter@vsphere.local", options: {}, has_secret: true, tls_fingerprint: null, created_at: now(), updated_at: now() },
  { id: "c-3", kind: "proxmox", name: "Home Proxmox", endpoint: "https://pve.home.arpa:8006", username: "root@pam", options: {}, has_secret: false, tls_fingerprint: null, created_at: now(), updated_at: now() },
];

const GiB = 1024 ** 3;
const jobs: Job[] = [
  { id: "j-1", name: "Export web-01", kind: "export", connection_id: "c-1", state: "running", created_at: now(), started_at: now(), finished_at: null, progress: { job_id: "j-1", bytes_done: 7 * GiB, bytes_total: 20 * GiB, rate_bps: 94_371_840, eta_seconds: 148, disks: [{ index: 0, name: "web-01.vmdk", bytes_done: 6 * GiB, bytes_total: 16 * GiB }, { index: 1, name: "web-01_1.vmdk", bytes_done: 1 * GiB, bytes_total: 4 * GiB }] }, error: null, result: null },
  { id: "j-2", name: "Export db-02", kind: "export", connection_id: "c-1", state: "queued", created_at: now(), started_at: null, finished_at: null, progress: null, error: null, result: null },
  { id: "j-3", name: "Export build-agent", kind: "export", connection_id: "c-1", state: "failed", created_at: now(), started_at: now(), finished_at: now(), progress: null, error: { code: "unreachable", message: "cannot reach https://vcenter.lab.local/sdk: connection refused", retryable: true }, result: null },
  { id: "j-4", name: "Export mail", kind: "export", connection_id: "c-1", state: "succeeded", created_at: now(), started_at: now(), finished_at: now(), progress: { job_id: "j-4", bytes_done: 4 * GiB, bytes_total: 4 * GiB, rate_bps: 0, eta_seconds: null, disks: [] }, error: null, result: { path: "/home/ada/Exports/mail.ova", files: ["mail.ovf", "mail-disk1.vmdk", "mail.mf"], bytes: 2_684_354_560, manifest_algorithm: "sha256", verified: true } },
];
let settings: Settings = { max_concurrent_jobs: 4, max_jobs_per_connection: 2, disks_per_export: 4, metrics_enabled: false, metrics_listen: "127.0.0.1:9464" };

function fail(code: string, message: string, retryable = false): never {
  const error: ApiError = { code, message, retryable };
  throw error;
}

function fromInput(id: string, input: ConnectionInput, previous?: Connection): Connection {
  if (connections.some((c) => c.name === input.name && c.id !== id)) {
    fail("connection_name_taken", `A connection named “${input.name}” already exists`);
  }
  const pin = input.tls_fingerprint ? fingerprintHex(input.tls_fingerprint) : null;
  if (pin !== null && !/^[0-9a-f]{64}$/.test(pin)) {
    fail("invalid_fingerprint", "A certificate fingerprint is a SHA-256 digest: 64 hexadecimal digits, optionally separated by colons");
  }
  return {
    id,
    kind: input.kind,
    name: input.name,
    endpoint: input.endpoint,
    username: input.username,
    options: input.options ?? {},
    has_secret: input.secret !== null || (previous?.has_secret ?? false),
    tls_fingerprint: pin,
    created_at: previous?.created_at ?? now(),
    updated_at: now(),
  };
}

// ------------------------------------------------------------------ VMs

/** Deterministic pseudo-random numbers, so every preview shows the same inventory. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const FOLDERS = ["prod/web", "prod/db", "prod/app", "dev", "test", "infra/dns", "infra/ldap", "infra/backup", "templates"];
const GUESTS = ["Ubuntu Linux (64-bit)", "Red Hat Enterprise Linux 9 (64-bit)", "Debian GNU/Linux 12 (64-bit)", "Microsoft Windows Server 2022 (64-bit)", "Rocky Linux (64-bit)", "Other Linux (64-bit)"];
const TOOLS = ["guestToolsRunning", "guestToolsRunning", "guestToolsRunning", "guestToolsNotRunning", "guestToolsNotInstalled", null];
const POWER: PowerState[] = ["powered_on", "powered_on", "powered_on", "powered_off", "suspended"];

function makeVms(count: number, seed: number): VmInfo[] {
  const random = rng(seed);
  const pick = <T,>(list: readonly T[]): T => list[Math.floor(random() * list.length)] as T;
  const vms: VmInfo[] = [];
  for (let i = 1; i <= count; i++) {
    const dc = i % 5 === 0 ? "DC2" : "DC1";
    const folder = pick(FOLDERS);
    const role = folder.split("/").pop() ?? "vm";
    const name = `${role}-${String(i).padStart(4, "0")}`;
    const cluster = `${dc}-Cluster-${pick(["A", "B", "C"])}`;
    const template = folder === "templates";
    vms.push({
      id: `vm-${1000 + i}`,
      name,
      path: `/${dc}/vm/${folder}/${name}`,
      power_state: template ? "powered_off" : pick(POWER),
      guest_os: pick(GUESTS),
      cpus: pick([1, 2, 2, 4, 4, 8, 16]),
      memory_mib: pick([1024, 2048, 4096, 8192, 16384, 65536]),
      disks: pick([1, 1, 1, 2, 3]),
      nics: pick([1, 1, 2]),
      template,
      tools_status: template ? null : pick(TOOLS),
      datacenter: dc,
      cluster,
      host: `esx-${cluster.slice(-1).toLowerCase()}${Math.floor(random() * 4) + 1}.${dc.toLowerCase()}.lab.local`,
      resource_pool: pick(["Resources", "Gold", "Silver", "Bronze"]),
    });
  }
  return vms;
}

const vmCache = new Map<string, VmInfo[]>();
function vmsOf(connection: Connection, count: number): VmInfo[] {
  let vms = vmCache.get(connection.id);
  if (!vms) {
    vms = makeVms(connection.id === "c-1" ? count : 40, connection.id === "c-1" ? 7 : 11);
    vmCache.set(connection.id, vms);
  }
  return vms;
}

function untrusted(connection: Connection): never {
  fail(
    "certificate_untrusted",
    `the certificate of ${connection.endpoint} is not trusted (self-signed certificate); its SHA-256 fingerprint is ${EDGE_FINGERPRINT} — pin it on the connection if you trust this server`,
  );
}

function needsPin(connection: Connection): boolean {
  return connection.id === "c-2" && connection.tls_fingerprint !== fingerprintHex(EDGE_FINGERPRINT);
}

// ------------------------------------------------------------------ jobs

/** What the shell forwards from the core's event bus, on the channel the UI listens to. */
const emit = (payload: CoreEvent) => void emitEvent("core-event", payload);

function publish(job: Job) {
  emit({ type: "job_updated", job: { ...job } });
  const event = JOB_EVENTS[job.state];
  if (event) enqueueWebhookEvent(event, job);
}

// ------------------------------------------------------------------ webhooks

const JOB_EVENTS: Partial<Record<Job["state"], string>> = {
  queued: "job.created",
  running: "job.started",
  succeeded: "job.completed",
  failed: "job.failed",
  cancelled: "job.cancelled",
  interrupted: "job.failed",
};
const WEBHOOK_EVENTS = ["job.created", "job.started", "job.progress", "job.completed", "job.failed", "job.cancelled", "schedule.triggered", "schedule.skipped", "*"];

/** A hook as the mock keeps it: the API's shape plus which secret header names are "in the keyring". */
type MockHook = Omit<Webhook, "last_delivery" | "pending" | "dead">;
let hooks: MockHook[] = [
  { id: "w-1", name: "Ops chat", url: "https://hooks.example.com/hypersdk", events: ["job.completed", "job.failed"], headers: [{ name: "Authorization", value: null, secret: true }, { name: "X-Team", value: "infra", secret: false }], timeout_ms: 10_000, max_attempts: 25, enabled: true, disabled_reason: null, has_secret: true, created_at: now(), updated_at: now() },
  { id: "w-2", name: "Ticketing", url: "https://tickets.example.net/api/hooks?queue=backup", events: ["*"], headers: [], timeout_ms: 5_000, max_attempts: 3, enabled: true, disabled_reason: null, has_secret: false, created_at: now(), updated_at: now() },
];
let deliveries: WebhookDelivery[] = [];
let deliverySeq = 0;
let webhookSettings: Required<WebhookSettings> = { block_private_destinations: false, progress_interval_seconds: 60, retry_base_ms: 2_000, retry_cap_ms: 900_000 };

/** What the mock receiver behind a URL answers. */
function answerOf(url: string): number {
  if (url.includes("gone")) return 410;
  if (url.includes("tickets.")) return 503;
  return 200;
}

function webhookView(h: MockHook): Webhook {
  const mine = deliveries.filter((d) => d.webhook_id === h.id);
  const last = mine.filter((d) => d.last_attempt_at !== null).sort((a, b) => (b.last_attempt_at ?? "").localeCompare(a.last_attempt_at ?? "") || b.id - a.id)[0];
  return {
    ...h,
    headers: h.headers.map((x) => ({ ...x })),
    last_delivery: last ? { delivery_id: last.id, event: last.event, status: last.status, status_code: last.last_status_code, at: last.last_attempt_at ?? last.created_at, error: last.last_error } : null,
    pending: mine.filter((d) => d.status === "pending").length,
    dead: mine.filter((d) => d.status === "dead").length,
  };
}

function hookByKey(key: unknown): MockHook {
  const h = hooks.find((x) => x.id === key || x.name.toLowerCase() === String(key).toLowerCase());
  if (!h) fail("not_found", `webhook "${String(key)}" was not found`);
  return h;
}

function newDelivery(hook: MockHook, event: string, payload: unknown, jobId: string | null): WebhookDelivery {
  deliverySeq += 1;
  const d: WebhookDelivery = { id: deliverySeq, webhook_id: hook.id, webhook_name: hook.name, event_id: crypto.randomUUID(), event, job_id: jobId, status: "pending", attempts: 0, next_attempt_at: now(), last_attempt_at: null, last_status_code: null, last_error: null, last_latency_ms: null, created_at: now(), delivered_at: null, payload: JSON.stringify(payload) };
  deliveries.unshift(d);
  return d;
}

function enqueueWebhookEvent(event: string, job: Job) {
  const payload = { event, timestamp: now(), data: { job_id: job.id, job_name: job.name, vm_path: null, duration_seconds: null, output_paths: job.result ? [job.result.path] : [], bytes: job.result?.bytes ?? null, error: job.error } };
  for (const hook of hooks) {
    if (hook.enabled && (hook.events.includes("*") || hook.events.includes(event))) newDelivery(hook, event, payload, job.id);
  }
}

/** One attempt; returns the outcome as the worker records it. */
function attempt(d: WebhookDelivery, hook: MockHook) {
  const code = answerOf(hook.url);
  d.attempts += 1;
  d.last_attempt_at = now();
  d.last_status_code = code;
  d.last_latency_ms = 20 + Math.round(Math.random() * 180);
  d.last_error = code >= 200 && code < 300 ? null : `the receiver answered ${code}`;
  if (d.last_error === null) {
    d.status = "delivered";
    d.delivered_at = now();
    d.next_attempt_at = null;
  } else if (code === 410) {
    d.status = "dead";
    d.next_attempt_at = null;
    hook.enabled = false;
    hook.disabled_reason = "the receiver answered 410 Gone";
  } else if (d.attempts >= hook.max_attempts) {
    d.status = "dead";
    d.next_attempt_at = null;
  } else {
    d.next_attempt_at = new Date(Date.now() + 2000 * d.attempts).toISOString();
  }
}

/** The mock delivery worker: sends due deliveries of enabled hooks. */
function deliverWebhooks() {
  let changed = false;
  for (const d of [...deliveries].reverse()) {
    if (d.status !== "pending" || (d.next_attempt_at !== null && d.next_attempt_at > now())) continue;
    const hook = hooks.find((h) => h.id === d.webhook_id);
    if (!hook?.enabled) continue;
    attempt(d, hook);
    changed = true;
  }
  if (changed) emit({ type: "webhooks_changed" });
}

function hookFromInput(id: string, input: WebhookInput, previous?: MockHook): MockHook {
  const name = input.name.trim();
  if (name === "") fail("invalid_name", "Name is required");
  if (hooks.some((h) => h.name.toLowerCase() === name.toLowerCase() && h.id !== id)) fail("webhook_name_taken", `A webhook named “${name}” already exists`);
  let url: URL;
  try {
    url = new URL(input.url.trim());
  } catch {
    fail("invalid_url", `"${input.url}" is not a valid URL; write it in full, e.g. https://hooks.example.com/hypersdk`);
  }
  if (url.username || url.password) fail("invalid_url", "The URL must not contain a user name or password (they would be stored unencrypted); put a token in a secret header instead");
  const events = input.events ?? [];
  for (const e of events) if (!WEBHOOK_EVENTS.includes(e)) fail("invalid_event", `unknown event "${e}" (valid: ${WEBHOOK_EVENTS.join(", ")})`);
  const timeout = input.timeout_ms ?? 10_000;
  if (timeout < 500 || timeout > 300_000) fail("invalid_input", "The timeout must be between 0.5 and 300 seconds");
  const headers = (input.headers ?? []).map((h) => {
    const kept = previous?.headers.some((p) => p.secret && p.name.toLowerCase() === h.name.toLowerCase());
    if (h.secret && h.value === "" && !kept) fail("invalid_header", `The secret header ${h.name} needs a value`);
    return { name: h.name, value: h.secret ? null : h.value, secret: h.secret ?? false };
  });
  const secret = input.signing_secret;
  return {
    id,
    name,
    url: url.toString(),
    events: events.length === 0 || events.includes("*") ? ["*"] : events,
    headers,
    timeout_ms: timeout,
    max_attempts: input.max_attempts ?? 25,
    enabled: previous?.enabled ?? true,
    disabled_reason: previous?.disabled_reason ?? null,
    has_secret: secret === null || secret === undefined ? (previous?.has_secret ?? false) : secret !== "",
    created_at: previous?.created_at ?? now(),
    updated_at: now(),
  };
}

function testHook(hook: MockHook): WebhookTestResult {
  const d = newDelivery(hook, "webhook.test", { event: "webhook.test", timestamp: now(), data: { webhook: hook.name } }, null);
  attempt(d, hook);
  if (d.status === "pending") d.status = "dead"; // tests are never retried
  emit({ type: "webhooks_changed" });
  return { ok: d.status === "delivered", status_code: d.last_status_code, latency_ms: d.last_latency_ms ?? 0, error: d.last_error, event_id: d.event_id, delivery_id: d.id };
}

/** Session pool counters, as the vSphere provider reports them once a connection is used. */
const usedConnections = new Set<string>();
function diagnosticsOf(connection: Connection): Diagnostic[] {
  if (connection.kind !== "vsphere" || !usedConnections.has(connection.id)) return [];
  const listed = vmCache.has(connection.id) ? 1 : 0;
  return [
    { label: "Sessions created", value: String(1 + listed) },
    { label: "Sessions reused", value: String(jobs.filter((j) => j.connection_id === connection.id).length * 3) },
    { label: "Re-logins after expiry", value: "0" },
    { label: "Health checks", value: "4" },
    { label: "Health check failures", value: "0" },
    { label: "Idle sessions expired", value: "0" },
    { label: "Sessions idle", value: "1" },
    { label: "Sessions in use", value: String(jobs.filter((j) => j.connection_id === connection.id && j.state === "running").length) },
  ];
}

/** Runs queued mock exports two at a time, with per-disk progress, and finishes them. */
function tick() {
  const running = jobs.filter((j) => j.state === "running");
  for (const job of jobs.filter((j) => j.state === "queued").reverse()) {
    if (running.length >= 2) break;
    job.state = "running";
    job.started_at = now();
    const sizes = job.name.length % 2 === 0 ? [8 * GiB, 2 * GiB] : [6 * GiB];
    job.progress = {
      job_id: job.id,
      bytes_done: 0,
      bytes_total: sizes.reduce((a, b) => a + b, 0),
      rate_bps: null,
      eta_seconds: null,
      disks: sizes.map((size, index) => ({ index, name: `disk-${index + 1}.vmdk`, bytes_done: 0, bytes_total: size })),
    };
    running.push(job);
    publish(job);
  }
  for (const job of running) {
    const p = job.progress;
    if (!p || job.id === "j-1") continue;
    const rate = 180 * 1024 * 1024;
    const disks = p.disks.map((d) => ({ ...d, bytes_done: Math.min(d.bytes_total ?? 0, d.bytes_done + rate / 2 / p.disks.length) }));
    const done = disks.reduce((a, d) => a + d.bytes_done, 0);
    const next: JobProgress = { ...p, disks, bytes_done: done, rate_bps: rate, eta_seconds: p.bytes_total ? Math.max(0, (p.bytes_total - done) / rate) : null };
    job.progress = next;
    if (p.bytes_total !== null && done >= p.bytes_total) {
      job.state = "succeeded";
      job.finished_at = now();
      const request = requests.get(job.id);
      const base = request ? `${request.destination_dir.replace(/\/+$/, "")}/${request.vmName}` : `/home/ada/Exports/${job.id}`;
      const suffix = request?.suffix ?? ".ova";
      job.result = {
        path: `${base}${suffix}`,
        files: [`${request?.vmName ?? "vm"}.ovf`, ...disks.map((d) => `${request?.vmName ?? "vm"}-${d.name}`), `${request?.vmName ?? "vm"}.mf`],
        bytes: Math.round(done * 0.45),
        manifest_algorithm: request?.manifest ?? "sha256",
        verified: true,
      };
      publish(job);
    } else {
      emit({ type: "job_progress", progress: next });
    }
  }
}

type MockRequest = { connectionId: string; vmId: string; vmName: string; destination_dir: string; suffix: string; manifest: string };
const requests = new Map<string, MockRequest>();
let jobSeq = 100;

function newJob(name: string, connectionId: string, request: MockRequest): Job {
  jobSeq += 1;
  const job: Job = { id: `j-${jobSeq}`, name, kind: "export", connection_id: connectionId, state: "queued", created_at: now(), started_at: null, finished_at: null, progress: null, error: null, result: null };
  requests.set(job.id, request);
  jobs.unshift(job);
  publish(job);
  return job;
}

function startExport(spec: ExportSpec, vmCount: number): Job[] {
  const f = spec.format;
  if (f.package === "ovf" && f.compression !== "none") fail("invalid_input", "Compression applies to OVA archives only; choose OVA or no compression");
  if (f.compression === "none" && f.compression_level !== null) fail("invalid_input", "A compression level needs gzip or zstd compression");
  if (spec.vm_ids.length === 0) fail("invalid_input", "Choose at least one VM to export");
  const raw = spec.destination_dir;
  if (raw.trim() === "") fail("invalid_input", "Choose a destination folder");
  if (!raw.startsWith("/")) fail("invalid_input", `The destination must be an absolute path, not ${raw}`);
  if (raw.startsWith("/nonexistent")) fail("invalid_input", `The folder ${raw} does not exist`);
  const connection = connections.find((c) => c.id === spec.connection_id || c.name === spec.connection_id);
  if (!connection) fail("not_found", `connection "${spec.connection_id}" was not found`);
  if (needsPin(connection)) untrusted(connection);
  const all = vmsOf(connection, vmCount);
  const suffix = f.package === "ovf" ? "" : f.compression === "gzip" ? ".ova.gz" : f.compression === "zstd" ? ".ova.zst" : ".ova";
  return spec.vm_ids.map((id) => {
    const vm = all.find((v) => v.id === id || v.path === id);
    if (!vm) fail("not_found", `vm "${id}" was not found`);
    return newJob(`Export ${vm.name}`, connection.id, { connectionId: connection.id, vmId: vm.id, vmName: vm.name, destination_dir: raw, suffix, manifest: f.manifest });
  });
}

function testResult(connection: Connection): ConnectionTestResult {
  if (needsPin(connection)) {
    return {
      ok: false,
      checks: [
        { name: "Reach endpoint", ok: true, detail: "vc-edge.branch.example:443 answered in 38 ms", fingerprint: null },
        { name: "TLS certificate", ok: false, detail: "self-signed certificate; not trusted by this computer's certificate authorities", fingerprint: EDGE_FINGERPRINT },
        { name: "Sign in", ok: false, detail: "not checked: the certificate is not trusted", fingerprint: null },
      ],
    };
  }
  if (connection.id === "c-3") {
    return {
      ok: false,
      checks: [
        { name: "Reach endpoint", ok: true, detail: "pve.home.arpa:8006 answered in 4 ms", fingerprint: null },
        { name: "Sign in", ok: false, detail: "Cannot complete login due to an incorrect user name or password.", fingerprint: null },
      ],
    };
  }
  return {
    ok: true,
    checks: [
      { name: "Reach endpoint", ok: true, detail: "answered in 12 ms", fingerprint: null },
      {
        name: "TLS certificate",
        ok: true,
        detail: connection.tls_fingerprint ? "matches the pinned SHA-256 fingerprint" : "trusted by this computer's certificate authorities",
        fingerprint: null,
      },
      { name: "Sign in", ok: true, detail: "VMware vCenter Server 8.0.2 build-22617221; API 8.0.2.0", fingerprint: null },
    ],
  };
}

export function installMockIpc(): void {
  mockWindows("main");
  const params = new URLSearchParams(window.location.search);
  const scenario = params.get("scenario");
  const section = params.get("section");
  const vmCount = Math.max(0, Math.min(100_000, Number(params.get("vms") ?? 2500) || 0));
  if (section && (SECTIONS as readonly string[]).includes(section)) {
    useNavigation.setState({ section: section as Section });
  }
  if (scenario === "empty") {
    connections = [];
    jobs.length = 0;
    hooks = [];
  }
  for (const job of jobs.slice().reverse()) {
    const event = JOB_EVENTS[job.state];
    if (event) enqueueWebhookEvent(event, job);
  }
  const scheduleCommand = createScheduleMock({ emit, fail, connections: () => connections, empty: scenario === "empty" });
  mockIPC(
    (cmd, args) => {
      const a = (args ?? {}) as Record<string, unknown>;
      const connectionById = (id: unknown): Connection => {
        const c = connections.find((x) => x.id === id);
        if (!c) fail("not_found", `connection "${String(id)}" was not found`);
        return c;
      };
      switch (cmd) {
        case "app_info":
          return {
            version: "0.1.0-preview",
            data_dir: "/home/ada/.local/share/hypersdk-desktop",
            log_dir: "/home/ada/.local/state/hypersdk-desktop/logs",
            database_path: "/home/ada/.local/share/hypersdk-desktop/hypersdk.db",
            startup_error:
              scenario === "startup-error"
                ? { code: "database_locked", message: "The database /home/ada/.local/share/hypersdk-desktop/hypersdk.db is locked by another HyperSDK Desktop process.", retryable: false }
                : null,
          };
        case "list_provider_kinds":
          return kinds;
        case "list_connections":
          return connections;
        case "add_connection": {
          const c = fromInput(`c-${Date.now()}`, a.input as ConnectionInput);
          connections = [...connections, c];
          emit({ type: "connections_changed" });
          return c;
        }
        case "update_connection": {
          const previous = connectionById(a.id);
          const c = fromInput(previous.id, a.input as ConnectionInput, previous);
          connections = connections.map((x) => (x.id === c.id ? c : x));
          emit({ type: "connections_changed" });
          return c;
        }
        case "remove_connection":
          connections = connections.filter((c) => c.id !== a.id);
          emit({ type: "connections_changed" });
          return null;
        case "test_connection":
          return testResult(connectionById(a.id));
        case "connection_diagnostics":
          return diagnosticsOf(connectionById(a.id));
        case "list_vms": {
          const connection = connectionById(a.connectionId);
          if (connection.kind !== "vsphere") fail("unsupported", `Browsing ${connection.kind} connections is not available in this build`);
          if (needsPin(connection)) untrusted(connection);
          usedConnections.add(connection.id);
          return vmsOf(connection, vmCount);
        }
        case "start_export":
          return startExport(a.spec as ExportSpec, vmCount).map((j) => ({ ...j }));
        case "retry_job": {
          const job = jobs.find((j) => j.id === a.id);
          if (!job) fail("not_found", `job "${String(a.id)}" was not found`);
          if (!["failed", "cancelled", "interrupted"].includes(job.state)) fail("invalid_input", `job ${job.id} is ${job.state} and cannot be retried`);
          const request = requests.get(job.id) ?? { connectionId: job.connection_id ?? "c-1", vmId: job.id, vmName: job.name.replace(/^Export /, ""), destination_dir: "/home/ada/Exports", suffix: ".ova", manifest: "sha256" };
          return { ...newJob(`Export ${request.vmName} (retry)`, request.connectionId, request) };
        }
        case "query_jobs": {
          const page = queryJobsLocally(jobs, connections, a.query as JobQuery);
          // Copies: the mock changes its jobs in place, and the query cache must not share them.
          return { ...page, jobs: page.jobs.map((j) => ({ ...j })) };
        }
        case "get_job": {
          const job = jobs.find((j) => j.id === a.id);
          if (!job) fail("not_found", `job "${String(a.id)}" was not found`);
          return { job: { ...job }, events: [] };
        }
        case "cancel_job": {
          const job = jobs.find((j) => j.id === a.id);
          if (job && (job.state === "queued" || job.state === "running")) {
            job.state = "cancelled";
            job.finished_at = now();
            publish(job);
          }
          return null;
        }
        case "get_settings":
          return settings;
        case "update_settings":
          settings = a.settings as Settings;
          emit({ type: "settings_changed" });
          return settings;
        case "list_webhooks":
          return hooks.map(webhookView);
        case "get_webhook":
          return webhookView(hookByKey(a.id));
        case "add_webhook": {
          const input = a.input as WebhookInput;
          if ((input.headers ?? []).some((h) => h.secret && h.value === "")) fail("invalid_header", "Every secret header needs a value");
          const h = hookFromInput(`w-${Date.now()}`, input);
          hooks = [...hooks, h].sort((x, y) => x.name.localeCompare(y.name));
          emit({ type: "webhooks_changed" });
          return webhookView(h);
        }
        case "update_webhook": {
          const previous = hookByKey(a.id);
          const h = hookFromInput(previous.id, a.input as WebhookInput, previous);
          hooks = hooks.map((x) => (x.id === h.id ? h : x));
          emit({ type: "webhooks_changed" });
          return webhookView(h);
        }
        case "remove_webhook": {
          const h = hookByKey(a.id);
          hooks = hooks.filter((x) => x.id !== h.id);
          deliveries = deliveries.filter((d) => d.webhook_id !== h.id);
          emit({ type: "webhooks_changed" });
          return null;
        }
        case "set_webhook_enabled": {
          const h = hookByKey(a.id);
          h.enabled = a.enabled === true;
          if (h.enabled) h.disabled_reason = null;
          if (!h.enabled && a.dropPending === true) {
            for (const d of deliveries) if (d.webhook_id === h.id && d.status === "pending") d.status = "cancelled";
          }
          emit({ type: "webhooks_changed" });
          return webhookView(h);
        }
        case "test_webhook":
          return testHook(hookByKey(a.id));
        case "list_webhook_deliveries": {
          const f = (a.filter ?? {}) as DeliveryFilter;
          const h = f.webhook ? hookByKey(f.webhook) : null;
          return deliveries
            .filter((d) => (!h || d.webhook_id === h.id) && (!f.status || d.status === f.status) && (!f.job_id || d.job_id === f.job_id))
            .slice(0, f.limit ?? 200)
            .map((d) => ({ ...d }));
        }
        case "redeliver_webhook": {
          const d = deliveries.find((x) => x.id === a.deliveryId);
          if (!d) fail("not_found", `delivery "${String(a.deliveryId)}" was not found`);
          if (d.status === "pending") fail("invalid_input", `delivery ${d.id} is already waiting to be sent`);
          Object.assign(d, { status: "pending", attempts: 0, next_attempt_at: now(), delivered_at: null });
          emit({ type: "webhooks_changed" });
          return { ...d };
        }
        case "list_webhook_events":
          return WEBHOOK_EVENTS;
        case "get_webhook_settings":
          return webhookSettings;
        case "update_webhook_settings":
          webhookSettings = { ...webhookSettings, ...(a.settings as WebhookSettings) };
          emit({ type: "settings_changed" });
          return webhookSettings;
        case "plugin:dialog|open":
          return "/home/ada/Exports";
        default: {
          const result = scheduleCommand(cmd, a);
          if (result !== NOT_MINE) return result;
          const metrics = mockMetricsCommand(cmd, a);
          if (metrics !== undefined) return metrics;
          fail("unknown_command", `Preview has no mock for ${cmd}`);
        }
      }
    },
    { shouldMockEvents: true },
  );
  window.setInterval(tick, 500);
  window.setInterval(deliverWebhooks, 1000);
  if (scenario !== "empty") startMockSamples("j-1");
}

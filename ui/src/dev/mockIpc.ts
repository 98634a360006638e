// Browser-only preview data (`vite build --mode mock`); never part of the production bundle.
import { mockIPC, mockWindows } from "@tauri-apps/api/mocks";
import { SECTIONS, useNavigation } from "../store/navigation";
import type { Section } from "../store/navigation";
import type { ApiError, Connection, ConnectionInput, Job, ProviderKindInfo, Settings } from "../bindings";
import { mockMetricsCommand, startMockSamples } from "./mockMetrics";

const kinds: ProviderKindInfo[] = [
  { kind: "vsphere", display_name: "VMware vSphere", default_port: 443, endpoint_hint: "vcenter.example.com", username_label: "User name", secret_label: "Password", options: [{ key: "datacenter", label: "Datacenter", help: "Limit discovery to one datacenter", required: false, placeholder: "DC1" }], discovery_available: true },
  { kind: "aws", display_name: "Amazon Web Services", default_port: 443, endpoint_hint: "https://ec2.us-east-1.amazonaws.com", username_label: "Access key ID", secret_label: "Secret access key", options: [{ key: "region", label: "Region", help: "The AWS region to browse", required: true, placeholder: "us-east-1" }], discovery_available: true },
  { kind: "azure", display_name: "Microsoft Azure", default_port: 443, endpoint_hint: "https://management.azure.com", username_label: "Client ID", secret_label: "Client secret", options: [{ key: "tenant_id", label: "Tenant ID", help: "", required: true, placeholder: "" }, { key: "subscription_id", label: "Subscription ID", help: "", required: true, placeholder: "" }], discovery_available: false },
  { kind: "gcp", display_name: "Google Cloud", default_port: 443, endpoint_hint: "https://compute.googleapis.com", username_label: "Service account e-mail", secret_label: "Service account key (JSON)", options: [{ key: "project", label: "Project", help: "", required: true, placeholder: "my-project" }], discovery_available: false },
  { kind: "hyperv", display_name: "Microsoft Hyper-V", default_port: 5986, endpoint_hint: "hyperv01.example.com", username_label: "User name", secret_label: "Password", options: [], discovery_available: false },
  { kind: "proxmox", display_name: "Proxmox VE", default_port: 8006, endpoint_hint: "https://pve.example.com:8006", username_label: "User (user@realm)", secret_label: "Password or API token secret", options: [{ key: "token_id", label: "API token ID", help: "Leave empty to sign in with a password", required: false, placeholder: "root@pam!backup" }], discovery_available: true },
];

const now = () => new Date().toISOString();
let connections: Connection[] = [
  { id: "c-1", kind: "vsphere", name: "Lab vCenter", endpoint: "vcenter.lab.local", username: "administrator@vsphere.local", options: { datacenter: "DC1" }, has_secret: true,
    tls_fingerprint: null, created_at: now(), updated_at: now() },
  { id: "c-2", kind: "proxmox", name: "Home Proxmox", endpoint: "https://pve.home.arpa:8006", username: "root@pam", options: {}, has_secret: false,
    tls_fingerprint: null, created_at: now(), updated_at: now() },
];
const jobs: Job[] = [
  { id: "j-1", name: "Export web-01", kind: "export", connection_id: "c-1", state: "running", created_at: now(), started_at: now(), finished_at: null, progress: { job_id: "j-1", bytes_done: 7_516_192_768, bytes_total: 21_474_836_480, rate_bps: 94_371_840, eta_seconds: 148, disks: [] }, error: null, result: null },
  { id: "j-2", name: "Export db-02", kind: "export", connection_id: "c-1", state: "queued", created_at: now(), started_at: null, finished_at: null, progress: null, error: null, result: null },
  { id: "j-3", name: "Export build-agent", kind: "export", connection_id: "c-2", state: "failed", created_at: now(), started_at: now(), finished_at: now(), progress: null, error: { code: "provider_unreachable", message: "Could not reach pve.home.arpa:8006: connection refused", retryable: true }, result: null },
  { id: "j-4", name: "Export mail", kind: "export", connection_id: "c-1", state: "succeeded", created_at: now(), started_at: now(), finished_at: now(), progress: { job_id: "j-4", bytes_done: 4_294_967_296, bytes_total: 4_294_967_296, rate_bps: 0, eta_seconds: null, disks: [] }, error: null, result: null },
];
let settings: Settings = { max_concurrent_jobs: 4, max_jobs_per_connection: 2, metrics_enabled: false, metrics_listen: "127.0.0.1:9464" };

function fail(code: string, message: string): never {
  const error: ApiError = { code, message, retryable: false };
  throw error;
}

function fromInput(id: string, input: ConnectionInput, previous?: Connection): Connection {
  if (connections.some((c) => c.name === input.name && c.id !== id)) {
    fail("connection_name_taken", `A connection named “${input.name}” already exists`);
  }
  return {
    id,
    kind: input.kind,
    name: input.name,
    endpoint: input.endpoint,
    username: input.username,
    options: input.options ?? {},
    has_secret: input.secret !== null || (previous?.has_secret ?? false),
    tls_fingerprint: input.tls_fingerprint ?? null,
    created_at: previous?.created_at ?? now(),
    updated_at: now(),
  };
}

export function installMockIpc(): void {
  mockWindows("main");
  const params = new URLSearchParams(window.location.search);
  const scenario = params.get("scenario");
  const section = params.get("section");
  if (section && (SECTIONS as readonly string[]).includes(section)) {
    useNavigation.setState({ section: section as Section });
  }
  if (scenario === "empty") {
    connections = [];
    jobs.length = 0;
  }
  mockIPC(
    (cmd, args) => {
      const a = (args ?? {}) as Record<string, unknown>;
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
          return c;
        }
        case "update_connection": {
          const previous = connections.find((c) => c.id === a.id);
          if (!previous) fail("connection_not_found", "No such connection");
          const c = fromInput(previous.id, a.input as ConnectionInput, previous);
          connections = connections.map((x) => (x.id === c.id ? c : x));
          return c;
        }
        case "remove_connection":
          connections = connections.filter((c) => c.id !== a.id);
          return null;
        case "test_connection":
          return {
            ok: false,
            checks: [
              { name: "Resolve host", ok: true, detail: "vcenter.lab.local → 10.0.0.5" },
              { name: "TLS certificate", ok: true, detail: "SHA-256 fingerprint 3A:91:…:7C (trusted on first use)" },
              { name: "Sign in", ok: false, detail: "Cannot complete login due to an incorrect user name or password." },
            ],
          };
        case "list_jobs":
          return jobs;
        case "get_job": {
          const job = jobs.find((j) => j.id === a.id);
          if (!job) fail("job_not_found", "No such job");
          return { job, events: [] };
        }
        case "cancel_job": {
          const job = jobs.find((j) => j.id === a.id);
          if (job) job.state = "cancelled";
          return null;
        }
        case "get_settings":
          return settings;
        case "update_settings":
          settings = a.settings as Settings;
          return settings;
        default: {
          const metrics = mockMetricsCommand(cmd, a);
          if (metrics !== undefined) return metrics;
          fail("unknown_command", `Preview has no mock for ${cmd}`);
        }
      }
    },
    { shouldMockEvents: true },
  );
  if (scenario !== "empty") startMockSamples("j-1");
}

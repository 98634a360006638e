import type { AppInfo, Connection, Job, ProviderKindInfo, Webhook, WebhookDelivery } from "../bindings";

export const vsphereKind: ProviderKindInfo = {
  kind: "vsphere",
  display_name: "VMware vSphere",
  default_port: 443,
  endpoint_hint: "vcenter.example.com",
  endpoint_optional: null,
  username_optional: null,
  username_label: "User name",
  secret_label: "Password",
  options: [
    { key: "datacenter", label: "Datacenter", help: "Limit discovery to one datacenter", required: false, placeholder: "DC1" },
  ],
  native_archive: null,
  export_options: [],
  discovery_available: true,
};

export const awsKind: ProviderKindInfo = {
  kind: "aws",
  display_name: "Amazon Web Services",
  default_port: 443,
  endpoint_hint: "https://vpce-….ec2.us-east-1.vpce.amazonaws.com",
  endpoint_optional: "Empty: AWS's own endpoint in each region",
  username_optional: "Empty: your AWS profile's credentials",
  username_label: "Access key ID",
  secret_label: "Secret access key",
  options: [
    { key: "region", label: "Region", help: "The AWS region to browse", required: true, placeholder: "us-east-1" },
    { key: "bucket", label: "Export bucket", help: "S3 bucket for exported images", required: false, placeholder: "my-exports" },
  ],
  native_archive: null,
  export_options: [],
  discovery_available: true,
};

export const proxmoxKind: ProviderKindInfo = {
  kind: "proxmox",
  display_name: "Proxmox VE",
  default_port: 8006,
  endpoint_hint: "https://pve.example.com:8006",
  endpoint_optional: null,
  username_optional: null,
  username_label: "User",
  secret_label: "Password or API token secret",
  options: [
    { key: "ssh_user", label: "SSH user", help: "", required: false, placeholder: "root" },
    { key: "ssh_key", label: "SSH private key", help: "", required: false, placeholder: "", secret: true, multiline: true },
    { key: "ssh_key_passphrase", label: "SSH key passphrase", help: "", required: false, placeholder: "", secret: true, multiline: false },
    { key: "ssh_password", label: "SSH password", help: "", required: false, placeholder: "", secret: true, multiline: false },
  ],
  native_archive: "Proxmox backup (.vma.zst, restores with qmrestore)",
  export_options: [{ key: "mode", label: "Backup mode", help: "How vzdump keeps the guest consistent while it reads it", choices: [["snapshot", "Snapshot (the VM keeps running)"], ["suspend", "Suspend"], ["stop", "Stop"]] }],
  discovery_available: true,
};

export const kinds: ProviderKindInfo[] = [vsphereKind, awsKind];

export const appInfo: AppInfo = {
  version: "0.1.0",
  data_dir: "/home/ada/.local/share/hypersdk-desktop",
  log_dir: "/home/ada/.local/state/hypersdk-desktop/logs",
  database_path: "/home/ada/.local/share/hypersdk-desktop/hypersdk.db",
  startup_error: null,
};

export const connection: Connection = {
  id: "c-1",
  kind: "vsphere",
  name: "Lab vCenter",
  endpoint: "vcenter.lab.local",
  username: "administrator@vsphere.local",
  options: { datacenter: "DC1" },
  has_secret: true,
  tls_fingerprint: null,
  created_at: "2026-11-20T10:00:00Z",
  updated_at: "2026-11-20T10:00:00Z",
};

export function makeJob(overrides: Partial<Job> = {}): Job {
  return {
    id: "j-1",
    name: "Export web-01",
    kind: "export",
    connection_id: "c-1",
    state: "queued",
    created_at: "2026-11-26T09:00:00Z",
    started_at: null,
    finished_at: null,
    progress: null,
    error: null,
    result: null,
    ...overrides,
  };
}

/** What `list_webhook_events` returns. */
export const webhookEvents = [
  "job.created",
  "job.started",
  "job.progress",
  "job.completed",
  "job.failed",
  "job.cancelled",
  "schedule.triggered",
  "schedule.skipped",
  "*",
];

export function makeWebhook(overrides: Partial<Webhook> = {}): Webhook {
  return {
    id: "w-1",
    name: "Ops chat",
    url: "https://hooks.example.com/hypersdk",
    events: ["job.completed", "job.failed"],
    headers: [
      { name: "Authorization", value: null, secret: true },
      { name: "X-Team", value: "infra", secret: false },
    ],
    timeout_ms: 10_000,
    max_attempts: 25,
    enabled: true,
    disabled_reason: null,
    has_secret: true,
    created_at: "2026-11-20T10:00:00Z",
    updated_at: "2026-11-20T10:00:00Z",
    last_delivery: null,
    pending: 0,
    dead: 0,
    ...overrides,
  };
}

export function makeDelivery(overrides: Partial<WebhookDelivery> = {}): WebhookDelivery {
  return {
    id: 1,
    webhook_id: "w-1",
    webhook_name: "Ops chat",
    event_id: "6f1c2d9e-0000-4000-8000-000000000001",
    event: "job.completed",
    job_id: "j-1",
    status: "delivered",
    attempts: 1,
    next_attempt_at: null,
    last_attempt_at: "2026-11-26T12:00:00Z",
    last_status_code: 200,
    last_error: null,
    last_latency_ms: 35,
    created_at: "2026-11-26T12:00:00Z",
    delivered_at: "2026-11-26T12:00:00Z",
    payload: '{"event":"job.completed","timestamp":"2026-11-26T12:00:00.000Z","data":{"job_id":"j-1"}}',
    ...overrides,
  };
}

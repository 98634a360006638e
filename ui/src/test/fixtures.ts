import type { AppInfo, Connection, Job, ProviderKindInfo } from "../bindings";

export const vsphereKind: ProviderKindInfo = {
  kind: "vsphere",
  display_name: "VMware vSphere",
  default_port: 443,
  endpoint_hint: "vcenter.example.com",
  username_label: "User name",
  secret_label: "Password",
  options: [
    { key: "datacenter", label: "Datacenter", help: "Limit discovery to one datacenter", required: false, placeholder: "DC1" },
  ],
  discovery_available: true,
};

export const awsKind: ProviderKindInfo = {
  kind: "aws",
  display_name: "Amazon Web Services",
  default_port: 443,
  endpoint_hint: "https://ec2.us-east-1.amazonaws.com",
  username_label: "Access key ID",
  secret_label: "Secret access key",
  options: [
    { key: "region", label: "Region", help: "The AWS region to browse", required: true, placeholder: "us-east-1" },
    { key: "bucket", label: "Export bucket", help: "S3 bucket for exported images", required: false, placeholder: "my-exports" },
  ],
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

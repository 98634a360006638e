import type { DeliveryFilter, JobQuery } from "../bindings";

export const queryKeys = {
  appInfo: ["app-info"] as const,
  providerKinds: ["provider-kinds"] as const,
  connections: ["connections"] as const,
  /** Under `connections`, so `connections_changed` refreshes it too. */
  connectionDiagnostics: (id: string) => ["connections", "diagnostics", id] as const,
  vmsAll: ["vms"] as const,
  vms: (connectionId: string) => ["vms", connectionId] as const,
  /** Every job query (active list, table pages, one job) starts with this. */
  jobs: ["jobs"] as const,
  /** Queued and running jobs. */
  activeJobs: ["jobs", "active"] as const,
  /** Pages of the Jobs table, whatever their filters. */
  jobPages: ["jobs", "pages"] as const,
  jobPage: (query: JobQuery) => ["jobs", "pages", query] as const,
  job: (id: string) => ["jobs", "detail", id] as const,
  settings: ["settings"] as const,
  /** Every webhook query (list, delivery logs) starts with this. */
  webhooksAll: ["webhooks"] as const,
  webhooks: ["webhooks", "list"] as const,
  webhookDeliveries: (filter: DeliveryFilter) => ["webhooks", "deliveries", filter] as const,
  webhookEvents: ["webhook-events"] as const,
  webhookSettings: ["webhook-settings"] as const,
  /** Every schedule query (list, details, histories, scheduler status) starts with this. */
  schedulesAll: ["schedules"] as const,
  schedules: ["schedules", "list"] as const,
  schedule: (id: string) => ["schedules", "detail", id] as const,
  scheduleHistory: (id: string) => ["schedules", "history", id] as const,
  schedulerStatus: ["schedules", "status"] as const,
  desktopSettings: ["desktop-settings"] as const,
  autostart: ["autostart"] as const,
  /** Everything metric-related; invalidated together when a job ends. */
  metrics: ["metrics"] as const,
  jobStats: (from: number, to: number) => ["metrics", "stats", from, to] as const,
  resources: (from: number, to: number) => ["metrics", "resources", from, to] as const,
  series: (metric: string, from: number, to: number, jobId: string | null) =>
    ["metrics", "series", metric, from, to, jobId] as const,
  endpointStatus: ["metrics-endpoint"] as const,
};

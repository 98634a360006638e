export const queryKeys = {
  appInfo: ["app-info"] as const,
  providerKinds: ["provider-kinds"] as const,
  connections: ["connections"] as const,
  jobs: ["jobs"] as const,
  job: (id: string) => ["jobs", "detail", id] as const,
  settings: ["settings"] as const,
  /** Everything metric-related; invalidated together when a job ends. */
  metrics: ["metrics"] as const,
  jobStats: (from: number, to: number) => ["metrics", "stats", from, to] as const,
  resources: (from: number, to: number) => ["metrics", "resources", from, to] as const,
  series: (metric: string, from: number, to: number, jobId: string | null) =>
    ["metrics", "series", metric, from, to, jobId] as const,
  endpointStatus: ["metrics-endpoint"] as const,
};

export const queryKeys = {
  appInfo: ["app-info"] as const,
  providerKinds: ["provider-kinds"] as const,
  connections: ["connections"] as const,
  vmsAll: ["vms"] as const,
  vms: (connectionId: string) => ["vms", connectionId] as const,
  jobs: ["jobs"] as const,
  job: (id: string) => ["jobs", "detail", id] as const,
  settings: ["settings"] as const,
};

export const queryKeys = {
  appInfo: ["app-info"] as const,
  providerKinds: ["provider-kinds"] as const,
  connections: ["connections"] as const,
  jobs: ["jobs"] as const,
  job: (id: string) => ["jobs", "detail", id] as const,
  settings: ["settings"] as const,
};

import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import type { Connection, ConnectionInput, ConnectionTestResult, ExportSpec, Job, Settings, VmInfo } from "../bindings";
import { api } from "./client";
import type { CoreError } from "./errors";
import { queryKeys } from "./queryKeys";
import { upsertJob } from "./jobsCache";

export function useAppInfo() {
  return useQuery({
    queryKey: queryKeys.appInfo,
    queryFn: api.appInfo,
    staleTime: Infinity,
    retry: false,
  });
}

export function useProviderKinds() {
  return useQuery({
    queryKey: queryKeys.providerKinds,
    queryFn: api.listProviderKinds,
    staleTime: Infinity,
  });
}

export function useConnections() {
  return useQuery<Connection[], CoreError>({
    queryKey: queryKeys.connections,
    queryFn: api.listConnections,
  });
}

export function useAddConnection() {
  const queryClient = useQueryClient();
  return useMutation<Connection, CoreError, ConnectionInput>({
    mutationFn: (input) => api.addConnection(input),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.connections }),
  });
}

export function useUpdateConnection() {
  const queryClient = useQueryClient();
  return useMutation<Connection, CoreError, { id: string; input: ConnectionInput }>({
    mutationFn: ({ id, input }) => api.updateConnection(id, input),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.connections }),
  });
}

export function useTestConnection() {
  return useMutation<ConnectionTestResult, CoreError, string>({
    mutationFn: (id) => api.testConnection(id),
  });
}

export function useRemoveConnection() {
  const queryClient = useQueryClient();
  return useMutation<null, CoreError, string>({
    mutationFn: (id) => api.removeConnection(id),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: queryKeys.connections }),
  });
}

/** Every VM of one connection (null: nothing chosen yet); narrowed client-side. */
export function useVms(connectionId: string | null) {
  return useQuery<VmInfo[], CoreError>({
    queryKey: queryKeys.vms(connectionId ?? ""),
    queryFn: () => api.listVms(connectionId ?? "", { text: null, power_state: null }),
    enabled: connectionId !== null,
    // Listing a large vCenter is not free; refresh when asked or when the connection changes.
    staleTime: 5 * 60_000,
  });
}

export function useStartExport() {
  const queryClient = useQueryClient();
  return useMutation<Job[], CoreError, ExportSpec>({
    mutationFn: (spec) => api.startExport(spec),
    // The core announces each job with job_updated too; adding them here means the Jobs page
    // shows them at once even if it has not loaded yet.
    onSuccess: (jobs) => {
      for (const job of jobs) upsertJob(queryClient, job);
    },
  });
}

export function useRetryJob() {
  const queryClient = useQueryClient();
  return useMutation<Job, CoreError, string>({
    mutationFn: (id) => api.retryJob(id),
    onSuccess: (job) => upsertJob(queryClient, job),
  });
}

export function useJobs() {
  return useQuery<Job[], CoreError>({
    queryKey: queryKeys.jobs,
    queryFn: api.listJobs,
  });
}

export function useCancelJob() {
  const queryClient = useQueryClient();
  return useMutation<null, CoreError, string>({
    mutationFn: (id) => api.cancelJob(id),
    onSuccess: async (_data, id) => {
      // The core announces the new state with a job_updated event; refresh this one job in
      // case the event was missed, without refetching the whole list.
      try {
        const detail = await api.getJob(id);
        upsertJob(queryClient, detail.job);
      } catch {
        // The event stream remains the source of truth.
      }
    },
  });
}

export function useSettings() {
  return useQuery<Settings, CoreError>({
    queryKey: queryKeys.settings,
    queryFn: api.getSettings,
  });
}

export function useUpdateSettings() {
  const queryClient = useQueryClient();
  return useMutation<Settings, CoreError, Settings>({
    mutationFn: (settings) => api.updateSettings(settings),
    onSuccess: (settings) => queryClient.setQueryData(queryKeys.settings, settings),
  });
}

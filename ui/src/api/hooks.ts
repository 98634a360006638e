import { keepPreviousData, useMutation, useQueries, useQuery, useQueryClient } from "@tanstack/react-query";
import { JOB_PAGE_MAX } from "../bindings";
import type {
  Connection,
  ConnectionInput,
  ConnectionTestResult,
  DeliveryFilter,
  Diagnostic,
  ExportSpec,
  Job,
  JobPage,
  JobQuery,
  Settings,
  VmInfo,
  Webhook,
  WebhookDelivery,
  WebhookInput,
  WebhookSettings,
  WebhookTestResult,
} from "../bindings";
import { api } from "./client";
import type { CoreError } from "./errors";
import { queryKeys } from "./queryKeys";
import { rememberJobNames, upsertJob } from "./jobsCache";
import type {
  DesktopSettings,
  RetentionItem,
  Schedule,
  ScheduleDetail,
  ScheduleExecution,
  ScheduleInput,
  SchedulerStatus,
} from "../bindings";
import { upsertScheduleRun } from "./schedulesCache";

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

/**
 * Live details of the provider this process keeps for a connection (vSphere: session pool
 * counters). Polled while shown: the counters move as the pool is used.
 */
export function useConnectionDiagnostics(id: string | null, refetchInterval: number | false = 5_000) {
  return useQuery<Diagnostic[], CoreError>({
    queryKey: queryKeys.connectionDiagnostics(id ?? ""),
    queryFn: () => api.connectionDiagnostics(id ?? ""),
    enabled: id !== null,
    staleTime: 0,
    refetchInterval,
  });
}

/** Every VM of one connection (null: nothing chosen yet); narrowed client-side. */
/** How often a listing with rows still waiting for their details is read again. */
const DETAILS_POLL_MS = 500;

export function useVms(connectionId: string | null) {
  return useQuery<VmInfo[], CoreError>({
    queryKey: queryKeys.vms(connectionId ?? ""),
    queryFn: () => api.listVms(connectionId ?? "", { text: null, power_state: null }),
    enabled: connectionId !== null,
    // Listing a large vCenter is not free; refresh when asked or when the connection changes.
    staleTime: 5 * 60_000,
    // Some rows came before their details (a large Proxmox cluster): ask again until they are in.
    refetchInterval: (query) => (query.state.data?.some((vm) => vm.details_pending) ? DETAILS_POLL_MS : false),
  });
}

export function useStartExport() {
  const queryClient = useQueryClient();
  return useMutation<Job[], CoreError, ExportSpec>({
    mutationFn: (spec) => api.startExport(spec),
    // The core announces each job with job_updated too; applying them here as well puts them in
    // the active list and has the Jobs table re-read its rows without waiting for the events.
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

/** The queued and running jobs, newest first (up to JOB_PAGE_MAX of them). */
export function useActiveJobs() {
  return useQuery<Job[], CoreError>({
    queryKey: queryKeys.activeJobs,
    queryFn: async () => {
      const page = await api.queryJobs({ ...newestJobs(JOB_PAGE_MAX), states: ["running", "queued"] });
      rememberJobNames(page.jobs);
      return page.jobs;
    },
  });
}

/** A query for every job, newest first. */
export function newestJobs(limit: number): JobQuery {
  return { states: [], provider: null, connection_id: null, text: "", sort: "created_at", desc: true, offset: 0, limit };
}

/** Rows the Jobs table fetches at a time. */
export const JOB_BLOCK = 100;

/**
 * The jobs a query selects, fetched from the core a block of {@link JOB_BLOCK} rows at a time
 * as they come into view (`first`..`last` are row indexes). While a new query (a keystroke, a
 * filter) is answered, the previous answer's first block and counts stay on screen.
 */
export function useJobPages(query: Omit<JobQuery, "offset" | "limit">, first: number, last: number) {
  const block = (b: number): JobQuery => ({ ...query, offset: b * JOB_BLOCK, limit: JOB_BLOCK });
  const fetchBlock = (q: JobQuery) => async () => {
    const page = await api.queryJobs(q);
    rememberJobNames(page.jobs);
    return page;
  };
  // Block 0 says how many jobs match. It has an observer of its own because only a single
  // query's observer keeps the previous key's data while the next loads (useQueries does not).
  const head = useQuery<JobPage, CoreError>({
    queryKey: queryKeys.jobPage(block(0)),
    queryFn: fetchBlock(block(0)),
    placeholderData: keepPreviousData,
  });
  const from = Math.max(1, Math.floor(Math.max(0, first) / JOB_BLOCK));
  const to = Math.floor(Math.max(0, last) / JOB_BLOCK);
  const rest: number[] = [];
  for (let b = from; b <= to; b++) rest.push(b);
  return useQueries({
    queries: rest.map((b) => ({ queryKey: queryKeys.jobPage(block(b)), queryFn: fetchBlock(block(b)) })),
    combine: (results) => {
      const pages = new Map<number, JobPage>();
      if (head.data) pages.set(0, head.data);
      results.forEach((r, i) => {
        if (r.data) pages.set(rest[i]!, r.data);
      });
      return {
        pages,
        matched: head.data?.matched ?? null,
        total: head.data?.total ?? null,
        error: head.error ?? results.find((r) => r.error)?.error ?? null,
        /** The counts and first rows shown answer an earlier query; this one's is on its way. */
        settling: head.isPlaceholderData,
      };
    },
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

// ------------------------------------------------------------------ webhooks

export function useWebhooks() {
  return useQuery<Webhook[], CoreError>({
    queryKey: queryKeys.webhooks,
    queryFn: api.listWebhooks,
  });
}

/** The delivery log, newest first; `null` while no log is shown. */
export function useWebhookDeliveries(filter: DeliveryFilter | null) {
  return useQuery<WebhookDelivery[], CoreError>({
    queryKey: queryKeys.webhookDeliveries(filter ?? {}),
    queryFn: () => api.listWebhookDeliveries(filter ?? {}),
    enabled: filter !== null,
  });
}

/** The event names a webhook can subscribe to (and `*`); fixed for the life of the app. */
export function useWebhookEvents() {
  return useQuery<string[], CoreError>({
    queryKey: queryKeys.webhookEvents,
    queryFn: api.listWebhookEvents,
    staleTime: Infinity,
  });
}

function useInvalidateWebhooks() {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey: queryKeys.webhooksAll });
}

export function useAddWebhook() {
  const invalidate = useInvalidateWebhooks();
  return useMutation<Webhook, CoreError, WebhookInput>({
    mutationFn: (input) => api.addWebhook(input),
    onSuccess: invalidate,
  });
}

export function useUpdateWebhook() {
  const invalidate = useInvalidateWebhooks();
  return useMutation<Webhook, CoreError, { id: string; input: WebhookInput }>({
    mutationFn: ({ id, input }) => api.updateWebhook(id, input),
    onSuccess: invalidate,
  });
}

export function useRemoveWebhook() {
  const invalidate = useInvalidateWebhooks();
  return useMutation<null, CoreError, string>({
    mutationFn: (id) => api.removeWebhook(id),
    onSuccess: invalidate,
  });
}

export function useSetWebhookEnabled() {
  const invalidate = useInvalidateWebhooks();
  return useMutation<Webhook, CoreError, { id: string; enabled: boolean; dropPending: boolean }>({
    mutationFn: ({ id, enabled, dropPending }) => api.setWebhookEnabled(id, enabled, dropPending),
    onSuccess: invalidate,
  });
}

export function useTestWebhook() {
  const invalidate = useInvalidateWebhooks();
  return useMutation<WebhookTestResult, CoreError, string>({
    mutationFn: (id) => api.testWebhook(id),
    // The test is recorded in the delivery log and becomes the hook's last delivery.
    onSuccess: invalidate,
  });
}

export function useRedeliverWebhook() {
  const invalidate = useInvalidateWebhooks();
  return useMutation<WebhookDelivery, CoreError, number>({
    mutationFn: (deliveryId) => api.redeliverWebhook(deliveryId),
    onSuccess: invalidate,
  });
}

export function useWebhookSettings() {
  return useQuery<WebhookSettings, CoreError>({
    queryKey: queryKeys.webhookSettings,
    queryFn: api.getWebhookSettings,
  });
}

export function useUpdateWebhookSettings() {
  const queryClient = useQueryClient();
  return useMutation<WebhookSettings, CoreError, WebhookSettings>({
    mutationFn: (settings) => api.updateWebhookSettings(settings),
    onSuccess: (settings) => queryClient.setQueryData(queryKeys.webhookSettings, settings),
  });
}

// ------------------------------------------------------------------ schedules

export function useSchedules() {
  return useQuery<Schedule[], CoreError>({
    queryKey: queryKeys.schedules,
    queryFn: api.listSchedules,
  });
}

/** One schedule with its next fire times, as the core computes them (null: none chosen). */
export function useScheduleDetail(id: string | null) {
  return useQuery<ScheduleDetail, CoreError>({
    queryKey: queryKeys.schedule(id ?? ""),
    queryFn: () => api.getSchedule(id ?? ""),
    enabled: id !== null,
  });
}

/** A schedule's runs, newest first; kept current by `schedule_run` events. */
export function useScheduleHistory(id: string | null) {
  return useQuery<ScheduleExecution[], CoreError>({
    queryKey: queryKeys.scheduleHistory(id ?? ""),
    queryFn: () => api.scheduleHistory(id ?? "", 200),
    enabled: id !== null,
  });
}

export function useSchedulerStatus() {
  return useQuery<SchedulerStatus, CoreError>({
    queryKey: queryKeys.schedulerStatus,
    queryFn: api.schedulerStatus,
  });
}

/** After a change the core also sends `schedule_changed`; refreshing here covers a missed event. */
function useInvalidateSchedules() {
  const queryClient = useQueryClient();
  return () => queryClient.invalidateQueries({ queryKey: queryKeys.schedulesAll });
}

export function useAddSchedule() {
  const invalidate = useInvalidateSchedules();
  return useMutation<Schedule, CoreError, ScheduleInput>({
    mutationFn: (input) => api.addSchedule(input),
    onSuccess: invalidate,
  });
}

export function useUpdateSchedule() {
  const invalidate = useInvalidateSchedules();
  return useMutation<Schedule, CoreError, { id: string; input: ScheduleInput }>({
    mutationFn: ({ id, input }) => api.updateSchedule(id, input),
    onSuccess: invalidate,
  });
}

export function useRemoveSchedule() {
  const invalidate = useInvalidateSchedules();
  return useMutation<null, CoreError, string>({
    mutationFn: (id) => api.removeSchedule(id),
    onSuccess: invalidate,
  });
}

export function useSetScheduleEnabled() {
  const invalidate = useInvalidateSchedules();
  return useMutation<Schedule, CoreError, { id: string; enabled: boolean }>({
    mutationFn: ({ id, enabled }) => api.setScheduleEnabled(id, enabled),
    onSuccess: invalidate,
  });
}

/** "Run now": the core answers at once with the started (or skipped) run. */
export function useRunScheduleNow() {
  const queryClient = useQueryClient();
  return useMutation<ScheduleExecution, CoreError, string>({
    mutationFn: (id) => api.runScheduleNow(id),
    onSuccess: (run) => {
      upsertScheduleRun(queryClient, run);
      void queryClient.invalidateQueries({ queryKey: queryKeys.schedules });
      void queryClient.invalidateQueries({ queryKey: queryKeys.schedulerStatus });
    },
  });
}

export function usePauseSchedules() {
  const queryClient = useQueryClient();
  return useMutation<SchedulerStatus, CoreError, void>({
    mutationFn: () => api.pauseSchedules(),
    onSuccess: (status) => queryClient.setQueryData(queryKeys.schedulerStatus, status),
  });
}

export function useResumeSchedules() {
  const queryClient = useQueryClient();
  return useMutation<SchedulerStatus, CoreError, void>({
    mutationFn: () => api.resumeSchedules(),
    onSuccess: (status) => queryClient.setQueryData(queryKeys.schedulerStatus, status),
  });
}

/** Dry run: which recorded files retention would delete now (asked for, never polled). */
export function useRetentionPreview() {
  return useMutation<RetentionItem[], CoreError, string>({
    mutationFn: (id) => api.scheduleRetentionPreview(id),
  });
}

// ------------------------------------------------------------------ desktop settings

/** Notifications after scheduled runs (stored by the core; `hyperctl` sees them too). */
export function useDesktopSettings() {
  return useQuery<DesktopSettings, CoreError>({
    queryKey: queryKeys.desktopSettings,
    queryFn: api.getDesktopSettings,
  });
}

export function useUpdateDesktopSettings() {
  const queryClient = useQueryClient();
  return useMutation<DesktopSettings, CoreError, DesktopSettings>({
    mutationFn: (settings) => api.updateDesktopSettings(settings),
    onSuccess: (settings) => queryClient.setQueryData(queryKeys.desktopSettings, settings),
  });
}

/** Whether the app starts at login: the OS entry is the truth, so it is read each time it is shown. */
export function useAutostart() {
  return useQuery<boolean, CoreError>({
    queryKey: queryKeys.autostart,
    queryFn: api.getAutostart,
    staleTime: 0,
  });
}

export function useSetAutostart() {
  const queryClient = useQueryClient();
  return useMutation<boolean, CoreError, boolean>({
    mutationFn: (enabled) => api.setAutostart(enabled),
    onSuccess: (enabled) => queryClient.setQueryData(queryKeys.autostart, enabled),
  });
}

import { useEffect } from "react";
import { useQueryClient } from "@tanstack/react-query";
import type { QueryClient } from "@tanstack/react-query";
import { events } from "../bindings";
import type { CoreEvent, JobProgress } from "../bindings";
import { queryKeys } from "./queryKeys";
import { applyJobProgress, upsertJob } from "./jobsCache";
import { upsertScheduleRun } from "./schedulesCache";

/** Webhook queries are refetched at most this often, however many events arrive. */
export const WEBHOOK_REFRESH_INTERVAL_MS = 1_000;

type Throttle = { last: number; timer: ReturnType<typeof setTimeout> | null };
const webhookThrottles = new WeakMap<QueryClient, Throttle>();

/**
 * Invalidates every webhook query (list with counts, delivery logs), at most once per
 * WEBHOOK_REFRESH_INTERVAL_MS: the first event of a burst refreshes at once, the rest of the burst
 * is folded into one refresh at the end of the interval, so the last change is never missed.
 * Deliveries are recorded (and announced) one by one, and every job transition queues some, so
 * a busy moment can bring dozens of events a second.
 */
export function refreshWebhooks(queryClient: QueryClient): void {
  let throttle = webhookThrottles.get(queryClient);
  if (!throttle) {
    throttle = { last: Number.NEGATIVE_INFINITY, timer: null };
    webhookThrottles.set(queryClient, throttle);
  }
  if (throttle.timer !== null) return; // a refresh is already due at the end of this interval
  const t = throttle;
  const invalidate = () => {
    t.last = Date.now();
    void queryClient.invalidateQueries({ queryKey: queryKeys.webhooksAll });
  };
  const wait = t.last + WEBHOOK_REFRESH_INTERVAL_MS - Date.now();
  if (wait <= 0) {
    invalidate();
  } else {
    t.timer = setTimeout(() => {
      t.timer = null;
      invalidate();
    }, wait);
  }
}
import { useLiveMetrics } from "../store/liveMetrics";

/**
 * Progress samples reach the cache at most this often. The core sends up to five a second per
 * job, so twenty running exports bring a hundred a second; applied one by one, each would copy the
 * jobs list and re-render everything that shows it (measured: two thirds of a core in the
 * webview, bench/webview-cpu.sh). Within an interval the latest sample per job wins; the first
 * sample after a quiet interval is applied at once.
 */
export const PROGRESS_APPLY_INTERVAL_MS = 250;

type ProgressBatch = { last: number; timer: ReturnType<typeof setTimeout> | null; pending: Map<string, JobProgress> };
const progressBatches = new WeakMap<QueryClient, ProgressBatch>();

function queueJobProgress(queryClient: QueryClient, progress: JobProgress): void {
  let batch = progressBatches.get(queryClient);
  if (!batch) {
    batch = { last: Number.NEGATIVE_INFINITY, timer: null, pending: new Map() };
    progressBatches.set(queryClient, batch);
  }
  batch.pending.set(progress.job_id, progress);
  if (batch.timer !== null) return; // applied with the rest at the end of this interval
  const b = batch;
  const flush = () => {
    b.timer = null;
    b.last = Date.now();
    const samples = [...b.pending.values()];
    b.pending.clear();
    applyJobProgress(queryClient, samples);
  };
  const wait = b.last + PROGRESS_APPLY_INTERVAL_MS - Date.now();
  if (wait <= 0) flush();
  else b.timer = setTimeout(flush, wait);
}

/** Applies one core event to the query cache. */
export function handleCoreEvent(queryClient: QueryClient, event: CoreEvent): void {
  switch (event.type) {
    case "connections_changed":
      void queryClient.invalidateQueries({ queryKey: queryKeys.connections });
      // A changed endpoint, secret or certificate pin can change what a connection lists.
      void queryClient.invalidateQueries({ queryKey: queryKeys.vmsAll });
      break;
    case "settings_changed":
      void queryClient.invalidateQueries({ queryKey: queryKeys.settings });
      // update_webhook_settings announces itself as a settings change too.
      void queryClient.invalidateQueries({ queryKey: queryKeys.webhookSettings });
      // update_desktop_settings too.
      void queryClient.invalidateQueries({ queryKey: queryKeys.desktopSettings });
      void queryClient.invalidateQueries({ queryKey: queryKeys.endpointStatus });
      break;
    case "webhooks_changed":
      refreshWebhooks(queryClient);
      break;
    case "job_updated":
      // The job as it is now: a progress sample still waiting is older than it.
      progressBatches.get(queryClient)?.pending.delete(event.job.id);
      upsertJob(queryClient, event.job);
      // Its page's event log has a new line (a step or a transition): re-read it if it is open.
      void queryClient.invalidateQueries({ queryKey: queryKeys.job(event.job.id), exact: true });
      // A job's transition queues its webhook deliveries in the same transaction: the pending
      // counts and delivery logs change with it.
      refreshWebhooks(queryClient);
      // A job that ends changes the stats and history the dashboard shows.
      if (!["queued", "running"].includes(event.job.state)) {
        void queryClient.invalidateQueries({ queryKey: queryKeys.metrics });
      }
      break;
    case "job_progress":
      // Not a webhook refresh: progress samples arrive up to 5 times a second per job, and the
      // rare job.progress delivery they queue is announced by webhooks_changed once attempted.
      queueJobProgress(queryClient, event.progress);
      break;
    case "schedule_changed":
      if (event.schedule_id === null) {
        // Several changed (pause/resume, another process): re-read everything about schedules.
        void queryClient.invalidateQueries({ queryKey: queryKeys.schedulesAll });
      } else {
        void queryClient.invalidateQueries({ queryKey: queryKeys.schedules });
        void queryClient.invalidateQueries({ queryKey: queryKeys.schedule(event.schedule_id) });
        void queryClient.invalidateQueries({ queryKey: queryKeys.schedulerStatus });
      }
      break;
    case "schedule_run":
      // The history row is patched in place; the list (last status, next run) and the scheduler
      // status (runs in progress, last run failed) are re-read.
      upsertScheduleRun(queryClient, event.run);
      void queryClient.invalidateQueries({ queryKey: queryKeys.schedules });
      void queryClient.invalidateQueries({ queryKey: queryKeys.schedule(event.run.schedule_id) });
      void queryClient.invalidateQueries({ queryKey: queryKeys.schedulerStatus });
      break;
    case "metrics_sample":
      useLiveMetrics.getState().push(event.sample);
      break;
  }
}

/** Subscribes once to the core's event channel for the lifetime of the calling component. */
export function useCoreEvents(): void {
  const queryClient = useQueryClient();
  useEffect(() => {
    let disposed = false;
    let unlisten: (() => void) | undefined;
    events.coreEvent
      .listen((e) => handleCoreEvent(queryClient, e.payload))
      .then((fn) => {
        if (disposed) fn();
        else unlisten = fn;
      })
      .catch((error: unknown) => {
        // Outside the desktop shell there is no event channel; queries still work on demand.
        console.warn("Core events unavailable:", error);
      });
    return () => {
      disposed = true;
      unlisten?.();
    };
  }, [queryClient]);
}

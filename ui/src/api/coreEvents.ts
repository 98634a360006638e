import { useEffect } from "react";
import { useQueryClient } from "@tanstack/react-query";
import type { QueryClient } from "@tanstack/react-query";
import { events } from "../bindings";
import type { CoreEvent } from "../bindings";
import { queryKeys } from "./queryKeys";
import { applyJobProgress, upsertJob } from "./jobsCache";
import { useLiveMetrics } from "../store/liveMetrics";

/** Applies one core event to the query cache. */
export function handleCoreEvent(queryClient: QueryClient, event: CoreEvent): void {
  switch (event.type) {
    case "connections_changed":
      void queryClient.invalidateQueries({ queryKey: queryKeys.connections });
      break;
    case "settings_changed":
      void queryClient.invalidateQueries({ queryKey: queryKeys.settings });
      void queryClient.invalidateQueries({ queryKey: queryKeys.endpointStatus });
      break;
    case "job_updated":
      upsertJob(queryClient, event.job);
      // A job that ends changes the stats and history the dashboard shows.
      if (!["queued", "running"].includes(event.job.state)) {
        void queryClient.invalidateQueries({ queryKey: queryKeys.metrics });
      }
      break;
    case "job_progress":
      applyJobProgress(queryClient, event.progress);
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

import type { DeliveryStatus } from "../../bindings";
import { ALL_EVENTS } from "./schema";

/** What each event means, for the form's checkboxes; unknown names are shown as they are. */
export const EVENT_DESCRIPTIONS: Record<string, string> = {
  "job.created": "A job was queued",
  "job.started": "A job began running",
  "job.progress": "Progress of a running job, at most once a minute per job",
  "job.completed": "A job finished and its package was verified",
  "job.failed": "A job failed, or was interrupted because its process stopped",
  "job.cancelled": "A job was cancelled",
  "schedule.triggered": "A schedule started its exports",
  "schedule.skipped": "A schedule's run was skipped",
};

export function eventLabel(event: string): string {
  return event === ALL_EVENTS ? "All events" : event;
}

export const DELIVERY_STATUS_STYLE: Record<DeliveryStatus, { color: string; label: string }> = {
  pending: { color: "blue", label: "Pending" },
  delivered: { color: "teal", label: "Delivered" },
  dead: { color: "red", label: "Dead" },
  cancelled: { color: "gray", label: "Cancelled" },
};

/** "35 ms", "1.2 s". */
export function formatLatency(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

/**
 * A URL for display: any user name or password is dropped. The core refuses to store URLs with
 * credentials, so this only guards against a row written by something else.
 */
export function displayUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#@]*@/i, "$1");
}

/** Whether a delivery in this state can be sent again ("Redeliver"). */
export function canRedeliver(status: DeliveryStatus): boolean {
  return status === "dead" || status === "cancelled";
}

import type { ExecutionStatus, Retention, RunTrigger, VmSelection } from "../../bindings";
import { LOCAL_ZONE } from "./schema";

export const STATUS_LABEL: Record<ExecutionStatus, string> = {
  running: "Running",
  succeeded: "Succeeded",
  failed: "Failed",
  skipped: "Skipped",
  partial: "Partial",
};

export const STATUS_COLOR: Record<ExecutionStatus, string> = {
  running: "blue",
  succeeded: "teal",
  failed: "red",
  skipped: "gray",
  partial: "orange",
};

export const TRIGGER_LABEL: Record<RunTrigger, string> = {
  scheduled: "Scheduled",
  catch_up: "Catch-up",
  manual: "Run now",
};

/** "Tue, 27 Nov 2026, 02:00" in this computer's zone (and locale). */
export function formatLocal(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return date.toLocaleString(undefined, {
    weekday: "short",
    day: "numeric",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

/** The same instant on the schedule's own wall clock, e.g. for a tooltip: "02:00 Europe/Paris". */
export function formatInZone(iso: string, zone: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  try {
    return date.toLocaleString(undefined, {
      weekday: "short",
      day: "numeric",
      month: "short",
      hour: "2-digit",
      minute: "2-digit",
      timeZone: zone === LOCAL_ZONE ? undefined : zone,
      timeZoneName: "short",
    });
  } catch {
    return formatLocal(iso);
  }
}

const UNITS: [Intl.RelativeTimeFormatUnit, number][] = [
  ["day", 86_400_000],
  ["hour", 3_600_000],
  ["minute", 60_000],
];

/** "in 5 hours", "3 minutes ago", "tomorrow"; "now" within a minute. */
export function formatRelative(iso: string, now: number = Date.now()): string {
  const diff = new Date(iso).getTime() - now;
  if (Number.isNaN(diff)) return "";
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
  const abs = Math.abs(diff);
  if (abs < 60_000) return "now";
  for (const [unit, ms] of UNITS) {
    // Hours up to two days, then days: "in 30 hours" reads better than "tomorrow" at 23:00.
    if (unit === "day" ? abs >= 2 * ms : abs >= ms) return rtf.format(Math.round(diff / ms), unit);
  }
  return rtf.format(Math.round(diff / 60_000), "minute");
}

export function describeRetention(r: Retention): string {
  switch (r.kind) {
    case "keep_all":
      return "Keep every run";
    case "keep_last":
      return r.count === 1 ? "Keep the last run" : `Keep the last ${r.count} runs`;
    case "gfs":
      return `Keep ${r.daily} daily, ${r.weekly} weekly, ${r.monthly} monthly`;
  }
}

export function describeSelection(s: VmSelection): string {
  if (s.kind === "fixed") {
    const names = s.vms.map((vm) => vm.split("/").filter(Boolean).pop() ?? vm);
    const shown = names.slice(0, 3).join(", ");
    return names.length > 3 ? `${shown} and ${names.length - 3} more` : shown;
  }
  const parts = [];
  if (s.name_pattern) parts.push(`VMs named ${s.name_pattern}`);
  if (s.folder) parts.push(`${s.name_pattern ? "in" : "VMs in"} ${s.folder}`);
  return parts.join(" ");
}

import { formatBytes, formatRate } from "../jobs/format";

export { formatBytes, formatRate };

export const CHART_HEIGHT = 240;
/** Mantine palette colours, as CSS variables so light and dark themes both work. */
export const PALETTE = ["blue", "teal", "grape", "orange", "cyan", "pink", "lime", "indigo", "red", "yellow"].map(
  (c) => `var(--mantine-color-${c}-6)`,
);
export const OUTCOME_COLORS: Record<string, string> = {
  succeeded: "var(--mantine-color-teal-6)",
  failed: "var(--mantine-color-red-6)",
  cancelled: "var(--mantine-color-yellow-6)",
  interrupted: "var(--mantine-color-orange-6)",
};

/** An axis tick for Unix seconds: with seconds within 15 minutes, time of day within two days, else the date. */
export function tickTime(t: number, spanSeconds: number): string {
  const d = new Date(t * 1000);
  if (spanSeconds <= 900) return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  if (spanSeconds <= 2 * 86_400) return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
}

const TICK_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];

/**
 * Ticks at round times between `from` and `to` (seconds), at most `max` of them, each with a
 * label at the precision its step needs, so no two ticks read the same ("10:03, 10:03" when
 * ticks 30 s apart were shown to the minute).
 */
export function timeTicks(from: number, to: number, max = 6): { ticks: number[]; label: (t: number) => string } {
  const span = Math.max(1, to - from);
  const step = TICK_STEPS.find((s) => span / s <= max) ?? Math.ceil(span / max / 86400) * 86400;
  const ticks: number[] = [];
  for (let t = Math.ceil(from / step) * step; t <= to; t += step) ticks.push(t);
  const label = (t: number) => {
    const d = new Date(t * 1000);
    if (step < 60) return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    // Over more than a day the same time of day comes back: say which day too.
    if (step < 86400 && span < 86400) return d.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
    if (step < 86400) return d.toLocaleString(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
    return d.toLocaleDateString(undefined, { month: "short", day: "numeric" });
  };
  return { ticks, label };
}

export function fullTime(t: number): string {
  return new Date(t * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

export function formatUnit(unit: string, v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return "—";
  if (unit === "bytes_per_second") return formatRate(v);
  if (unit === "bytes") return formatBytes(v);
  return `${v.toFixed(1)} %`;
}

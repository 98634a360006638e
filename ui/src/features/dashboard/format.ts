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

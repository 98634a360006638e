import { useEffect, useState } from "react";
import type { TimeRange } from "../../bindings";

export type RangePreset = "1h" | "24h" | "7d" | "30d" | "custom";

export const PRESETS: { value: Exclude<RangePreset, "custom">; label: string; seconds: number; refreshSeconds: number }[] = [
  { value: "1h", label: "1 h", seconds: 3_600, refreshSeconds: 10 },
  { value: "24h", label: "24 h", seconds: 86_400, refreshSeconds: 60 },
  { value: "7d", label: "7 d", seconds: 7 * 86_400, refreshSeconds: 300 },
  { value: "30d", label: "30 d", seconds: 30 * 86_400, refreshSeconds: 300 },
];

export const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * A range ending now that moves on every `refreshSeconds` (aligned, so every chart of the page
 * asks for the same range and the queries are shared). Changing the range refetches once.
 */
export function useMovingRange(seconds: number, refreshSeconds: number): TimeRange {
  const [tick, setTick] = useState(nowSeconds);
  useEffect(() => {
    const timer = window.setInterval(() => setTick(nowSeconds()), refreshSeconds * 1000);
    return () => window.clearInterval(timer);
  }, [refreshSeconds]);
  const aligned = tick - (tick % refreshSeconds);
  // The end reaches the next move, so a job that ends before then is inside the range at once
  // (its event refetches the same range) rather than after the next move.
  return { from: aligned - seconds, to: aligned + refreshSeconds };
}

/** `datetime-local` input value (local time, minutes) ⇄ Unix seconds. */
export function toLocalInput(t: number): string {
  const d = new Date(t * 1000);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

export function fromLocalInput(value: string): number | null {
  if (!value) return null;
  const ms = new Date(value).getTime();
  return Number.isNaN(ms) ? null : Math.floor(ms / 1000);
}

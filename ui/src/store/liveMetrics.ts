import { create } from "zustand";
import type { MetricsSample } from "../bindings";

/** How many one-second samples the live charts keep (five minutes). */
export const LIVE_WINDOW = 300;

type LiveMetricsState = {
  samples: MetricsSample[];
  push: (sample: MetricsSample) => void;
  clear: () => void;
};

/**
 * The core's 1 Hz `metrics_sample` events, newest last: the live charts read them
 * instead of polling. A sample for a second already held replaces it.
 */
export const useLiveMetrics = create<LiveMetricsState>((set) => ({
  samples: [],
  push: (sample) =>
    set(({ samples }) => {
      const last = samples[samples.length - 1];
      const kept = last && last.t === sample.t ? samples.slice(0, -1) : samples;
      const next = [...kept, sample];
      return { samples: next.length > LIVE_WINDOW ? next.slice(next.length - LIVE_WINDOW) : next };
    }),
  clear: () => set({ samples: [] }),
}));

import { QueryClient } from "@tanstack/react-query";
import { beforeEach, describe, expect, it, vi } from "vitest";
import type { MetricsSample } from "../bindings";
import { handleCoreEvent } from "../api/coreEvents";
import { queryKeys } from "../api/queryKeys";
import { makeJob } from "../test/fixtures";
import { LIVE_WINDOW, useLiveMetrics } from "./liveMetrics";

vi.mock("../bindings", () => ({ commands: {}, events: { coreEvent: { listen: vi.fn() } } }));

const sample = (t: number, rate = 1): MetricsSample => ({
  t,
  jobs: [{ job_id: "j", bytes_per_second: rate, bytes_done: t }],
  write_rate: rate,
  cpu_percent: null,
  rss_bytes: null,
});

describe("live metrics", () => {
  beforeEach(() => useLiveMetrics.getState().clear());

  it("keeps the last five minutes of 1 Hz samples from core events", () => {
    const client = new QueryClient();
    for (let t = 0; t < LIVE_WINDOW + 20; t++) handleCoreEvent(client, { type: "metrics_sample", sample: sample(t) });
    const samples = useLiveMetrics.getState().samples;
    expect(samples).toHaveLength(LIVE_WINDOW);
    expect(samples[0]?.t).toBe(20);
    expect(samples.at(-1)?.t).toBe(LIVE_WINDOW + 19);
  });

  it("replaces a second it already has (a flush right after a tick)", () => {
    useLiveMetrics.getState().push(sample(5, 1));
    useLiveMetrics.getState().push(sample(5, 2));
    expect(useLiveMetrics.getState().samples.map((s) => s.write_rate)).toEqual([2]);
  });

  it("refreshes the metrics queries when a job ends, not while it runs", () => {
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    handleCoreEvent(client, { type: "job_updated", job: makeJob({ state: "running" }) });
    expect(invalidate).not.toHaveBeenCalledWith({ queryKey: queryKeys.metrics });
    handleCoreEvent(client, { type: "job_updated", job: makeJob({ state: "succeeded" }) });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: queryKeys.metrics });
  });
});

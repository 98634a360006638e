import { QueryClient } from "@tanstack/react-query";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Job, JobPage } from "../bindings";
import { makeJob } from "../test/fixtures";
import { PROGRESS_APPLY_INTERVAL_MS, WEBHOOK_REFRESH_INTERVAL_MS, handleCoreEvent } from "./coreEvents";
import { queryKeys } from "./queryKeys";
import { newestJobs } from "./hooks";
import { PAGE_REFRESH_INTERVAL_MS } from "./jobsCache";

vi.mock("../bindings", () => ({ JOB_PAGE_MAX: 1000, commands: {}, events: { coreEvent: { listen: vi.fn() } } }));

describe("handleCoreEvent", () => {
  const page = (jobs: Job[]): JobPage => ({ jobs, matched: jobs.length, total: jobs.length });
  const pageKey = queryKeys.jobPage({ ...newestJobs(100) });

  it("updates job progress in every cached copy in place, without refetching", () => {
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    client.setQueryData<Job[]>(queryKeys.activeJobs, [makeJob({ id: "a", state: "running" })]);
    client.setQueryData<JobPage>(pageKey, page([makeJob({ id: "a", state: "running" }), makeJob({ id: "b" })]));
    const progress = { job_id: "a", bytes_done: 10, bytes_total: 100, rate_bps: 5, eta_seconds: 18, disks: [] };

    handleCoreEvent(client, { type: "job_progress", progress });

    expect(client.getQueryData<Job[]>(queryKeys.activeJobs)?.[0]?.progress).toEqual(progress);
    const jobs = client.getQueryData<JobPage>(pageKey)?.jobs;
    expect(jobs?.[0]?.progress).toEqual(progress);
    expect(jobs?.[1]?.progress).toBeNull();
    expect(invalidate).not.toHaveBeenCalled();
  });

  it("keeps the active list true to job changes and re-reads the table's pages once per burst", () => {
    vi.useFakeTimers();
    try {
      const client = new QueryClient();
      const invalidate = vi.spyOn(client, "invalidateQueries");
      client.setQueryData<Job[]>(queryKeys.activeJobs, [makeJob({ id: "a", state: "running" }), makeJob({ id: "b", state: "queued" })]);
      client.setQueryData<JobPage>(pageKey, page([makeJob({ id: "a", state: "running" })]));

      handleCoreEvent(client, { type: "job_updated", job: makeJob({ id: "a", state: "succeeded" }) });
      handleCoreEvent(client, { type: "job_updated", job: makeJob({ id: "b", state: "running" }) });
      handleCoreEvent(client, { type: "job_updated", job: makeJob({ id: "n", state: "queued" }) });

      expect(client.getQueryData<Job[]>(queryKeys.activeJobs)?.map((j) => [j.id, j.state])).toEqual([
        ["n", "queued"],
        ["b", "running"],
      ]);
      // Patched in place at once; its page is re-read (a new job moves every row down).
      expect(client.getQueryData<JobPage>(pageKey)?.jobs[0]?.state).toBe("succeeded");
      const pageRefreshes = () => invalidate.mock.calls.filter(([f]) => JSON.stringify(f?.queryKey) === JSON.stringify(queryKeys.jobPages)).length;
      expect(pageRefreshes()).toBe(0);
      vi.advanceTimersByTime(PAGE_REFRESH_INTERVAL_MS);
      expect(pageRefreshes()).toBe(1);
      vi.advanceTimersByTime(PAGE_REFRESH_INTERVAL_MS * 4);
      expect(pageRefreshes()).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("invalidates connections and settings on their change events", () => {
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    handleCoreEvent(client, { type: "connections_changed" });
    handleCoreEvent(client, { type: "settings_changed" });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: queryKeys.connections });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: queryKeys.vmsAll });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: queryKeys.settings });
    // update_webhook_settings is announced as a settings change.
    expect(invalidate).toHaveBeenCalledWith({ queryKey: queryKeys.webhookSettings });
  });
});

describe("progress batching", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const sample = (jobId: string, bytes: number) => ({
    job_id: jobId,
    bytes_done: bytes,
    bytes_total: 1000,
    rate_bps: 1,
    eta_seconds: null,
    disks: [],
  });

  it("applies a burst from many jobs in one cache update per interval, the latest sample per job", () => {
    vi.useFakeTimers();
    const client = new QueryClient();
    const ids = Array.from({ length: 20 }, (_, i) => `j${i}`);
    client.setQueryData<Job[]>(queryKeys.activeJobs, [...ids.map((id) => makeJob({ id, state: "running" })), makeJob({ id: "idle" })]);
    const set = vi.spyOn(client, "setQueryData");
    const listUpdates = () => set.mock.calls.filter(([key]) => JSON.stringify(key) === JSON.stringify(queryKeys.activeJobs)).length;

    handleCoreEvent(client, { type: "job_progress", progress: sample("j0", 1) });
    expect(listUpdates()).toBe(1); // the first sample of a burst at once
    // Five samples a second from each of 20 jobs, for one interval.
    for (let round = 1; round <= 5; round++) {
      for (const id of ids) handleCoreEvent(client, { type: "job_progress", progress: sample(id, round * 10) });
    }
    expect(listUpdates()).toBe(1);
    vi.advanceTimersByTime(PROGRESS_APPLY_INTERVAL_MS);
    expect(listUpdates()).toBe(2);
    const jobs = client.getQueryData<Job[]>(queryKeys.activeJobs) ?? [];
    expect(jobs.slice(0, 20).map((j) => j.progress?.bytes_done)).toEqual(ids.map(() => 50));
    expect(jobs[20]?.progress).toBeNull();
    // Nothing pending: no further update.
    vi.advanceTimersByTime(PROGRESS_APPLY_INTERVAL_MS * 4);
    expect(listUpdates()).toBe(2);
  });

  it("never lets a waiting sample overwrite the job that ended after it", () => {
    vi.useFakeTimers();
    const client = new QueryClient();
    const key = queryKeys.jobPage(newestJobs(100));
    client.setQueryData<JobPage>(key, { jobs: [makeJob({ id: "a", state: "running" })], matched: 1, total: 1 });
    handleCoreEvent(client, { type: "job_progress", progress: sample("a", 1) });
    handleCoreEvent(client, { type: "job_progress", progress: sample("a", 900) }); // waits
    const done = makeJob({ id: "a", state: "succeeded", progress: sample("a", 1000) });
    handleCoreEvent(client, { type: "job_updated", job: done });
    vi.advanceTimersByTime(PROGRESS_APPLY_INTERVAL_MS);
    const job = client.getQueryData<JobPage>(key)?.jobs[0];
    expect([job?.state, job?.progress?.bytes_done]).toEqual(["succeeded", 1000]);
  });
});

describe("webhook invalidation", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  const webhookInvalidations = (spy: { mock: { calls: unknown[][] } }) =>
    spy.mock.calls.filter(([filters]) => JSON.stringify(filters) === JSON.stringify({ queryKey: queryKeys.webhooksAll })).length;

  it("refreshes every webhook query (list and delivery logs) on webhooks_changed", () => {
    const client = new QueryClient();
    client.setQueryData(queryKeys.webhooks, []);
    client.setQueryData(queryKeys.webhookDeliveries({ webhook: "w-1", status: "dead", limit: 200 }), []);
    client.setQueryData(queryKeys.connections, []);

    handleCoreEvent(client, { type: "webhooks_changed" });

    expect(client.getQueryState(queryKeys.webhooks)?.isInvalidated).toBe(true);
    expect(client.getQueryState(queryKeys.webhookDeliveries({ webhook: "w-1", status: "dead", limit: 200 }))?.isInvalidated).toBe(true);
    expect(client.getQueryState(queryKeys.connections)?.isInvalidated).toBe(false);
  });

  it("refreshes at most once a second however many events arrive, and never misses the last", () => {
    vi.useFakeTimers();
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, "invalidateQueries");

    handleCoreEvent(client, { type: "webhooks_changed" });
    expect(webhookInvalidations(invalidate)).toBe(1); // the first one at once

    for (let i = 0; i < 20; i++) {
      handleCoreEvent(client, { type: "webhooks_changed" });
      handleCoreEvent(client, { type: "job_updated", job: makeJob({ id: `j-${i}`, state: "running" }) });
      vi.advanceTimersByTime(40);
    }
    expect(webhookInvalidations(invalidate)).toBe(1);

    vi.advanceTimersByTime(WEBHOOK_REFRESH_INTERVAL_MS);
    expect(webhookInvalidations(invalidate)).toBe(2); // the burst, folded into one

    vi.advanceTimersByTime(10 * WEBHOOK_REFRESH_INTERVAL_MS);
    expect(webhookInvalidations(invalidate)).toBe(2); // nothing new, nothing more

    handleCoreEvent(client, { type: "webhooks_changed" });
    expect(webhookInvalidations(invalidate)).toBe(3); // quiet for a while: at once again
  });

  it("refreshes webhooks on job state changes (they queue deliveries), not on progress samples", () => {
    vi.useFakeTimers();
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    const progress = { job_id: "a", bytes_done: 10, bytes_total: 100, rate_bps: 5, eta_seconds: 18, disks: [] };

    handleCoreEvent(client, { type: "job_progress", progress });
    expect(webhookInvalidations(invalidate)).toBe(0);

    handleCoreEvent(client, { type: "job_updated", job: makeJob({ id: "a", state: "failed" }) });
    expect(webhookInvalidations(invalidate)).toBe(1);
  });
});

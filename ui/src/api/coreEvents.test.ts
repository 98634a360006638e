import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it, vi } from "vitest";
import type { Job } from "../bindings";
import { makeJob } from "../test/fixtures";
import { handleCoreEvent } from "./coreEvents";
import { queryKeys } from "./queryKeys";

vi.mock("../bindings", () => ({ commands: {}, events: { coreEvent: { listen: vi.fn() } } }));

describe("handleCoreEvent", () => {
  it("updates job progress in the cache in place, without refetching", () => {
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    client.setQueryData<Job[]>(queryKeys.jobs, [makeJob({ id: "a", state: "running" }), makeJob({ id: "b" })]);
    const progress = { job_id: "a", bytes_done: 10, bytes_total: 100, rate_bps: 5, eta_seconds: 18, disks: [] };

    handleCoreEvent(client, { type: "job_progress", progress });

    const jobs = client.getQueryData<Job[]>(queryKeys.jobs);
    expect(jobs?.[0]?.progress).toEqual(progress);
    expect(jobs?.[1]?.progress).toBeNull();
    expect(invalidate).not.toHaveBeenCalled();
  });

  it("replaces an updated job and prepends a new one", () => {
    const client = new QueryClient();
    client.setQueryData<Job[]>(queryKeys.jobs, [makeJob({ id: "a" })]);

    handleCoreEvent(client, { type: "job_updated", job: makeJob({ id: "a", state: "succeeded" }) });
    handleCoreEvent(client, { type: "job_updated", job: makeJob({ id: "n", state: "queued" }) });

    const jobs = client.getQueryData<Job[]>(queryKeys.jobs);
    expect(jobs?.map((j) => [j.id, j.state])).toEqual([
      ["n", "queued"],
      ["a", "succeeded"],
    ]);
  });

  it("invalidates connections and settings on their change events", () => {
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    handleCoreEvent(client, { type: "connections_changed" });
    handleCoreEvent(client, { type: "settings_changed" });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: queryKeys.connections });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: queryKeys.vmsAll });
    expect(invalidate).toHaveBeenCalledWith({ queryKey: queryKeys.settings });
  });
});

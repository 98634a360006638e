import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it, vi } from "vitest";
import { handleCoreEvent } from "../../api/coreEvents";
import { queryKeys } from "../../api/queryKeys";
import { makeRun, makeSchedule, makeStatus } from "./fixtures";

vi.mock("../../bindings", () => ({ commands: {}, events: { coreEvent: { listen: vi.fn() } } }));

function seeded() {
  const client = new QueryClient();
  client.setQueryData(queryKeys.schedules, [makeSchedule({ id: "s-1" }), makeSchedule({ id: "s-2", name: "weekly" })]);
  client.setQueryData(queryKeys.schedule("s-1"), { schedule: makeSchedule({ id: "s-1" }), upcoming: [] });
  client.setQueryData(queryKeys.schedule("s-2"), { schedule: makeSchedule({ id: "s-2" }), upcoming: [] });
  client.setQueryData(queryKeys.scheduleHistory("s-1"), [makeRun({ id: 1, status: "succeeded" })]);
  client.setQueryData(queryKeys.schedulerStatus, makeStatus());
  client.setQueryData(queryKeys.jobs, []);
  return client;
}

const invalidated = (client: QueryClient, key: readonly unknown[]) => client.getQueryState(key)?.isInvalidated;

describe("schedule events", () => {
  it("schedule_changed with an id refreshes the list, that schedule and the scheduler status", () => {
    const client = seeded();
    handleCoreEvent(client, { type: "schedule_changed", schedule_id: "s-1" });
    expect(invalidated(client, queryKeys.schedules)).toBe(true);
    expect(invalidated(client, queryKeys.schedule("s-1"))).toBe(true);
    expect(invalidated(client, queryKeys.schedulerStatus)).toBe(true);
    expect(invalidated(client, queryKeys.schedule("s-2"))).toBe(false);
    expect(invalidated(client, queryKeys.scheduleHistory("s-1"))).toBe(false);
    expect(invalidated(client, queryKeys.jobs)).toBe(false);
  });

  it("schedule_changed without an id (pause, another process) refreshes everything about schedules", () => {
    const client = seeded();
    handleCoreEvent(client, { type: "schedule_changed", schedule_id: null });
    for (const key of [queryKeys.schedules, queryKeys.schedule("s-1"), queryKeys.schedule("s-2"), queryKeys.scheduleHistory("s-1"), queryKeys.schedulerStatus]) {
      expect(invalidated(client, key)).toBe(true);
    }
    expect(invalidated(client, queryKeys.jobs)).toBe(false);
  });

  it("schedule_run patches the history in place and refreshes the list and status", () => {
    const client = seeded();
    const started = makeRun({ id: 2, status: "running", started_at: "2026-11-27T01:00:00Z" });
    handleCoreEvent(client, { type: "schedule_run", run: started });
    expect(client.getQueryData<{ id: number }[]>(queryKeys.scheduleHistory("s-1"))?.map((r) => r.id)).toEqual([2, 1]);
    expect(invalidated(client, queryKeys.scheduleHistory("s-1"))).toBe(false);
    expect(invalidated(client, queryKeys.schedules)).toBe(true);
    expect(invalidated(client, queryKeys.schedulerStatus)).toBe(true);

    handleCoreEvent(client, { type: "schedule_run", run: { ...started, status: "failed", reason: "cannot reach vc" } });
    const runs = client.getQueryData<{ id: number; status: string; reason: string | null }[]>(queryKeys.scheduleHistory("s-1"));
    expect(runs?.map((r) => [r.id, r.status, r.reason])).toEqual([
      [2, "failed", "cannot reach vc"],
      [1, "succeeded", null],
    ]);
    // A history nobody has loaded is not invented from one event.
    handleCoreEvent(client, { type: "schedule_run", run: makeRun({ id: 9, schedule_id: "s-2" }) });
    expect(client.getQueryData(queryKeys.scheduleHistory("s-2"))).toBeUndefined();
  });
});

import { describe, expect, it } from "vitest";
import { makeConnections, makeJobs } from "../../test/generate";
import { filterRows, jobRow, NO_FILTERS, queryJobsLocally, sortRows } from "./jobFilters";

const connections = makeConnections(12);
const byId = new Map(connections.map((c) => [c.id, c]));
const jobs = makeJobs(5_000, connections);
const rows = jobs.map((j) => jobRow(j, byId));

describe("job filters", () => {
  it("keeps everything without filters, in the core's order", () => {
    expect(filterRows(rows, NO_FILTERS).map((r) => r.job.id)).toEqual(jobs.map((j) => j.id));
  });

  it("combines state, provider, connection and words", () => {
    const failedVsphere = filterRows(rows, { ...NO_FILTERS, states: ["failed"], provider: "vsphere" });
    expect(failedVsphere.length).toBeGreaterThan(0);
    expect(failedVsphere.every((r) => r.job.state === "failed" && r.provider === "vsphere")).toBe(true);
    expect(failedVsphere.length).toBe(
      jobs.filter((j) => j.state === "failed" && j.connection_id && byId.get(j.connection_id)?.kind === "vsphere").length,
    );

    const local = filterRows(rows, { ...NO_FILTERS, provider: "none" });
    expect(local.length).toBe(jobs.filter((j) => j.connection_id === null).length);

    const oneConnection = filterRows(rows, { ...NO_FILTERS, connectionId: "c-3", states: ["succeeded", "cancelled"] });
    expect(oneConnection.every((r) => r.job.connection_id === "c-3" && ["succeeded", "cancelled"].includes(r.job.state))).toBe(true);

    // Words match name, id, connection name or error, in any case and order.
    const words = filterRows(rows, { ...NO_FILTERS, text: "REFUSED site-7.example" });
    expect(words.length).toBeGreaterThan(0);
    expect(words.every((r) => r.job.error?.message.includes("site-7.example"))).toBe(true);
    const aws = filterRows(rows, { ...NO_FILTERS, text: "Site AWS" });
    expect(aws.length).toBeGreaterThan(0);
    expect(aws.every((r) => r.connection.startsWith("aws site"))).toBe(true);
    expect(filterRows(rows, { ...NO_FILTERS, text: "no such thing" })).toEqual([]);
  });

  it("sorts by each key, stably, both ways", () => {
    const byName = sortRows(rows, { key: "name", desc: false }).map((r) => r.job.name);
    expect(byName).toEqual([...byName].sort((a, b) => a.localeCompare(b)));
    const byState = sortRows(rows, { key: "state", desc: false }).map((r) => r.job.state);
    expect(byState.slice(0, 3)).toEqual(["running", "running", "running"]);
    expect(byState.at(-1)).toBe("succeeded");
    const oldest = sortRows(rows, { key: "created_at", desc: false });
    expect(oldest[0]?.job.id).toBe(jobs.at(-1)?.id);
    // Stable: equal providers keep newest first.
    const byProvider = sortRows(rows, { key: "provider", desc: false }).filter((r) => r.provider === "aws");
    expect(byProvider.map((r) => r.job.created_at)).toEqual([...byProvider.map((r) => r.job.created_at)].sort().reverse());
  });

  it("reuses a job's derived row until the job or the connections change", () => {
    const job = jobs[0]!;
    expect(jobRow(job, byId)).toBe(rows[0]);
    expect(jobRow({ ...job }, byId)).not.toBe(rows[0]);
    expect(jobRow(job, new Map(byId))).not.toBe(rows[0]);
  });
});

describe("queryJobsLocally (the preview build's core)", () => {
  it("pages what the filters keep, in the query's order, with the counts", () => {
    const query = { states: [], provider: null, connection_id: null, text: "vm-00", sort: "name" as const, desc: false, offset: 10, limit: 5 };
    const page = queryJobsLocally(jobs, connections, query);
    const all = sortRows(filterRows(rows, { ...NO_FILTERS, text: "vm-00" }), { key: "name", desc: false });
    expect(page.matched).toBe(all.length);
    expect(page.total).toBe(jobs.length);
    expect(page.jobs.map((j) => j.id)).toEqual(all.slice(10, 15).map((r) => r.job.id));
  });
});

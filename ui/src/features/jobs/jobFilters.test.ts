import { describe, expect, it } from "vitest";
import { makeConnections, makeJobs } from "../../test/generate";
import { filterRows, JobListCache, jobRow, NO_FILTERS, sortRows } from "./jobFilters";

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

describe("JobListCache", () => {
  it("gives what a full sort and filter give, across updates, narrowing and widening", () => {
    const cache = new JobListCache();
    const sort = { key: "name" as const, desc: false };
    let current = rows;
    expect(cache.sort(current, sort)).toEqual(sortRows(current, sort));
    // A progress event: one job replaced, no sort key changed.
    current = current.map((r, i) => (i === 3 ? jobRow({ ...r.job, progress: null }, byId) : r));
    const again = cache.sort(current, sort);
    expect(again).toEqual(sortRows(current, sort));
    expect(again).toContain(current[3]);
    // A renamed job moves.
    current = current.map((r, i) => (i === 4 ? jobRow({ ...r.job, name: "AAA first" }, byId) : r));
    expect(cache.sort(current, sort)[0]?.job.name).toBe("AAA first");

    const sorted = cache.sort(current, sort);
    for (const text of ["v", "vm", "vm-0", "vm-00", "vm-0", "", "REFUSED", "refused site-1"]) {
      const f = { ...NO_FILTERS, states: ["failed" as const, "succeeded" as const], text };
      expect(cache.filter(sorted, f)).toEqual(filterRows(sorted, f));
    }
  });

  it("answers a search seen before from its cache, the same as a fresh filter", () => {
    const cache = new JobListCache();
    const f = (text: string) => ({ ...NO_FILTERS, text });
    const typed = ["v", "vm", "vm-", "vm-0", "vm-00", "vm-004", "vm-0042"];
    const first = new Map(typed.map((text) => [text, cache.filter(rows, f(text))]));
    for (const text of typed) expect(first.get(text)).toEqual(filterRows(rows, f(text)));
    // Deleting back and typing it again: lookups, the very arrays of the first time.
    for (const text of [...typed].reverse().concat(typed)) {
      expect(cache.filter(rows, f(text))).toBe(first.get(text));
    }
    // Another ending after deleting back: narrowed from its prefix, still right.
    expect(cache.filter(rows, f("vm-004"))).toBe(first.get("vm-004"));
    expect(cache.filter(rows, f("vm-0045"))).toEqual(filterRows(rows, f("vm-0045")));
    expect(cache.filter(rows, f("vm-004"))).toBe(first.get("vm-004"));
    // Case does not matter; a pasted text, words in any order, and deleting it back.
    expect(cache.filter(rows, f("VM-004"))).toBe(first.get("vm-004"));
    expect(cache.filter(rows, f("VM-0042"))).toEqual(first.get("vm-0042"));
    for (const text of ["refused site-1 ", "refused site-1 job", "refused site-1 jo", "refused site-", "", "SITE AWS"]) {
      expect(cache.filter(rows, f(text))).toEqual(filterRows(rows, f(text)));
    }
  });

  it("leaves nothing out: everything matching gives the rows back, and a new scope starts afresh", () => {
    const cache = new JobListCache();
    // "v" matches every job (its name has "vm"): the rows themselves, not a copy.
    expect(cache.filter(rows, { ...NO_FILTERS, text: "v" })).toBe(rows);
    const failed = { ...NO_FILTERS, states: ["failed" as const], text: "vm-00" };
    expect(cache.filter(rows, failed)).toEqual(filterRows(rows, failed));
    // Other states, another list (a job changed): the earlier matches are not reused.
    const cancelled = { ...failed, states: ["cancelled" as const] };
    expect(cache.filter(rows, cancelled)).toEqual(filterRows(rows, cancelled));
    const changed = rows.map((r, i) => (i === 0 ? jobRow({ ...r.job, name: "Export other" }, byId) : r));
    expect(cache.filter(changed, { ...NO_FILTERS, text: "vm-00000" })).toEqual(filterRows(changed, { ...NO_FILTERS, text: "vm-00000" }));
    expect(cache.filter(changed, { ...NO_FILTERS, text: "other" }).map((r) => r.job.id)).toEqual([jobs[0]!.id]);
  });
});

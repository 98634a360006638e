import { describe, expect, it } from "vitest";
import { makeVm, sampleVms } from "../../test/vms";
import { NO_FACETS, applyFilters, buildSearchIndex, facetOptions, searchVms } from "./filters";
import type { FacetSelection, InventoryFilters } from "./filters";

const names = (vms: readonly { name: string }[]) => vms.map((vm) => vm.name);
const filters = (node: string, facets: Partial<FacetSelection> = {}): InventoryFilters => ({
  node,
  facets: { ...NO_FACETS, ...facets },
});

describe("applyFilters", () => {
  it.each([
    { name: "nothing chosen keeps every VM", f: filters(""), expected: ["web01", "web02", "db01", "build01", "loose01", "web10"] },
    { name: "a datacenter", f: filters("/DC1"), expected: ["web10"] },
    { name: "a folder includes its subfolders", f: filters("/DC0/vm/prod"), expected: ["web01", "web02", "db01"] },
    { name: "a cluster", f: filters("", { cluster: "C2" }), expected: ["db01", "build01"] },
    { name: "a host", f: filters("", { host: "esx1" }), expected: ["web01", "loose01"] },
    { name: "a resource pool", f: filters("", { resource_pool: "Gold" }), expected: ["web01", "web02", "loose01", "web10"] },
    { name: "folder and facets together", f: filters("/DC0/vm/prod", { cluster: "C1", resource_pool: "Gold" }), expected: ["web01", "web02"] },
    { name: "nothing matches", f: filters("/DC1", { cluster: "C1" }), expected: [] },
  ])("$name", ({ f, expected }) => {
    expect(names(applyFilters(sampleVms, f))).toEqual(expected);
  });

  it("returns the same array when nothing narrows (no copy for 10,000 VMs)", () => {
    expect(applyFilters(sampleVms, filters(""))).toBe(sampleVms);
  });
});

describe("facetOptions", () => {
  it("counts each value over the VMs under the node, sorted by name", () => {
    expect(facetOptions(sampleVms, filters(""), "cluster")).toEqual([
      { value: "C1", count: 3 },
      { value: "C2", count: 2 },
      { value: "C9", count: 1 },
    ]);
    expect(facetOptions(sampleVms, filters("/DC0/vm/prod"), "host")).toEqual([
      { value: "esx1", count: 1 },
      { value: "esx2", count: 1 },
      { value: "esx3", count: 1 },
    ]);
  });

  it("narrows one facet by the others but not by itself", () => {
    const f = filters("", { cluster: "C2" });
    expect(facetOptions(sampleVms, f, "host")).toEqual([{ value: "esx3", count: 2 }]);
    // The chosen cluster's own options still offer the other clusters to switch to.
    expect(facetOptions(sampleVms, f, "cluster").map((o) => o.value)).toEqual(["C1", "C2", "C9"]);
  });

  it("keeps a chosen value that no longer matches anything, with a count of 0", () => {
    expect(facetOptions(sampleVms, filters("/DC1", { cluster: "C1" }), "cluster")).toEqual([
      { value: "C1", count: 0 },
      { value: "C9", count: 1 },
    ]);
  });

  it("counts every tag a VM carries and keeps VMs that carry the chosen tag among others", () => {
    const vms = [
      makeVm("/pve/node1/a", { tags: ["db", "prod"] }),
      makeVm("/pve/node1/b", { tags: ["prod"] }),
      makeVm("/pve/node2/c", { tags: [] }),
    ];
    expect(facetOptions(vms, filters(""), "tags")).toEqual([
      { value: "db", count: 1 },
      { value: "prod", count: 2 },
    ]);
    expect(applyFilters(vms, filters("", { tags: "prod" })).map((vm) => vm.name)).toEqual(["a", "b"]);
    expect(applyFilters(vms, filters("", { tags: "db" })).map((vm) => vm.name)).toEqual(["a"]);
  });

  it("offers nothing when no VM has the facet (a provider without clusters)", () => {
    expect(facetOptions([makeVm("/DC0/vm/a"), makeVm("/DC0/vm/b", { resource_pool: "" })], filters(""), "resource_pool")).toEqual([]);
  });
});

describe("searchVms", () => {
  const index = buildSearchIndex(sampleVms);

  it.each([
    { query: "", expected: ["web01", "web02", "db01", "build01", "loose01", "web10"] },
    { query: "   ", expected: ["web01", "web02", "db01", "build01", "loose01", "web10"] },
    { query: "web0", expected: ["web01", "web02"] },
    { query: "WEB1", expected: ["web10"] },
    { query: "/dc0/vm/prod", expected: ["web01", "web02", "db01"] },
    { query: "prod db", expected: ["db01"] },
    { query: "  dev  ", expected: ["build01"] },
    { query: "nothing-like-this", expected: [] },
  ])("finds $query by name or path, ignoring case", ({ query, expected }) => {
    expect(names(searchVms(index, query))).toEqual(expected);
  });

  it("does not match across the name/path boundary", () => {
    // "web01" + "/DC0…" joined would contain "01/dc0" if the two were concatenated.
    expect(searchVms(index, "01/dc0")).toEqual([]);
  });

  it("searches 10,000 VMs from a prebuilt index", () => {
    const many = Array.from({ length: 10_000 }, (_, i) => makeVm(`/DC${i % 3}/vm/f${i % 50}/vm-${i}`, { id: `id-${i}` }));
    const big = buildSearchIndex(many);
    expect(searchVms(big, "vm-9999").map((vm) => vm.id)).toEqual(["id-9999"]);
    expect(searchVms(big, "/dc1/vm/f7/")).toHaveLength(many.filter((vm) => vm.path.startsWith("/DC1/vm/f7/")).length);
  });
});

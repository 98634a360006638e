import type { VmInfo } from "../../bindings";
import { isUnderNode } from "./tree";

/** The facets the inventory narrows by, as VmInfo keys. */
export const FACETS = ["cluster", "host", "resource_pool", "tags"] as const;
export type FacetKey = (typeof FACETS)[number];

export const FACET_LABELS: Record<FacetKey, { label: string; all: string }> = {
  cluster: { label: "Cluster", all: "All clusters" },
  host: { label: "Host", all: "All hosts" },
  resource_pool: { label: "Resource pool", all: "All resource pools" },
  tags: { label: "Tag", all: "All tags" },
};

/** The chosen value of each facet; null means "any". */
export type FacetSelection = Record<FacetKey, string | null>;

export const NO_FACETS: FacetSelection = { cluster: null, host: null, resource_pool: null, tags: null };

/**
 * The values a VM has for one facet: none, one (its cluster), or several (its tags, where a
 * VM matches a chosen tag if it carries it among others).
 */
function facetValues(vm: VmInfo, key: FacetKey): readonly string[] {
  if (key === "tags") return vm.tags ?? [];
  const value = vm[key];
  return value === null || value === "" ? [] : [value];
}

export type InventoryFilters = {
  /** Key of the selected tree node ("" for the whole connection). */
  node: string;
  facets: FacetSelection;
};

export type FacetOption = { value: string; count: number };

function matchesFacets(vm: VmInfo, facets: FacetSelection, except?: FacetKey): boolean {
  for (const key of FACETS) {
    if (key === except) continue;
    const wanted = facets[key];
    if (wanted !== null && !facetValues(vm, key).includes(wanted)) return false;
  }
  return true;
}

/** The VMs under the selected tree node that match every chosen facet. */
export function applyFilters(vms: readonly VmInfo[], filters: InventoryFilters): readonly VmInfo[] {
  const { node, facets } = filters;
  const anyFacet = FACETS.some((key) => facets[key] !== null);
  if (node === "" && !anyFacet) return vms;
  return vms.filter((vm) => isUnderNode(vm, node) && (!anyFacet || matchesFacets(vm, facets)));
}

/**
 * The values one facet can take, with how many VMs each would leave: counted over the VMs
 * under the selected node that match the *other* facets, so choosing a cluster narrows the
 * hosts offered, and the chosen value itself stays offered. Sorted by name; VMs without a
 * value for the facet (a provider without clusters) offer nothing.
 */
export function facetOptions(vms: readonly VmInfo[], filters: InventoryFilters, key: FacetKey): FacetOption[] {
  const counts = new Map<string, number>();
  for (const vm of vms) {
    const values = facetValues(vm, key);
    if (values.length === 0) continue;
    if (!isUnderNode(vm, filters.node) || !matchesFacets(vm, filters.facets, key)) continue;
    for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  }
  const selected = filters.facets[key];
  if (selected !== null && !counts.has(selected)) counts.set(selected, 0);
  return [...counts.entries()]
    .map(([value, count]) => ({ value, count }))
    .sort((a, b) => a.value.localeCompare(b.value, undefined, { numeric: true, sensitivity: "base" }));
}

/** A VM with its search text prepared once, so filtering as the user types stays cheap. */
export type SearchEntry = { vm: VmInfo; haystack: string };

/** Prepares VMs for {@link searchVms}; build it once per data set (useMemo). */
export function buildSearchIndex(vms: readonly VmInfo[]): SearchEntry[] {
  return vms.map((vm) => ({ vm, haystack: `${vm.name}\n${vm.path}\n${(vm.tags ?? []).join("\n")}`.toLowerCase() }));
}

/**
 * The VMs whose name or path contains the query, ignoring case and surrounding spaces, in
 * their original order; an empty query keeps every VM. Several words must all match
 * (`prod web` finds `/DC0/vm/prod/web01`).
 */
export function searchVms(index: readonly SearchEntry[], query: string): VmInfo[] {
  const words = query.toLowerCase().split(/\s+/).filter((w) => w !== "");
  if (words.length === 0) return index.map((entry) => entry.vm);
  const result: VmInfo[] = [];
  for (const entry of index) {
    if (words.every((word) => entry.haystack.includes(word))) result.push(entry.vm);
  }
  return result;
}

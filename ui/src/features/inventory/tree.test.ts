import { describe, expect, it } from "vitest";
import { makeVm, sampleVms } from "../../test/vms";
import { buildInventoryTree, isUnderNode } from "./tree";
import type { InventoryTreeNode } from "./tree";

/** The tree as nested `label (count)` strings, which reads well in a table of cases. */
function outline(node: InventoryTreeNode): unknown {
  const head = `${node.label} (${node.vmCount})`;
  return node.children.length === 0 ? head : { [head]: node.children.map(outline) };
}

describe("buildInventoryTree", () => {
  const cases: { name: string; paths: string[]; expected: unknown }[] = [
    { name: "no VMs: only the connection", paths: [], expected: "Lab (0)" },
    {
      name: "datacenter with the hidden vm folder skipped",
      paths: ["/DC0/vm/web01", "/DC0/vm/web02"],
      expected: { "Lab (2)": ["DC0 (2)"] },
    },
    {
      name: "nested folders count every VM beneath them",
      paths: ["/DC0/vm/prod/web01", "/DC0/vm/prod/db/db01", "/DC0/vm/dev/b1", "/DC0/vm/loose"],
      expected: { "Lab (4)": [{ "DC0 (4)": ["dev (1)", { "prod (2)": ["db (1)"] }] }] },
    },
    {
      name: "several datacenters, sorted naturally",
      paths: ["/DC10/vm/a", "/DC2/vm/b", "/DC2/vm/c"],
      expected: { "Lab (3)": ["DC2 (2)", "DC10 (1)"] },
    },
    {
      name: "a path with only the VM name has no datacenter",
      paths: ["/orphan", "/DC0/vm/x"],
      expected: { "Lab (2)": ["DC0 (1)"] },
    },
    {
      name: "a folder named vm deeper down is a real folder",
      paths: ["/DC0/vm/apps/vm/x"],
      expected: { "Lab (1)": [{ "DC0 (1)": [{ "apps (1)": ["vm (1)"] }] }] },
    },
    {
      name: "paths without a leading slash or with doubled slashes",
      paths: ["DC0/vm/prod//web01"],
      expected: { "Lab (1)": [{ "DC0 (1)": ["prod (1)"] }] },
    },
    {
      name: "one folder written several ways, and a trailing slash",
      paths: ["/DC0/vm/prod/a", "DC0/vm/prod/b", "/DC0/vm//prod/c", "/DC0/vm/prod/", "orphan", "/DC0/vm/prod/d/"],
      expected: { "Lab (6)": [{ "DC0 (5)": ["prod (4)"] }] },
    },
  ];

  it.each(cases)("$name", ({ paths, expected }) => {
    expect(outline(buildInventoryTree("Lab", paths.map((p) => makeVm(p))))).toEqual(expected);
  });

  it("gives nodes path keys, kinds and ordered children", () => {
    const root = buildInventoryTree("Lab vCenter", sampleVms);
    expect(root).toMatchObject({ key: "", kind: "connection", label: "Lab vCenter", vmCount: 6 });
    expect(root.children.map((c) => [c.key, c.kind])).toEqual([
      ["/DC0", "datacenter"],
      ["/DC1", "datacenter"],
    ]);
    const dc0 = root.children[0];
    expect(dc0?.children.map((c) => [c.key, c.kind, c.vmCount])).toEqual([
      ["/DC0/vm/dev", "folder", 1],
      ["/DC0/vm/prod", "folder", 3],
    ]);
  });
});

describe("isUnderNode", () => {
  const vm = makeVm("/DC0/vm/prod/web01");
  it.each([
    ["", true],
    ["/DC0", true],
    ["/DC0/vm/prod", true],
    ["/DC0/vm/pro", false],
    ["/DC0/vm/prod/web01", false],
    ["/DC1", false],
  ])("node %j contains /DC0/vm/prod/web01: %s", (key, expected) => {
    expect(isUnderNode(vm, key)).toBe(expected);
  });
});

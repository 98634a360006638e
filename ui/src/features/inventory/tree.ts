import type { VmInfo } from "../../bindings";

export type TreeNodeKind = "connection" | "datacenter" | "folder";

/** One node of the inventory tree: the connection, a datacenter or a VM folder. */
export type InventoryTreeNode = {
  /**
   * The inventory path prefix the node stands for (`/DC0/vm/prod`); "" for the connection.
   * A VM is under a node when its path starts with `key + "/"`.
   */
  key: string;
  label: string;
  kind: TreeNodeKind;
  /** VMs anywhere beneath the node. */
  vmCount: number;
  children: InventoryTreeNode[];
};

/**
 * vSphere keeps each datacenter's VMs in a hidden root folder named `vm`, which the vSphere
 * Client never shows; the tree skips it too (its VMs appear directly under the datacenter).
 */
const HIDDEN_VM_FOLDER = "vm";

function splitPath(path: string): string[] {
  return path.split("/").filter((segment) => segment !== "");
}

type MutableNode = InventoryTreeNode & { index: Map<string, MutableNode> };

function child(parent: MutableNode, key: string, label: string, kind: TreeNodeKind): MutableNode {
  let node = parent.index.get(key);
  if (!node) {
    node = { key, label, kind, vmCount: 0, children: [], index: new Map() };
    parent.index.set(key, node);
    parent.children.push(node);
  }
  return node;
}

function finish(node: MutableNode): InventoryTreeNode {
  const children = (node.children as MutableNode[])
    .map(finish)
    .sort((a, b) => a.label.localeCompare(b.label, undefined, { numeric: true, sensitivity: "base" }));
  return { key: node.key, label: node.label, kind: node.kind, vmCount: node.vmCount, children };
}

/** The folder nodes a VM at `path` is counted in, created as needed (none for a bare name). */
function folderChain(root: MutableNode, path: string): MutableNode[] {
  const segments = splitPath(path);
  const chain: MutableNode[] = [];
  let node = root;
  let key = "";
  // The last segment is the VM itself.
  segments.slice(0, -1).forEach((segment, depth) => {
    key = `${key}/${segment}`;
    // Counted under the datacenter, without a node of its own.
    if (depth === 1 && segment === HIDDEN_VM_FOLDER) return;
    node = child(node, key, segment, depth === 0 ? "datacenter" : "folder");
    chain.push(node);
  });
  return chain;
}

/**
 * Builds connection → datacenters → VM folders from the VMs' inventory paths
 * (`/DC0/vm/prod/web01`: datacenter `DC0`, folder `prod`, VM `web01`). The last segment of a
 * path is the VM itself and never becomes a node. Children are sorted by name (numbers
 * naturally); every node counts the VMs beneath it.
 */
export function buildInventoryTree(connectionName: string, vms: readonly VmInfo[]): InventoryTreeNode {
  const root: MutableNode = { key: "", label: connectionName, kind: "connection", vmCount: 0, children: [], index: new Map() };
  // The VMs of one folder share its chain of nodes, worked out once per folder rather than
  // once per VM (10,000 VMs live in a few hundred folders).
  const chains = new Map<string, MutableNode[]>();
  for (const vm of vms) {
    root.vmCount += 1;
    const cut = vm.path.lastIndexOf("/");
    // A trailing slash makes the last folder the VM (empty segments are dropped): no sharing.
    const folder = cut === vm.path.length - 1 ? null : vm.path.slice(0, Math.max(cut, 0));
    let chain = folder === null ? undefined : chains.get(folder);
    if (chain === undefined) {
      chain = folderChain(root, vm.path);
      if (folder !== null) chains.set(folder, chain);
    }
    for (const node of chain) node.vmCount += 1;
  }
  return finish(root);
}

/** Whether a VM is beneath the tree node with this key ("" is the whole connection). */
export function isUnderNode(vm: VmInfo, key: string): boolean {
  if (key === "") return true;
  return vm.path.startsWith(`${key}/`);
}

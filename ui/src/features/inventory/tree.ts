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

/**
 * Builds connection → datacenters → VM folders from the VMs' inventory paths
 * (`/DC0/vm/prod/web01`: datacenter `DC0`, folder `prod`, VM `web01`). The last segment of a
 * path is the VM itself and never becomes a node. Children are sorted by name (numbers
 * naturally); every node counts the VMs beneath it.
 */
export function buildInventoryTree(connectionName: string, vms: readonly VmInfo[]): InventoryTreeNode {
  const root: MutableNode = { key: "", label: connectionName, kind: "connection", vmCount: 0, children: [], index: new Map() };
  for (const vm of vms) {
    const segments = splitPath(vm.path);
    root.vmCount += 1;
    // A path with only the VM's name has no datacenter or folder to show.
    if (segments.length < 2) continue;
    const folders = segments.slice(0, -1);
    let node = root;
    let key = "";
    folders.forEach((segment, depth) => {
      key = `${key}/${segment}`;
      if (depth === 1 && segment === HIDDEN_VM_FOLDER) {
        // Counted under the datacenter, without a node of its own.
        return;
      }
      node = child(node, key, segment, depth === 0 ? "datacenter" : "folder");
      node.vmCount += 1;
    });
  }
  return finish(root);
}

/** Whether a VM is beneath the tree node with this key ("" is the whole connection). */
export function isUnderNode(vm: VmInfo, key: string): boolean {
  if (key === "") return true;
  return vm.path.startsWith(`${key}/`);
}

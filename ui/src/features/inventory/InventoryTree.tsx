import { Badge, NavLink, ScrollArea } from "@mantine/core";
import { IconBuilding, IconFolder, IconFolderOpen, IconServer2 } from "@tabler/icons-react";
import { memo, useRef, useState } from "react";
import type { InventoryTreeNode } from "./tree";
import { counted } from "../../lib/plural";

type InventoryTreeProps = {
  root: InventoryTreeNode;
  selectedKey: string;
  onSelect: (key: string) => void;
};

const NOT_BUILT: never[] = [];

function initiallyExpanded(root: InventoryTreeNode): Set<string> {
  // The connection and its datacenters start open; folders start closed.
  return new Set([root.key, ...root.children.map((dc) => dc.key)]);
}

/** Connection → datacenters → VM folders; choosing a node shows only the VMs beneath it. */
export const InventoryTree = memo(function InventoryTree({ root, selectedKey, onSelect }: InventoryTreeProps) {
  const [expanded, setExpanded] = useState(() => initiallyExpanded(root));
  // The nodes whose children are in the DOM: those opened at least once, so closing still
  // animates. A closed folder's subtree is not built until it is first opened: a vCenter's
  // folders are most of the page's elements, and most stay closed.
  const [built, setBuilt] = useState(() => initiallyExpanded(root));
  // Whether the node clicked was already the selected one: a first click on an open folder
  // selects it without closing it; a second click closes it.
  const clickedSelected = useRef(false);

  const setOpen = (key: string, open: boolean) => {
    setExpanded((current) => {
      const next = new Set(current);
      if (open) next.add(key);
      else next.delete(key);
      return next;
    });
    if (open) setBuilt((current) => (current.has(key) ? current : new Set(current).add(key)));
  };

  const renderNode = (node: InventoryTreeNode) => {
    const open = expanded.has(node.key);
    const Icon = node.kind === "connection" ? IconServer2 : node.kind === "datacenter" ? IconBuilding : open ? IconFolderOpen : IconFolder;
    const hasChildren = node.children.length > 0;
    return (
      <NavLink
        key={node.key || "(root)"}
        component="button"
        type="button"
        label={node.label}
        leftSection={<Icon size={16} stroke={1.6} aria-hidden />}
        rightSection={
          <Badge size="xs" variant="light" color="gray" aria-label={counted(node.vmCount, "VM")}>
            {node.vmCount}
          </Badge>
        }
        disableRightSectionRotation
        active={selectedKey === node.key}
        aria-current={selectedKey === node.key ? "true" : undefined}
        aria-expanded={hasChildren ? open : undefined}
        opened={open}
        onClick={() => {
          clickedSelected.current = selectedKey === node.key;
          onSelect(node.key);
        }}
        onChange={(next) => {
          if (!next && !clickedSelected.current) return;
          setOpen(node.key, next);
        }}
        childrenOffset={14}
        py={4}
        data-testid="inventory-tree-node"
        data-node-key={node.key}
        data-node-kind={node.kind}
        style={{ borderRadius: "var(--mantine-radius-sm)" }}
      >
        {/* An empty list still makes a NavLink with children: a click opens it, and builds them. */}
        {hasChildren ? (built.has(node.key) ? node.children.map(renderNode) : NOT_BUILT) : undefined}
      </NavLink>
    );
  };

  return (
    <ScrollArea.Autosize mah="40vh" type="auto" offsetScrollbars data-testid="inventory-tree" aria-label="Inventory tree">
      {renderNode(root)}
    </ScrollArea.Autosize>
  );
});

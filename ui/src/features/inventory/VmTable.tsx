import { Box, Checkbox, Text, UnstyledButton } from "@mantine/core";
import { useDraggable } from "@dnd-kit/core";
import { IconArrowDown, IconArrowUp } from "@tabler/icons-react";
import { FlexRender, createColumnHelper, createSortedRowModel, rowSortingFeature, tableFeatures, useTable } from "@tanstack/react-table";
import type { Row, SortingState } from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import type { CSSProperties, KeyboardEvent, MouseEvent, ReactNode } from "react";
import type { PowerState, VmInfo } from "../../bindings";
import { formatBytes } from "../jobs/format";
import { clickRow, modifiersOf, shownSelection, toggleAll, toggleRow } from "./selection";
import classes from "./VmTable.module.css";
import type { SelectionState } from "./selection";

const features = tableFeatures({ rowSortingFeature, sortedRowModel: createSortedRowModel() });
const helper = createColumnHelper<typeof features, VmInfo>();

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
/** Natural, case-insensitive order (`web2` before `web10`); cheap enough for 10,000 rows. */
const byText = (a: Row<typeof features, VmInfo>, b: Row<typeof features, VmInfo>, columnId: string) =>
  collator.compare(String(a.getValue(columnId) ?? ""), String(b.getValue(columnId) ?? ""));
// An unknown size (null, or absent from an older core) sorts as 0, never as NaN.
const byNumber = (a: Row<typeof features, VmInfo>, b: Row<typeof features, VmInfo>, columnId: string) =>
  (Number(a.getValue(columnId)) || 0) - (Number(b.getValue(columnId)) || 0);

const POWER: Record<PowerState, { label: string; color: "teal" | "gray" | "yellow" }> = {
  powered_on: { label: "On", color: "teal" },
  powered_off: { label: "Off", color: "gray" },
  suspended: { label: "Suspended", color: "yellow" },
  unknown: { label: "Unknown", color: "gray" },
};

/** `guestToolsRunning` → `Running`, `toolsOk` → `OK`, `guestToolsNotInstalled` → `Not installed`. */
export function toolsLabel(status: string | null): string {
  if (!status) return "—";
  const rest = status.replace(/^(guestTools|tools)/, "");
  if (rest === "") return status;
  if (/^ok$/i.test(rest)) return "OK";
  const words = rest.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

// Cells are plain elements styled by classes (VmTable.module.css), not Mantine components nor
// inline styles: rows mount and unmount continuously while scrolling, so each must be cheap.
const textCell = classes.text;

/** A cell whose value the platform is still reading (the row's `details_pending`). */
const pending = (
  <span className={textCell} title="Still being read from the platform" data-testid="vm-detail-pending">
    …
  </span>
);
const numberCell = `${classes.text} ${classes.number}`;
const nameCell = `${classes.text} ${classes.name}`;
const badgeClasses: Record<(typeof POWER)[PowerState]["color"], string> = {
  teal: `${classes.badge} ${classes.teal}`,
  gray: `${classes.badge} ${classes.gray}`,
  yellow: `${classes.badge} ${classes.yellow}`,
};
const templateBadge = `${classes.badge} ${classes.template}`;

const columns = helper.columns([
  helper.accessor("name", {
    header: "Name",
    sortFn: byText,
    cell: (info) => (
      <span className={classes.nameWithBadge}>
        <span className={nameCell} title={info.getValue()}>
          {info.getValue()}
        </span>
        {info.row.original.template && <span className={templateBadge}>Template</span>}
        {info.row.original.not_exportable && (
          <span className={templateBadge} title={info.row.original.not_exportable}>
            Not exportable
          </span>
        )}
      </span>
    ),
  }),
  helper.accessor("path", {
    header: "Path",
    sortFn: byText,
    cell: (info) => (
      <span className={classes.path} title={info.getValue()}>
        {info.getValue()}
      </span>
    ),
  }),
  helper.accessor("power_state", {
    header: "Power",
    sortFn: byText,
    cell: (info) => {
      const p = POWER[info.getValue()];
      return <span className={badgeClasses[p.color]}>{p.label}</span>;
    },
  }),
  helper.accessor("guest_os", {
    header: "Guest OS",
    sortFn: byText,
    cell: (info) =>
      info.row.original.details_pending ? (
        pending
      ) : (
        <span className={textCell} title={info.getValue()}>
          {info.getValue() || "—"}
        </span>
      ),
  }),
  helper.accessor("cpus", { header: "CPUs", sortFn: byNumber, cell: (info) => <span className={numberCell}>{info.getValue()}</span> }),
  helper.accessor("memory_mib", {
    header: "Memory",
    sortFn: byNumber,
    cell: (info) => <span className={numberCell}>{formatBytes(info.getValue() * 1024 * 1024)}</span>,
  }),
  helper.accessor("disks", { header: "Disks", sortFn: byNumber, cell: (info) => (info.row.original.details_pending ? pending : <span className={numberCell}>{info.getValue()}</span>) }),
  helper.accessor("disk_capacity_bytes", {
    header: "Size",
    sortFn: byNumber,
    cell: (info) =>
      info.row.original.details_pending ? (
        pending
      ) : (
        <span className={numberCell} title="The disks' provisioned size">
          {info.getValue() != null ? formatBytes(info.getValue() ?? 0) : "—"}
        </span>
      ),
  }),
  helper.accessor("disk_used_bytes", {
    header: "Used",
    sortFn: byNumber,
    cell: (info) => (
      <span className={numberCell} title="What the disks take on the platform's storage now">
        {info.getValue() != null ? formatBytes(info.getValue() ?? 0) : "—"}
      </span>
    ),
  }),
  helper.accessor((vm) => (vm.storage ?? []).join(", "), {
    id: "storage",
    header: "Storage",
    sortFn: byText,
    cell: (info) =>
      info.row.original.details_pending ? (
        pending
      ) : (
        <span className={textCell} title={info.getValue() || undefined}>
          {info.getValue() || "—"}
        </span>
      ),
  }),
  helper.accessor("nics", { header: "NICs", sortFn: byNumber, cell: (info) => (info.row.original.details_pending ? pending : <span className={numberCell}>{info.getValue()}</span>) }),
  helper.accessor("tools_status", {
    header: "Tools",
    sortFn: byText,
    cell: (info) => (
      <span className={textCell} title={info.getValue() ?? undefined}>
        {toolsLabel(info.getValue())}
      </span>
    ),
  }),
]);

/**
 * Checkbox column first, then one track per data column, in `columns` order. The name wins space
 * from the path: it is what people read; the path (its folder) is there to tell twins apart, and
 * both show in full on hover.
 */
const GRID_TEMPLATE = [
  "32px",
  "minmax(150px, 2.2fr)",
  "minmax(100px, 1.3fr)",
  "84px",
  "minmax(96px, 1.2fr)",
  "48px",
  "72px",
  "48px",
  "72px",
  "72px",
  "minmax(80px, 1fr)",
  "48px",
  "minmax(72px, 0.8fr)",
].join(" ");
const NUMERIC_COLUMNS = new Set(["cpus", "memory_mib", "disks", "disk_capacity_bytes", "disk_used_bytes", "nics"]);
export const ROW_HEIGHT = 40;
/** Fits beside the tree in the default 1280 × 800 window; narrower windows scroll sideways. */
const MIN_WIDTH = 782;

const gridRow: CSSProperties = {
  display: "grid",
  gridTemplateColumns: GRID_TEMPLATE,
  alignItems: "center",
  columnGap: 6,
  paddingInline: 8,
};
/** The rows' classes read their columns and height from here (VmTable.module.css). */
const gridStyle = {
  minWidth: MIN_WIDTH,
  "--vm-table-columns": GRID_TEMPLATE,
  "--vm-table-row-height": `${ROW_HEIGHT}px`,
} as CSSProperties;

type VmTableProps = {
  /** Every VM of the connection; sorted here, once per listing and order. */
  vms: readonly VmInfo[];
  /**
   * The ids to show (null: all): those under the chosen tree node and facets that the search
   * matches. Applied after sorting, so neither a keystroke in the search box nor a folder or
   * a facet re-sorts 10,000 rows; they only drop some from the sorted list.
   */
  visibleIds: ReadonlySet<string> | null;
  selection: SelectionState;
  onSelectionChange: (next: SelectionState) => void;
  /** Height of the scrolling area. */
  height: number | string;
  /** Shown instead of rows when there are none. */
  empty?: ReactNode;
};

type VmTableRow = Row<typeof features, VmInfo>;

/**
 * The VM list: sortable by every column, virtualised (only the rows in view are in the DOM,
 * so 10,000 VMs scroll smoothly), with file-manager multi-selection and keyboard navigation
 * (arrows, Page Up/Down, Home/End, Space to toggle, Shift+arrows to extend, Ctrl/Cmd+A for all).
 */
export const VmTable = memo(function VmTable({ vms, visibleIds, selection, onSelectionChange, height, empty }: VmTableProps) {
  const [sorting, setSorting] = useState<SortingState>([{ id: "name", desc: false }]);
  // useTable takes a mutable array type; the list is a memoised one and never mutated.
  const data = vms as VmInfo[];
  const table = useTable(
    {
      features,
      columns,
      data,
      getRowId: (vm) => vm.id,
      state: { sorting },
      onSortingChange: setSorting,
      enableSortingRemoval: false,
    },
    (state) => ({ sorting: state.sorting }),
  );

  const sortedRows = table.getRowModel().rows;
  const rows = useMemo(
    () => (visibleIds === null ? sortedRows : sortedRows.filter((row) => visibleIds.has(row.id))),
    [sortedRows, visibleIds],
  );
  const orderedIds = useMemo(() => rows.map((row) => row.id), [rows]);

  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_HEIGHT,
    // Keyed by index (the default), as the rows below: every row is ROW_HEIGHT tall, and a key
    // function that changes with every list would rebuild the measurements on every render.
    overscan: 10,
  });

  // Keyboard focus: one row is in the tab order at a time (roving tabindex).
  const [focusIndex, setFocusIndex] = useState(0);
  const focusTarget = useRef<number | null>(null);
  const clampedFocus = Math.min(focusIndex, Math.max(rows.length - 1, 0));

  useEffect(() => {
    const index = focusTarget.current;
    if (index === null) return;
    const focusRow = () => {
      const el = scrollRef.current?.querySelector<HTMLElement>(`[data-row-index="${index}"]`);
      if (!el) return false;
      el.focus({ preventScroll: true });
      focusTarget.current = null;
      return true;
    };
    if (!focusRow()) {
      // The row is rendered once the virtualiser has scrolled to it.
      const frame = requestAnimationFrame(() => void focusRow());
      return () => cancelAnimationFrame(frame);
    }
  });

  // Rows get stable handlers that read the latest selection, so selecting one row re-renders
  // only the rows whose state changed, not every row in view.
  const latest = useRef({ selection, orderedIds, onSelectionChange });
  useLayoutEffect(() => {
    latest.current = { selection, orderedIds, onSelectionChange };
  });
  const onRowClick = useCallback((id: string, index: number, event: MouseEvent) => {
    const { selection: current, orderedIds: ids, onSelectionChange: change } = latest.current;
    setFocusIndex(index);
    change(clickRow(current, id, ids, modifiersOf(event)));
  }, []);
  const onCheckbox = useCallback((id: string, index: number, shift: boolean) => {
    const { selection: current, orderedIds: ids, onSelectionChange: change } = latest.current;
    setFocusIndex(index);
    change(toggleRow(current, id, ids, shift));
  }, []);

  const moveFocus = (index: number) => {
    const next = Math.max(0, Math.min(index, rows.length - 1));
    setFocusIndex(next);
    focusTarget.current = next;
    virtualizer.scrollToIndex(next, { align: "auto" });
    return next;
  };

  const onKeyDown = (event: KeyboardEvent<HTMLDivElement>) => {
    if (rows.length === 0) return;
    const page = Math.max(1, Math.floor((scrollRef.current?.clientHeight ?? ROW_HEIGHT * 10) / ROW_HEIGHT) - 1);
    const targets: Record<string, number> = {
      ArrowDown: clampedFocus + 1,
      ArrowUp: clampedFocus - 1,
      PageDown: clampedFocus + page,
      PageUp: clampedFocus - page,
      Home: 0,
      End: rows.length - 1,
    };
    const target = targets[event.key];
    if (target !== undefined) {
      event.preventDefault();
      const next = moveFocus(target);
      const id = orderedIds[next];
      if (event.shiftKey && id !== undefined) {
        onSelectionChange(clickRow(selection, id, orderedIds, { range: true, additive: false }));
      }
      return;
    }
    const focusedId = orderedIds[clampedFocus];
    if (event.key === " " && focusedId !== undefined && !(event.target instanceof HTMLInputElement)) {
      event.preventDefault();
      onSelectionChange(clickRow(selection, focusedId, orderedIds, { range: event.shiftKey, additive: true }));
    } else if (event.key.toLowerCase() === "a" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      onSelectionChange({ selected: new Set([...selection.selected, ...orderedIds]), anchor: selection.anchor });
    }
  };

  const headerState = shownSelection(selection, orderedIds);
  const items = virtualizer.getVirtualItems();

  return (
    <Box
      ref={scrollRef}
      h={height}
      style={{
        overflow: "auto",
        border: "1px solid var(--mantine-color-default-border)",
        borderRadius: "var(--mantine-radius-sm)",
        contain: "strict",
      }}
      onKeyDown={onKeyDown}
      data-testid="vm-table"
    >
      <div role="grid" aria-label="Virtual machines" aria-rowcount={rows.length + 1} aria-multiselectable style={gridStyle}>
        <div
          role="row"
          aria-rowindex={1}
          style={{
            ...gridRow,
            position: "sticky",
            top: 0,
            zIndex: 2,
            height: ROW_HEIGHT,
            background: "var(--mantine-color-body)",
            borderBottom: "1px solid var(--mantine-color-default-border)",
          }}
        >
          <div role="columnheader">
            <Checkbox
              size="xs"
              aria-label={headerState === "all" ? "Unselect all shown VMs" : "Select all shown VMs"}
              checked={headerState === "all"}
              indeterminate={headerState === "some"}
              disabled={rows.length === 0}
              onChange={() => onSelectionChange(toggleAll(selection, orderedIds))}
              data-testid="vm-select-all"
            />
          </div>
          {table.getHeaderGroups()[0]?.headers.map((header) => {
            const sorted = header.column.getIsSorted();
            const SortIcon = sorted === "desc" ? IconArrowDown : IconArrowUp;
            return (
              <div
                key={header.id}
                role="columnheader"
                aria-sort={sorted === "asc" ? "ascending" : sorted === "desc" ? "descending" : "none"}
              >
                <UnstyledButton
                  onClick={header.column.getToggleSortingHandler()}
                  data-testid={`vm-sort-${header.column.id}`}
                  style={{
                    display: "flex",
                    alignItems: "center",
                    gap: 4,
                    width: "100%",
                    justifyContent: NUMERIC_COLUMNS.has(header.column.id) ? "flex-end" : "flex-start",
                  }}
                >
                  <Text size="xs" fw={700} span style={{ whiteSpace: "nowrap" }}>
                    <FlexRender header={header} />
                  </Text>
                  {/* Only the sorted column shows its arrow, so narrow columns keep their titles. */}
                  {sorted && <SortIcon size={12} aria-hidden style={{ flexShrink: 0 }} />}
                </UnstyledButton>
              </div>
            );
          })}
        </div>
        {rows.length === 0 ? (
          empty
        ) : (
          <div role="rowgroup" style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
            {items.map((item) => {
              const row = rows[item.index];
              if (!row) return null;
              return (
                // Keyed by position, not by VM: when the search or a sort changes which VM a
                // position shows, its row is updated in place instead of unmounted and built again.
                <VmRow
                  key={item.key}
                  row={row}
                  index={item.index}
                  start={item.start}
                  selected={selection.selected.has(row.id)}
                  focusable={item.index === clampedFocus}
                  onRowClick={onRowClick}
                  onCheckbox={onCheckbox}
                />
              );
            })}
          </div>
        )}
      </div>
    </Box>
  );
});

type VmRowProps = {
  row: VmTableRow;
  index: number;
  start: number;
  selected: boolean;
  focusable: boolean;
  onRowClick: (id: string, index: number, event: MouseEvent) => void;
  onCheckbox: (id: string, index: number, shift: boolean) => void;
};

/** One row, and a drag handle for the selection (a drag starts once the pointer moves 6 px). */
const VmRow = memo(function VmRow({ row, index, start, selected, focusable, onRowClick, onCheckbox }: VmRowProps) {
  const vm = row.original;
  const { setNodeRef, listeners, isDragging } = useDraggable({ id: `vm:${vm.id}`, data: { vmId: vm.id } });
  return (
    <div
      ref={setNodeRef}
      role="row"
      aria-rowindex={index + 2}
      aria-selected={selected}
      tabIndex={focusable ? 0 : -1}
      data-row-index={index}
      data-testid={`vm-row-${vm.id}`}
      data-vm-name={vm.name}
      {...listeners}
      onClick={(e) => onRowClick(vm.id, index, e)}
      data-dragging={isDragging || undefined}
      className={classes.row}
      style={{ transform: `translateY(${start}px)` }}
    >
      <div role="gridcell" onClick={(e) => e.stopPropagation()} className={classes.checkboxCell}>
        <input
          type="checkbox"
          tabIndex={-1}
          aria-label={`Select ${vm.name}`}
          checked={selected}
          onChange={(e) => {
            const native = e.nativeEvent as Event & { shiftKey?: boolean };
            onCheckbox(vm.id, index, native.shiftKey === true);
          }}
          className={classes.checkbox}
          data-testid={`vm-select-${vm.id}`}
        />
      </div>
      {row.getAllCells().map((cell) => (
        // Keyed by column: a cell id names the VM too, and the row is reused for other VMs.
        <div key={cell.column.id} role="gridcell" className={classes.cell}>
          <FlexRender cell={cell} />
        </div>
      ))}
    </div>
  );
});

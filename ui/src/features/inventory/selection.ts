/**
 * Multi-selection of table rows, as file managers do it:
 * - a plain click selects only that row;
 * - ctrl/cmd-click (or a row's checkbox) toggles one row and keeps the others;
 * - shift-click selects the range from the anchor (the last row clicked without shift) to
 *   the clicked row, in the order the rows are shown; with ctrl/cmd (or on a checkbox) the
 *   range is added to the selection instead of replacing it.
 */
export type SelectionState = {
  selected: ReadonlySet<string>;
  /** Where the next shift-click range starts. */
  anchor: string | null;
};

export const EMPTY_SELECTION: SelectionState = { selected: new Set(), anchor: null };

export type SelectionModifiers = {
  /** Shift held: extend from the anchor. */
  range: boolean;
  /** Ctrl (or Cmd on macOS) held, or a checkbox: toggle / add instead of replace. */
  additive: boolean;
};

/** Reads the modifiers of a mouse or keyboard event; Cmd counts as Ctrl on macOS. */
export function modifiersOf(event: { shiftKey: boolean; ctrlKey: boolean; metaKey: boolean }): SelectionModifiers {
  return { range: event.shiftKey, additive: event.ctrlKey || event.metaKey };
}

function rangeBetween(orderedIds: readonly string[], from: string, to: string): string[] | null {
  const a = orderedIds.indexOf(from);
  const b = orderedIds.indexOf(to);
  if (a === -1 || b === -1) return null;
  return orderedIds.slice(Math.min(a, b), Math.max(a, b) + 1);
}

/** The selection after clicking the row `id`, with the rows in the order they are shown. */
export function clickRow(
  state: SelectionState,
  id: string,
  orderedIds: readonly string[],
  { range, additive }: SelectionModifiers,
): SelectionState {
  if (range && state.anchor !== null) {
    const ids = rangeBetween(orderedIds, state.anchor, id);
    if (ids) {
      const selected = new Set(additive ? state.selected : []);
      for (const rowId of ids) selected.add(rowId);
      // The anchor stays, so a second shift-click re-draws the range from the same row.
      return { selected, anchor: state.anchor };
    }
  }
  if (additive) {
    const selected = new Set(state.selected);
    if (selected.has(id)) selected.delete(id);
    else selected.add(id);
    return { selected, anchor: id };
  }
  return { selected: new Set([id]), anchor: id };
}

/** A row's checkbox: toggles the row; with shift, adds the range from the anchor. */
export function toggleRow(
  state: SelectionState,
  id: string,
  orderedIds: readonly string[],
  shift: boolean,
): SelectionState {
  return clickRow(state, id, orderedIds, { range: shift, additive: true });
}

/**
 * The header checkbox: selects every shown row, or, when they are all selected already,
 * unselects them. Selected rows that are not shown (filtered out) are left as they are.
 */
export function toggleAll(state: SelectionState, shownIds: readonly string[]): SelectionState {
  const allShown = shownIds.length > 0 && shownIds.every((id) => state.selected.has(id));
  const selected = new Set(state.selected);
  if (allShown) {
    for (const id of shownIds) selected.delete(id);
  } else {
    for (const id of shownIds) selected.add(id);
  }
  return { selected, anchor: state.anchor };
}

/** "all", "some" or "none" of the shown rows are selected (for the header checkbox). */
export function shownSelection(state: SelectionState, shownIds: readonly string[]): "all" | "some" | "none" {
  let count = 0;
  for (const id of shownIds) if (state.selected.has(id)) count += 1;
  if (count === 0) return "none";
  return count === shownIds.length ? "all" : "some";
}

/** Drops ids that no longer exist (after a refresh removed VMs). */
export function keepExisting(state: SelectionState, existing: ReadonlySet<string>): SelectionState {
  let changed = false;
  const selected = new Set<string>();
  for (const id of state.selected) {
    if (existing.has(id)) selected.add(id);
    else changed = true;
  }
  const anchor = state.anchor !== null && existing.has(state.anchor) ? state.anchor : null;
  if (!changed && anchor === state.anchor) return state;
  return { selected, anchor };
}

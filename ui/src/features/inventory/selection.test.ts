import { describe, expect, it } from "vitest";
import { EMPTY_SELECTION, clickRow, keepExisting, modifiersOf, shownSelection, toggleAll, toggleRow } from "./selection";
import type { SelectionState } from "./selection";

const ids = ["a", "b", "c", "d", "e", "f"];
const state = (selected: string[], anchor: string | null = null): SelectionState => ({ selected: new Set(selected), anchor });
const sel = (s: SelectionState) => [...s.selected].sort();

const plain = { range: false, additive: false };
const ctrl = { range: false, additive: true };
const shift = { range: true, additive: false };
const ctrlShift = { range: true, additive: true };

describe("clickRow", () => {
  it.each([
    { name: "plain click selects only the row", from: state(["a", "b"], "a"), id: "d", mods: plain, selected: ["d"], anchor: "d" },
    { name: "plain click on a selected row keeps only it", from: state(["a", "b"], "a"), id: "b", mods: plain, selected: ["b"], anchor: "b" },
    { name: "ctrl-click adds a row", from: state(["a"], "a"), id: "c", mods: ctrl, selected: ["a", "c"], anchor: "c" },
    { name: "ctrl-click removes a selected row", from: state(["a", "c"], "c"), id: "a", mods: ctrl, selected: ["c"], anchor: "a" },
    { name: "shift-click selects the range downwards", from: state(["b"], "b"), id: "e", mods: shift, selected: ["b", "c", "d", "e"], anchor: "b" },
    { name: "shift-click selects the range upwards", from: state(["e"], "e"), id: "b", mods: shift, selected: ["b", "c", "d", "e"], anchor: "e" },
    { name: "shift-click replaces what was outside the range", from: state(["a", "f", "c"], "c"), id: "d", mods: shift, selected: ["c", "d"], anchor: "c" },
    { name: "ctrl+shift-click adds the range", from: state(["a", "f", "c"], "c"), id: "d", mods: ctrlShift, selected: ["a", "c", "d", "f"], anchor: "c" },
    { name: "shift-click without an anchor acts as a plain click", from: EMPTY_SELECTION, id: "c", mods: shift, selected: ["c"], anchor: "c" },
    { name: "shift-click with an anchor no longer shown acts as a plain click", from: state(["z"], "z"), id: "c", mods: shift, selected: ["c"], anchor: "c" },
  ])("$name", ({ from, id, mods, selected, anchor }) => {
    const next = clickRow(from, id, ids, mods);
    expect(sel(next)).toEqual(selected);
    expect(next.anchor).toBe(anchor);
  });

  it("re-draws the range from the same anchor on a second shift-click", () => {
    const first = clickRow(state(["b"], "b"), "f", ids, shift);
    const second = clickRow(first, "c", ids, shift);
    expect(sel(second)).toEqual(["b", "c"]);
  });

  it("follows the order rows are shown in (sorted), not the data order", () => {
    const sorted = ["f", "e", "d", "c", "b", "a"];
    expect(sel(clickRow(state(["e"], "e"), "c", sorted, shift))).toEqual(["c", "d", "e"]);
  });

  it("never mutates the previous state", () => {
    const before = state(["a"], "a");
    clickRow(before, "c", ids, ctrl);
    expect(sel(before)).toEqual(["a"]);
  });
});

describe("toggleRow (checkbox)", () => {
  it("toggles without touching the others, and shift adds the range", () => {
    let s = toggleRow(EMPTY_SELECTION, "b", ids, false);
    s = toggleRow(s, "e", ids, false);
    expect(sel(s)).toEqual(["b", "e"]);
    s = toggleRow(s, "b", ids, false);
    expect(sel(s)).toEqual(["e"]);
    s = toggleRow(state(["a"], "b"), "d", ids, true);
    expect(sel(s)).toEqual(["a", "b", "c", "d"]);
  });
});

describe("toggleAll / shownSelection", () => {
  it("selects every shown row, then unselects them, leaving hidden selections alone", () => {
    const shown = ["b", "c"];
    const some = state(["b", "z"]);
    expect(shownSelection(some, shown)).toBe("some");
    const all = toggleAll(some, shown);
    expect(sel(all)).toEqual(["b", "c", "z"]);
    expect(shownSelection(all, shown)).toBe("all");
    const none = toggleAll(all, shown);
    expect(sel(none)).toEqual(["z"]);
    expect(shownSelection(none, shown)).toBe("none");
  });

  it("treats an empty list as nothing selected", () => {
    expect(shownSelection(state(["a"]), [])).toBe("none");
    expect(sel(toggleAll(state(["a"]), []))).toEqual(["a"]);
  });
});

describe("keepExisting / modifiersOf", () => {
  it("drops ids that disappeared and keeps the same object when nothing did", () => {
    const s = state(["a", "x"], "x");
    const kept = keepExisting(s, new Set(ids));
    expect(sel(kept)).toEqual(["a"]);
    expect(kept.anchor).toBeNull();
    const same = state(["a"], "a");
    expect(keepExisting(same, new Set(ids))).toBe(same);
  });

  it("reads Cmd as Ctrl", () => {
    expect(modifiersOf({ shiftKey: false, ctrlKey: false, metaKey: true })).toEqual({ range: false, additive: true });
    expect(modifiersOf({ shiftKey: true, ctrlKey: false, metaKey: false })).toEqual({ range: true, additive: false });
  });
});

import { Button, Group, SegmentedControl, TextInput } from "@mantine/core";
import { useState } from "react";
import type { TimeRange } from "../../bindings";
import { PRESETS, fromLocalInput, nowSeconds, toLocalInput } from "./range";
import type { RangePreset } from "./range";

type Props = {
  preset: RangePreset;
  custom: TimeRange | null;
  onPreset: (preset: RangePreset) => void;
  onCustom: (range: TimeRange) => void;
};

/** 1 h / 24 h / 7 d / 30 d, or a custom from–to in local time. */
export function RangeSelector({ preset, custom, onPreset, onCustom }: Props) {
  const initial = custom ?? { from: nowSeconds() - 86_400, to: nowSeconds() };
  const [from, setFrom] = useState(toLocalInput(initial.from));
  const [to, setTo] = useState(toLocalInput(initial.to));
  const fromT = fromLocalInput(from);
  const toT = fromLocalInput(to);
  const invalid = fromT === null || toT === null || toT <= fromT;
  return (
    <Group gap="sm" align="flex-end">
      <SegmentedControl
        value={preset}
        onChange={(v) => onPreset(v as RangePreset)}
        data={[...PRESETS.map((p) => ({ value: p.value, label: p.label })), { value: "custom", label: "Custom" }]}
        aria-label="Time range"
        data-testid="range-select"
      />
      {preset === "custom" && (
        <>
          <TextInput type="datetime-local" label="From" size="xs" value={from} onChange={(e) => setFrom(e.currentTarget.value)} data-testid="range-from" />
          <TextInput
            type="datetime-local"
            label="To"
            size="xs"
            value={to}
            onChange={(e) => setTo(e.currentTarget.value)}
            error={toT !== null && fromT !== null && toT <= fromT ? "After the start" : undefined}
            data-testid="range-to"
          />
          <Button size="xs" disabled={invalid} onClick={() => !invalid && onCustom({ from: fromT, to: toT })} data-testid="range-apply">
            Apply
          </Button>
        </>
      )}
    </Group>
  );
}

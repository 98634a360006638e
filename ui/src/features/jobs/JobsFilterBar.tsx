import { Button, Chip, Group, NativeSelect, Stack, Text, TextInput } from "@mantine/core";
import { IconSearch, IconX } from "@tabler/icons-react";
import { memo, useMemo } from "react";
import type { Dispatch, SetStateAction } from "react";
import type { Connection, JobState } from "../../bindings";
import { isFiltered } from "./jobFilters";
import type { JobFilters } from "./jobFilters";
import { counted } from "../../lib/plural";

const STATES: { value: JobState; label: string }[] = [
  { value: "queued", label: "Queued" },
  { value: "running", label: "Running" },
  { value: "succeeded", label: "Succeeded" },
  { value: "failed", label: "Failed" },
  { value: "cancelled", label: "Cancelled" },
  { value: "interrupted", label: "Interrupted" },
];

type Props = {
  filters: JobFilters;
  /** A state setter: the selects update from the latest filters. */
  onChange: Dispatch<SetStateAction<JobFilters>>;
  connections: readonly Connection[];
  /** Provider values present among the jobs (`vsphere`, `none`, …). */
  providers: readonly string[];
  shown: number;
  total: number;
  /** The count is an earlier query's, while the core answers this one. */
  busy?: boolean;
  /** The search text the count answers (null while busy): lets tests and benchmarks wait for it. */
  answers?: string | null;
};

type SelectsProps = {
  states: readonly JobState[];
  provider: string | null;
  connectionId: string | null;
  connections: readonly Connection[];
  providers: readonly string[];
  onStates: (states: JobState[]) => void;
  onProvider: (provider: string | null) => void;
  onConnection: (id: string | null) => void;
};

// Memoised apart from the search box, so a keystroke does not re-render the chips and selects.
// Native selects: a list of connections or providers needs no custom combobox, and they cost a
// fraction of one to render (bench/ui-scale).
const StateProviderConnection = memo(function StateProviderConnection(p: SelectsProps) {
  const providerData = useMemo(
    () => [{ value: "", label: "All" }, ...p.providers.map((v) => ({ value: v, label: v === "none" ? "No connection" : v }))],
    [p.providers],
  );
  const connectionData = useMemo(
    () => [{ value: "", label: "All" }, ...p.connections.map((c) => ({ value: c.id, label: c.name }))],
    [p.connections],
  );
  return (
    <>
      <Stack gap={4}>
        <Text size="sm" fw={500} id="jobs-filter-state-label">
          State
        </Text>
        <Chip.Group multiple value={[...p.states]} onChange={(v) => p.onStates(v as JobState[])}>
          <Group gap={4} role="group" aria-labelledby="jobs-filter-state-label" data-testid="jobs-filter-state">
            {STATES.map((s) => (
              <Chip key={s.value} value={s.value} size="xs" data-testid={`jobs-filter-state-${s.value}`}>
                {s.label}
              </Chip>
            ))}
          </Group>
        </Chip.Group>
      </Stack>
      <NativeSelect
        label="Provider"
        data={providerData}
        value={p.provider ?? ""}
        onChange={(e) => p.onProvider(e.currentTarget.value || null)}
        w={150}
        data-testid="jobs-filter-provider"
      />
      <NativeSelect
        label="Connection"
        data={connectionData}
        value={p.connectionId ?? ""}
        onChange={(e) => p.onConnection(e.currentTarget.value || null)}
        w={190}
        data-testid="jobs-filter-connection"
      />
    </>
  );
});

export function JobsFilterBar({ filters, onChange, connections, providers, shown, total, busy = false, answers = null }: Props) {
  return (
    <Group gap="sm" align="flex-end" wrap="wrap" data-testid="jobs-filters">
      <SearchBox text={filters.text} onChange={onChange} />
      <FilterSelects
        filters={filters}
        onChange={onChange}
        connections={connections}
        providers={providers}
      />
      {isFiltered(filters) && <ClearFilters onChange={onChange} />}
      <Text size="sm" c="dimmed" ml="auto" data-testid="jobs-count" aria-live="polite" aria-busy={busy} data-answers={answers ?? undefined}>
        {shown === total ? counted(total, "job") : `${shown.toLocaleString()} of ${counted(total, "job")}`}
      </Text>
    </Group>
  );
}

// The search box and the Clear button are memoised too: the bar renders again when the
// filtered list is in (a new count), and they have nothing new to show then.
const SearchBox = memo(function SearchBox({ text, onChange }: { text: string; onChange: Props["onChange"] }) {
  return (
    <TextInput
      label="Search"
      placeholder="Name, id, connection or error"
      leftSection={<IconSearch size={14} aria-hidden />}
      value={text}
      onChange={(e) => {
        const value = e.currentTarget.value;
        onChange((f) => ({ ...f, text: value }));
      }}
      w={240}
      data-testid="jobs-filter-text"
    />
  );
});

const ClearFilters = memo(function ClearFilters({ onChange }: { onChange: Props["onChange"] }) {
  return (
    <Button
      variant="subtle"
      leftSection={<IconX size={14} aria-hidden />}
      onClick={() => onChange({ states: [], provider: null, connectionId: null, text: "" })}
      data-testid="jobs-filter-clear"
    >
      Clear
    </Button>
  );
});

/** Binds the memoised selects to the filters with callbacks that survive keystrokes. */
function FilterSelects({
  filters,
  onChange,
  connections,
  providers,
}: Pick<Props, "filters" | "onChange" | "connections" | "providers">) {
  const handlers = useMemo(
    () => ({
      onStates: (v: JobState[]) => onChange((f) => ({ ...f, states: v })),
      onProvider: (v: string | null) => onChange((f) => ({ ...f, provider: v })),
      onConnection: (v: string | null) => onChange((f) => ({ ...f, connectionId: v })),
    }),
    [onChange],
  );
  return (
    <StateProviderConnection
      states={filters.states}
      provider={filters.provider}
      connectionId={filters.connectionId}
      connections={connections}
      providers={providers}
      {...handlers}
    />
  );
}

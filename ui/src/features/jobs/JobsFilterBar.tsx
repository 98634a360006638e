import { Button, Group, MultiSelect, Select, Text, TextInput } from "@mantine/core";
import { IconSearch, IconX } from "@tabler/icons-react";
import type { Connection, JobState } from "../../bindings";
import { isFiltered } from "./jobFilters";
import type { JobFilters } from "./jobFilters";

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
  onChange: (filters: JobFilters) => void;
  connections: readonly Connection[];
  /** Provider values present among the jobs (`vsphere`, `none`, …). */
  providers: readonly string[];
  shown: number;
  total: number;
};

export function JobsFilterBar({ filters, onChange, connections, providers, shown, total }: Props) {
  const set = (patch: Partial<JobFilters>) => onChange({ ...filters, ...patch });
  return (
    <Group gap="sm" align="flex-end" wrap="wrap" data-testid="jobs-filters">
      <TextInput
        label="Search"
        placeholder="Name, id, connection or error"
        leftSection={<IconSearch size={14} aria-hidden />}
        value={filters.text}
        onChange={(e) => set({ text: e.currentTarget.value })}
        w={240}
        data-testid="jobs-filter-text"
      />
      <MultiSelect
        label="State"
        placeholder={filters.states.length === 0 ? "All" : undefined}
        data={STATES}
        value={filters.states}
        onChange={(v) => set({ states: v as JobState[] })}
        clearable
        w={220}
        comboboxProps={{ withinPortal: false }}
        data-testid="jobs-filter-state"
      />
      <Select
        label="Provider"
        placeholder="All"
        data={providers.map((p) => ({ value: p, label: p === "none" ? "No connection" : p }))}
        value={filters.provider}
        onChange={(v) => set({ provider: v })}
        clearable
        w={150}
        comboboxProps={{ withinPortal: false }}
        data-testid="jobs-filter-provider"
      />
      <Select
        label="Connection"
        placeholder="All"
        data={connections.map((c) => ({ value: c.id, label: c.name }))}
        value={filters.connectionId}
        onChange={(v) => set({ connectionId: v })}
        clearable
        searchable
        w={190}
        comboboxProps={{ withinPortal: false }}
        data-testid="jobs-filter-connection"
      />
      {isFiltered(filters) && (
        <Button
          variant="subtle"
          leftSection={<IconX size={14} aria-hidden />}
          onClick={() => onChange({ states: [], provider: null, connectionId: null, text: "" })}
          data-testid="jobs-filter-clear"
        >
          Clear
        </Button>
      )}
      <Text size="sm" c="dimmed" ml="auto" data-testid="jobs-count" aria-live="polite">
        {shown === total ? `${total.toLocaleString()} jobs` : `${shown.toLocaleString()} of ${total.toLocaleString()} jobs`}
      </Text>
    </Group>
  );
}

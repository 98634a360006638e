import { Button, Checkbox, Group, Input, Pill, ScrollArea, Stack, Text, TextInput } from "@mantine/core";
import { IconPlus, IconSearch } from "@tabler/icons-react";
import { useMemo, useState } from "react";
import type { VmInfo } from "../../bindings";
import { useVms } from "../../api/hooks";

/** How many matches the picker lists at once; the search narrows the rest. */
export const VM_RESULTS_SHOWN = 50;

type VmPickerProps = {
  /** null: no connection chosen yet. */
  connectionId: string | null;
  /** Chosen VMs: inventory paths (or ids, as the core accepts both). */
  value: readonly string[];
  onChange: (vms: string[]) => void;
  error?: string;
};

export function filterVms(vms: readonly VmInfo[], search: string): VmInfo[] {
  const needle = search.trim().toLowerCase();
  const matches = needle === "" ? vms : vms.filter((vm) => vm.name.toLowerCase().includes(needle) || vm.path.toLowerCase().includes(needle));
  return [...matches].sort((a, b) => a.path.localeCompare(b.path));
}

/** Fixed VMs: search the connection's inventory and tick; or type a path when it cannot be listed. */
export function VmPicker({ connectionId, value, onChange, error }: VmPickerProps) {
  const vms = useVms(connectionId);
  const [search, setSearch] = useState("");
  const chosen = useMemo(() => new Set(value), [value]);
  const matches = useMemo(() => filterVms(vms.data ?? [], search), [vms.data, search]);
  const shown = matches.slice(0, VM_RESULTS_SHOWN);
  const typedPath = search.trim();
  const canAddPath =
    typedPath.startsWith("/") && !chosen.has(typedPath) && !(vms.data ?? []).some((vm) => vm.path === typedPath);

  const toggle = (path: string, on: boolean) => onChange(on ? [...value, path] : value.filter((v) => v !== path));

  let listing;
  if (connectionId === null) {
    listing = <Text size="sm" c="dimmed">Choose a connection to list its VMs.</Text>;
  } else if (vms.isPending) {
    listing = <Text size="sm" c="dimmed">Listing VMs…</Text>;
  } else if (vms.isError) {
    listing = (
      <Text size="sm" c="red" data-testid="schedule-vms-error">
        Could not list the VMs ({vms.error.message}). You can still type a VM's inventory path (/DC0/vm/web01).
      </Text>
    );
  } else if (shown.length === 0) {
    listing = <Text size="sm" c="dimmed">No VM matches “{search.trim()}”.</Text>;
  } else {
    listing = (
      <ScrollArea.Autosize mah={200} type="auto">
        <Stack gap={4} p={4}>
          {shown.map((vm) => (
            <Checkbox
              key={vm.id}
              checked={chosen.has(vm.path)}
              onChange={(e) => toggle(vm.path, e.currentTarget.checked)}
              label={
                <Text size="sm" span>
                  {vm.name}{" "}
                  <Text span size="xs" c="dimmed" ff="monospace">
                    {vm.path}
                  </Text>
                </Text>
              }
              data-testid="schedule-vm-option"
              data-vm-path={vm.path}
            />
          ))}
          {matches.length > shown.length && (
            <Text size="xs" c="dimmed">
              {matches.length - shown.length} more match; narrow the search.
            </Text>
          )}
        </Stack>
      </ScrollArea.Autosize>
    );
  }

  return (
    <Input.Wrapper
      label="VMs"
      description="These VMs, by inventory path, at every run"
      withAsterisk
      error={error}
    >
      <Stack gap="xs" mt={4}>
        {value.length > 0 && (
          <Pill.Group>
            {value.map((path) => (
              <Pill
                key={path}
                withRemoveButton
                onRemove={() => toggle(path, false)}
                removeButtonProps={{ "aria-label": `Remove ${path}` }}
                data-testid="schedule-vm-chosen"
                data-vm-path={path}
              >
                {path}
              </Pill>
            ))}
          </Pill.Group>
        )}
        <Group gap="xs" wrap="nowrap" align="flex-start">
          <TextInput
            style={{ flex: 1 }}
            placeholder="Search by name or path"
            aria-label="Search VMs"
            leftSection={<IconSearch size={14} aria-hidden />}
            value={search}
            onChange={(e) => setSearch(e.currentTarget.value)}
            onKeyDown={(e) => {
              // Enter adds a typed path, or the one VM the search leaves, instead of submitting the form.
              if (e.key === "Enter") {
                e.preventDefault();
                const only = shown.length === 1 ? shown[0]?.path : undefined;
                const path = canAddPath ? typedPath : only;
                if (path !== undefined && !chosen.has(path)) {
                  toggle(path, true);
                  setSearch("");
                }
              }
            }}
            error={Boolean(error)}
            data-testid="schedule-vms"
            autoComplete="off"
            spellCheck={false}
          />
          {canAddPath && (
            <Button
              variant="default"
              leftSection={<IconPlus size={14} aria-hidden />}
              onClick={() => {
                toggle(typedPath, true);
                setSearch("");
              }}
              data-testid="schedule-vm-add-path"
            >
              Add path
            </Button>
          )}
        </Group>
        {listing}
      </Stack>
    </Input.Wrapper>
  );
}

import { NativeSelect, Stack } from "@mantine/core";
import { memo, useMemo } from "react";
import type { VmInfo } from "../../bindings";
import { FACET_LABELS, FACETS, facetOptions } from "./filters";
import type { FacetKey, InventoryFilters } from "./filters";

type FacetFiltersProps = {
  vms: readonly VmInfo[];
  filters: InventoryFilters;
  onChange: (key: FacetKey, value: string | null) => void;
};

/** One select per facet the VMs have (cluster, host, resource pool), with counts. */
export const FacetFilters = memo(function FacetFilters({ vms, filters, onChange }: FacetFiltersProps) {
  const options = useMemo(
    () => FACETS.map((key) => ({ key, options: facetOptions(vms, filters, key) })),
    [vms, filters],
  );
  const shown = options.filter((facet) => facet.options.length > 0 || filters.facets[facet.key] !== null);
  if (shown.length === 0) return null;
  return (
    <Stack gap="xs" data-testid="inventory-facets">
      {shown.map(({ key, options: values }) => (
        <NativeSelect
          key={key}
          size="xs"
          label={FACET_LABELS[key].label}
          value={filters.facets[key] ?? ""}
          onChange={(e) => onChange(key, e.currentTarget.value === "" ? null : e.currentTarget.value)}
          data={[
            { value: "", label: FACET_LABELS[key].all },
            ...values.map((o) => ({ value: o.value, label: `${o.value} (${o.count})` })),
          ]}
          data-testid={`inventory-facet-${key}`}
        />
      ))}
    </Stack>
  );
});

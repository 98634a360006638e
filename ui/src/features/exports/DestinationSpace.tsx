import { Alert, Text } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { IconAlertTriangle } from "@tabler/icons-react";
import { useQuery } from "@tanstack/react-query";
import type { DestinationSpace as Space, VmInfo } from "../../bindings";
import { api } from "../../api/client";
import type { CoreError } from "../../api/errors";
import { formatBytes } from "../jobs/format";

/** The sum of the VMs' values, or null when any of them is unknown. */
function total(vms: readonly VmInfo[], key: "disk_capacity_bytes" | "disk_used_bytes"): number | null {
  let sum = 0;
  for (const vm of vms) {
    const v = vm[key];
    if (v === null || v === undefined) return null;
    sum += v;
  }
  return sum;
}

/**
 * How much the export may write and how much the destination can take, with a warning before an
 * export that will not fit. The estimate is the disks' provisioned size: an OVA of thin or sparse
 * disks is usually smaller, a raw conversion is exactly that.
 */
export function DestinationSpace({ vms, destination }: { vms: readonly VmInfo[]; destination: string }) {
  const [dir] = useDebouncedValue(destination.trim(), 300);
  const space = useQuery<Space, CoreError>({
    queryKey: ["destination-space", dir],
    queryFn: () => api.destinationSpace(dir),
    enabled: dir.startsWith("/"),
    retry: false,
    staleTime: 10_000,
  });
  const provisioned = total(vms, "disk_capacity_bytes");
  const used = total(vms, "disk_used_bytes");
  const free = space.data?.free_bytes;
  if (provisioned === null && free === undefined) return null;
  // What surely will not fit: more than the free space even counting only what the disks use.
  const tooBig = free !== undefined && (used ?? provisioned ?? 0) > free;
  const mayNotFit = !tooBig && free !== undefined && provisioned !== null && provisioned > free;
  const sizes = [
    provisioned !== null ? `up to ${formatBytes(provisioned)} (the disks' provisioned size)` : null,
    used !== null && used !== provisioned ? `${formatBytes(used)} in use` : null,
  ].filter(Boolean);
  const summary = (
    <Text size="xs" c="dimmed" data-testid="export-space">
      {sizes.length > 0 ? `To write: ${sizes.join(", ")}. ` : ""}
      {free !== undefined ? `Free at the destination: ${formatBytes(free)}.` : ""}
    </Text>
  );
  if (!tooBig && !mayNotFit) return summary;
  return (
    <Alert
      color={tooBig ? "red" : "yellow"}
      variant="light"
      icon={<IconAlertTriangle size={18} aria-hidden />}
      title={tooBig ? "This export will probably not fit" : "This export may not fit"}
      data-testid="export-space-warning"
      data-severity={tooBig ? "will-not-fit" : "may-not-fit"}
    >
      <Text size="sm">
        {tooBig
          ? `The disks hold ${formatBytes(used ?? provisioned ?? 0)} and ${destination} has ${formatBytes(free ?? 0)} free. Choose another folder or free some space; an export that fills the disk fails and leaves nothing behind.`
          : `The disks may hold up to ${formatBytes(provisioned ?? 0)} and ${destination} has ${formatBytes(free ?? 0)} free. Thin disks and compression often need less.`}
      </Text>
    </Alert>
  );
}

import type { VmInfo } from "../bindings";

/** A VM for tests: named after the last segment of its path unless told otherwise. */
export function makeVm(path: string, overrides: Partial<VmInfo> = {}): VmInfo {
  const name = path.split("/").filter(Boolean).pop() ?? "vm";
  return {
    id: `vm-${name}`,
    name,
    path,
    power_state: "powered_on",
    guest_os: "Ubuntu Linux (64-bit)",
    cpus: 2,
    memory_mib: 4096,
    disks: 1,
    nics: 1,
    template: false,
    tools_status: "guestToolsRunning",
    datacenter: path.split("/").filter(Boolean)[0] ?? null,
    cluster: null,
    host: null,
    resource_pool: null,
    tags: [],
    not_exportable: null,
    ...overrides,
  };
}

/** A small vSphere-like inventory: two datacenters, nested folders, clusters and hosts. */
export const sampleVms: VmInfo[] = [
  makeVm("/DC0/vm/prod/web01", { cluster: "C1", host: "esx1", resource_pool: "Gold" }),
  makeVm("/DC0/vm/prod/web02", { cluster: "C1", host: "esx2", resource_pool: "Gold", power_state: "powered_off" }),
  makeVm("/DC0/vm/prod/db/db01", {
    cluster: "C2",
    host: "esx3",
    resource_pool: "Silver",
    cpus: 8,
    memory_mib: 65536,
    disk_capacity_bytes: 200 * 1024 ** 3,
    disk_used_bytes: 61.5 * 1024 ** 3,
    storage: ["LocalDS_0"],
  }),
  makeVm("/DC0/vm/dev/build01", { cluster: "C2", host: "esx3", resource_pool: "Silver" }),
  makeVm("/DC0/vm/loose01", { cluster: "C1", host: "esx1", resource_pool: "Gold" }),
  makeVm("/DC1/vm/prod/web10", { cluster: "C9", host: "esx9", resource_pool: "Gold" }),
];

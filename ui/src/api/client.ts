import { commands } from "../bindings";
import type { ConnectionInput, ExportSpec, Settings, VmFilter } from "../bindings";
import { call, callResult } from "./errors";

/** Thin promise API over the generated bindings: every failure is a CoreError. */
export const api = {
  appInfo: () => call(() => commands.appInfo()),
  listProviderKinds: () => call(() => commands.listProviderKinds()),
  listConnections: () => callResult(() => commands.listConnections()),
  addConnection: (input: ConnectionInput) => callResult(() => commands.addConnection(input)),
  updateConnection: (id: string, input: ConnectionInput) =>
    callResult(() => commands.updateConnection(id, input)),
  testConnection: (id: string) => callResult(() => commands.testConnection(id)),
  removeConnection: (id: string) => callResult(() => commands.removeConnection(id)),
  listVms: (connectionId: string, filter: VmFilter) => callResult(() => commands.listVms(connectionId, filter)),
  startExport: (spec: ExportSpec) => callResult(() => commands.startExport(spec)),
  retryJob: (id: string) => callResult(() => commands.retryJob(id)),
  listJobs: () => callResult(() => commands.listJobs()),
  getJob: (id: string) => callResult(() => commands.getJob(id)),
  cancelJob: (id: string) => callResult(() => commands.cancelJob(id)),
  getSettings: () => callResult(() => commands.getSettings()),
  updateSettings: (settings: Settings) => callResult(() => commands.updateSettings(settings)),
};

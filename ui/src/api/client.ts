import { commands } from "../bindings";
import type { ConnectionInput, SeriesQuery, Settings, TimeRange } from "../bindings";
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
  listJobs: () => callResult(() => commands.listJobs()),
  getJob: (id: string) => callResult(() => commands.getJob(id)),
  cancelJob: (id: string) => callResult(() => commands.cancelJob(id)),
  getSettings: () => callResult(() => commands.getSettings()),
  updateSettings: (settings: Settings) => callResult(() => commands.updateSettings(settings)),
  metricSeries: (query: SeriesQuery) => callResult(() => commands.metricSeries(query)),
  appResourceSeries: (range: TimeRange) => callResult(() => commands.appResourceSeries(range)),
  jobStats: (range: TimeRange) => callResult(() => commands.jobStats(range)),
  metricsEndpointStatus: () => callResult(() => commands.metricsEndpointStatus()),
  saveChartExport: (path: string, content: string) => callResult(() => commands.saveChartExport(path, content)),
};

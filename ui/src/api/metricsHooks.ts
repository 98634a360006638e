import { useQuery } from "@tanstack/react-query";
import type { EndpointStatus, JobStats, MetricSeries, TimeRange } from "../bindings";
import { api } from "./client";
import type { CoreError } from "./errors";
import { queryKeys } from "./queryKeys";

// Ranges are part of the keys: a range that ends "now" is moved on by its owner (see
// features/dashboard/range.ts) every few seconds to minutes, which refetches once — no polling
// of its own here. The previous data stays on screen while the next range loads.

export function useJobStats(range: TimeRange) {
  return useQuery<JobStats, CoreError>({
    queryKey: queryKeys.jobStats(range.from, range.to),
    queryFn: () => api.jobStats(range),
    placeholderData: (previous) => previous,
  });
}

export function useResourceSeries(range: TimeRange) {
  return useQuery<MetricSeries[], CoreError>({
    queryKey: queryKeys.resources(range.from, range.to),
    queryFn: () => api.appResourceSeries(range),
    placeholderData: (previous) => previous,
  });
}

export function useJobThroughputSeries(jobId: string, range: TimeRange) {
  return useQuery<MetricSeries, CoreError>({
    queryKey: queryKeys.series("job_throughput", range.from, range.to, jobId),
    queryFn: () => api.metricSeries({ metric: "job_throughput", range, job_id: jobId }),
    placeholderData: (previous) => previous,
  });
}

export function useMetricsEndpointStatus() {
  return useQuery<EndpointStatus, CoreError>({
    queryKey: queryKeys.endpointStatus,
    queryFn: api.metricsEndpointStatus,
  });
}

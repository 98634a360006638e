// Browser-only preview data for the dashboard (`vite build --mode mock`).
import { emit } from "@tauri-apps/api/event";
import type { JobStats, MetricKind, MetricSeries, TimeRange } from "../bindings";

const GiB = 1024 ** 3;

function bucketFor(range: TimeRange): number {
  const span = range.to - range.from;
  return [1, 5, 10, 15, 30, 60, 300, 600, 1800, 3600, 10800, 21600, 43200, 86400].find((b) => span / b <= 1000) ?? 86400;
}

function series(metric: MetricKind, range: TimeRange): MetricSeries {
  const bucket = bucketFor(range);
  const points = [];
  for (let t = range.from - (range.from % bucket); t < range.to; t += bucket) {
    const wave = Math.sin(t / 3000) + 1;
    const value =
      metric === "cpu_percent" ? 3 + 10 * wave : metric === "rss_bytes" ? (95 + 10 * wave) * 1024 * 1024 : wave > 1.4 ? 80e6 * wave : 0;
    points.push({ t, value, peak: value * 1.3 });
  }
  const unit = metric === "cpu_percent" ? "percent" : metric === "rss_bytes" ? "bytes" : "bytes_per_second";
  return { metric, unit, range, bucket_seconds: bucket, lines: [{ key: metric, label: metric, points }] };
}

function stats(range: TimeRange): JobStats {
  const runs = Array.from({ length: 60 }, (_, i) => {
    const finished = range.to - 3600 * 5 * (i + 1);
    const bytes = (1 + (i % 7)) * 6 * GiB;
    const outcome = i % 9 === 4 ? ("failed" as const) : ("succeeded" as const);
    return {
      job_id: `mock-${i}`,
      name: `Export vm-${String(i).padStart(2, "0")}`,
      provider: i % 3 === 0 ? "proxmox" : "vsphere",
      connection: i % 3 === 0 ? "Home Proxmox" : "Lab vCenter",
      outcome,
      started_at: finished - bytes / 90e6,
      finished_at: finished,
      duration_seconds: bytes / 90e6,
      bytes,
    };
  }).filter((r) => r.finished_at >= range.from);
  const heat = new Map<string, number>();
  for (const r of runs) {
    const d = new Date(r.started_at * 1000);
    const key = `${(d.getDay() + 6) % 7}:${d.getHours()}`;
    heat.set(key, (heat.get(key) ?? 0) + 1);
  }
  const count = (o: string) => runs.filter((r) => r.outcome === o).length;
  const providers = ["proxmox", "vsphere"].map((p) => ({
    provider: p,
    succeeded: runs.filter((r) => r.provider === p && r.outcome === "succeeded").length,
    failed: runs.filter((r) => r.provider === p && r.outcome === "failed").length,
    cancelled: 0,
    interrupted: 0,
  }));
  return {
    range,
    running: 1,
    queued: 1,
    by_outcome: [
      { outcome: "succeeded", count: count("succeeded") },
      { outcome: "failed", count: count("failed") },
      { outcome: "cancelled", count: 0 },
      { outcome: "interrupted", count: 0 },
    ],
    by_provider: providers.filter((p) => p.succeeded + p.failed > 0),
    bytes_exported: runs.filter((r) => r.outcome === "succeeded").reduce((n, r) => n + r.bytes, 0),
    runs,
    runs_truncated: false,
    heatmap: [...heat].map(([k, count]) => {
      const [weekday, hour] = k.split(":").map(Number);
      return { weekday: weekday ?? 0, hour: hour ?? 0, count };
    }),
  };
}

/** The dashboard's commands; undefined for any other command. */
export function mockMetricsCommand(cmd: string, a: Record<string, unknown>): unknown {
  switch (cmd) {
    case "job_stats":
      return stats(a.range as TimeRange);
    case "app_resource_series":
      return (["cpu_percent", "rss_bytes", "write_rate"] as const).map((m) => series(m, a.range as TimeRange));
    case "metric_series": {
      const q = a.query as { metric: MetricKind; range: TimeRange };
      return series(q.metric, q.range);
    }
    case "metrics_endpoint_status":
      return { enabled: false, listen: "127.0.0.1:9464", url: null, loopback_only: true, error: null };
    case "save_chart_export":
      return a.path;
    default:
      return undefined;
  }
}

/** One `metrics_sample` a second for the running preview job, as the core sends them. */
export function startMockSamples(jobId: string): void {
  let done = 7_516_192_768;
  window.setInterval(() => {
    const rate = 80e6 + 30e6 * Math.sin(Date.now() / 4000);
    done += rate;
    void emit("core-event", {
      type: "metrics_sample",
      sample: {
        t: Math.floor(Date.now() / 1000),
        jobs: [{ job_id: jobId, bytes_per_second: rate, bytes_done: done }],
        write_rate: rate,
        cpu_percent: 6 + Math.random() * 4,
        rss_bytes: 98 * 1024 * 1024,
      },
    });
  }, 1000);
}

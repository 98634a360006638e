import { SimpleGrid, Stack } from "@mantine/core";
import { memo, useCallback, useMemo, useState } from "react";
import type { MetricSeries, TimeRange } from "../../bindings";
import { useActiveJobs, useSchedulerStatus } from "../../api/hooks";
import { knownJobName } from "../../api/jobsCache";
import { useJobStats, useResourceSeries } from "../../api/metricsHooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { PageHeader } from "../../components/PageHeader";
import { useLiveMetrics } from "../../store/liveMetrics";
import { heatCells, liveJobNames, providerBars, runPoints } from "./chartData";
import { DurationSizeChart as DurationSizeChartView } from "./DurationSizeChart";
import { LiveThroughputChart as LiveThroughputChartView } from "./LiveThroughputChart";
import { ProviderOutcomeChart as ProviderOutcomeChartView } from "./ProviderOutcomeChart";
import { RangeSelector } from "./RangeSelector";
import { ResourceChart as ResourceChartView } from "./ResourceChart";
import { RunHeatmap as RunHeatmapView } from "./RunHeatmap";
import { PRESETS, useMovingRange } from "./range";
import type { RangePreset } from "./range";
import { StatCards as StatCardsView } from "./StatCards";

// The page re-renders every second (live samples) and on every progress event of every running
// job; each chart re-renders only when its own data changes (20 running exports made the web
// process spend half a core re-drawing unchanged charts, bench/webview-cpu.sh).
const StatCards = memo(StatCardsView);
const LiveThroughputChart = memo(LiveThroughputChartView);
const ResourceChart = memo(ResourceChartView);
const ProviderOutcomeChart = memo(ProviderOutcomeChartView);
const DurationSizeChart = memo(DurationSizeChartView);
const RunHeatmap = memo(RunHeatmapView);
const NO_SERIES: MetricSeries[] = [];

export function DashboardPage() {
  const [preset, setPreset] = useState<RangePreset>("24h");
  const [custom, setCustom] = useState<TimeRange | null>(null);
  const presetInfo = PRESETS.find((p) => p.value === preset) ?? PRESETS[1]!;
  const moving = useMovingRange(presetInfo.seconds, presetInfo.refreshSeconds);
  const range = preset === "custom" && custom ? custom : moving;
  const day = useMovingRange(86_400, 60);

  const stats24h = useJobStats(day);
  const stats = useJobStats(range);
  const resources = useResourceSeries(range);
  const samples = useLiveMetrics((s) => s.samples);
  const jobs = useActiveJobs();
  const nameKey = liveJobNames(knownJobName, samples);
  const names = useMemo(() => new Map(JSON.parse(nameKey) as [string, string][]), [nameKey]);
  const jobName = useCallback((id: string) => names.get(id) ?? id.slice(0, 8), [names]);
  // Job events patch the active list in place, so these follow every start and end at once.
  let running = 0;
  let queued = 0;
  for (const j of jobs.data ?? []) {
    if (j.state === "running") running++;
    else if (j.state === "queued") queued++;
  }
  const loaded = jobs.data !== undefined;
  const active = useMemo(() => (loaded ? { running, queued } : undefined), [loaded, running, queued]);

  const providers = useMemo(() => providerBars(stats.data), [stats.data]);
  const runs = useMemo(() => runPoints(stats.data), [stats.data]);
  const cells = useMemo(() => heatCells(stats.data), [stats.data]);
  const error = stats.error ?? resources.error ?? stats24h.error;

  const scheduler = useSchedulerStatus();
  const next = scheduler.data?.paused ? null : scheduler.data?.next;
  const nextRunText = scheduler.data?.paused
    ? "Paused"
    : next
      ? `${next.schedule_name}, ${new Date(next.at).toLocaleString(undefined, { weekday: "short", hour: "2-digit", minute: "2-digit" })}`
      : null;

  return (
    <Stack gap="md" data-testid="page-dashboard">
      <PageHeader title="Dashboard" description="What is running and how fast, what ran and how it went." />
      <StatCards stats={stats24h.data} now={active} nextRun={nextRunText} />
      <LiveThroughputChart samples={samples} jobName={jobName} />
      <RangeSelector
        preset={preset}
        custom={custom}
        onPreset={setPreset}
        onCustom={(r) => {
          setCustom(r);
          setPreset("custom");
        }}
      />
      {error && <ErrorAlert error={error} title="Could not load the metrics" />}
      <ResourceChart series={resources.data ?? NO_SERIES} />
      <SimpleGrid cols={{ base: 1, lg: 2 }} spacing="md">
        <ProviderOutcomeChart rows={providers} />
        <DurationSizeChart points={runs} truncated={stats.data?.runs_truncated ?? false} />
      </SimpleGrid>
      <RunHeatmap cells={cells} />
    </Stack>
  );
}

import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { save } from "@tauri-apps/plugin-dialog";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import type { JobStats, MetricSeries, MetricsSample } from "../../bindings";
import { commands } from "../../bindings";
import { renderWithProviders } from "../../test/render";
import { heatCells, liveJobNames, liveThroughput, providerBars, runPoints, seriesRows } from "./chartData";
import { DurationSizeChart } from "./DurationSizeChart";
import { LiveThroughputChart } from "./LiveThroughputChart";
import { ProviderOutcomeChart } from "./ProviderOutcomeChart";
import { ResourceChart } from "./ResourceChart";
import { RunHeatmap } from "./RunHeatmap";
import { StatCards } from "./StatCards";

vi.mock("../../bindings", () => ({
  commands: { saveChartExport: vi.fn() },
  events: { coreEvent: { listen: vi.fn() } },
}));
vi.mock("@tauri-apps/plugin-dialog", () => ({ save: vi.fn() }));

const MiB = 1024 * 1024;
const T = 1_795_000_000;

const samples: MetricsSample[] = [
  { t: T, jobs: [{ job_id: "a", bytes_per_second: 10 * MiB, bytes_done: 10 * MiB }], write_rate: 10 * MiB, cpu_percent: 12, rss_bytes: 90 * MiB },
  {
    t: T + 1,
    jobs: [
      { job_id: "a", bytes_per_second: 12 * MiB, bytes_done: 22 * MiB },
      { job_id: "b", bytes_per_second: 3 * MiB, bytes_done: 3 * MiB },
    ],
    write_rate: 15 * MiB,
    cpu_percent: 20,
    rss_bytes: 91 * MiB,
  },
  { t: T + 2, jobs: [{ job_id: "b", bytes_per_second: 4 * MiB, bytes_done: 7 * MiB }], write_rate: 4 * MiB, cpu_percent: 8, rss_bytes: 91 * MiB },
];
const names: Record<string, string> = { a: "Export web-01", b: "Export db, \"main\"" };
const jobName = (id: string) => names[id] ?? id;

function series(metric: MetricSeries["metric"], unit: string, values: number[]): MetricSeries {
  return {
    metric,
    unit,
    range: { from: T, to: T + 3600 },
    bucket_seconds: 60,
    lines: [{ key: metric, label: metric, points: values.map((v, i) => ({ t: T + i * 60, value: v, peak: v * 2 })) }],
  };
}
const resources = [
  series("cpu_percent", "percent", [5, 7.5, 9, 4]),
  series("rss_bytes", "bytes", [100 * MiB, 110 * MiB, 120 * MiB, 130 * MiB]),
  series("write_rate", "bytes_per_second", [0, 50 * MiB, 60 * MiB, 0]),
];

const stats: JobStats = {
  range: { from: T - 86_400, to: T },
  running: 2,
  queued: 1,
  by_outcome: [
    { outcome: "succeeded", count: 3 },
    { outcome: "failed", count: 1 },
    { outcome: "cancelled", count: 1 },
    { outcome: "interrupted", count: 0 },
  ],
  by_provider: [
    { provider: "proxmox", succeeded: 1, failed: 1, cancelled: 0, interrupted: 0 },
    { provider: "vsphere", succeeded: 2, failed: 0, cancelled: 1, interrupted: 0 },
  ],
  bytes_exported: 3 * 1024 * MiB,
  runs: [
    { job_id: "r1", name: "web-01", provider: "vsphere", connection: "Lab", outcome: "succeeded", started_at: T - 7200, finished_at: T - 6600, duration_seconds: 600, bytes: 2 * 1024 * MiB },
    { job_id: "r2", name: "db", provider: "proxmox", connection: "Home", outcome: "failed", started_at: T - 3600, finished_at: T - 3540, duration_seconds: 60, bytes: 10 * MiB },
    { job_id: "r3", name: "queued one", provider: "vsphere", connection: "Lab", outcome: "cancelled", started_at: null, finished_at: T - 100, duration_seconds: null, bytes: 0 },
  ],
  runs_truncated: false,
  heatmap: [
    { weekday: 2, hour: 14, count: 3 },
    { weekday: 6, hour: 0, count: 1 },
  ],
};

/** Minimal RFC 4180 reader for the tests: rows of cells. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      row.push(cell);
      cell = "";
    } else if (c === "\r") continue;
    else if (c === "\n") {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = "";
    } else cell += c;
  }
  return rows;
}

/** Clicks "Export data" → format on a chart and returns what was written. */
async function exportChart(testId: string, format: "csv" | "json"): Promise<string> {
  const user = userEvent.setup();
  vi.mocked(save).mockResolvedValue(`/home/ada/${testId}.${format}`);
  vi.mocked(commands.saveChartExport).mockImplementation((path) => Promise.resolve({ status: "ok", data: path }));
  await user.click(screen.getByTestId(`${testId}-export`));
  await user.click(await screen.findByTestId(`${testId}-export-${format}`));
  await waitFor(() => expect(commands.saveChartExport).toHaveBeenCalled());
  const [path, content] = vi.mocked(commands.saveChartExport).mock.calls.at(-1)!;
  expect(path).toBe(`/home/ada/${testId}.${format}`);
  expect(vi.mocked(save).mock.calls.at(-1)?.[0]?.defaultPath).toMatch(new RegExp(`\\.${format}$`));
  return content;
}

// jsdom lays nothing out: give recharts' responsive containers a size so the charts draw.
const originalRect = HTMLElement.prototype.getBoundingClientRect;
beforeAll(() => {
  HTMLElement.prototype.getBoundingClientRect = function (this: HTMLElement) {
    if (this.classList.contains("recharts-responsive-container")) {
      return { width: 640, height: 280, top: 0, left: 0, right: 640, bottom: 280, x: 0, y: 0, toJSON: () => ({}) } as DOMRect;
    }
    return originalRect.call(this);
  };
});
afterAll(() => {
  HTMLElement.prototype.getBoundingClientRect = originalRect;
});

beforeEach(() => {
  vi.mocked(commands.saveChartExport).mockReset();
  vi.mocked(save).mockReset();
});

describe("liveJobNames", () => {
  it("names the jobs with live samples and changes only when one of those names does", () => {
    const samples = [
      { t: 1, jobs: [{ job_id: "a", bytes_per_second: 5 }] },
      { t: 2, jobs: [{ job_id: "b", bytes_per_second: 7 }] },
    ] as unknown as MetricsSample[];
    const names = new Map([
      ["a", "Export a"],
      ["b", "Export b"],
      ["c", "Export c"],
    ]);
    const key = liveJobNames((id) => names.get(id), samples);
    expect(JSON.parse(key)).toEqual([
      ["a", "Export a"],
      ["b", "Export b"],
    ]);
    // A job without samples changing its name leaves the key (and so the chart) alone.
    names.set("c", "Renamed c");
    expect(liveJobNames((id) => names.get(id), samples)).toBe(key);
    names.set("a", "Renamed");
    expect(liveJobNames((id) => names.get(id), samples)).not.toBe(key);
    expect(liveJobNames(() => undefined, samples)).toBe("[]");
  });

  it("numbers jobs that share a name, so their lines are told apart", () => {
    const samples = [
      { t: 1, jobs: [{ job_id: "a", bytes_per_second: 5 }, { job_id: "b", bytes_per_second: 5 }] },
      { t: 2, jobs: [{ job_id: "c", bytes_per_second: 7 }] },
    ] as unknown as MetricsSample[];
    const names = new Map([
      ["a", "Export web01"],
      ["b", "Export db01"],
      ["c", "Export web01"],
    ]);
    expect(JSON.parse(liveJobNames((id) => names.get(id), samples))).toEqual([
      ["a", "Export web01 (1)"],
      ["b", "Export db01"],
      ["c", "Export web01 (2)"],
    ]);
  });
});

describe("LiveThroughputChart", () => {
  it("draws a line per running job and exports exactly its points", async () => {
    const { container } = renderWithProviders(<LiveThroughputChart samples={samples} jobName={jobName} />);
    const card = screen.getByTestId("chart-throughput");
    expect(card).toHaveAttribute("data-points", "3");
    await waitFor(() => expect(container.querySelectorAll(".recharts-line").length).toBe(2));
    expect(within(card).getByText("Export web-01")).toBeInTheDocument();

    const csv = parseCsv(await exportChart("chart-throughput", "csv"));
    expect(csv[0]).toEqual(["t", "time", "Export web-01 (B/s)", 'Export db, "main" (B/s)']);
    const { rows } = liveThroughput(samples, jobName);
    expect(csv.slice(1)).toEqual(
      rows.map((r) => [String(r.t), new Date(r.t * 1000).toISOString(), r.a === null ? "" : String(r.a), r.b === null ? "" : String(r.b)]),
    );
    expect(csv.slice(1).map((r) => r[3])).toEqual(["", String(3 * MiB), String(4 * MiB)]);
  });

  it("says what to do when nothing runs", () => {
    renderWithProviders(<LiveThroughputChart samples={[]} jobName={jobName} />);
    expect(screen.getByText(/No export is running/)).toBeInTheDocument();
    expect(screen.getByTestId("chart-throughput-export")).toBeDisabled();
  });
});

describe("ResourceChart", () => {
  it("shows one metric at a time and exports the points shown", async () => {
    const { container } = renderWithProviders(<ResourceChart series={resources} />);
    await waitFor(() => expect(container.querySelector(".recharts-area")).not.toBeNull());
    expect(container.querySelector(".recharts-brush")).not.toBeNull();
    let json = JSON.parse(await exportChart("chart-resources", "json")) as Record<string, unknown>[];
    expect(json).toEqual(
      seriesRows(resources[0]).map((p) => ({ t: p.t, time: new Date(p.t * 1000).toISOString(), "average (%)": p.value, "peak (%)": p.peak })),
    );

    await userEvent.setup().click(screen.getByRole("radio", { name: "Memory" }));
    json = JSON.parse(await exportChart("chart-resources", "json")) as Record<string, unknown>[];
    expect(json.map((r) => r["average (B)"])).toEqual([100 * MiB, 110 * MiB, 120 * MiB, 130 * MiB]);
  });

  it("exports only the zoomed window after the brush moves", async () => {
    const { container } = renderWithProviders(<ResourceChart series={resources} />);
    await waitFor(() => expect(container.querySelector(".recharts-brush")).not.toBeNull());
    // Drag the right handle of the brush to the left: fewer points are shown and exported.
    const handles = container.querySelectorAll(".recharts-brush-traveller");
    const right = handles[handles.length - 1]!;
    fireEvent.mouseDown(right, { pageX: 600, clientX: 600 });
    fireEvent.mouseMove(window, { pageX: 200, clientX: 200 });
    fireEvent.mouseUp(window);
    await waitFor(() => expect(Number(screen.getByTestId("chart-resources").getAttribute("data-points"))).toBeLessThan(4));
    const shown = Number(screen.getByTestId("chart-resources").getAttribute("data-points"));
    const csv = parseCsv(await exportChart("chart-resources", "csv"));
    expect(csv.length - 1).toBe(shown);
    expect(csv[1]?.[0]).toBe(String(T));
  });
});

describe("ProviderOutcomeChart", () => {
  it("stacks outcomes per provider and exports the counts", async () => {
    const rows = providerBars(stats);
    const { container } = renderWithProviders(<ProviderOutcomeChart rows={rows} />);
    await waitFor(() => expect(container.querySelectorAll(".recharts-bar").length).toBe(4));
    const csv = parseCsv(await exportChart("chart-providers", "csv"));
    expect(csv).toEqual([
      ["provider", "succeeded", "failed", "cancelled", "interrupted"],
      ["proxmox", "1", "1", "0", "0"],
      ["vsphere", "2", "0", "1", "0"],
    ]);
  });
});

describe("DurationSizeChart", () => {
  it("plots each job that ran and exports those points", async () => {
    const points = runPoints(stats);
    expect(points.map((p) => p.job_id)).toEqual(["r1", "r2"]);
    const { container } = renderWithProviders(<DurationSizeChart points={points} />);
    await waitFor(() => expect(container.querySelectorAll(".recharts-scatter-symbol").length).toBe(2));
    const json = JSON.parse(await exportChart("chart-duration-size", "json")) as Record<string, unknown>[];
    expect(json.map((r) => [r.job_id, r.bytes, r.duration_seconds, r.outcome])).toEqual([
      ["r1", 2 * 1024 * MiB, 600, "succeeded"],
      ["r2", 10 * MiB, 60, "failed"],
    ]);
  });
});

describe("RunHeatmap", () => {
  it("has a cell per weekday and hour with its count, exported as plotted", async () => {
    const cells = heatCells(stats);
    renderWithProviders(<RunHeatmap cells={cells} />);
    expect(screen.getAllByRole("gridcell")).toHaveLength(168);
    expect(screen.getByTestId("heat-cell-2-14")).toHaveAttribute("data-count", "3");
    expect(screen.getByTestId("heat-cell-6-0")).toHaveAttribute("data-count", "1");
    expect(screen.getByTestId("heat-cell-0-0")).toHaveAttribute("data-count", "0");
    expect(screen.getByLabelText("Wed 14:00–15:00: 3 runs")).toBeInTheDocument();
    const csv = parseCsv(await exportChart("chart-heatmap", "csv"));
    expect(csv).toHaveLength(169);
    expect(csv).toContainEqual(["Wed", "14", "3"]);
    expect(csv.slice(1).reduce((n, r) => n + Number(r[2]), 0)).toBe(4);
  });
});

describe("StatCards", () => {
  it("shows the 24 h figures and a dash for the next run without a scheduler", () => {
    renderWithProviders(<StatCards stats={stats} />);
    const value = (id: string) => screen.getByTestId(`${id}-value`).textContent;
    expect(value("stat-running")).toBe("2");
    expect(value("stat-queued")).toBe("1");
    expect(value("stat-succeeded-24h")).toBe("3");
    expect(value("stat-failed-24h")).toBe("1");
    expect(value("stat-bytes-24h")).toBe("3.0 GiB");
    expect(value("stat-next-run")).toBe("—");
  });

  it("takes running and queued from the live jobs list when given", () => {
    renderWithProviders(<StatCards stats={stats} now={{ running: 5, queued: 0 }} />);
    expect(screen.getByTestId("stat-running-value").textContent).toBe("5");
    expect(screen.getByTestId("stat-queued-value").textContent).toBe("0");
  });
});

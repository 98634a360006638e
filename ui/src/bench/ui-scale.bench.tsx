// UI at scale (docs/PERFORMANCE.md, "UI at scale"), React's development build under act(): first
// render of the Jobs page with 100,000 jobs, filter keystrokes, a sort; the Inventory page with
// 10,000 VMs, filter keystrokes, a facet; and one 1 Hz update of the live throughput chart with
// 20 running jobs — timed with performance.now() around the real components in jsdom. Run
// through bench/ui-scale.sh; results go to stdout and to $BENCH_OUT (JSON) when set.
import { act, fireEvent, render, screen } from "@testing-library/react";
import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { writeFileSync } from "node:fs";
import type { ReactElement } from "react";
import { afterAll, beforeAll, describe, it, vi } from "vitest";
import type { MetricsSample } from "../bindings";
import { queryKeys } from "../api/queryKeys";
import { seedJobPages } from "./jobPages";
import { LiveThroughputChart } from "../features/dashboard/LiveThroughputChart";
import { InventoryPage } from "../features/inventory/InventoryPage";
import { JobsPage } from "../features/jobs/JobsPage";
import { DEFAULT_SORT } from "../features/jobs/jobFilters";
import { useInventory } from "../store/inventory";
import { vsphereKind } from "../test/fixtures";
import { makeConnections, makeJobs, makeVms } from "../test/generate";
import { theme } from "../theme";

vi.mock("../bindings", async (importOriginal) => ({
  JOB_PAGE_MAX: (await importOriginal<{ JOB_PAGE_MAX: number }>()).JOB_PAGE_MAX, commands: {}, events: { coreEvent: { listen: vi.fn() } } }));

const JOBS = Number(process.env.BENCH_JOBS ?? 100_000);
const VMS = Number(process.env.BENCH_VMS ?? 10_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const results: Record<string, number[]> = {};

function record(name: string, ms: number) {
  (results[name] ??= []).push(ms);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// A 1280×800 window's worth of layout for the parts that need it.
const HEIGHTS: Record<string, number> = { "jobs-scroll": 600, "vm-table": 400 };
const clientHeight = Object.getOwnPropertyDescriptor(Element.prototype, "clientHeight");
const rect = HTMLElement.prototype.getBoundingClientRect;
beforeAll(() => {
  Object.defineProperty(Element.prototype, "clientHeight", {
    configurable: true,
    get(this: Element) {
      return HEIGHTS[this.getAttribute("data-testid") ?? ""] ?? 0;
    },
  });
  HTMLElement.prototype.getBoundingClientRect = function (this: HTMLElement) {
    if (this.classList.contains("recharts-responsive-container")) {
      return { width: 1000, height: 240, top: 0, left: 0, right: 1000, bottom: 240, x: 0, y: 0, toJSON: () => ({}) } as DOMRect;
    }
    return rect.call(this);
  };
});
afterAll(() => {
  if (clientHeight) Object.defineProperty(Element.prototype, "clientHeight", clientHeight);
  HTMLElement.prototype.getBoundingClientRect = rect;
  const summary = Object.fromEntries(
    Object.entries(results).map(([k, v]) => [k, { runs: v.length, median_ms: +median(v).toFixed(1), max_ms: +Math.max(...v).toFixed(1), all_ms: v.map((x) => +x.toFixed(1)) }]),
  );
  console.log(`ui-scale results (${JOBS} jobs, ${VMS} VMs):\n${JSON.stringify(summary, null, 2)}`);
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, `${JSON.stringify({ jobs: JOBS, vms: VMS, results: summary }, null, 2)}\n`);
});

function withProviders(ui: ReactElement, client: QueryClient) {
  return (
    <MantineProvider theme={theme} env="test">
      <QueryClientProvider client={client}>{ui}</QueryClientProvider>
    </MantineProvider>
  );
}

const connections = makeConnections(24);
const jobs = makeJobs(JOBS, connections);
const vms = makeVms(VMS);

/** The texts typed one character at a time, then deleted back to empty. */
function texts(fragment: string): string[] {
  return [...[...fragment].map((_, i) => fragment.slice(0, i + 1)), ...[...fragment].map((_, i) => fragment.slice(0, fragment.length - 1 - i))];
}

/** Types `fragment` one character at a time, then deletes it, timing each change under act(). */
function typeAndDelete(input: HTMLInputElement, fragment: string, name: string) {
  texts(fragment).forEach((text, i) => {
    const t = performance.now();
    // act() flushes the urgent update and the deferred (filtered) render.
    act(() => {
      fireEvent.change(input, { target: { value: text } });
    });
    record(i < fragment.length ? name : `${name}_delete`, performance.now() - t);
  });
}

describe(`ui scale: ${JOBS} jobs, ${VMS} VMs`, () => {
  it("Jobs page: first render, filter keystrokes, sort", () => {
    for (let run = 0; run < RUNS; run++) {
      const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
      // The data as the window has it once query_jobs answered (the core's time is measured
      // apart, by job_query_bench).
      seedJobPages(client, jobs, connections, texts("vm-0042"), [DEFAULT_SORT, { key: "name", desc: false }]);
      client.setQueryData(queryKeys.connections, connections);

      let t = performance.now();
      const view = render(withProviders(<JobsPage />, client));
      record("jobs_first_render", performance.now() - t);
      if (screen.getAllByTestId("job-row").length === 0) throw new Error("no rows rendered");

      typeAndDelete(screen.getByTestId("jobs-filter-text") as HTMLInputElement, "vm-0042", "filter_keystroke");
      t = performance.now();
      act(() => {
        fireEvent.click(screen.getByTestId("jobs-sort-name"));
      });
      record("sort_by_name", performance.now() - t);
      view.unmount();
    }
  });

  it("Inventory page: first render, filter keystrokes, a facet", () => {
    const connection = { ...connections[0]!, kind: "vsphere" as const };
    const cluster = vms[0]!.cluster!;
    for (let run = 0; run < RUNS; run++) {
      useInventory.setState({ connectionId: null });
      const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
      // The data as the window has it once list_vms answered (the IPC time is not the UI's).
      client.setQueryData(queryKeys.providerKinds, [vsphereKind]);
      client.setQueryData(queryKeys.connections, [connection]);
      client.setQueryData(queryKeys.vms(connection.id), vms);

      let t = performance.now();
      const view = render(withProviders(<InventoryPage />, client));
      record("inventory_first_render", performance.now() - t);
      if (screen.queryAllByTestId(/^vm-row-/).length === 0) throw new Error("no rows rendered");

      typeAndDelete(screen.getByTestId("inventory-search") as HTMLInputElement, "db-0042", "inventory_keystroke");
      const facet = screen.getByTestId("inventory-facet-cluster");
      t = performance.now();
      act(() => {
        fireEvent.change(facet, { target: { value: cluster } });
      });
      record("inventory_facet_choose", performance.now() - t);
      t = performance.now();
      act(() => {
        fireEvent.change(facet, { target: { value: "" } });
      });
      record("inventory_facet_clear", performance.now() - t);
      view.unmount();
    }
  });

  it("Live throughput chart: one 1 Hz update with 20 running jobs", () => {
    const ids = Array.from({ length: 20 }, (_, i) => `job-${i}`);
    const sample = (t: number): MetricsSample => ({
      t,
      jobs: ids.map((job_id, i) => ({ job_id, bytes_per_second: 50e6 + i * 1e6 + (t % 7) * 1e5, bytes_done: t * 50e6 })),
      write_rate: 1e9,
      cpu_percent: 5,
      rss_bytes: 1e8,
    });
    const samples = Array.from({ length: 300 }, (_, i) => sample(1_800_000_000 + i));
    const name = (id: string) => `Export ${id}`;
    const client = new QueryClient();
    const view = render(withProviders(<LiveThroughputChart samples={samples} jobName={name} />, client));
    for (let run = 0; run < RUNS * 4; run++) {
      const next = [...samples.slice(run + 1), ...Array.from({ length: run + 1 }, (_, k) => sample(1_800_000_300 + k))];
      const t = performance.now();
      view.rerender(withProviders(<LiveThroughputChart samples={next} jobName={name} />, client));
      record("live_chart_update_20_jobs_300_s", performance.now() - t);
    }
    view.unmount();
  });
});

// The same scenario as ui-scale.bench.tsx on React's production build (NODE_ENV=production, as
// the app ships), without act(): the page is mounted with createRoot and each step is timed from
// the event until the DOM shows its result (polling between macrotasks), deferred render included.
import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { writeFileSync } from "node:fs";
import { createRoot } from "react-dom/client";
import { afterAll, beforeAll, describe, it, vi } from "vitest";
import { queryKeys } from "../api/queryKeys";
import { JobsPage } from "../features/jobs/JobsPage";
import { makeConnections, makeJobs } from "../test/generate";
import { theme } from "../theme";

vi.mock("../bindings", () => ({ commands: {}, events: { coreEvent: { listen: vi.fn() } } }));

const JOBS = Number(process.env.BENCH_JOBS ?? 100_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const results: Record<string, number[]> = {};
const record = (name: string, ms: number) => (results[name] ??= []).push(ms);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const clientHeight = Object.getOwnPropertyDescriptor(Element.prototype, "clientHeight");
beforeAll(() => {
  if (process.env.NODE_ENV !== "production") throw new Error("run with NODE_ENV=production (bench/ui-scale.sh does)");
  Object.defineProperty(Element.prototype, "clientHeight", {
    configurable: true,
    get(this: Element) {
      return this.getAttribute("data-testid") === "jobs-scroll" ? 600 : 0;
    },
  });
});
afterAll(() => {
  if (clientHeight) Object.defineProperty(Element.prototype, "clientHeight", clientHeight);
  const summary = Object.fromEntries(
    Object.entries(results).map(([k, v]) => [k, { runs: v.length, median_ms: +median(v).toFixed(1), max_ms: +Math.max(...v).toFixed(1), all_ms: v.map((x) => +x.toFixed(1)) }]),
  );
  console.log(`ui-scale (production React) results (${JOBS} jobs):\n${JSON.stringify(summary, null, 2)}`);
  if (process.env.BENCH_OUT) writeFileSync(process.env.BENCH_OUT, `${JSON.stringify({ jobs: JOBS, react: "production", results: summary }, null, 2)}\n`);
});

// Native events: Testing Library's fireEvent wraps them in act(), which production React lacks.
const valueSetter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")?.set;
function type(input: HTMLInputElement, value: string) {
  valueSetter?.call(input, value);
  input.dispatchEvent(new Event("input", { bubbles: true }));
}
function click(el: Element) {
  el.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true }));
}

/** Resolves once `done()` holds, checking after every macrotask; returns the elapsed ms. */
async function until(start: number, done: () => boolean): Promise<number> {
  for (let i = 0; i < 100_000; i++) {
    if (done()) return performance.now() - start;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error("the page never showed the expected result");
}

const connections = makeConnections(24);
const jobs = makeJobs(JOBS, connections);

describe(`ui scale, production React: ${JOBS} jobs`, () => {
  it("Jobs page: first render, filter keystrokes, sort, a progress event", async () => {
    for (let run = 0; run < RUNS; run++) {
      const client = new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });
      client.setQueryData(queryKeys.jobs, jobs);
      client.setQueryData(queryKeys.connections, connections);
      const container = document.createElement("div");
      document.body.append(container);
      const root = createRoot(container);
      const rows = () => container.querySelectorAll('[data-testid="job-row"]');
      const count = () => container.querySelector('[data-testid="jobs-count"]')?.textContent ?? "";

      let t = performance.now();
      root.render(
        <MantineProvider theme={theme} env="test">
          <QueryClientProvider client={client}>
            <JobsPage />
          </QueryClientProvider>
        </MantineProvider>,
      );
      record("jobs_first_render", await until(t, () => rows().length > 0));

      const input = container.querySelector('[data-testid="jobs-filter-text"]') as HTMLInputElement;
      // The count line the page shows once the (deferred) filtered render is in.
      const shows = (text: string) => {
        const n = text ? jobs.filter((j) => `${j.name}\n${j.id}`.toLowerCase().includes(text)).length : jobs.length;
        return n === jobs.length ? `${jobs.length.toLocaleString()} jobs` : `${n.toLocaleString()} of ${jobs.length.toLocaleString()} jobs`;
      };
      let text = "";
      for (const ch of "vm-0042") {
        text += ch;
        const want = shows(text);
        t = performance.now();
        type(input, text);
        record("filter_keystroke", await until(t, () => input.value === text && count() === want));
      }
      for (let i = text.length; i > 0; i--) {
        text = text.slice(0, -1);
        const want = shows(text);
        t = performance.now();
        type(input, text);
        record("filter_keystroke_delete", await until(t, () => input.value === text && count() === want));
      }
      // A job changes (a progress or state event): one job object replaced in the list.
      const update = async (name: string) => {
        const target = rows()[0]!;
        const before = target.textContent;
        const id = target.getAttribute("data-job-id");
        const t0 = performance.now();
        client.setQueryData(queryKeys.jobs, (old: typeof jobs | undefined) =>
          old?.map((j) => (j.id === id ? { ...j, name: `${j.name} (updated)` } : j)),
        );
        record(name, await until(t0, () => rows()[0]?.textContent !== before));
      };
      await update("job_update_newest_first");

      const header = container.querySelector('[data-testid="jobs-sort-name"]')!;
      t = performance.now();
      click(header);
      record("sort_by_name", await until(t, () => header.getAttribute("aria-sort") === "ascending"));
      await update("job_update_sorted_by_name");
      root.unmount();
      container.remove();
    }
  });
});

// The same scenarios as ui-scale.bench.tsx on React's production build (NODE_ENV=production, as
// the app ships), without act(): the page is mounted with createRoot and each step is timed from
// the event until the DOM shows its result (a mutation observer checks after each commit),
// deferred render included.
import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { writeFileSync } from "node:fs";
import type { ReactElement } from "react";
import { createRoot } from "react-dom/client";
import { afterAll, beforeAll, describe, it, vi } from "vitest";
import { queryKeys } from "../api/queryKeys";
import { seedJobPages } from "./jobPages";
import { InventoryPage } from "../features/inventory/InventoryPage";
import { JobsPage } from "../features/jobs/JobsPage";
import { DEFAULT_SORT } from "../features/jobs/jobFilters";
import { upsertJob } from "../api/jobsCache";
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
const record = (name: string, ms: number) => (results[name] ??= []).push(ms);
const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => {
  const s = sorted(xs);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** Nearest-rank 90th percentile. */
const p90 = (xs: number[]) => sorted(xs)[Math.ceil(0.9 * xs.length) - 1]!;

// jsdom has no layout: the scroll areas get the height they have in a 1280×800 window.
const HEIGHTS: Record<string, number> = { "jobs-scroll": 600, "vm-table": 400 };
const clientHeight = Object.getOwnPropertyDescriptor(Element.prototype, "clientHeight");
beforeAll(() => {
  if (process.env.NODE_ENV !== "production") throw new Error("run with NODE_ENV=production (bench/ui-scale.sh does)");
  Object.defineProperty(Element.prototype, "clientHeight", {
    configurable: true,
    get(this: Element) {
      return HEIGHTS[this.getAttribute("data-testid") ?? ""] ?? 0;
    },
  });
});
afterAll(() => {
  if (clientHeight) Object.defineProperty(Element.prototype, "clientHeight", clientHeight);
  const summary = Object.fromEntries(
    Object.entries(results).map(([k, v]) => [
      k,
      { runs: v.length, median_ms: +median(v).toFixed(1), p90_ms: +p90(v).toFixed(1), max_ms: +Math.max(...v).toFixed(1), all_ms: v.map((x) => +x.toFixed(1)) },
    ]),
  );
  console.log(`ui-scale (production React) results (${JOBS} jobs, ${VMS} VMs):\n${JSON.stringify(summary, null, 2)}`);
  if (process.env.BENCH_OUT) {
    writeFileSync(process.env.BENCH_OUT, `${JSON.stringify({ jobs: JOBS, vms: VMS, react: "production", results: summary }, null, 2)}\n`);
  }
});

// Native events: Testing Library's fireEvent wraps them in act(), which production React lacks.
const valueSetter = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, "value")?.set;
function type(input: HTMLInputElement, value: string) {
  valueSetter?.call(input, value);
  input.dispatchEvent(new Event("input", { bubbles: true }));
}
function choose(select: HTMLSelectElement, value: string) {
  select.value = value;
  select.dispatchEvent(new Event("change", { bubbles: true }));
}
function click(el: Element) {
  el.dispatchEvent(new MouseEvent("click", { bubbles: true, cancelable: true }));
}

/**
 * Resolves once `done()` holds, checked whenever the DOM under `root` changes (a mutation
 * observer's callback runs right after the commit that made the change, and gets its records);
 * returns the elapsed ms. Nothing is polled, and checks must not query the page: in jsdom one
 * selector query over the Inventory page (~2,700 elements) takes 10–35 ms, which would be
 * timed too. Attribute changes are watched only when named (`attributes`).
 */
function until(root: Node, start: number, done: (records: readonly MutationRecord[]) => boolean, attributes?: string[]): Promise<number> {
  if (done([])) return Promise.resolve(performance.now() - start);
  const calledFrom = new Error().stack ?? "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      observer.disconnect();
      reject(new Error(`the page never showed the expected result (${calledFrom})`));
    }, 60_000);
    const observer = new MutationObserver((records) => {
      if (!done(records)) return;
      const elapsed = performance.now() - start;
      observer.disconnect();
      clearTimeout(timer);
      resolve(elapsed);
    });
    observer.observe(root, { subtree: true, childList: true, characterData: true, ...(attributes ? { attributeFilter: attributes } : {}) });
  });
}

/** Whether the records add an element whose test id starts with `prefix` (or one holding it). */
function addsTestId(records: readonly MutationRecord[], prefix: string): boolean {
  for (const record of records) {
    for (const node of record.addedNodes) {
      if (!(node instanceof Element)) continue;
      const walker = document.createTreeWalker(node, NodeFilter.SHOW_ELEMENT);
      for (let el: Node | null = node; el; el = walker.nextNode()) {
        if ((el as Element).getAttribute("data-testid")?.startsWith(prefix)) return true;
      }
    }
  }
  return false;
}

/** The element with this test id; looked up before timing starts (see `until`). */
function byTestId(container: HTMLElement, id: string): Element {
  const el = container.querySelector(`[data-testid="${id}"]`);
  if (!el) throw new Error(`no ${id} on the page`);
  return el;
}

function mount(page: ReactElement, client: QueryClient) {
  const container = document.createElement("div");
  document.body.append(container);
  const root = createRoot(container);
  root.render(
    <MantineProvider theme={theme} env="test">
      <QueryClientProvider client={client}>{page}</QueryClientProvider>
    </MantineProvider>,
  );
  return {
    container,
    byTestId: (id: string) => byTestId(container, id),
    until: (start: number, done: (records: readonly MutationRecord[]) => boolean, attributes?: string[]) =>
      until(container, start, done, attributes),
    unmount: () => {
      root.unmount();
      container.remove();
    },
  };
}

/** The texts typed one character at a time (`v`, `vm`, …), then deleted back to empty. */
function keystrokes(fragment: string): { text: string; deleting: boolean }[] {
  const typing = [...fragment].map((_, i) => ({ text: fragment.slice(0, i + 1), deleting: false }));
  const deleting = [...fragment].map((_, i) => ({ text: fragment.slice(0, fragment.length - 1 - i), deleting: true }));
  return [...typing, ...deleting];
}

const connections = makeConnections(24);
const jobs = makeJobs(JOBS, connections);
const vms = makeVms(VMS);
const newClient = () => new QueryClient({ defaultOptions: { queries: { retry: false, staleTime: Infinity } } });

describe(`ui scale, production React: ${JOBS} jobs, ${VMS} VMs`, () => {
  it("Jobs page: first render, filter keystrokes, sort, a progress event", async () => {
    // The count line the page shows once the (deferred) query's answer is in; worked out, with
    // the core's answers, before any timing starts.
    const total = jobs.length.toLocaleString();
    const steps = keystrokes("vm-0042").map((step) => {
      const n = step.text ? jobs.filter((j) => `${j.name}\n${j.id}`.toLowerCase().includes(step.text)).length : jobs.length;
      return { ...step, want: n === jobs.length ? `${total} jobs` : `${n.toLocaleString()} of ${total} jobs` };
    });
    const byName = { key: "name" as const, desc: false };
    for (let run = 0; run < RUNS; run++) {
      const client = newClient();
      seedJobPages(client, jobs, connections, steps.map((s) => s.text), [DEFAULT_SORT, byName]);
      client.setQueryData(queryKeys.connections, connections);
      let t = performance.now();
      const page = mount(<JobsPage />, client);
      record("jobs_first_render", await page.until(t, (changes) => addsTestId(changes, "job-row")));

      const input = page.byTestId("jobs-filter-text") as HTMLInputElement;
      const count = page.byTestId("jobs-count");
      for (const { text, deleting, want } of steps) {
        t = performance.now();
        type(input, text);
        record(deleting ? "filter_keystroke_delete" : "filter_keystroke", await page.until(t, () => input.value === text && count.textContent === want));
      }
      // A job changes (a progress or state event): patched in the cached page in place.
      const update = async (name: string) => {
        const first = () => page.byTestId("job-row");
        const target = first();
        const before = target.textContent;
        const id = target.getAttribute("data-job-id");
        const job = jobs.find((j) => j.id === id)!;
        const t0 = performance.now();
        // Named after the step: the same job may head both orders.
        upsertJob(client, { ...job, name: `${job.name} (${name})` });
        // Rows are updated in place; should the first one be replaced, look for the new one.
        record(name, await page.until(t0, () => (target.isConnected ? target : first()).textContent !== before));
      };
      await update("job_update_newest_first");

      const button = page.byTestId("jobs-sort-name");
      const header = button.closest('[role="columnheader"]')!;
      t = performance.now();
      click(button);
      record("sort_by_name", await page.until(t, () => header.getAttribute("aria-sort") === "ascending", ["aria-sort"]));
      await update("job_update_sorted_by_name");
      page.unmount();
    }
  });

  it("Inventory page: first render, filter keystrokes, a facet", async () => {
    const connection = { ...connections[0]!, kind: "vsphere" as const };
    const total = vms.length.toLocaleString();
    const shows = (n: number) => (n === vms.length ? `${total} VMs` : `${n.toLocaleString()} of ${total} VMs`);
    const steps = keystrokes("db-0042").map((step) => ({
      ...step,
      want: shows(step.text ? vms.filter((vm) => `${vm.name}\n${vm.path}`.toLowerCase().includes(step.text)).length : vms.length),
    }));
    const cluster = vms[0]!.cluster!;
    const inCluster = shows(vms.filter((vm) => vm.cluster === cluster).length);
    for (let run = 0; run < RUNS; run++) {
      useInventory.setState({ connectionId: null });
      const client = newClient();
      // The data as the window has it once list_vms answered (the IPC time is not the UI's).
      client.setQueryData(queryKeys.providerKinds, [vsphereKind]);
      client.setQueryData(queryKeys.connections, [connection]);
      client.setQueryData(queryKeys.vms(connection.id), vms);
      let t = performance.now();
      const page = mount(<InventoryPage />, client);
      record("inventory_first_render", await page.until(t, (changes) => addsTestId(changes, "vm-row-")));

      const input = page.byTestId("inventory-search") as HTMLInputElement;
      const count = page.byTestId("inventory-count");
      for (const { text, deleting, want } of steps) {
        t = performance.now();
        type(input, text);
        record(
          deleting ? "inventory_keystroke_delete" : "inventory_keystroke",
          await page.until(t, () => input.value === text && count.textContent === want),
        );
      }

      const facet = page.byTestId("inventory-facet-cluster") as HTMLSelectElement;
      t = performance.now();
      choose(facet, cluster);
      record("inventory_facet_choose", await page.until(t, () => count.textContent === inCluster));
      t = performance.now();
      choose(facet, "");
      record("inventory_facet_clear", await page.until(t, () => count.textContent === shows(vms.length)));
      page.unmount();
    }
  });
});

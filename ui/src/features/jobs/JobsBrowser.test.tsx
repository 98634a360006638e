import { fireEvent, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import { makeConnections, makeJobs } from "../../test/generate";
import { renderWithProviders } from "../../test/render";
import { JobsBrowser } from "./JobsBrowser";
import { queryJobsLocally } from "./jobFilters";

vi.mock("../../bindings", async (importOriginal) => ({
  // The generated constant, as the core sets it.
  JOB_PAGE_MAX: (await importOriginal<{ JOB_PAGE_MAX: number }>()).JOB_PAGE_MAX,
  commands: { listConnections: vi.fn(), getJob: vi.fn(), metricSeries: vi.fn(), queryJobs: vi.fn() },
  events: { coreEvent: { listen: vi.fn() } },
}));

// jsdom lays nothing out: give the scrolling area a viewport so the virtualizer shows rows.
const clientHeight = Object.getOwnPropertyDescriptor(Element.prototype, "clientHeight");
beforeAll(() => {
  Object.defineProperty(Element.prototype, "clientHeight", {
    configurable: true,
    get(this: Element) {
      return this.getAttribute("data-testid") === "jobs-scroll" ? 640 : 0;
    },
  });
});
afterAll(() => {
  if (clientHeight) Object.defineProperty(Element.prototype, "clientHeight", clientHeight);
});

const connections = makeConnections(12);
const jobs = makeJobs(10_000, connections);

// The core, as far as the table sees it: it filters, sorts and pages (the same rules, in JS).
beforeEach(() => {
  vi.mocked(commands.queryJobs).mockReset();
  vi.mocked(commands.queryJobs).mockImplementation((query) =>
    Promise.resolve({ status: "ok", data: queryJobsLocally(jobs, connections, query) }),
  );
});

// 10,000 jobs through user-event: slower than the default 5 s on a loaded 2-core machine.
describe("JobsBrowser", { timeout: 30_000 }, () => {
  it("renders only the rows in view of 10,000 jobs, and fetches later ones as they scroll into view", async () => {
    renderWithProviders(<JobsBrowser connections={connections} onCancel={() => {}} />);
    const rows = await screen.findAllByTestId("job-row");
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThan(40);
    expect(rows[0]).toHaveAttribute("data-job-id", jobs[0]!.id);
    expect(screen.getByRole("table", { name: "Jobs" })).toHaveAttribute("aria-rowcount", "10001");
    expect(screen.getByTestId("jobs-count")).toHaveTextContent("10,000 jobs");
    // The core was asked for the first block only, not for 10,000 jobs.
    expect(vi.mocked(commands.queryJobs).mock.calls.map(([q]) => [q.offset, q.limit])).toEqual([[0, 100]]);

    const scroller = screen.getByTestId("jobs-scroll");
    scroller.scrollTop = 64 * 5_000;
    fireEvent.scroll(scroller);
    await waitFor(() =>
      expect(screen.getAllByTestId("job-row").some((r) => r.getAttribute("data-job-id") === jobs[5_000]!.id)).toBe(true),
    );
    expect(screen.getAllByTestId("job-row").length).toBeLessThan(40);
    const asked = vi.mocked(commands.queryJobs).mock.calls.map(([q]) => q.offset);
    expect(asked).toContain(5_000 - (5_000 % 100));
    expect(asked.every((offset) => offset === 0 || Math.abs(offset - 5_000) <= 200)).toBe(true);
  });

  it("filters by text and state and sorts by a column", async () => {
    const user = userEvent.setup();
    renderWithProviders(<JobsBrowser connections={connections} onCancel={() => {}} />);
    await user.type(await screen.findByTestId("jobs-filter-text"), "vm-00042");
    await waitFor(() => expect(screen.getByTestId("jobs-count")).toHaveTextContent("1 of 10,000 jobs"));
    expect(screen.getAllByTestId("job-row")).toHaveLength(1);
    expect(screen.getByTestId("job-row")).toHaveTextContent("Export vm-00042");

    await user.clear(screen.getByTestId("jobs-filter-text"));
    await user.click(screen.getByRole("checkbox", { name: "Running" }));
    await waitFor(() => expect(screen.getByTestId("jobs-count")).toHaveTextContent("3 of 10,000 jobs"));
    expect(screen.getAllByTestId("job-row").every((r) => r.getAttribute("data-job-state") === "running")).toBe(true);

    // The text typed before is kept when another filter changes.
    await user.type(screen.getByTestId("jobs-filter-text"), "vm-00001");
    await user.click(screen.getByRole("checkbox", { name: "Failed" }));
    await waitFor(() => expect(screen.getByTestId("jobs-count")).toHaveTextContent("1 of 10,000 jobs"));
    expect(screen.getByTestId("jobs-filter-text")).toHaveValue("vm-00001");
    await user.click(screen.getByRole("checkbox", { name: "Running" }));
    await waitFor(() => expect(screen.getByTestId("jobs-count")).toHaveTextContent("0 of 10,000 jobs"));
    await user.clear(screen.getByTestId("jobs-filter-text"));
    await user.selectOptions(screen.getByTestId("jobs-filter-provider"), "vsphere");
    await waitFor(() => expect(screen.getByTestId("jobs-count")).toHaveTextContent(/^[\d,]+ of 10,000 jobs$/));
    expect(screen.getAllByTestId("job-row").every((r) => r.getAttribute("data-job-state") === "failed")).toBe(true);

    await user.click(screen.getByTestId("jobs-filter-clear"));
    await user.click(screen.getByTestId("jobs-sort-name"));
    await waitFor(() => expect(screen.getAllByTestId("job-row")[0]).toHaveTextContent("Export vm-00000"));
    expect(screen.getByTestId("jobs-sort-name").closest('[role="columnheader"]')).toHaveAttribute("aria-sort", "ascending");
  });

  it("marks the count busy while it shows the previous query's answer", async () => {
    const user = userEvent.setup();
    renderWithProviders(<JobsBrowser connections={connections} onCancel={() => {}} />);
    const count = await screen.findByTestId("jobs-count");
    expect(count).toHaveAttribute("aria-busy", "false");
    expect(count).toHaveAttribute("data-answers", "");
    let answer: () => void = () => {};
    vi.mocked(commands.queryJobs).mockImplementation(
      (query) =>
        new Promise((resolve) => {
          answer = () => resolve({ status: "ok", data: queryJobsLocally(jobs, connections, query) });
        }),
    );
    await user.type(screen.getByTestId("jobs-filter-text"), "x");
    await waitFor(() => expect(count).toHaveAttribute("aria-busy", "true"));
    expect(count).toHaveTextContent("10,000 jobs");
    expect(count).not.toHaveAttribute("data-answers");
    answer();
    await waitFor(() => expect(count).toHaveAttribute("aria-busy", "false"));
    expect(count).toHaveAttribute("data-answers", "x");
  });

  it("says when nothing matches, and cancels an active job", async () => {
    const onCancel = vi.fn();
    const user = userEvent.setup();
    renderWithProviders(<JobsBrowser connections={connections} onCancel={onCancel} />);
    await user.click(within((await screen.findAllByTestId("job-row"))[0]!).getByTestId("job-cancel"));
    expect(onCancel).toHaveBeenCalledWith(jobs[0]);
    await user.type(screen.getByTestId("jobs-filter-text"), "zzz-nothing");
    expect(await screen.findByTestId("jobs-none-match")).toHaveTextContent("Clear them to see all 10,000 jobs");
  });

  it("offers Retry on exports that ended without a result, when a handler is given", async () => {
    const onRetry = vi.fn();
    const user = userEvent.setup();
    const { unmount } = renderWithProviders(<JobsBrowser connections={connections} onCancel={() => {}} onRetry={onRetry} />);
    const rows = await screen.findAllByTestId("job-row");
    for (const row of rows) {
      const job = jobs.find((j) => j.id === row.getAttribute("data-job-id"))!;
      const shown = job.kind === "export" && ["failed", "cancelled", "interrupted"].includes(job.state);
      expect(within(row).queryByTestId("job-retry") !== null).toBe(shown);
    }
    const failed = rows.find((r) => within(r).queryByTestId("job-retry"))!;
    await user.click(within(failed).getByTestId("job-retry"));
    expect(onRetry).toHaveBeenCalledWith(jobs.find((j) => j.id === failed.getAttribute("data-job-id")));
    unmount();
    renderWithProviders(<JobsBrowser connections={connections} onCancel={() => {}} />);
    await screen.findAllByTestId("job-row");
    expect(screen.queryAllByTestId("job-retry")).toHaveLength(0);
  });

  it("keeps each row true to its job when a filter puts other jobs in its place", async () => {
    const onCancel = vi.fn();
    const onRetry = vi.fn();
    const byId = new Map(jobs.map((j) => [j.id, j]));
    const jobOf = (row: HTMLElement) => byId.get(row.getAttribute("data-job-id")!)!;
    const user = userEvent.setup();
    renderWithProviders(<JobsBrowser connections={connections} onCancel={onCancel} onRetry={onRetry} />);
    await screen.findAllByTestId("job-row");
    // Rows are reused in place: everything a row shows and does must follow its new job.
    const expectRowsTrue = () => {
      for (const row of screen.getAllByTestId("job-row")) {
        const job = jobOf(row);
        expect(row).toHaveAttribute("data-job-state", job.state);
        expect(within(row).getByTestId("job-open")).toHaveTextContent(job.name);
        expect(within(row).queryByTestId("job-error")?.textContent ?? null).toBe(job.error?.message ?? null);
        expect(within(row).queryByTestId("job-cancel") !== null).toBe(job.state === "running" || job.state === "queued");
        expect(within(row).queryByTestId("job-retry") !== null).toBe(job.kind === "export" && ["failed", "cancelled", "interrupted"].includes(job.state));
      }
    };
    expectRowsTrue();
    await user.click(screen.getByRole("checkbox", { name: "Failed" }));
    await waitFor(() => expect(screen.getAllByTestId("job-row").every((r) => r.getAttribute("data-job-state") === "failed")).toBe(true));
    expectRowsTrue();
    const retryable = screen.getAllByTestId("job-row").find((r) => within(r).queryByTestId("job-retry"))!;
    await user.click(within(retryable).getByTestId("job-retry"));
    expect(onRetry).toHaveBeenCalledWith(jobOf(retryable));

    await user.click(screen.getByRole("checkbox", { name: "Failed" }));
    await waitFor(() => expect(screen.getByTestId("jobs-count")).toHaveTextContent("10,000 jobs"));
    expectRowsTrue();
    await user.click(within(screen.getAllByTestId("job-row")[0]!).getByTestId("job-cancel"));
    expect(onCancel).toHaveBeenCalledWith(jobs[0]);
  });

  it("opens a job's page with its throughput and event log", async () => {
    const job = { ...jobs[7]!, started_at: "2026-11-26T09:00:10Z", finished_at: "2026-11-26T09:02:10Z" };
    vi.mocked(commands.getJob).mockResolvedValue({
      status: "ok",
      data: {
        job,
        events: [
          { job_id: job.id, at: job.created_at, state: "queued", message: "queued" },
          { job_id: job.id, at: job.created_at, state: "running", message: "started" },
          { job_id: job.id, at: job.created_at, state: job.state, message: "the end" },
        ],
      },
    });
    vi.mocked(commands.metricSeries).mockImplementation((q) =>
      Promise.resolve({
        status: "ok",
        data: { metric: q.metric, unit: "bytes_per_second", range: q.range, bucket_seconds: 1, lines: [{ key: job.id, label: job.name, points: [{ t: q.range.from + 5, value: 1000, peak: 1200 }] }] },
      }),
    );
    const user = userEvent.setup();
    renderWithProviders(<JobsBrowser connections={connections} onCancel={() => {}} />);
    const row = (await screen.findAllByTestId("job-row")).find((r) => r.getAttribute("data-job-id") === job.id)!;
    await user.click(within(row).getByTestId("job-open"));
    // The job's page is loaded on first use (with the charts library): allow for the import.
    expect(await screen.findAllByTestId("job-event", {}, { timeout: 10_000 })).toHaveLength(3);
    expect(screen.getByText("the end")).toBeInTheDocument();
    // When it ran and for how long.
    expect(screen.getByTestId("job-started")).not.toHaveTextContent("—");
    expect(screen.getByTestId("job-ended")).not.toHaveTextContent("—");
    expect(screen.getByTestId("job-duration-total")).toHaveTextContent(/^2 min 0 s/);
    await waitFor(() => expect(screen.getByTestId("chart-job-throughput")).toHaveAttribute("data-points", "1"));
    expect(vi.mocked(commands.metricSeries).mock.calls[0]?.[0]).toMatchObject({ metric: "job_throughput", job_id: job.id });
  });
});

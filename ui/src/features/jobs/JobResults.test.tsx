import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { makeJob } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { formatBytes, formatEta } from "./format";
import { JobProgressCell } from "./JobProgressCell";
import { JobResultView } from "./JobResultView";
import { JobsBrowser } from "./JobsBrowser";
import { queryJobsLocally } from "./jobFilters";
import { commands } from "../../bindings";
import type { Job } from "../../bindings";

/** Makes the mocked core hold these jobs. */
function serve(jobs: Job[]) {
  vi.mocked(commands.queryJobs).mockImplementation((query) => Promise.resolve({ status: "ok", data: queryJobsLocally(jobs, [], query) }));
}

vi.mock("../../bindings", async (importOriginal) => ({
  JOB_PAGE_MAX: (await importOriginal<{ JOB_PAGE_MAX: number }>()).JOB_PAGE_MAX,
  commands: { listConnections: vi.fn(), getJob: vi.fn(), metricSeries: vi.fn(), queryJobs: vi.fn() },
  events: { coreEvent: { listen: vi.fn() } },
}));

// jsdom lays nothing out: give the jobs list a viewport so the virtualizer shows rows.
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

const GiB = 1024 ** 3;

describe("format", () => {
  it("formats bytes and durations", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MiB");
    expect(formatEta(42)).toBe("42 s");
    expect(formatEta(3725)).toBe("1 h 2 min");
  });
});

describe("Jobs list results and retry", () => {
  const result = {
    path: "/srv/exports/web-01.ova.zst",
    files: ["web-01.ovf", "web-01-disk1.vmdk", "web-01.mf"],
    bytes: 2.5 * GiB,
    manifest_algorithm: "sha256",
    verified: true,
    disk_checks: [
      { disk: "web-01-disk1.vmdk", check: "format header", skipped: null },
      { disk: "web-01-disk1.vmdk", check: "virtual size matches the descriptor", skipped: null },
      { disk: "web-01-disk1.vmdk", check: "qemu-img check", skipped: "the package is compressed: qemu-img cannot read a disk inside it" },
    ],
  };

  it("shows what a finished export produced, with the Verified badge only when verified", async () => {
    const rawResult = { ...result, path: "/srv/exports/db.ova", files: ["db.ovf"], verified: false, manifest_algorithm: "sha1", disk_checks: [] };
    // The list row: the path, and the Verified mark only for a verified package.
    serve([makeJob({ id: "ok", state: "succeeded", result }), makeJob({ id: "raw", state: "succeeded", result: rawResult })]);
    const { unmount } = renderWithProviders(
      <JobsBrowser connections={[]} onCancel={() => {}} />,
    );
    expect(await screen.findByTestId("job-verified-ok")).toHaveTextContent("Verified · 2.5 GiB · SHA256");
    expect(screen.queryByTestId("job-verified-raw")).not.toBeInTheDocument();
    unmount();
    // The job's page: the full result.
    renderWithProviders(
      <>
        <JobResultView jobId="ok" result={result} />
        <JobResultView jobId="raw" result={rawResult} />
      </>,
    );
    const ok = screen.getByTestId("job-result-ok");
    expect(within(ok).getByTestId("job-result-path")).toHaveTextContent("/srv/exports/web-01.ova.zst");
    expect(within(ok).getByTestId("job-result-summary")).toHaveTextContent("2.5 GiB · 3 files · SHA256 manifest");
    expect(screen.getByTestId("job-verified-ok")).toHaveTextContent("Verified");
    expect(within(ok).getByRole("button", { name: "Copy path" })).toBeInTheDocument();

    const raw = screen.getByTestId("job-result-raw");
    expect(within(raw).getByTestId("job-result-summary")).toHaveTextContent("1 file · SHA1 manifest");
    expect(screen.queryByTestId("job-verified-raw")).not.toBeInTheDocument();
    expect(within(raw).getByText("Not verified")).toBeInTheDocument();

    await userEvent.setup().click(within(ok).getByTestId("job-result-files-toggle"));
    const files = within(ok).getByTestId("job-result-files");
    expect(within(files).getAllByRole("listitem").map((li) => li.textContent)).toEqual(result.files);

    // The disk checks: what ran, and what did not (grey, with why).
    expect(within(raw).queryByTestId("job-result-checks-toggle")).not.toBeInTheDocument();
    const toggle = within(ok).getByTestId("job-result-checks-toggle");
    expect(toggle).toHaveTextContent("Show disk checks (2 passed, 1 skipped)");
    await userEvent.setup().click(toggle);
    const rows = within(within(ok).getByTestId("job-result-checks")).getAllByTestId("job-result-check");
    expect(rows.map((r) => r.getAttribute("data-skipped"))).toEqual(["false", "false", "true"]);
    expect(rows[2]).toHaveTextContent("qemu-img check — skipped: the package is compressed");
  });

  it.each([
    ["queued", "export", false],
    ["running", "export", false],
    ["succeeded", "export", false],
    ["failed", "export", true],
    ["cancelled", "export", true],
    ["interrupted", "export", true],
    ["failed", "ova_package", false],
  ] as const)("a %s %s job %s a Retry button", async (state, kind, shown) => {
    serve([makeJob({ id: "x", state, kind })]);
    renderWithProviders(<JobsBrowser connections={[]} onCancel={() => {}} onRetry={() => {}} />);
    await screen.findByTestId("job-row");
    if (shown) expect(screen.getByTestId("job-retry")).toBeInTheDocument();
    else expect(screen.queryByTestId("job-retry")).not.toBeInTheDocument();
  });

  it("calls onRetry with the job, and shows no Retry without a handler", async () => {
    const onRetry = vi.fn();
    const failed = makeJob({ id: "f", name: "Export db", state: "failed" });
    serve([failed]);
    const { unmount } = renderWithProviders(<JobsBrowser connections={[]} onCancel={() => {}} onRetry={onRetry} />);
    await userEvent.setup().click(await screen.findByRole("button", { name: "Retry Export db" }));
    expect(onRetry).toHaveBeenCalledWith(failed);
    unmount();
    renderWithProviders(<JobsBrowser connections={[]} onCancel={() => {}} />);
    await screen.findByTestId("job-row");
    expect(screen.queryByTestId("job-retry")).not.toBeInTheDocument();
  });

  it("shows one progress bar per disk with its own bytes", () => {
    renderWithProviders(
      <JobProgressCell
        job={
          makeJob({
            id: "r",
            state: "running",
            progress: {
              job_id: "r",
              bytes_done: 6 * GiB,
              bytes_total: 12 * GiB,
              rate_bps: 200 * 1024 * 1024,
              eta_seconds: 31,
              disks: [
                { index: 0, name: "web-01.vmdk", bytes_done: 4 * GiB, bytes_total: 8 * GiB },
                { index: 1, name: "", bytes_done: 2 * GiB, bytes_total: null },
              ],
            },
          })
        }
      />,
    );
    expect(screen.getByText("50% · 6.0 GiB of 12.0 GiB · 200 MiB/s · 31 s left")).toBeInTheDocument();
    const disks = screen.getAllByTestId("job-disk-progress");
    expect(disks).toHaveLength(2);
    const [first, second] = disks as [HTMLElement, HTMLElement];
    expect(first).toHaveTextContent("web-01.vmdk · 4.0 GiB of 8.0 GiB");
    expect(within(first).getByRole("progressbar")).toHaveAttribute("aria-valuenow", "50");
    expect(second).toHaveTextContent("Disk 2 · 2.0 GiB");
    expect(within(second).getByRole("progressbar")).toHaveAttribute("aria-label", "Disk 2: in progress");
  });
});

describe("finished rows", () => {
  it("say how long the job took and how fast, and finished streams read 'X of X'", async () => {
    serve([
      makeJob({
        id: "done",
        state: "succeeded",
        started_at: "2026-12-01T10:00:00Z",
        finished_at: "2026-12-01T10:03:12Z",
        progress: { job_id: "done", bytes_done: 304 * 1024 * 1024, bytes_total: null, rate_bps: 0, eta_seconds: null, disks: [] },
      }),
    ]);
    renderWithProviders(<JobsBrowser connections={[]} onCancel={() => {}} />);
    const row = await screen.findByTestId("job-row");
    expect(within(row).getByTestId("job-duration")).toHaveTextContent("took 3 min 12 s · 1.6 MiB/s");
    expect(row).toHaveTextContent("304 MiB of 304 MiB");
    expect(screen.getByTestId("jobs-count")).toHaveTextContent(/^1 job$/);
  });
});

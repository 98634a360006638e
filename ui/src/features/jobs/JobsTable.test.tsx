import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { makeJob } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { formatBytes, formatEta } from "./format";
import { JobsTable } from "./JobsTable";

vi.mock("../../bindings", () => ({ commands: {}, events: { coreEvent: { listen: vi.fn() } } }));

const GiB = 1024 ** 3;

describe("JobsTable", () => {
  it("renders each state with its badge and cancel only for active jobs", async () => {
    const onCancel = vi.fn();
    const jobs = [
      makeJob({
        id: "r",
        name: "Running one",
        state: "running",
        progress: { job_id: "r", bytes_done: 5 * GiB, bytes_total: 20 * GiB, rate_bps: 100 * 1024 * 1024, eta_seconds: 154, disks: [] },
      }),
      makeJob({ id: "q", name: "Queued one", state: "queued" }),
      makeJob({ id: "s", name: "Done one", state: "succeeded" }),
      makeJob({
        id: "f",
        name: "Failed one",
        state: "failed",
        error: { code: "provider_unreachable", message: "Connection refused", retryable: true },
      }),
      makeJob({ id: "c", name: "Cancelled one", state: "cancelled" }),
      makeJob({ id: "i", name: "Interrupted one", state: "interrupted" }),
    ];
    renderWithProviders(<JobsTable jobs={jobs} onCancel={onCancel} />);

    const rows = screen.getAllByTestId("job-row");
    expect(rows.map((r) => r.getAttribute("data-job-state"))).toEqual([
      "running",
      "queued",
      "succeeded",
      "failed",
      "cancelled",
      "interrupted",
    ]);
    const [running, queued, succeeded, failed] = rows as [HTMLElement, HTMLElement, HTMLElement, HTMLElement];

    expect(within(running).getByText("Running")).toBeInTheDocument();
    expect(within(running).getByText("25% · 5.0 GiB of 20.0 GiB · 100 MiB/s · 2 min 34 s left")).toBeInTheDocument();
    expect(within(running).getByRole("progressbar")).toHaveAttribute("aria-valuenow", "25");
    expect(within(queued).getByText("Waiting for a free slot")).toBeInTheDocument();
    expect(within(succeeded).getByText("Succeeded")).toBeInTheDocument();
    expect(within(failed).getByText("Connection refused")).toBeInTheDocument();
    expect(within(failed).getByRole("button", { name: "Copy details" })).toBeInTheDocument();

    expect(screen.getAllByTestId("job-cancel")).toHaveLength(2);
    expect(within(succeeded).queryByTestId("job-cancel")).not.toBeInTheDocument();

    await userEvent.setup().click(within(queued).getByTestId("job-cancel"));
    expect(onCancel).toHaveBeenCalledWith(expect.objectContaining({ id: "q" }));
  });

  it("shows an indeterminate bar when the total is unknown", () => {
    renderWithProviders(
      <JobsTable
        jobs={[makeJob({ state: "running", progress: { job_id: "j-1", bytes_done: 1024, bytes_total: null, rate_bps: 512, eta_seconds: null, disks: [] } })]}
        onCancel={() => {}}
      />,
    );
    expect(screen.getByText("1.0 KiB · 512 B/s")).toBeInTheDocument();
  });
});

describe("format", () => {
  it("formats bytes and durations", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(300 * 1024 * 1024)).toBe("300 MiB");
    expect(formatEta(42)).toBe("42 s");
    expect(formatEta(3725)).toBe("1 h 2 min");
  });
});

describe("JobsTable results and retry", () => {
  const result = {
    path: "/srv/exports/web-01.ova.zst",
    files: ["web-01.ovf", "web-01-disk1.vmdk", "web-01.mf"],
    bytes: 2.5 * GiB,
    manifest_algorithm: "sha256",
    verified: true,
  };

  it("shows what a finished export produced, with the Verified badge only when verified", async () => {
    renderWithProviders(
      <JobsTable
        jobs={[
          makeJob({ id: "ok", state: "succeeded", result }),
          makeJob({ id: "raw", state: "succeeded", result: { ...result, path: "/srv/exports/db.ova", files: ["db.ovf"], verified: false, manifest_algorithm: "sha1" } }),
        ]}
        onCancel={() => {}}
      />,
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
  });

  it.each([
    ["queued", "export", false],
    ["running", "export", false],
    ["succeeded", "export", false],
    ["failed", "export", true],
    ["cancelled", "export", true],
    ["interrupted", "export", true],
    ["failed", "ova_package", false],
  ] as const)("a %s %s job %s a Retry button", (state, kind, shown) => {
    renderWithProviders(<JobsTable jobs={[makeJob({ id: "x", state, kind })]} onCancel={() => {}} onRetry={() => {}} />);
    if (shown) expect(screen.getByTestId("job-retry")).toBeInTheDocument();
    else expect(screen.queryByTestId("job-retry")).not.toBeInTheDocument();
  });

  it("calls onRetry with the job, and shows no Retry without a handler", async () => {
    const onRetry = vi.fn();
    const failed = makeJob({ id: "f", name: "Export db", state: "failed" });
    const { unmount } = renderWithProviders(<JobsTable jobs={[failed]} onCancel={() => {}} onRetry={onRetry} />);
    await userEvent.setup().click(screen.getByRole("button", { name: "Retry Export db" }));
    expect(onRetry).toHaveBeenCalledWith(failed);
    unmount();
    renderWithProviders(<JobsTable jobs={[failed]} onCancel={() => {}} />);
    expect(screen.queryByTestId("job-retry")).not.toBeInTheDocument();
  });

  it("shows one progress bar per disk with its own bytes", () => {
    renderWithProviders(
      <JobsTable
        jobs={[
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
          }),
        ]}
        onCancel={() => {}}
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

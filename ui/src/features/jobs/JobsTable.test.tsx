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

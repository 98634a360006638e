import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import { makeJob } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { JobsPage } from "./JobsPage";
import { queryJobsLocally } from "./jobFilters";
import type { Job } from "../../bindings";

vi.mock("../../bindings", async (importOriginal) => ({
  JOB_PAGE_MAX: (await importOriginal<{ JOB_PAGE_MAX: number }>()).JOB_PAGE_MAX,
  commands: { queryJobs: vi.fn(), retryJob: vi.fn(), cancelJob: vi.fn(), getJob: vi.fn(), listConnections: vi.fn() },
  events: { coreEvent: { listen: vi.fn() } },
}));

const mocked = vi.mocked(commands);

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

/** The jobs the mocked core holds, newest first. */
let coreJobs: Job[] = [];

beforeEach(() => {
  vi.clearAllMocks();
  coreJobs = [];
  mocked.listConnections.mockResolvedValue({ status: "ok", data: [] });
  mocked.queryJobs.mockImplementation((query) => Promise.resolve({ status: "ok", data: queryJobsLocally(coreJobs, [], query) }));
});

describe("JobsPage", () => {
  it("retries a failed export and shows the new job first", async () => {
    const failed = makeJob({ id: "old", name: "Export db", state: "failed", error: { code: "unreachable", message: "cannot reach vc", retryable: true } });
    coreJobs = [failed];
    mocked.retryJob.mockImplementation(() => {
      const queued = makeJob({ id: "new", name: "Export db (retry)", state: "queued" });
      coreJobs = [queued, ...coreJobs];
      return Promise.resolve({ status: "ok", data: queued });
    });
    const user = userEvent.setup();
    renderWithProviders(<JobsPage />);

    await user.click(await screen.findByTestId("job-retry"));
    expect(mocked.retryJob).toHaveBeenCalledWith("old");
    await waitFor(() => expect(screen.getAllByTestId("job-row").map((r) => r.getAttribute("data-job-id"))).toEqual(["new", "old"]));
    const [fresh] = screen.getAllByTestId("job-row") as [HTMLElement];
    expect(within(fresh).getByText("Queued")).toBeInTheDocument();
  });

  it("shows the core's message when a retry is refused", async () => {
    coreJobs = [makeJob({ id: "old", state: "interrupted" })];
    mocked.retryJob.mockResolvedValue({ status: "error", error: { code: "not_found", message: "connection \"c-1\" was not found", retryable: false } });
    const user = userEvent.setup();
    renderWithProviders(<JobsPage />);
    await user.click(await screen.findByTestId("job-retry"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent('connection "c-1" was not found');
  });

  it("cancels a running job", async () => {
    const running = makeJob({ id: "r", state: "running" });
    coreJobs = [running];
    mocked.cancelJob.mockResolvedValue({ status: "ok", data: null });
    mocked.getJob.mockResolvedValue({ status: "ok", data: { job: { ...running, state: "cancelled" }, events: [] } });
    const user = userEvent.setup();
    renderWithProviders(<JobsPage />);
    // It asks first; keeping it running cancels nothing.
    await user.click(await screen.findByTestId("job-cancel"));
    await user.click(await screen.findByTestId("cancel-job-keep"));
    expect(mocked.cancelJob).not.toHaveBeenCalled();
    await user.click(screen.getByTestId("job-cancel"));
    await user.click(await screen.findByTestId("cancel-job-confirm"));
    expect(mocked.cancelJob).toHaveBeenCalledWith("r");
    await waitFor(() => expect(screen.getByTestId("job-row")).toHaveAttribute("data-job-state", "cancelled"));
    expect(screen.queryByTestId("job-cancel")).not.toBeInTheDocument();
    expect(screen.getByTestId("job-retry")).toBeInTheDocument();
  });
});

describe("JobsPage without jobs", () => {
  it("says how jobs come to be", async () => {
    renderWithProviders(<JobsPage />);
    expect(await screen.findByTestId("jobs-empty")).toHaveTextContent("No jobs yet");
  });
});

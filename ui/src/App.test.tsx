import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { App } from "./App";
import { commands } from "./bindings";
import { appInfo, kinds, webhookEvents } from "./test/fixtures";
import { renderWithProviders } from "./test/render";
import { useNavigation } from "./store/navigation";

vi.mock("./bindings", async (importOriginal) => ({
  JOB_PAGE_MAX: (await importOriginal<{ JOB_PAGE_MAX: number }>()).JOB_PAGE_MAX,
  commands: {
    appInfo: vi.fn(),
    listProviderKinds: vi.fn(),
    listConnections: vi.fn(),
    queryJobs: vi.fn(),
    getSettings: vi.fn(),
    listWebhooks: vi.fn(),
    listWebhookEvents: vi.fn(),
    listWebhookDeliveries: vi.fn(),
    getWebhookSettings: vi.fn(),
    listSchedules: vi.fn(),
    schedulerStatus: vi.fn(),
    getDesktopSettings: vi.fn(),
    getAutostart: vi.fn(),
    jobStats: vi.fn(),
    appResourceSeries: vi.fn(),
    metricsEndpointStatus: vi.fn(),
  },
  events: { coreEvent: { listen: vi.fn(() => Promise.resolve(() => {})) } },
}));

const mocked = vi.mocked(commands);

beforeEach(() => {
  useNavigation.setState({ section: "inventory" });
  mocked.listProviderKinds.mockResolvedValue(kinds);
  mocked.listConnections.mockResolvedValue({ status: "ok", data: [] });
  mocked.queryJobs.mockResolvedValue({ status: "ok", data: { jobs: [], matched: 0, total: 0 } });
  mocked.getSettings.mockResolvedValue({ status: "ok", data: { max_concurrent_jobs: 4, max_jobs_per_connection: 2, disks_per_export: 4, metrics_enabled: false, metrics_listen: "127.0.0.1:9464" } });
  mocked.listWebhooks.mockResolvedValue({ status: "ok", data: [] });
  mocked.listWebhookEvents.mockResolvedValue(webhookEvents);
  mocked.listWebhookDeliveries.mockResolvedValue({ status: "ok", data: [] });
  mocked.getWebhookSettings.mockResolvedValue({ status: "ok", data: { block_private_destinations: false } });
  mocked.listSchedules.mockResolvedValue({ status: "ok", data: [] });
  mocked.schedulerStatus.mockResolvedValue({ status: "ok", data: { paused: false, active_here: true, running: [], next: null, last_run_failed: false } });
  mocked.getDesktopSettings.mockResolvedValue({ status: "ok", data: { notify_runs: "failures_only" } });
  mocked.getAutostart.mockResolvedValue({ status: "ok", data: false });
  mocked.jobStats.mockImplementation((range) =>
    Promise.resolve({
      status: "ok",
      data: {
        range,
        running: 0,
        queued: 0,
        by_outcome: [],
        by_provider: [],
        bytes_exported: 0,
        runs: [],
        runs_truncated: false,
        heatmap: [],
      },
    }),
  );
  mocked.appResourceSeries.mockResolvedValue({ status: "ok", data: [] });
  mocked.metricsEndpointStatus.mockResolvedValue({
    status: "ok",
    data: { enabled: false, listen: "127.0.0.1:9464", url: null, loopback_only: true, error: null },
  });
});

describe("startup error screen", () => {
  it("renders only the error screen with message, code and directories", async () => {
    mocked.appInfo.mockResolvedValue({
      ...appInfo,
      startup_error: {
        code: "database_open_failed",
        message: `Could not open the database ${appInfo.database_path}: file is not a database`,
        retryable: false,
      },
    });
    renderWithProviders(<App />);

    const screenEl = await screen.findByTestId("startup-error");
    expect(screenEl).toHaveTextContent(`Could not open the database ${appInfo.database_path}: file is not a database`);
    expect(screen.getByTestId("startup-error-code")).toHaveTextContent("database_open_failed");
    expect(screenEl).toHaveTextContent(appInfo.data_dir);
    expect(screenEl).toHaveTextContent(appInfo.log_dir);
    expect(screen.getByRole("button", { name: "Copy details" })).toBeInTheDocument();
    expect(screen.queryByTestId("nav-inventory")).not.toBeInTheDocument();
    expect(screen.queryByRole("navigation")).not.toBeInTheDocument();
  });

  it("shows the error screen when the core cannot be reached", async () => {
    mocked.appInfo.mockRejectedValue("IPC unavailable");
    renderWithProviders(<App />);
    expect(await screen.findByTestId("startup-error")).toHaveTextContent("IPC unavailable");
  });
});

describe("app frame", () => {
  it("shows the six sections and switches between them", async () => {
    mocked.appInfo.mockResolvedValue(appInfo);
    const user = userEvent.setup();
    renderWithProviders(<App />);

    expect(await screen.findByTestId("page-inventory")).toBeInTheDocument();
    expect(await screen.findByText("Add a connection to browse your VMs")).toBeInTheDocument();

    for (const section of ["dashboard", "jobs", "schedules", "connections", "webhooks", "settings", "inventory"]) {
      await user.click(screen.getByTestId(`nav-${section}`));
      // The dashboard is loaded on first use (with the charts library): allow for the import.
      expect(await screen.findByTestId(`page-${section}`, {}, { timeout: 10_000 })).toBeInTheDocument();
    }

    await user.click(screen.getByTestId("nav-jobs"));
    expect(await screen.findByText("No jobs yet")).toBeInTheDocument();

    await user.click(screen.getByTestId("nav-schedules"));
    expect(await screen.findByText("No schedules yet")).toBeInTheDocument();
    expect(screen.getByTestId("schedule-add")).toBeDisabled();

    await user.click(screen.getByTestId("nav-webhooks"));
    expect(await screen.findByText("No webhooks yet")).toBeInTheDocument();
    expect(await screen.findByTestId("webhook-block-private")).not.toBeChecked();

    await user.click(screen.getByTestId("nav-dashboard"));
    expect(await screen.findByTestId("stat-running-value", {}, { timeout: 10_000 })).toHaveTextContent("0");
    expect(screen.getByTestId("stat-next-run-value")).toHaveTextContent("—");
    expect(screen.getByText(/No export is running/)).toBeInTheDocument();
    expect(screen.getAllByTestId(/^heat-cell-/)).toHaveLength(168);

    await user.click(screen.getByTestId("nav-settings"));
    expect(await screen.findByTestId("settings-database-path")).toHaveTextContent(appInfo.database_path);
    expect(await screen.findByTestId("settings-metrics-enabled")).not.toBeChecked();
    expect(await screen.findByTestId("settings-max-concurrent-jobs")).toHaveValue("4");
    expect(await screen.findByTestId("settings-notify-failures_only")).toBeChecked();
    expect(await screen.findByTestId("settings-autostart")).not.toBeChecked();

    await user.click(screen.getByTestId("nav-inventory"));
    await user.click(await screen.findByTestId("inventory-go-connections"));
    expect(await screen.findByTestId("page-connections")).toBeInTheDocument();
    expect(screen.getByText("No connections yet")).toBeInTheDocument();
    // Six pages with charts: slower than the default 5 s on a loaded 2-core machine.
  }, 20_000);
});

import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import { renderWithProviders } from "../../test/render";
import { isLoopback } from "./metricsEndpoint";
import { MetricsEndpointForm } from "./MetricsEndpointForm";

vi.mock("../../bindings", () => ({
  commands: { updateSettings: vi.fn(), metricsEndpointStatus: vi.fn() },
  events: { coreEvent: { listen: vi.fn() } },
}));

const SETTINGS = { max_concurrent_jobs: 4, max_jobs_per_connection: 2, disks_per_export: 4, metrics_enabled: false, metrics_listen: "127.0.0.1:9464" };

describe("MetricsEndpointForm", () => {
  beforeEach(() => {
    vi.mocked(commands.metricsEndpointStatus).mockResolvedValue({
      status: "ok",
      data: { enabled: true, listen: "127.0.0.1:9464", url: "http://127.0.0.1:9464/metrics", loopback_only: true, error: null },
    });
    vi.mocked(commands.updateSettings).mockClear();
    vi.mocked(commands.updateSettings).mockImplementation((s) => Promise.resolve({ status: "ok", data: s }));
  });

  it("turns the endpoint on, keeping the other settings", async () => {
    const user = userEvent.setup();
    renderWithProviders(<MetricsEndpointForm settings={SETTINGS} />);
    await user.click(screen.getByTestId("settings-metrics-enabled"));
    await user.click(screen.getByTestId("settings-metrics-save"));
    await waitFor(() => expect(commands.updateSettings).toHaveBeenCalledWith({ ...SETTINGS, metrics_enabled: true }));
    expect(screen.queryByTestId("settings-metrics-exposed")).not.toBeInTheDocument();
  });

  it("warns before serving to other machines and refuses what the core would", async () => {
    const user = userEvent.setup();
    renderWithProviders(<MetricsEndpointForm settings={{ ...SETTINGS, metrics_enabled: true }} />);
    expect(await screen.findByTestId("settings-metrics-status")).toHaveTextContent("http://127.0.0.1:9464/metrics");
    const listen = screen.getByTestId("settings-metrics-listen");
    await user.clear(listen);
    await user.type(listen, "0.0.0.0:9464");
    expect(screen.getByTestId("settings-metrics-exposed")).toHaveTextContent("reachable from other machines");

    await user.clear(listen);
    await user.type(listen, "localhost:9464");
    await user.click(screen.getByTestId("settings-metrics-save"));
    expect(await screen.findByText("Enter an IP address and port, e.g. 127.0.0.1:9464")).toBeInTheDocument();
    expect(commands.updateSettings).not.toHaveBeenCalled();
  });

  it("shows why an enabled endpoint is not running", async () => {
    vi.mocked(commands.metricsEndpointStatus).mockResolvedValue({
      status: "ok",
      data: {
        enabled: true,
        listen: "127.0.0.1:9464",
        url: null,
        loopback_only: true,
        error: { code: "io_error", message: "cannot listen on 127.0.0.1:9464 for metrics: Address in use", retryable: true },
      },
    });
    renderWithProviders(<MetricsEndpointForm settings={{ ...SETTINGS, metrics_enabled: true }} />);
    expect(await screen.findByText(/Address in use/)).toBeInTheDocument();
  });
});

describe("isLoopback", () => {
  it("matches the core's idea of loopback", () => {
    expect(isLoopback("127.0.0.1:9464")).toBe(true);
    expect(isLoopback("127.1.2.3:1")).toBe(true);
    expect(isLoopback("[::1]:9464")).toBe(true);
    expect(isLoopback("0.0.0.0:9464")).toBe(false);
    expect(isLoopback("192.168.1.5:9464")).toBe(false);
    expect(isLoopback("[::]:9464")).toBe(false);
  });
});

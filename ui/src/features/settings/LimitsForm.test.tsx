import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import { renderWithProviders } from "../../test/render";
import { LimitsForm } from "./LimitsForm";

vi.mock("../../bindings", () => ({
  commands: { updateSettings: vi.fn() },
  events: { coreEvent: { listen: vi.fn() } },
}));

const SETTINGS = { max_concurrent_jobs: 4, max_jobs_per_connection: 2, disks_per_export: 4, metrics_enabled: false, metrics_listen: "127.0.0.1:9464" };

describe("LimitsForm", () => {
  it("rejects values outside the core's range and saves valid ones", async () => {
    const update = vi.mocked(commands.updateSettings);
    update.mockImplementation((s) => Promise.resolve({ status: "ok", data: s }));
    const user = userEvent.setup();
    renderWithProviders(<LimitsForm settings={{ ...SETTINGS }} />);

    const perConnection = screen.getByTestId("settings-max-jobs-per-connection");
    await user.clear(perConnection);
    await user.type(perConnection, "17");
    await user.click(screen.getByTestId("settings-save"));
    expect(await screen.findByText("Jobs per connection must be between 1 and 16")).toBeInTheDocument();
    expect(update).not.toHaveBeenCalled();

    await user.clear(perConnection);
    await user.type(perConnection, "3");
    await user.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(update).toHaveBeenCalledWith({ ...SETTINGS, max_jobs_per_connection: 3 }));
  });

  it("edits how many disks one export downloads at once", async () => {
    const update = vi.mocked(commands.updateSettings);
    update.mockReset();
    update.mockImplementation((s) => Promise.resolve({ status: "ok", data: s }));
    const user = userEvent.setup();
    renderWithProviders(<LimitsForm settings={{ ...SETTINGS }} />);
    const disks = screen.getByTestId("settings-disks-per-export");
    await user.clear(disks);
    await user.type(disks, "0");
    await user.click(screen.getByTestId("settings-save"));
    expect(await screen.findByText("Disks at once must be between 1 and 16")).toBeInTheDocument();
    expect(update).not.toHaveBeenCalled();
    await user.clear(disks);
    await user.type(disks, "1");
    await user.click(screen.getByTestId("settings-save"));
    await waitFor(() => expect(update).toHaveBeenCalledWith({ ...SETTINGS, disks_per_export: 1 }));
  });

  it("shows the core's error when saving fails", async () => {
    vi.mocked(commands.updateSettings).mockResolvedValue({
      status: "error",
      error: { code: "database_write_failed", message: "disk full", retryable: true },
    });
    const user = userEvent.setup();
    renderWithProviders(<LimitsForm settings={{ ...SETTINGS }} />);
    const total = screen.getByTestId("settings-max-concurrent-jobs");
    await user.clear(total);
    await user.type(total, "8");
    await user.click(screen.getByTestId("settings-save"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent("disk full");
  });
});

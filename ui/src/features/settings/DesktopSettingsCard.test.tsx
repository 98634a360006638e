import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import { renderWithProviders } from "../../test/render";
import { DesktopSettingsCard } from "./DesktopSettingsCard";

vi.mock("../../bindings", () => ({
  commands: { getDesktopSettings: vi.fn(), updateDesktopSettings: vi.fn(), getAutostart: vi.fn(), setAutostart: vi.fn() },
  events: { coreEvent: { listen: vi.fn() } },
}));

const mocked = vi.mocked(commands);

beforeEach(() => {
  vi.clearAllMocks();
  mocked.getAutostart.mockResolvedValue({ status: "ok", data: false });
});

describe("DesktopSettingsCard", () => {
  it("shows and saves when to notify after scheduled runs", async () => {
    mocked.getDesktopSettings.mockResolvedValue({ status: "ok", data: { notify_runs: "failures_only" } });
    mocked.updateDesktopSettings.mockResolvedValue({ status: "ok", data: { notify_runs: "never" } });
    const user = userEvent.setup();
    renderWithProviders(<DesktopSettingsCard />);
    expect(await screen.findByTestId("settings-notify-failures_only")).toBeChecked();
    await user.click(screen.getByTestId("settings-notify-never"));
    expect(mocked.updateDesktopSettings).toHaveBeenCalledWith({ notify_runs: "never" });
    await waitFor(() => expect(screen.getByTestId("settings-notify-never")).toBeChecked());
  });

  it("treats a missing setting as the core's default (always)", async () => {
    mocked.getDesktopSettings.mockResolvedValue({ status: "ok", data: {} });
    renderWithProviders(<DesktopSettingsCard />);
    expect(await screen.findByTestId("settings-notify-always")).toBeChecked();
  });

  it("turns start at login on, and shows the core's error when the OS refuses", async () => {
    mocked.getDesktopSettings.mockResolvedValue({ status: "ok", data: { notify_runs: "always" } });
    mocked.setAutostart
      .mockResolvedValueOnce({ status: "ok", data: true })
      .mockResolvedValueOnce({ status: "error", error: { code: "io_error", message: "cannot write ~/.config/autostart", retryable: false } });
    const user = userEvent.setup();
    renderWithProviders(<DesktopSettingsCard />);
    const toggle = await screen.findByTestId("settings-autostart");
    expect(toggle).not.toBeChecked();
    await user.click(toggle);
    expect(mocked.setAutostart).toHaveBeenCalledWith(true);
    await waitFor(() => expect(screen.getByTestId("settings-autostart")).toBeChecked());
    await user.click(screen.getByTestId("settings-autostart"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent("cannot write ~/.config/autostart");
    expect(screen.getByTestId("settings-autostart")).toBeChecked();
  });
});

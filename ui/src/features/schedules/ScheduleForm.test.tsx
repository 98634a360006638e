import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import type { ScheduleInput } from "../../bindings";
import { connection } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { makeVm } from "../../test/vms";
import { makeDetail, makeSchedule } from "./fixtures";
import { ScheduleForm } from "./ScheduleForm";
import { messages } from "./schema";

vi.mock("../../bindings", () => ({
  commands: {
    addSchedule: vi.fn(),
    updateSchedule: vi.fn(),
    getSchedule: vi.fn(),
    listVms: vi.fn(),
    listProviderKinds: vi.fn(() => Promise.resolve([])),
    previewCron: vi.fn(),
  },
  events: { coreEvent: { listen: vi.fn() } },
}));
vi.mock("@tauri-apps/plugin-dialog", () => ({ open: vi.fn() }));

const mocked = vi.mocked(commands);
const vms = [makeVm("/DC0/vm/prod/web01"), makeVm("/DC0/vm/prod/web02"), makeVm("/DC0/vm/prod/db01")];
const upcoming = [1, 2, 3, 4, 5].map((d) => `2026-12-0${d}T01:00:00Z`);

function setup(schedule = null as ReturnType<typeof makeSchedule> | null) {
  const onClose = vi.fn();
  const onSaved = vi.fn();
  renderWithProviders(
    <ScheduleForm schedule={schedule} connections={[connection]} defaultDestination="/srv/backups" onSaved={onSaved} onClose={onClose} />,
  );
  return { onClose, onSaved, user: userEvent.setup() };
}

/** The core answers add/update with the saved schedule and get_schedule with its next times. */
function coreSaves(name = "nightly") {
  const saved = makeSchedule({ id: "s-new", name });
  mocked.addSchedule.mockResolvedValue({ status: "ok", data: saved });
  mocked.updateSchedule.mockResolvedValue({ status: "ok", data: saved });
  mocked.getSchedule.mockResolvedValue({ status: "ok", data: makeDetail(saved, upcoming) });
  return saved;
}

const sent = (): ScheduleInput => {
  const call = mocked.addSchedule.mock.calls[0];
  if (!call) throw new Error("addSchedule was not called");
  return call[0];
};

beforeEach(() => {
  vi.clearAllMocks();
  mocked.listVms.mockResolvedValue({ status: "ok", data: vms });
  mocked.previewCron.mockImplementation((cron) =>
    Promise.resolve(
      cron.split(" ").length === 5 || cron.startsWith("@")
        ? { status: "ok", data: { description: `described: ${cron}`, upcoming } }
        : { status: "error", error: { code: "invalid_cron", message: `"${cron}" has ${cron.split(" ").length} fields`, retryable: false } },
    ),
  );
});

// A whole form of Mantine inputs, typed into key by key: slow on a busy 2-core machine.
describe("ScheduleForm", { timeout: 30_000 }, () => {
  it("adds a schedule of fixed VMs and then shows the core's description and next 5 runs", async () => {
    coreSaves();
    const { user, onSaved, onClose } = setup();
    expect(screen.getByTestId("schedule-preview-pending")).toBeInTheDocument();
    expect(screen.getByTestId("schedule-connection")).toHaveValue("c-1");
    expect(screen.getByTestId("schedule-destination")).toHaveValue("/srv/backups");

    await user.type(screen.getByTestId("schedule-name"), "nightly");
    await user.type(screen.getByTestId("schedule-vms"), "web");
    const options = await screen.findAllByTestId("schedule-vm-option");
    expect(options.map((o) => o.getAttribute("data-vm-path"))).toEqual(["/DC0/vm/prod/web01", "/DC0/vm/prod/web02"]);
    await user.click(options[1] as HTMLElement);
    expect(screen.getAllByTestId("schedule-vm-chosen").map((c) => c.getAttribute("data-vm-path"))).toEqual(["/DC0/vm/prod/web02"]);
    await user.click(screen.getByTestId("schedule-retention-keep_last"));
    await user.clear(screen.getByTestId("schedule-keep-last"));
    await user.type(screen.getByTestId("schedule-keep-last"), "2");
    await user.click(screen.getByTestId("schedule-save"));

    await waitFor(() => expect(mocked.addSchedule).toHaveBeenCalledTimes(1));
    expect(sent()).toEqual({
      name: "nightly",
      cron: "0 2 * * *",
      time_zone: null,
      template: {
        connection_id: "c-1",
        selection: { kind: "fixed", vms: ["/DC0/vm/prod/web02"] },
        destination_dir: "/srv/backups",
        format: { package: "ova", compression: "none", compression_level: null, manifest: "sha256", disk_format: null },
      },
      retention: { kind: "keep_last", count: 2 },
      missed_run_policy: "run_once",
      enabled: true,
    });
    // The preview now comes from get_schedule for the saved schedule.
    expect(await screen.findByTestId("schedule-description")).toHaveTextContent("At 02:00, every day");
    const next = screen.getByTestId("schedule-next-runs");
    expect(next).toHaveAttribute("data-count", "5");
    expect(within(next).getAllByRole("listitem")).toHaveLength(5);
    expect(mocked.getSchedule).toHaveBeenCalledWith("s-new");
    expect(onSaved).toHaveBeenCalledWith(expect.objectContaining({ id: "s-new" }));
    expect(screen.getByTestId("schedule-saved")).toHaveTextContent("Saved “nightly”");

    // Saving again edits what was just added, rather than adding a second schedule.
    await user.clear(screen.getByTestId("schedule-cron"));
    await user.type(screen.getByTestId("schedule-cron"), "30 3 * * *");
    expect(await screen.findByText(/save to see the times for your changes/)).toBeInTheDocument();
    await user.click(screen.getByTestId("schedule-save"));
    await waitFor(() => expect(mocked.updateSchedule).toHaveBeenCalledTimes(1));
    expect(mocked.updateSchedule.mock.calls[0]?.[0]).toBe("s-new");
    expect(mocked.updateSchedule.mock.calls[0]?.[1].cron).toBe("30 3 * * *");
    expect(mocked.addSchedule).toHaveBeenCalledTimes(1);

    await user.click(screen.getByTestId("schedule-done"));
    expect(onClose).toHaveBeenCalled();
  });

  it("sends a rule, a preset, GFS retention and the skip policy", async () => {
    coreSaves("web");
    const { user } = setup();
    await user.type(screen.getByTestId("schedule-name"), "web");
    await user.click(screen.getByTestId("schedule-preset-weekly"));
    expect(screen.getByTestId("schedule-cron")).toHaveValue("@weekly");
    await user.click(screen.getByText("VMs matching a rule"));
    await user.type(screen.getByTestId("schedule-match"), "web*");
    await user.type(screen.getByTestId("schedule-folder"), "/DC0/vm/prod");
    await user.click(screen.getByTestId("schedule-retention-gfs"));
    await user.clear(screen.getByTestId("schedule-keep-monthly"));
    await user.type(screen.getByTestId("schedule-keep-monthly"), "12");
    await user.selectOptions(screen.getByTestId("schedule-missed"), "skip");
    await user.selectOptions(screen.getByTestId("schedule-format-compression"), "zstd");
    await user.click(screen.getByTestId("schedule-save"));

    await waitFor(() => expect(mocked.addSchedule).toHaveBeenCalled());
    expect(sent()).toMatchObject({
      name: "web",
      cron: "@weekly",
      template: { selection: { kind: "rule", name_pattern: "web*", folder: "/DC0/vm/prod" }, format: { compression: "zstd" } },
      retention: { kind: "gfs", daily: 7, weekly: 4, monthly: 12 },
      missed_run_policy: "skip",
    });
  });

  it("offers a searchable list of IANA zones and sends the chosen one", async () => {
    coreSaves();
    const { user } = setup();
    await user.type(screen.getByTestId("schedule-name"), "nightly");
    await user.type(screen.getByTestId("schedule-vms"), "/DC0/vm/elsewhere/vm9");
    await user.click(screen.getByTestId("schedule-vm-add-path"));
    const zone = screen.getByTestId("schedule-timezone");
    expect((zone as HTMLInputElement).value).toMatch(/^This computer's zone/);
    await user.click(zone);
    await user.clear(zone);
    await user.type(zone, "new york");
    await user.click(await screen.findByRole("option", { name: "America/New_York" }));
    await user.click(screen.getByTestId("schedule-save"));
    await waitFor(() => expect(mocked.addSchedule).toHaveBeenCalled());
    expect(sent().time_zone).toBe("America/New_York");
    expect(sent().template.selection).toEqual({ kind: "fixed", vms: ["/DC0/vm/elsewhere/vm9"] });
  });

  it("refuses what the core would refuse, with the core's words, before calling it", async () => {
    const { user } = setup();
    await user.clear(screen.getByTestId("schedule-cron"));
    await user.type(screen.getByTestId("schedule-cron"), "0 2 * *");
    await user.click(screen.getByTestId("schedule-save"));
    expect(await screen.findByText(messages.nameRequired)).toBeInTheDocument();
    expect(screen.getByText(messages.cronFieldCount("0 2 * *", 4))).toBeInTheDocument();
    expect(screen.getByText(messages.noVms)).toBeInTheDocument();
    expect(screen.getByTestId("schedule-cron")).toHaveAttribute("aria-invalid", "true");
    expect(mocked.addSchedule).not.toHaveBeenCalled();
  });

  it.each([
    ["invalid_cron", '"0 0 30 2 *" never fires (no such date)', "schedule-cron"],
    ["schedule_name_taken", 'a schedule named "nightly" already exists', "schedule-name"],
    ["invalid_timezone", '"Mars/Olympus" is not an IANA time zone such as Europe/Paris or America/New_York', "schedule-timezone"],
    ["invalid_destination", "The folder /srv/backups does not exist", "schedule-destination"],
    ["invalid_input", 'There is no connection "c-1"; add it first or choose another', "schedule-connection"],
  ])("shows the core's %s beside its field", async (code, message, testId) => {
    mocked.addSchedule.mockResolvedValue({ status: "error", error: { code, message, retryable: false } });
    const { user } = setup();
    await user.type(screen.getByTestId("schedule-name"), "nightly");
    await user.type(screen.getByTestId("schedule-vms"), "/DC0/vm/prod/web01");
    await user.keyboard("{Enter}");
    await user.click(screen.getByTestId("schedule-save"));
    expect(await screen.findByText(message)).toBeInTheDocument();
    expect(screen.getByTestId(testId)).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByTestId("error-message")).not.toBeInTheDocument();
  });

  it("shows other core errors as an alert", async () => {
    mocked.addSchedule.mockResolvedValue({ status: "error", error: { code: "database_error", message: "database is locked", retryable: true } });
    const { user } = setup();
    await user.type(screen.getByTestId("schedule-name"), "nightly");
    await user.click(await screen.findByText("web01"));
    await user.click(screen.getByTestId("schedule-save"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent("database is locked");
  });

  it("describes the expression and its next runs while it is typed, before any save", async () => {
    const { user } = setup();
    const cronInput = screen.getByTestId("schedule-cron");
    expect(await screen.findByTestId("schedule-cron-preview")).toHaveTextContent("described: 0 2 * * *");
    await user.clear(cronInput);
    await user.type(cronInput, "15 4 * *");
    await waitFor(() => expect(screen.getByTestId("schedule-cron-preview")).toHaveAttribute("data-valid", "false"));
    expect(screen.getByTestId("schedule-cron-preview")).toHaveTextContent('"15 4 * *" has 4 fields');
    await user.type(cronInput, " 1");
    await waitFor(() => expect(screen.getByTestId("schedule-cron-preview")).toHaveTextContent("described: 15 4 * * 1"));
    expect(screen.getByTestId("schedule-cron-preview-next").textContent?.split("; ")).toHaveLength(3);
    expect(mocked.addSchedule).not.toHaveBeenCalled();
  });

  it("edits a saved schedule: shows its saved times at once and sends update_schedule", async () => {
    const schedule = makeSchedule({ retention: { kind: "keep_all" } });
    mocked.getSchedule.mockResolvedValue({ status: "ok", data: makeDetail(schedule, upcoming) });
    mocked.updateSchedule.mockResolvedValue({ status: "ok", data: schedule });
    const { user } = setup(schedule);
    expect(screen.getByTestId("schedule-name")).toHaveValue("nightly");
    expect(screen.getByTestId("schedule-retention-keep_all")).toBeChecked();
    expect(screen.getAllByTestId("schedule-vm-chosen").map((c) => c.getAttribute("data-vm-path"))).toEqual(["/DC0/vm/prod/web01"]);
    expect(await screen.findByTestId("schedule-next-runs")).toHaveAttribute("data-count", "5");
    await user.click(screen.getByTestId("schedule-form-enabled"));
    await user.click(screen.getByTestId("schedule-save"));
    await waitFor(() => expect(mocked.updateSchedule).toHaveBeenCalled());
    expect(mocked.updateSchedule.mock.calls[0]?.[0]).toBe("s-1");
    expect(mocked.updateSchedule.mock.calls[0]?.[1]).toMatchObject({ enabled: false, retention: { kind: "keep_all" } });
    expect(mocked.addSchedule).not.toHaveBeenCalled();
  });
});

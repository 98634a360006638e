import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { notifications } from "@mantine/notifications";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import { handleCoreEvent } from "../../api/coreEvents";
import { connection } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { makeDetail, makeRun, makeSchedule, makeStatus } from "./fixtures";
import { SchedulesPage } from "./SchedulesPage";

vi.mock("../../bindings", () => ({
  commands: {
    listSchedules: vi.fn(),
    listConnections: vi.fn(),
    getSchedule: vi.fn(),
    scheduleHistory: vi.fn(),
    schedulerStatus: vi.fn(),
    runScheduleNow: vi.fn(),
    pauseSchedules: vi.fn(),
    resumeSchedules: vi.fn(),
    setScheduleEnabled: vi.fn(),
    removeSchedule: vi.fn(),
    scheduleRetentionPreview: vi.fn(),
    listVms: vi.fn(),
    listProviderKinds: vi.fn(() => Promise.resolve([])),
  },
  events: { coreEvent: { listen: vi.fn() } },
}));
vi.mock("@tauri-apps/plugin-dialog", () => ({ open: vi.fn() }));

const mocked = vi.mocked(commands);
const HOUR = 3_600_000;

const row = (name: string) => {
  const el = screen.getAllByTestId("schedule-row").find((r) => r.getAttribute("data-schedule-name") === name);
  if (!el) throw new Error(`no row for ${name}`);
  return el;
};

function setup() {
  const user = userEvent.setup();
  const result = renderWithProviders(<SchedulesPage />);
  return { user, queryClient: result.queryClient };
}

beforeEach(() => {
  vi.clearAllMocks();
  mocked.listConnections.mockResolvedValue({ status: "ok", data: [connection] });
  mocked.schedulerStatus.mockResolvedValue({ status: "ok", data: makeStatus() });
  mocked.scheduleHistory.mockResolvedValue({ status: "ok", data: [] });
  mocked.listVms.mockResolvedValue({ status: "ok", data: [] });
});

describe("SchedulesPage", { timeout: 30_000 }, () => {
  it("lists schedules with their description, next run, last status and problem", async () => {
    const next = new Date(Date.now() + 5 * HOUR + 60_000).toISOString();
    mocked.listSchedules.mockResolvedValue({
      status: "ok",
      data: [
        makeSchedule({ id: "s-1", name: "nightly", next_run: next, last_status: "succeeded", last_run: new Date(Date.now() - 19 * HOUR).toISOString() }),
        makeSchedule({
          id: "s-2",
          name: "old-lab",
          cron: "@weekly",
          time_zone: "Europe/Paris",
          description: "At 00:00, on Sunday",
          enabled: false,
          template: { ...makeSchedule().template, connection_id: "c-gone" },
          problem: "The connection this schedule uses was removed; edit the schedule to choose another",
        }),
      ],
    });
    setup();

    const nightly = await screen.findByText("nightly").then(() => row("nightly"));
    expect(nightly).toHaveAttribute("data-schedule-status", "succeeded");
    expect(within(nightly).getByTestId("schedule-row-description")).toHaveTextContent("At 02:00, every day");
    const nextCell = within(nightly).getByTestId("schedule-next-run");
    expect(nextCell).toHaveAttribute("data-next-run", next);
    expect(nextCell).toHaveTextContent(new Date(next).toLocaleString(undefined, { hour: "2-digit", minute: "2-digit" }));
    expect(nextCell).toHaveTextContent("in 5 hours");
    expect(within(nightly).getByTestId("schedule-last-status")).toHaveTextContent("Succeeded");
    expect(within(nightly).getByTestId("schedule-enabled")).toBeChecked();
    expect(within(nightly).queryByTestId("schedule-problem")).not.toBeInTheDocument();

    const old = row("old-lab");
    expect(old).toHaveAttribute("data-schedule-status", "never");
    expect(within(old).getByTestId("schedule-problem")).toHaveAttribute("aria-label", expect.stringMatching(/connection this schedule uses was removed/));
    expect(old).toHaveTextContent("Disabled");
    expect(old).toHaveTextContent("Europe/Paris");
    expect(old).toHaveTextContent("removed connection");
    expect(within(old).getByTestId("schedule-enabled")).not.toBeChecked();
  });

  it("runs a schedule now, shows the run in its history and updates it from schedule_run events", async () => {
    const schedule = makeSchedule({ next_run: new Date(Date.now() + HOUR).toISOString() });
    mocked.listSchedules.mockResolvedValue({ status: "ok", data: [schedule] });
    mocked.getSchedule.mockResolvedValue({ status: "ok", data: makeDetail(schedule, [schedule.next_run ?? ""]) });
    const older = makeRun({ id: 1, trigger: "scheduled", status: "skipped", reason: "skipped: paused", job_ids: [], run_dir: null, started_at: "2026-11-25T01:00:00Z", scheduled_for: "2026-11-25T01:00:00Z", finished_at: "2026-11-25T01:00:00Z" });
    mocked.scheduleHistory.mockResolvedValue({ status: "ok", data: [older] });
    const started = makeRun({ id: 2, started_at: new Date().toISOString(), scheduled_for: new Date().toISOString() });
    mocked.runScheduleNow.mockResolvedValue({ status: "ok", data: started });
    const { user, queryClient } = setup();

    await user.click(await screen.findByTestId("schedule-run-now"));
    expect(mocked.runScheduleNow).toHaveBeenCalledWith("s-1");
    // Running opens the schedule's details with its history, the new run on top.
    const history = await screen.findByTestId("schedule-history");
    await waitFor(() => expect(within(history).getAllByTestId("history-row").map((r) => r.getAttribute("data-status"))).toEqual(["running", "skipped"]));
    expect(within(history).getByText("skipped: paused")).toBeInTheDocument();
    expect(within(history).getAllByText("Run now").length).toBeGreaterThan(0);

    // The core announces the end of the run; the row changes in place, without a refetch.
    const finished = { ...started, status: "succeeded" as const, finished_at: new Date().toISOString(), artefacts: ["/srv/backups/nightly/20261126-100000/web01.ova"] };
    const fetches = mocked.scheduleHistory.mock.calls.length;
    act(() => handleCoreEvent(queryClient, { type: "schedule_run", run: finished }));
    await waitFor(() => expect(within(history).getAllByTestId("history-row")[0]).toHaveAttribute("data-status", "succeeded"));
    expect(within(history).getByTestId("history-artefact")).toHaveTextContent("web01.ova");
    expect(mocked.scheduleHistory.mock.calls.length).toBe(fetches);

    // A run that was never seen (a scheduled one) is added on top.
    act(() => handleCoreEvent(queryClient, { type: "schedule_run", run: makeRun({ id: 3, trigger: "scheduled", started_at: new Date(Date.now() + 1000).toISOString() }) }));
    await waitFor(() => expect(within(history).getAllByTestId("history-row").map((r) => r.getAttribute("data-execution-id"))).toEqual(["3", "2", "1"]));
  });

  it("says when Run now was skipped because the previous run is still going", async () => {
    mocked.listSchedules.mockResolvedValue({ status: "ok", data: [makeSchedule()] });
    mocked.getSchedule.mockResolvedValue({ status: "ok", data: makeDetail(makeSchedule()) });
    mocked.runScheduleNow.mockResolvedValue({ status: "ok", data: makeRun({ status: "skipped", reason: "skipped: overlap" }) });
    const show = vi.spyOn(notifications, "show");
    const { user } = setup();
    await user.click(await screen.findByTestId("schedule-run-now"));
    await waitFor(() => expect(show).toHaveBeenCalledWith(expect.objectContaining({ title: "nightly: skipped", message: "skipped: overlap" })));
    const history = await screen.findByTestId("schedule-history");
    await waitFor(() => expect(within(history).getByTestId("history-row")).toHaveAttribute("data-status", "skipped"));
    expect(within(history).getByTestId("history-reason")).toHaveTextContent("skipped: overlap");
  });

  it("pauses and resumes every schedule, showing the scheduler's status", async () => {
    mocked.listSchedules.mockResolvedValue({ status: "ok", data: [makeSchedule()] });
    const next = { schedule_id: "s-1", schedule_name: "nightly", at: new Date(Date.now() + 2 * HOUR).toISOString() };
    mocked.schedulerStatus.mockResolvedValue({ status: "ok", data: makeStatus({ next, last_run_failed: true, running: [makeRun()] }) });
    mocked.pauseSchedules.mockResolvedValue({ status: "ok", data: makeStatus({ paused: true, next }) });
    mocked.resumeSchedules.mockResolvedValue({ status: "ok", data: makeStatus({ next }) });
    const { user } = setup();

    const bar = await screen.findByTestId("scheduler-status");
    await waitFor(() => expect(bar).toHaveAttribute("data-paused", "false"));
    expect(within(bar).getByTestId("scheduler-next")).toHaveTextContent("Next: nightly at");
    expect(within(bar).getByTestId("scheduler-next")).toHaveTextContent("in 2 hours");
    expect(within(bar).getByTestId("scheduler-running")).toHaveTextContent("Running: nightly");
    expect(within(bar).getByTestId("scheduler-last-failed")).toBeInTheDocument();

    await user.click(within(bar).getByTestId("schedules-pause"));
    expect(mocked.pauseSchedules).toHaveBeenCalledTimes(1);
    await waitFor(() => expect(screen.getByTestId("scheduler-status")).toHaveAttribute("data-paused", "true"));
    expect(screen.getByTestId("scheduler-state")).toHaveTextContent("Paused");
    expect(screen.queryByTestId("schedules-pause")).not.toBeInTheDocument();

    await user.click(screen.getByTestId("schedules-resume"));
    expect(mocked.resumeSchedules).toHaveBeenCalledTimes(1);
    await waitFor(() => expect(screen.getByTestId("scheduler-status")).toHaveAttribute("data-paused", "false"));
  });

  it("enables and disables with the switch", async () => {
    const schedule = makeSchedule();
    mocked.listSchedules.mockResolvedValue({ status: "ok", data: [schedule] });
    mocked.setScheduleEnabled.mockResolvedValue({ status: "ok", data: { ...schedule, enabled: false } });
    const { user } = setup();
    await user.click(await screen.findByTestId("schedule-enabled"));
    expect(mocked.setScheduleEnabled).toHaveBeenCalledWith("s-1", false);
  });

  it("removes a schedule after confirmation", async () => {
    mocked.listSchedules.mockResolvedValue({ status: "ok", data: [makeSchedule()] });
    mocked.removeSchedule.mockResolvedValue({ status: "ok", data: null });
    const { user } = setup();
    await user.click(await screen.findByTestId("schedule-remove"));
    expect(await screen.findByText(/backups it made stay on disk/)).toBeInTheDocument();
    expect(mocked.removeSchedule).not.toHaveBeenCalled();
    await user.click(screen.getByTestId("confirm-remove"));
    await waitFor(() => expect(mocked.removeSchedule).toHaveBeenCalledWith("s-1"));
  });

  it("previews what retention would delete", async () => {
    const schedule = makeSchedule();
    mocked.listSchedules.mockResolvedValue({ status: "ok", data: [schedule] });
    mocked.getSchedule.mockResolvedValue({ status: "ok", data: makeDetail(schedule) });
    mocked.scheduleRetentionPreview.mockResolvedValue({
      status: "ok",
      data: [{ execution_id: 4, scheduled_for: "2026-11-01T01:00:00Z", status: "succeeded", paths: ["/srv/backups/nightly/20261101-020000/web01.ova"] }],
    });
    const { user } = setup();
    await user.click(await screen.findByTestId("schedule-details"));
    await user.click(await screen.findByTestId("retention-preview"));
    expect(mocked.scheduleRetentionPreview).toHaveBeenCalledWith("s-1");
    const result = await screen.findByTestId("retention-preview-result");
    expect(result).toHaveTextContent("Would delete the files of 1 run");
    expect(result).toHaveTextContent("/srv/backups/nightly/20261101-020000/web01.ova");
  });

  it("needs a connection before a schedule can be added", async () => {
    mocked.listConnections.mockResolvedValue({ status: "ok", data: [] });
    mocked.listSchedules.mockResolvedValue({ status: "ok", data: [] });
    setup();
    expect(await screen.findByText("No schedules yet")).toBeInTheDocument();
    expect(screen.getByTestId("schedule-add")).toBeDisabled();
    expect(screen.getByTestId("schedules-go-connections")).toBeInTheDocument();
  });
});

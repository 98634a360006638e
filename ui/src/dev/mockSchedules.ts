// Canned schedules (and the desktop settings about them) for the browser-only preview
// (`npm run preview:mock`), loaded by mockIpc.ts.
// "nightly-web" succeeds, "weekly-db" last failed, "old-lab" refers to a removed connection.
// The preview cannot evaluate cron expressions (only the core does): it describes a few common
// ones and lists plausible times for the rest.
import type {
  Connection,
  CoreEvent,
  DesktopSettings,
  RetentionItem,
  Schedule,
  ScheduleDetail,
  ScheduleExecution,
  ScheduleInput,
  SchedulerStatus,
} from "../bindings";

export const NOT_MINE = Symbol("not a schedule command");

type Context = {
  emit: (event: CoreEvent) => void;
  fail: (code: string, message: string) => never;
  connections: () => readonly Connection[];
  /** `?scenario=empty`: no schedules. */
  empty: boolean;
};

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const iso = (ms: number) => new Date(ms).toISOString();

const DESCRIPTIONS: Record<string, string> = {
  "@hourly": "At minute 0 of every hour, every day",
  "@daily": "At 00:00, every day",
  "@weekly": "At 00:00, on Sunday",
  "@monthly": "At 00:00, on day 1 of the month",
};

function describe(cron: string): string {
  const known = DESCRIPTIONS[cron];
  if (known) return known;
  const m = /^(\d+) (\d+) \* \* \*$/.exec(cron);
  if (m) return `At ${m[2]?.padStart(2, "0")}:${m[1]?.padStart(2, "0")}, every day`;
  return `${cron} (the preview describes only a few expressions)`;
}

function upcoming(cron: string, from = Date.now()): string[] {
  if (cron === "@hourly") return [1, 2, 3, 4, 5].map((i) => iso(Math.ceil(from / HOUR) * HOUR + (i - 1) * HOUR));
  const m = /^(\d+) (\d+) \* \* \*$/.exec(cron);
  const first = new Date(from);
  first.setHours(m ? Number(m[2]) : 0, m ? Number(m[1]) : 0, 0, 0);
  if (first.getTime() <= from) first.setDate(first.getDate() + 1);
  const step = cron === "@weekly" ? 7 * DAY : DAY;
  return [0, 1, 2, 3, 4].map((i) => iso(first.getTime() + i * step));
}

export function createScheduleMock(ctx: Context) {
  const now = Date.now();
  let paused = false;
  let seq = 100;
  const base = {
    time_zone: "local",
    missed_run_policy: "run_once" as const,
    enabled: true,
    created_at: iso(now - 30 * DAY),
    updated_at: iso(now - 30 * DAY),
    problem: null,
  };
  const format = { package: "ova" as const, compression: "zstd" as const, compression_level: null, manifest: "sha256" as const, disk_format: null };
  let schedules: Schedule[] = [
    { ...base, id: "s-1", name: "nightly-web", cron: "0 2 * * *", description: describe("0 2 * * *"), template: { connection_id: "c-1", selection: { kind: "rule", name_pattern: "web*", folder: "/DC1/vm/prod" }, destination_dir: "/home/ada/Backups", format }, retention: { kind: "gfs", daily: 7, weekly: 4, monthly: 3 }, last_run: iso(now - 10 * HOUR), next_run: upcoming("0 2 * * *")[0] ?? null, last_status: "succeeded" },
    { ...base, id: "s-2", name: "weekly-db", cron: "@weekly", time_zone: "Europe/Paris", description: describe("@weekly"), template: { connection_id: "c-1", selection: { kind: "fixed", vms: ["/DC1/vm/prod/db/db-0002", "/DC1/vm/prod/db/db-0009"] }, destination_dir: "/home/ada/Backups", format }, retention: { kind: "keep_last", count: 4 }, last_run: iso(now - 3 * DAY), next_run: upcoming("@weekly")[0] ?? null, last_status: "failed" },
    { ...base, id: "s-3", name: "old-lab", cron: "30 4 * * *", description: describe("30 4 * * *"), enabled: false, template: { connection_id: "c-gone", selection: { kind: "fixed", vms: ["/LAB/vm/test01"] }, destination_dir: "/mnt/usb/backups", format }, retention: { kind: "keep_all" }, last_run: null, next_run: null, last_status: null },
  ];
  const runs: ScheduleExecution[] = [];
  const addRun = (s: Schedule, at: number, status: ScheduleExecution["status"], extra: Partial<ScheduleExecution> = {}) => {
    seq += 1;
    const stamp = new Date(at).toISOString().slice(0, 19).replace(/[-:]/g, "").replace("T", "-");
    const dir = `${s.template.destination_dir}/${s.name}/${stamp}`;
    runs.unshift({
      id: seq, schedule_id: s.id, schedule_name: s.name, trigger: "scheduled", scheduled_for: iso(at), started_at: iso(at), finished_at: status === "running" ? null : iso(at + 14 * 60_000), status, reason: null, run_dir: status === "skipped" ? null : dir, job_ids: status === "skipped" ? [] : [`j-${seq}`], artefacts: status === "succeeded" ? [`${dir}/web-0001.ova.zst`] : [], leftovers: [], pruned_at: null, ...extra,
    });
  };
  for (let d = 9; d >= 1; d--) addRun(schedules[0] as Schedule, now - d * DAY - 10 * HOUR, d === 4 ? "skipped" : "succeeded", d === 4 ? { reason: "missed while not running" } : d > 7 ? { pruned_at: iso(now - 2 * DAY) } : {});
  addRun(schedules[1] as Schedule, now - 10 * DAY, "succeeded");
  addRun(schedules[1] as Schedule, now - 3 * DAY, "failed", { reason: "cannot reach https://vcenter.lab.local/sdk: connection refused", leftovers: ["/home/ada/Backups/weekly-db/x/db-0002.ova.zst.part"] });
  if (ctx.empty) {
    schedules = [];
    runs.length = 0;
  }

  const view = (s: Schedule): Schedule => ({
    ...s,
    problem: ctx.connections().some((c) => c.id === s.template.connection_id)
      ? null
      : "The connection this schedule uses was removed; edit the schedule to choose another",
  });
  const find = (key: unknown): Schedule => {
    const s = schedules.find((x) => x.id === key || x.name === key);
    if (!s) ctx.fail("not_found", `schedule "${String(key)}" was not found`);
    return s;
  };
  const status = (): SchedulerStatus => {
    const next = schedules.filter((s) => s.enabled && s.next_run).sort((a, b) => (a.next_run ?? "").localeCompare(b.next_run ?? ""))[0];
    const last = runs.find((r) => r.status !== "running" && r.status !== "skipped");
    return {
      paused,
      active_here: true,
      running: runs.filter((r) => r.status === "running"),
      next: next ? { schedule_id: next.id, schedule_name: next.name, at: next.next_run ?? "" } : null,
      last_run_failed: last?.status === "failed" || last?.status === "partial",
    };
  };
  const fromInput = (input: ScheduleInput, previous?: Schedule): Schedule => {
    const name = input.name.trim();
    if (name === "") ctx.fail("invalid_name", "Name is required");
    if (schedules.some((s) => s.name === name && s.id !== previous?.id)) ctx.fail("schedule_name_taken", `a schedule named "${name}" already exists`);
    if (!ctx.connections().some((c) => c.id === input.template.connection_id)) {
      ctx.fail("invalid_input", `There is no connection "${input.template.connection_id}"; add it first or choose another`);
    }
    if (input.template.destination_dir.includes("missing")) ctx.fail("invalid_destination", `The folder ${input.template.destination_dir} does not exist`);
    return {
      ...(previous ?? { ...base, id: `s-${Date.now()}`, last_run: null, last_status: null }),
      name,
      cron: input.cron,
      time_zone: input.time_zone ?? "local",
      description: describe(input.cron),
      template: input.template,
      retention: input.retention,
      missed_run_policy: input.missed_run_policy,
      enabled: input.enabled,
      updated_at: iso(Date.now()),
      next_run: input.enabled ? (upcoming(input.cron)[0] ?? null) : null,
    };
  };

  // Desktop settings (notifications after scheduled runs, start at login) live here too.
  let desktop: DesktopSettings = { notify_runs: "failures_only" };
  let autostart = false;

  return (cmd: string, a: Record<string, unknown>): unknown => {
    switch (cmd) {
      case "get_desktop_settings":
        return desktop;
      case "update_desktop_settings":
        desktop = { ...(a.settings as DesktopSettings) };
        ctx.emit({ type: "settings_changed" });
        return desktop;
      case "get_autostart":
        return autostart;
      case "set_autostart":
        autostart = a.enabled === true;
        return autostart;
      case "list_schedules":
        return schedules.map(view);
      case "get_schedule": {
        const s = find(a.id);
        const detail: ScheduleDetail = { schedule: view(s), upcoming: s.enabled ? upcoming(s.cron) : [] };
        return detail;
      }
      case "add_schedule": {
        const s = fromInput(a.input as ScheduleInput);
        schedules = [...schedules, s].sort((x, y) => x.name.localeCompare(y.name));
        ctx.emit({ type: "schedule_changed", schedule_id: s.id });
        return view(s);
      }
      case "update_schedule": {
        const s = fromInput(a.input as ScheduleInput, find(a.id));
        schedules = schedules.map((x) => (x.id === s.id ? s : x));
        ctx.emit({ type: "schedule_changed", schedule_id: s.id });
        return view(s);
      }
      case "remove_schedule": {
        const s = find(a.id);
        schedules = schedules.filter((x) => x.id !== s.id);
        ctx.emit({ type: "schedule_changed", schedule_id: s.id });
        return null;
      }
      case "set_schedule_enabled": {
        const s = find(a.id);
        s.enabled = a.enabled === true;
        s.next_run = s.enabled ? (upcoming(s.cron)[0] ?? null) : null;
        ctx.emit({ type: "schedule_changed", schedule_id: s.id });
        return view(s);
      }
      case "run_schedule_now": {
        const s = find(a.id);
        if (runs.some((r) => r.schedule_id === s.id && r.status === "running")) {
          addRun(s, Date.now(), "skipped", { trigger: "manual", reason: "skipped: overlap (the previous run is still going)", finished_at: iso(Date.now()) });
        } else {
          addRun(s, Date.now(), "running", { trigger: "manual" });
          const run = runs[0] as ScheduleExecution;
          window.setTimeout(() => {
            Object.assign(run, { status: "succeeded", finished_at: iso(Date.now()), artefacts: [`${run.run_dir ?? ""}/vm.ova.zst`] });
            s.last_status = "succeeded";
            ctx.emit({ type: "schedule_run", run: { ...run } });
          }, 4000);
        }
        const run = runs[0] as ScheduleExecution;
        s.last_run = run.started_at;
        s.last_status = run.status;
        ctx.emit({ type: "schedule_run", run: { ...run } });
        return { ...run };
      }
      case "pause_schedules":
      case "resume_schedules":
        paused = cmd === "pause_schedules";
        ctx.emit({ type: "schedule_changed", schedule_id: null });
        return status();
      case "scheduler_status":
        return status();
      case "schedule_history": {
        const s = find(a.id);
        return runs.filter((r) => r.schedule_id === s.id).slice(0, typeof a.limit === "number" ? a.limit : 1000).map((r) => ({ ...r }));
      }
      case "schedule_retention_preview": {
        const s = find(a.id);
        const done = runs.filter((r) => r.schedule_id === s.id && r.status === "succeeded" && !r.pruned_at);
        const keep = s.retention.kind === "keep_last" ? s.retention.count : s.retention.kind === "gfs" ? s.retention.daily : Infinity;
        return done.slice(keep).map((r): RetentionItem => ({ execution_id: r.id, scheduled_for: r.scheduled_for, status: r.status, paths: r.artefacts }));
      }
      default:
        return NOT_MINE;
    }
  };
}

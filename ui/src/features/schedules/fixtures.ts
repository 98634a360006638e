// Test data for the schedule tests (kept beside them rather than in the shared test/fixtures.ts).
import type { Schedule, ScheduleDetail, ScheduleExecution, SchedulerStatus } from "../../bindings";

export function makeSchedule(overrides: Partial<Schedule> = {}): Schedule {
  return {
    id: "s-1",
    name: "nightly",
    cron: "0 2 * * *",
    time_zone: "local",
    description: "At 02:00, every day",
    template: {
      connection_id: "c-1",
      selection: { kind: "fixed", vms: ["/DC0/vm/prod/web01"] },
      destination_dir: "/srv/backups",
      format: { package: "ova", compression: "none", compression_level: null, manifest: "sha256", disk_format: null },
    },
    retention: { kind: "keep_last", count: 7 },
    missed_run_policy: "run_once",
    enabled: true,
    created_at: "2026-11-20T10:00:00Z",
    updated_at: "2026-11-20T10:00:00Z",
    last_run: null,
    next_run: null,
    last_status: null,
    problem: null,
    ...overrides,
  };
}

export function makeDetail(schedule: Schedule, upcoming: string[] = []): ScheduleDetail {
  return { schedule, upcoming };
}

export function makeRun(overrides: Partial<ScheduleExecution> = {}): ScheduleExecution {
  return {
    id: 1,
    schedule_id: "s-1",
    schedule_name: "nightly",
    trigger: "manual",
    scheduled_for: "2026-11-26T09:00:00Z",
    started_at: "2026-11-26T09:00:00Z",
    finished_at: null,
    status: "running",
    reason: null,
    run_dir: "/srv/backups/nightly/20261126-100000",
    job_ids: ["j-1"],
    artefacts: [],
    leftovers: [],
    pruned_at: null,
    ...overrides,
  };
}

export function makeStatus(overrides: Partial<SchedulerStatus> = {}): SchedulerStatus {
  return { paused: false, active_here: true, running: [], next: null, last_run_failed: false, ...overrides };
}

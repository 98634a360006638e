import { describe, expect, it } from "vitest";
import { makeSchedule } from "./fixtures";
import {
  cronProblem,
  defaultScheduleValues,
  fieldForScheduleError,
  messages,
  scheduleFormSchema,
  scheduleValues,
  toScheduleInput,
} from "./schema";
import type { ScheduleFormValues } from "./schema";

const valid: ScheduleFormValues = {
  ...defaultScheduleValues("c-1", "/srv/backups"),
  name: "nightly",
  vms: ["/DC0/vm/prod/web01"],
};

function issues(values: Partial<ScheduleFormValues>) {
  const result = scheduleFormSchema.safeParse({ ...valid, ...values });
  return result.success ? [] : result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

function input(values: Partial<ScheduleFormValues>) {
  return toScheduleInput(scheduleFormSchema.parse({ ...valid, ...values }));
}

describe("cronProblem mirrors CronSchedule::parse", () => {
  it.each([
    "0 2 * * *",
    "@daily",
    "@DAILY",
    "@midnight",
    "@yearly",
    " 0 2 * * * ",
    "*/15 * * * *",
    "30 6 * * 1-5",
    "0 0 * * 7",
    "0 0 * * sun",
    "0 0 * * 5-7",
    "0 0 1 * 1",
    "0 12 1 jan,jul *",
    "0 0-23/2 * * *",
    // Parses; only the core can say it never fires.
    "0 0 30 2 *",
  ])("accepts %j", (expr) => {
    expect(cronProblem(expr)).toBeNull();
  });

  // The core's own table (cron_schedule.rs `invalid_expressions_name_the_bad_field`).
  it.each([
    ["61 * * * *", "the minute field has 61, out of range (0–59)"],
    ["0 24 * * *", "the hour field has 24, out of range (0–23)"],
    ["0 0 0 * *", "the day-of-month field has 0, out of range (1–31)"],
    ["0 0 * 13 *", "the month field has 13, out of range (1–12)"],
    ["0 0 * * 8", "the day-of-week field has 8, out of range (0–7)"],
    ["0 0 * * MOX", 'the day-of-week field has "MOX", which is not a number or a name like SUN'],
    ["*/0 * * * *", 'the minute field has step "0"; a step is a whole number from 1'],
    ["0 5-2 * * *", 'the hour field has the range "5-2", which runs backwards'],
    ["0 0 * *", '"0 0 * *" has 4 fields; a cron expression has 5: minute hour day-of-month month day-of-week'],
    ["0 0 0 * * * *", '"0 0 0 * * * *" has 7 fields; a cron expression has 5: minute hour day-of-month month day-of-week'],
    ["", '"" has 0 fields; a cron expression has 5: minute hour day-of-month month day-of-week'],
    ["@fortnightly", '"@fortnightly" is not a known preset (use @hourly, @daily, @weekly, @monthly or @yearly)'],
    ["1,,2 * * * *", 'the minute field "1,,2" has an empty list item'],
    ["x * * * *", 'the minute field has "x", which is not a number'],
    ["0 0 * * 5-7/2", "the day-of-week field cannot step over a range that ends on 7; use 0"],
  ])("%j → %s", (expr, message) => {
    expect(cronProblem(expr)).toBe(message);
  });
});

describe("scheduleFormSchema", () => {
  it("accepts a complete form", () => {
    expect(issues({})).toEqual([]);
  });

  it("checks the name as the core does", () => {
    expect(issues({ name: "  " })).toEqual([{ path: "name", message: messages.nameRequired }]);
    expect(issues({ name: "x".repeat(101) })).toEqual([{ path: "name", message: messages.nameTooLong }]);
    expect(issues({ name: "x".repeat(100) })).toEqual([]);
    expect(issues({ name: "night\u0007ly" })).toEqual([{ path: "name", message: messages.nameControl }]);
  });

  it("puts cron problems on the cron field with the core's words", () => {
    expect(issues({ cron: "0 25 * * *" })).toEqual([{ path: "cron", message: "the hour field has 25, out of range (0–23)" }]);
  });

  it("needs a connection, a zone and a destination", () => {
    expect(issues({ connection_id: "", time_zone: "", destination_dir: "backups" })).toEqual([
      { path: "time_zone", message: messages.timeZoneRequired },
      { path: "connection_id", message: messages.connectionRequired },
      { path: "destination_dir", message: "The destination must be an absolute path, not backups" },
    ]);
  });

  it("checks fixed VMs and rules", () => {
    expect(issues({ vms: [] })).toEqual([{ path: "vms", message: messages.noVms }]);
    expect(issues({ vms: Array.from({ length: 1001 }, (_, i) => `/DC0/vm/vm${i}`) })).toEqual([{ path: "vms", message: messages.tooManyVms }]);
    // A rule ignores the fixed list, and the other way round.
    expect(issues({ selection_kind: "rule", vms: [], name_pattern: "web*" })).toEqual([]);
    expect(issues({ selection_kind: "rule", name_pattern: " ", folder: "" })).toEqual([{ path: "name_pattern", message: messages.ruleEmpty }]);
    expect(issues({ selection_kind: "rule", folder: "prod" })).toEqual([{ path: "folder", message: messages.folderNotPath("prod") }]);
    expect(issues({ selection_kind: "rule", folder: "/DC0/vm/prod/" })).toEqual([]);
    expect(issues({ selection_kind: "rule", name_pattern: "x".repeat(201) })).toEqual([{ path: "name_pattern", message: messages.patternInvalid }]);
  });

  it("checks the export format with the export dialog's rules", () => {
    expect(issues({ package: "ovf", compression: "gzip" })).toEqual([
      { path: "compression", message: "Compression applies to OVA archives only; choose OVA or no compression" },
    ]);
  });

  it.each([
    [{ retention_kind: "keep_last", keep_last: "0" }, [{ path: "keep_last", message: messages.keepLast }]],
    [{ retention_kind: "keep_last", keep_last: "1001" }, [{ path: "keep_last", message: messages.keepLast }]],
    [{ retention_kind: "keep_last", keep_last: "two" }, [{ path: "keep_last", message: messages.wholeNumber }]],
    [{ retention_kind: "keep_last", keep_last: "2" }, []],
    [{ retention_kind: "gfs", keep_daily: "0", keep_weekly: "", keep_monthly: "0" }, [{ path: "retention_kind", message: messages.gfsNone }]],
    [{ retention_kind: "gfs", keep_daily: "7", keep_weekly: "5000", keep_monthly: "0" }, [{ path: "keep_weekly", message: messages.gfsTooMany }]],
    [{ retention_kind: "gfs", keep_daily: "7", keep_weekly: "4", keep_monthly: "-1" }, [{ path: "keep_monthly", message: messages.wholeNumber }]],
    [{ retention_kind: "gfs", keep_daily: "", keep_weekly: "", keep_monthly: "1" }, []],
    // Keep all ignores the counts, whatever they hold.
    [{ retention_kind: "keep_all", keep_last: "0" }, []],
  ] as const)("retention %j", (values, expected) => {
    expect(issues(values)).toEqual(expected);
  });
});

describe("toScheduleInput", () => {
  it("sends fixed VMs, the local zone as null and the default format", () => {
    expect(input({ name: " nightly ", vms: ["/DC0/vm/a", " /DC0/vm/a", "/DC0/vm/b"], retention_kind: "keep_last", keep_last: "2" })).toEqual({
      name: "nightly",
      cron: "0 2 * * *",
      time_zone: null,
      template: {
        connection_id: "c-1",
        selection: { kind: "fixed", vms: ["/DC0/vm/a", "/DC0/vm/b"] },
        destination_dir: "/srv/backups",
        format: { package: "ova", compression: "none", compression_level: null, manifest: "sha256", disk_format: null },
      },
      retention: { kind: "keep_last", count: 2 },
      missed_run_policy: "run_once",
      enabled: true,
    });
  });

  it("sends a rule with only the parts given, and the chosen zone and format", () => {
    const sent = input({
      selection_kind: "rule",
      vms: ["/ignored"],
      name_pattern: " web* ",
      folder: "",
      time_zone: "Europe/Paris",
      cron: "@weekly",
      compression: "zstd",
      compression_level: "19",
      disk_format: "qcow2",
      missed_run_policy: "skip",
      enabled: false,
    });
    expect(sent.template.selection).toEqual({ kind: "rule", name_pattern: "web*", folder: null });
    expect(sent.time_zone).toBe("Europe/Paris");
    expect(sent.cron).toBe("@weekly");
    expect(sent.template.format).toEqual({ package: "ova", compression: "zstd", compression_level: 19, manifest: "sha256", disk_format: "qcow2" });
    expect(sent.missed_run_policy).toBe("skip");
    expect(sent.enabled).toBe(false);
    expect(input({ selection_kind: "rule", name_pattern: "", folder: "/DC0/vm/prod" }).template.selection).toEqual({
      kind: "rule",
      name_pattern: null,
      folder: "/DC0/vm/prod",
    });
  });

  it.each([
    [{ retention_kind: "keep_all" }, { kind: "keep_all" }],
    [{ retention_kind: "keep_last", keep_last: " 5 " }, { kind: "keep_last", count: 5 }],
    [{ retention_kind: "gfs", keep_daily: "7", keep_weekly: "4", keep_monthly: "" }, { kind: "gfs", daily: 7, weekly: 4, monthly: 0 }],
  ] as const)("retention %j → %j", (values, retention) => {
    expect(input(values).retention).toEqual(retention);
  });

  it("turns a saved schedule back into the same input (edit without changes)", () => {
    const schedule = makeSchedule({
      time_zone: "America/New_York",
      template: {
        connection_id: "c-2",
        selection: { kind: "rule", name_pattern: "db*", folder: "/DC0/vm/prod" },
        destination_dir: "/mnt/backups",
        format: { package: "ova", compression: "gzip", compression_level: 9, manifest: "sha1", disk_format: "vmdk" },
      },
      retention: { kind: "gfs", daily: 7, weekly: 4, monthly: 12 },
      missed_run_policy: "skip",
      enabled: false,
    });
    expect(toScheduleInput(scheduleFormSchema.parse(scheduleValues(schedule)))).toEqual({
      name: schedule.name,
      cron: schedule.cron,
      time_zone: "America/New_York",
      template: schedule.template,
      retention: schedule.retention,
      missed_run_policy: "skip",
      enabled: false,
    });
  });
});

describe("fieldForScheduleError", () => {
  const err = (code: string, message = "x") => ({ code, message, retryable: false });
  it.each([
    [err("invalid_name"), "name"],
    [err("schedule_name_taken", 'a schedule named "nightly" already exists'), "name"],
    [err("invalid_cron", "the minute field has 61, out of range (0–59)"), "cron"],
    [err("invalid_timezone", '"Mars/Olympus" is not an IANA time zone such as Europe/Paris or America/New_York'), "time_zone"],
    [err("invalid_destination", "The folder /srv/x does not exist"), "destination_dir"],
    [err("invalid_compression_level", "The gzip level must be between 0 and 9"), "compression_level"],
    [err("invalid_input", "Keep last must be between 1 and 1000 runs"), "keep_last"],
    [err("invalid_input", messages.gfsNone), "retention_kind"],
    [err("invalid_input", messages.gfsTooMany), "retention_kind"],
    [err("invalid_input", messages.noVms), "vms"],
    [err("invalid_input", messages.tooManyVms), "vms"],
    [err("invalid_input", messages.ruleEmpty), "name_pattern"],
    [err("invalid_input", messages.folderNotPath("prod")), "folder"],
    [err("invalid_input", 'There is no connection "lab"; add it first or choose another'), "connection_id"],
    [err("invalid_input", "something else"), null],
    [err("unreachable", "cannot reach vc"), null],
  ])("%j → %s", (error, field) => {
    expect(fieldForScheduleError(error)).toBe(field);
  });
});

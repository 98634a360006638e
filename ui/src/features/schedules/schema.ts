import { z } from "zod";
import type { ApiError, MissedRunPolicy, Retention, Schedule, ScheduleInput, VmSelection } from "../../bindings";
import {
  checkDestination,
  checkExportFormat,
  defaultExportFormatValues,
  exportFormatShape,
  exportFormatValues,
  fieldForExportError,
  toExportFormat,
} from "../exports/schema";

/**
 * The rules and messages of `hypersdk-core/src/schedules/mod.rs` (`validate_*`) and
 * `cron_schedule.rs` (`CronSchedule::parse`), so the form and the core never disagree in wording.
 * The core stays the judge: what only it can know (does the cron expression ever fire, does the
 * zone exist there, does the folder exist) comes back as an error code shown beside its field.
 */
export const LIMITS = { name: 100, pattern: 200, fixedVms: 1000, keep: 1000 } as const;

/** The zone name meaning "this computer's time zone" (`cron_schedule::LOCAL_ZONE`). */
export const LOCAL_ZONE = "local";

export const CRON_PRESETS = [
  { value: "@hourly", label: "Hourly" },
  { value: "@daily", label: "Daily" },
  { value: "@weekly", label: "Weekly" },
  { value: "@monthly", label: "Monthly" },
] as const;
/** Every preset the core knows (`cron_schedule::preset`), the four above included. */
const KNOWN_PRESETS = ["@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"];

export const messages = {
  nameRequired: "Name is required",
  nameTooLong: `Name must be at most ${LIMITS.name} characters`,
  nameControl: "Name must not contain control characters",
  cronFieldCount: (expr: string, n: number) =>
    `"${expr}" has ${n} fields; a cron expression has 5: minute hour day-of-month month day-of-week`,
  cronUnknownPreset: (expr: string) =>
    `"${expr}" is not a known preset (use @hourly, @daily, @weekly, @monthly or @yearly)`,
  cronEmptyItem: (field: string, text: string) => `the ${field} field "${text}" has an empty list item`,
  cronStep: (field: string, step: string) => `the ${field} field has step "${step}"; a step is a whole number from 1`,
  cronNotANumber: (field: string, raw: string, example: string | null) =>
    `the ${field} field has "${raw}", which is not a number${example ? ` or a name like ${example}` : ""}`,
  cronOutOfRange: (field: string, n: number, min: number, max: number) =>
    `the ${field} field has ${n}, out of range (${min}–${max})`,
  cronBackwards: (field: string, range: string) => `the ${field} field has the range "${range}", which runs backwards`,
  cronStepOverSeven: (field: string) => `the ${field} field cannot step over a range that ends on 7; use 0`,
  timeZoneRequired: "Choose a time zone",
  connectionRequired: "Choose a connection",
  noVms: "Choose at least one VM",
  vmInvalid: "VM ids and paths must not be empty or contain control characters",
  tooManyVms: `At most ${LIMITS.fixedVms} VMs can be listed; use a name pattern or folder rule`,
  ruleEmpty: "A rule needs a name pattern, a folder, or both",
  patternInvalid: `The name pattern must be at most ${LIMITS.pattern} characters, without control characters`,
  folderNotPath: (folder: string) => `The folder must be an inventory path such as /DC0/vm/prod, not ${folder}`,
  keepLast: `Keep last must be between 1 and ${LIMITS.keep} runs`,
  gfsTooMany: `Daily, weekly and monthly counts must be at most ${LIMITS.keep}`,
  gfsNone: "Keep at least one daily, weekly or monthly copy (or choose to keep everything)",
  wholeNumber: "Enter a whole number",
};

// ------------------------------------------------------------------ cron syntax

type CronField = { name: string; min: number; max: number; names: readonly string[] };
const CRON_FIELDS: readonly CronField[] = [
  { name: "minute", min: 0, max: 59, names: [] },
  { name: "hour", min: 0, max: 23, names: [] },
  { name: "day-of-month", min: 1, max: 31, names: [] },
  { name: "month", min: 1, max: 12, names: ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"] },
  { name: "day-of-week", min: 0, max: 7, names: ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"] },
];

/** A value of a field: a number, or a name where the field has names. Returns a message on error. */
function cronValue(spec: CronField, raw: string): number | string {
  const index = spec.names.indexOf(raw.toUpperCase());
  if (index !== -1) return index + (spec.name === "month" ? 1 : 0);
  if (!/^\+?\d+$/.test(raw)) return messages.cronNotANumber(spec.name, raw, spec.names[0] ?? null);
  const n = Number(raw);
  if (n < spec.min || n > spec.max) return messages.cronOutOfRange(spec.name, n, spec.min, spec.max);
  return n;
}

function cronFieldProblem(spec: CronField, field: string): string | null {
  for (const item of field.split(",")) {
    if (item === "") return messages.cronEmptyItem(spec.name, field);
    const slash = item.indexOf("/");
    const range = slash === -1 ? item : item.slice(0, slash);
    if (slash !== -1) {
      const step = item.slice(slash + 1);
      if (!/^\+?\d+$/.test(step) || Number(step) < 1) return messages.cronStep(spec.name, step);
    }
    if (range === "*") continue;
    const dash = range.indexOf("-");
    const a = cronValue(spec, dash === -1 ? range : range.slice(0, dash));
    if (typeof a === "string") return a;
    if (dash === -1) continue;
    const b = cronValue(spec, range.slice(dash + 1));
    if (typeof b === "string") return b;
    if (b < a) return messages.cronBackwards(spec.name, range);
    // 5-7 is written 5-SAT,SUN for the cron crate, which cannot be stepped over.
    if (spec.name === "day-of-week" && b === 7 && a > 0 && slash !== -1) return messages.cronStepOverSeven(spec.name);
  }
  return null;
}

/**
 * The syntax checks of `CronSchedule::parse`, with its messages (each names the field at fault),
 * so a typo is shown while typing. Null when the core would go on to evaluate the expression.
 */
export function cronProblem(expression: string): string | null {
  const trimmed = expression.trim();
  if (KNOWN_PRESETS.includes(trimmed.toLowerCase())) return null;
  if (trimmed.startsWith("@")) return messages.cronUnknownPreset(trimmed);
  const parts = trimmed.split(/\s+/).filter(Boolean);
  if (parts.length !== 5) return messages.cronFieldCount(trimmed, parts.length);
  for (const [i, spec] of CRON_FIELDS.entries()) {
    const problem = cronFieldProblem(spec, parts[i] ?? "");
    if (problem) return problem;
  }
  return null;
}

// ------------------------------------------------------------------ the form

export const SELECTION_KINDS = ["fixed", "rule"] as const;
export const RETENTION_KINDS = ["keep_all", "keep_last", "gfs"] as const;
export const MISSED_RUN_POLICIES = ["run_once", "skip"] as const satisfies readonly MissedRunPolicy[];

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
/** Whole numbers as typed; empty means 0 for the GFS counts. */
const count = (text: string) => (/^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN);

export const scheduleFormSchema = z
  .object({
    name: z.string(),
    cron: z.string(),
    /** `local` or an IANA zone. */
    time_zone: z.string(),
    connection_id: z.string(),
    selection_kind: z.enum(SELECTION_KINDS),
    /** Fixed VMs: inventory paths (or ids). */
    vms: z.array(z.string()),
    name_pattern: z.string(),
    folder: z.string(),
    // Not trimmed into the value: the core takes the path as typed.
    destination_dir: z.string(),
    ...exportFormatShape,
    retention_kind: z.enum(RETENTION_KINDS),
    /** Text, as typed: checked here, sent as numbers. */
    keep_last: z.string(),
    keep_daily: z.string(),
    keep_weekly: z.string(),
    keep_monthly: z.string(),
    missed_run_policy: z.enum(MISSED_RUN_POLICIES),
    enabled: z.boolean(),
  })
  .superRefine((v, ctx) => {
    const issue = (path: string, message: string) => ctx.addIssue({ code: "custom", path: [path], message });

    const name = v.name.trim();
    if (name === "") issue("name", messages.nameRequired);
    else if ([...name].length > LIMITS.name) issue("name", messages.nameTooLong);
    else if (CONTROL.test(name)) issue("name", messages.nameControl);

    const cron = cronProblem(v.cron);
    if (cron) issue("cron", cron);
    if (v.time_zone.trim() === "") issue("time_zone", messages.timeZoneRequired);
    if (v.connection_id === "") issue("connection_id", messages.connectionRequired);

    if (v.selection_kind === "fixed") {
      const vms = [...new Set(v.vms.map((vm) => vm.trim()))];
      if (v.vms.some((vm) => vm.trim() === "" || CONTROL.test(vm))) issue("vms", messages.vmInvalid);
      else if (vms.length === 0) issue("vms", messages.noVms);
      else if (vms.length > LIMITS.fixedVms) issue("vms", messages.tooManyVms);
    } else {
      const pattern = v.name_pattern.trim();
      const folder = v.folder.trim().replace(/\/+$/, "");
      if (pattern === "" && folder === "") issue("name_pattern", messages.ruleEmpty);
      if (pattern !== "" && ([...pattern].length > LIMITS.pattern || CONTROL.test(pattern))) {
        issue("name_pattern", messages.patternInvalid);
      }
      if (folder !== "" && (!folder.startsWith("/") || CONTROL.test(folder))) issue("folder", messages.folderNotPath(folder));
    }

    checkDestination(v.destination_dir, ctx);
    checkExportFormat(v, ctx);

    if (v.retention_kind === "keep_last") {
      const n = count(v.keep_last);
      if (Number.isNaN(n)) issue("keep_last", messages.wholeNumber);
      else if (n < 1 || n > LIMITS.keep) issue("keep_last", messages.keepLast);
    } else if (v.retention_kind === "gfs") {
      const counts = (["keep_daily", "keep_weekly", "keep_monthly"] as const).map((key) => {
        const n = v[key].trim() === "" ? 0 : count(v[key]);
        if (Number.isNaN(n)) issue(key, messages.wholeNumber);
        else if (n > LIMITS.keep) issue(key, messages.gfsTooMany);
        return n;
      });
      const bad = counts.some((n) => Number.isNaN(n) || n > LIMITS.keep);
      if (!bad && counts.every((n) => n === 0)) issue("retention_kind", messages.gfsNone);
    }
  });

export type ScheduleFormValues = z.input<typeof scheduleFormSchema>;
export type ScheduleFormOutput = z.output<typeof scheduleFormSchema>;
export type ScheduleField = keyof ScheduleFormValues;

export function defaultScheduleValues(connectionId = "", destination = ""): ScheduleFormValues {
  return {
    name: "",
    cron: "0 2 * * *",
    time_zone: LOCAL_ZONE,
    connection_id: connectionId,
    selection_kind: "fixed",
    vms: [],
    name_pattern: "",
    folder: "",
    destination_dir: destination,
    ...defaultExportFormatValues(),
    retention_kind: "keep_all",
    keep_last: "7",
    keep_daily: "7",
    keep_weekly: "4",
    keep_monthly: "3",
    missed_run_policy: "run_once",
    enabled: true,
  };
}

/** A saved schedule, in the form's words (to edit it). */
export function scheduleValues(schedule: Schedule): ScheduleFormValues {
  const defaults = defaultScheduleValues();
  const { selection } = schedule.template;
  const { retention } = schedule;
  return {
    ...defaults,
    name: schedule.name,
    cron: schedule.cron,
    time_zone: schedule.time_zone,
    connection_id: schedule.template.connection_id,
    selection_kind: selection.kind,
    vms: selection.kind === "fixed" ? [...selection.vms] : [],
    name_pattern: selection.kind === "rule" ? (selection.name_pattern ?? "") : "",
    folder: selection.kind === "rule" ? (selection.folder ?? "") : "",
    destination_dir: schedule.template.destination_dir,
    ...exportFormatValues(schedule.template.format),
    retention_kind: retention.kind,
    keep_last: retention.kind === "keep_last" ? String(retention.count) : defaults.keep_last,
    keep_daily: retention.kind === "gfs" ? String(retention.daily) : defaults.keep_daily,
    keep_weekly: retention.kind === "gfs" ? String(retention.weekly) : defaults.keep_weekly,
    keep_monthly: retention.kind === "gfs" ? String(retention.monthly) : defaults.keep_monthly,
    missed_run_policy: schedule.missed_run_policy,
    enabled: schedule.enabled,
  };
}

function toSelection(v: ScheduleFormOutput): VmSelection {
  if (v.selection_kind === "fixed") return { kind: "fixed", vms: [...new Set(v.vms.map((vm) => vm.trim()))] };
  const pattern = v.name_pattern.trim();
  const folder = v.folder.trim();
  return { kind: "rule", name_pattern: pattern === "" ? null : pattern, folder: folder === "" ? null : folder };
}

function toRetention(v: ScheduleFormOutput): Retention {
  const n = (text: string) => (text.trim() === "" ? 0 : Number(text));
  switch (v.retention_kind) {
    case "keep_all":
      return { kind: "keep_all" };
    case "keep_last":
      return { kind: "keep_last", count: n(v.keep_last) };
    case "gfs":
      return { kind: "gfs", daily: n(v.keep_daily), weekly: n(v.keep_weekly), monthly: n(v.keep_monthly) };
  }
}

/** What the form sends to `add_schedule` / `update_schedule`. */
export function toScheduleInput(v: ScheduleFormOutput): ScheduleInput {
  const zone = v.time_zone.trim();
  return {
    name: v.name.trim(),
    cron: v.cron.trim(),
    time_zone: zone === LOCAL_ZONE ? null : zone,
    template: {
      connection_id: v.connection_id,
      selection: toSelection(v),
      destination_dir: v.destination_dir,
      format: toExportFormat(v),
    },
    retention: toRetention(v),
    missed_run_policy: v.missed_run_policy,
    enabled: v.enabled,
  };
}

/**
 * Which form field a core error belongs to (otherwise it is shown as an alert above the form).
 * Most validation failures have their own code; the core's retention, VM selection and connection
 * checks share `invalid_input`, so those are recognised by the core's own message.
 */
export function fieldForScheduleError(error: ApiError): ScheduleField | null {
  switch (error.code) {
    case "invalid_name":
    case "schedule_name_taken":
      return "name";
    case "invalid_cron":
      return "cron";
    case "invalid_timezone":
      return "time_zone";
    case "invalid_input": {
      const m = error.message;
      if (m.startsWith("Keep last")) return "keep_last";
      if (m.startsWith("Daily, weekly and monthly") || m.startsWith("Keep at least one")) return "retention_kind";
      if (m === messages.noVms || m.startsWith("VM ids and paths") || /^At most \d+ VMs/.test(m)) return "vms";
      if (m === messages.ruleEmpty || m.startsWith("The name pattern")) return "name_pattern";
      if (m.startsWith("The folder must be an inventory path")) return "folder";
      if (m.startsWith("There is no connection")) return "connection_id";
      return null;
    }
    default:
      return fieldForExportError(error);
  }
}

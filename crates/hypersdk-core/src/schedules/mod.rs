//! Scheduled backups: "export these VMs every night at 02:00, keep 7 daily
//! and 4 weekly copies".
//!
//! - [`model`]: what a schedule and a run are (also the IPC contract).
//! - this module: the API the window and `hyperctl` call (validated add,
//!   edit, list, enable, pause, history, retention preview).
//! - [`engine`](self::engine): the scheduler that fires due schedules, runs
//!   them as export jobs into a per-run folder, records the outcome and
//!   applies retention; catch-up after downtime, overlap and pause rules.
//! - [`retention`]: which runs' files to delete (a pure function) and the
//!   deletion, limited to what was recorded for the run.
//! - [`clock`]: where "now" comes from, so tests move time instead of
//!   waiting for it.

pub mod clock;
mod engine;
mod model;
pub mod retention;

use std::collections::HashSet;
use std::path::Path;

use chrono_tz::Tz;

pub use clock::{Clock, ManualClock, SystemClock};
pub use engine::LATE_GRACE;
pub(crate) use engine::{SchedulerState, reconcile_interrupted_runs};
pub use model::{
    CronPreview, ExecutionStatus, MissedRunPolicy, NextRun, Retention, RetentionItem, RunTrigger,
    Schedule, ScheduleDetail, ScheduleExecution, ScheduleInput, ScheduleTemplate, SchedulerStatus,
    VmSelection,
};

use crate::Core;
use crate::cron_schedule::{CronSchedule, LOCAL_ZONE, parse_zone};
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::model::VmInfo;

const MAX_NAME_CHARS: usize = 100;
const MAX_PATTERN_CHARS: usize = 200;
const MAX_FIXED_VMS: usize = 1000;
/// Generous, and still catches a typo such as 70000.
const MAX_KEEP: u32 = 1000;
/// How many runs `history` returns unless told otherwise.
pub const HISTORY_LIMIT: u32 = 1000;
/// How many fire times the detail view lists.
const UPCOMING: usize = 5;

/// A validated, normalised input.
struct Valid {
    name: String,
    cron: CronSchedule,
    time_zone: String,
    template: ScheduleTemplate,
    retention: Retention,
    missed_run_policy: MissedRunPolicy,
    enabled: bool,
}

fn validate_name(raw: &str) -> Result<String> {
    let name = raw.trim().to_owned();
    if name.is_empty() {
        return Err(CoreError::invalid("name", "Name is required"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(CoreError::invalid(
            "name",
            format!("Name must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "name",
            "Name must not contain control characters",
        ));
    }
    Ok(name)
}

fn validate_retention(r: Retention) -> Result<Retention> {
    let field = "retention";
    match r {
        Retention::KeepAll => Ok(r),
        Retention::KeepLast { count } if (1..=MAX_KEEP).contains(&count) => Ok(r),
        Retention::KeepLast { .. } => Err(CoreError::invalid(
            field,
            format!("Keep last must be between 1 and {MAX_KEEP} runs"),
        )),
        Retention::Gfs {
            daily,
            weekly,
            monthly,
        } => {
            if [daily, weekly, monthly].iter().any(|n| *n > MAX_KEEP) {
                return Err(CoreError::invalid(
                    field,
                    format!("Daily, weekly and monthly counts must be at most {MAX_KEEP}"),
                ));
            }
            if daily + weekly + monthly == 0 {
                return Err(CoreError::invalid(
                    field,
                    "Keep at least one daily, weekly or monthly copy (or choose to keep everything)",
                ));
            }
            Ok(r)
        }
    }
}

fn validate_selection(s: VmSelection) -> Result<VmSelection> {
    let field = "selection";
    match s {
        VmSelection::Fixed { vms } => {
            let mut out: Vec<String> = Vec::new();
            for vm in vms {
                let vm = vm.trim().to_owned();
                if vm.is_empty() || vm.chars().any(char::is_control) {
                    return Err(CoreError::invalid(
                        field,
                        "VM ids and paths must not be empty or contain control characters",
                    ));
                }
                if !out.contains(&vm) {
                    out.push(vm);
                }
            }
            if out.is_empty() {
                return Err(CoreError::invalid(field, "Choose at least one VM"));
            }
            if out.len() > MAX_FIXED_VMS {
                return Err(CoreError::invalid(
                    field,
                    format!(
                        "At most {MAX_FIXED_VMS} VMs can be listed; use a name pattern or folder rule"
                    ),
                ));
            }
            Ok(VmSelection::Fixed { vms: out })
        }
        VmSelection::Rule {
            name_pattern,
            folder,
        } => {
            let name_pattern = name_pattern
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty());
            let folder = folder
                .map(|f| f.trim().trim_end_matches('/').to_owned())
                .filter(|f| !f.is_empty());
            if name_pattern.is_none() && folder.is_none() {
                return Err(CoreError::invalid(
                    field,
                    "A rule needs a name pattern, a folder, or both",
                ));
            }
            if let Some(p) = &name_pattern
                && (p.chars().count() > MAX_PATTERN_CHARS || p.chars().any(char::is_control))
            {
                return Err(CoreError::invalid(
                    field,
                    format!(
                        "The name pattern must be at most {MAX_PATTERN_CHARS} characters, without control characters"
                    ),
                ));
            }
            if let Some(f) = &folder
                && (!f.starts_with('/') || f.chars().any(char::is_control))
            {
                return Err(CoreError::invalid(
                    field,
                    format!("The folder must be an inventory path such as /DC0/vm/prod, not {f}"),
                ));
            }
            Ok(VmSelection::Rule {
                name_pattern,
                folder,
            })
        }
    }
}

/// Case-insensitive glob: `*` matches any run of characters, `?` one.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.to_lowercase().chars().collect();
    let t: Vec<char> = text.to_lowercase().chars().collect();
    // Iterative matcher with one backtrack point: linear for patterns
    // without `*`, and never exponential.
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether a VM is selected by a rule (both parts, when both are given).
pub fn rule_matches(name_pattern: Option<&str>, folder: Option<&str>, vm: &VmInfo) -> bool {
    let name_ok = name_pattern.is_none_or(|p| glob_matches(p, &vm.name));
    let folder_ok = folder.is_none_or(|f| {
        let f = f.trim_end_matches('/');
        vm.path
            .strip_prefix(f)
            .is_some_and(|rest| rest.starts_with('/'))
    });
    name_ok && folder_ok
}

/// The zone a schedule's times are in; an unknown name falls back to UTC so
/// that history and retention still work (the schedule shows the problem).
fn zone_of(schedule: &Schedule) -> Tz {
    parse_zone(&schedule.time_zone).unwrap_or(Tz::UTC)
}

impl Core {
    async fn validate_schedule(&self, input: ScheduleInput) -> Result<Valid> {
        let name = validate_name(&input.name)?;
        let time_zone = input
            .time_zone
            .map(|z| z.trim().to_owned())
            .filter(|z| !z.is_empty())
            .unwrap_or_else(|| LOCAL_ZONE.to_owned());
        let time_zone = if time_zone.eq_ignore_ascii_case(LOCAL_ZONE) {
            LOCAL_ZONE.to_owned()
        } else {
            time_zone
        };
        let cron = CronSchedule::parse(&input.cron, &time_zone)?;
        let retention = validate_retention(input.retention)?;
        let selection = validate_selection(input.template.selection)?;
        input.template.format.validate()?;
        let destination = crate::exports::check_destination_dir(&input.template.destination_dir)?;
        let connection = match self.connection(input.template.connection_id.trim()).await {
            Ok(c) => c,
            Err(CoreError::NotFound { .. }) => {
                return Err(CoreError::invalid(
                    "connection_id",
                    format!(
                        "There is no connection \"{}\"; add it first or choose another",
                        input.template.connection_id.trim()
                    ),
                ));
            }
            Err(e) => return Err(e),
        };
        crate::kinds::check_export_options(
            connection.kind,
            &input.template.format.platform_options,
        )?;
        Ok(Valid {
            name,
            cron,
            time_zone,
            template: ScheduleTemplate {
                connection_id: connection.id,
                selection,
                destination_dir: destination.display().to_string(),
                format: input.template.format.clone(),
            },
            retention,
            missed_run_policy: input.missed_run_policy,
            enabled: input.enabled,
        })
    }

    pub async fn add_schedule(&self, input: ScheduleInput) -> Result<Schedule> {
        let valid = self.validate_schedule(input).await?;
        let now = self.now();
        let schedule = Schedule {
            id: uuid::Uuid::new_v4().to_string(),
            name: valid.name,
            cron: valid.cron.expression().to_owned(),
            time_zone: valid.time_zone,
            description: valid.cron.describe(),
            template: valid.template,
            retention: valid.retention,
            missed_run_policy: valid.missed_run_policy,
            enabled: valid.enabled,
            created_at: now,
            updated_at: now,
            last_run: None,
            next_run: if valid.enabled {
                valid.cron.next_after(now)
            } else {
                None
            },
            last_status: None,
            problem: None,
        };
        let saved = schedule.clone();
        self.with_store(move |store| store.insert_schedule(&saved))
            .await?;
        tracing::info!(schedule = %schedule.id, name = %schedule.name, cron = %schedule.cron, "schedule added");
        self.bus.publish(CoreEvent::ScheduleChanged {
            schedule_id: Some(schedule.id.clone()),
        });
        self.schedule(&schedule.id).await.map(|d| d.schedule)
    }

    /// Replaces the schedule's settings; its next run is computed afresh
    /// from now. History and recorded artefacts are kept.
    pub async fn update_schedule(
        &self,
        id_or_name: &str,
        input: ScheduleInput,
    ) -> Result<Schedule> {
        let existing = self.find_schedule(id_or_name).await?;
        let valid = self.validate_schedule(input).await?;
        let now = self.now();
        let updated = Schedule {
            name: valid.name,
            cron: valid.cron.expression().to_owned(),
            time_zone: valid.time_zone,
            description: valid.cron.describe(),
            template: valid.template,
            retention: valid.retention,
            missed_run_policy: valid.missed_run_policy,
            enabled: valid.enabled,
            updated_at: now,
            next_run: if valid.enabled {
                valid.cron.next_after(now)
            } else {
                None
            },
            ..existing
        };
        let saved = updated.clone();
        self.with_store(move |store| store.update_schedule(&saved))
            .await?;
        tracing::info!(schedule = %updated.id, "schedule updated");
        self.bus.publish(CoreEvent::ScheduleChanged {
            schedule_id: Some(updated.id.clone()),
        });
        self.schedule(&updated.id).await.map(|d| d.schedule)
    }

    /// Removes the schedule and its history. The backups it made stay on
    /// disk: removing a schedule never deletes backups.
    pub async fn remove_schedule(&self, id_or_name: &str) -> Result<()> {
        let schedule = self.find_schedule(id_or_name).await?;
        let (id, name) = (schedule.id.clone(), schedule.name.clone());
        self.with_store(move |store| {
            if store
                .running_executions()?
                .iter()
                .any(|e| e.schedule_id == id)
            {
                return Err(CoreError::ScheduleBusy(name));
            }
            store.delete_schedule(&id)
        })
        .await?;
        tracing::info!(schedule = %schedule.id, name = %schedule.name, "schedule removed");
        self.bus.publish(CoreEvent::ScheduleChanged {
            schedule_id: Some(schedule.id),
        });
        Ok(())
    }

    /// Enabling computes the next run from now: times that passed while the
    /// schedule was disabled are not caught up.
    pub async fn set_schedule_enabled(&self, id_or_name: &str, enabled: bool) -> Result<Schedule> {
        let schedule = self.find_schedule(id_or_name).await?;
        let now = self.now();
        let next = if enabled {
            CronSchedule::parse(&schedule.cron, &schedule.time_zone)?.next_after(now)
        } else {
            None
        };
        let id = schedule.id.clone();
        self.with_store(move |store| store.set_schedule_enabled(&id, enabled, next, now))
            .await?;
        self.bus.publish(CoreEvent::ScheduleChanged {
            schedule_id: Some(schedule.id.clone()),
        });
        self.schedule(&schedule.id).await.map(|d| d.schedule)
    }

    /// Every schedule, by name, with its next run and description (both
    /// stored when the schedule was saved or last fired, so listing
    /// thousands of schedules parses nothing).
    pub async fn list_schedules(&self) -> Result<Vec<Schedule>> {
        let (schedules, connections) = self
            .with_store(|store| Ok((store.list_schedules()?, store.list_connections()?)))
            .await?;
        let connections: HashSet<String> = connections.into_iter().map(|c| c.id).collect();
        Ok(schedules
            .into_iter()
            .map(|s| {
                let description = Ok(s.description.clone());
                decorate(s, description, &connections)
            })
            .collect())
    }

    /// The description and next fire times of a cron expression in a time zone
    /// (empty: local), as a schedule with it would have: the schedule form shows
    /// them while the expression is typed. An invalid one is `invalid_cron` /
    /// `invalid_timezone`, with the message saving would give.
    pub fn preview_cron(&self, cron: &str, time_zone: &str) -> Result<CronPreview> {
        let zone = match time_zone.trim() {
            "" => LOCAL_ZONE,
            z => z,
        };
        let parsed = CronSchedule::parse(cron, zone)?;
        Ok(CronPreview {
            description: parsed.describe(),
            upcoming: parsed.upcoming(self.now(), UPCOMING),
        })
    }

    /// One schedule (by id or name) and its next fire times.
    pub async fn schedule(&self, id_or_name: &str) -> Result<ScheduleDetail> {
        let schedule = self.find_schedule(id_or_name).await?;
        let connections: HashSet<String> = self
            .list_connections()
            .await?
            .into_iter()
            .map(|c| c.id)
            .collect();
        let parsed = CronSchedule::parse(&schedule.cron, &schedule.time_zone);
        let upcoming = match (&parsed, schedule.enabled) {
            (Ok(c), true) => c.upcoming(self.now(), UPCOMING),
            _ => Vec::new(),
        };
        let description = parsed.map(|c| c.describe()).map_err(|e| e.to_string());
        Ok(ScheduleDetail {
            schedule: decorate(schedule, description, &connections),
            upcoming,
        })
    }

    async fn find_schedule(&self, id_or_name: &str) -> Result<Schedule> {
        let key = id_or_name.to_owned();
        self.with_store(move |store| store.find_schedule(&key))
            .await?
            .ok_or_else(|| CoreError::NotFound {
                what: "schedule",
                id: id_or_name.to_owned(),
            })
    }

    /// Runs of a schedule, newest first (skipped ones included).
    pub async fn schedule_history(
        &self,
        id_or_name: &str,
        limit: Option<u32>,
    ) -> Result<Vec<ScheduleExecution>> {
        let schedule = self.find_schedule(id_or_name).await?;
        let limit = limit.unwrap_or(HISTORY_LIMIT).clamp(1, HISTORY_LIMIT * 100);
        self.with_store(move |store| store.executions(&schedule.id, limit))
            .await
    }

    /// Stops every schedule from firing until resumed (persisted). Times
    /// that pass while paused are recorded as skipped.
    pub async fn pause_schedules(&self) -> Result<SchedulerStatus> {
        self.with_store(|store| store.set_schedules_paused(true))
            .await?;
        tracing::info!("schedules paused");
        self.bus
            .publish(CoreEvent::ScheduleChanged { schedule_id: None });
        self.scheduler_status().await
    }

    pub async fn resume_schedules(&self) -> Result<SchedulerStatus> {
        self.with_store(|store| store.set_schedules_paused(false))
            .await?;
        tracing::info!("schedules resumed");
        self.bus
            .publish(CoreEvent::ScheduleChanged { schedule_id: None });
        self.scheduler_status().await
    }

    /// What the tray shows: paused or not, runs in progress, the next run,
    /// whether the last run failed.
    pub async fn scheduler_status(&self) -> Result<SchedulerStatus> {
        let (paused, running, next, last) = self
            .with_store(|store| {
                Ok((
                    store.schedules_paused()?,
                    store.running_executions()?,
                    store.earliest_next_run()?,
                    store.latest_finished_status()?,
                ))
            })
            .await?;
        Ok(SchedulerStatus {
            paused,
            active_here: self.scheduler.is_active_here(),
            running,
            next: next.map(|(schedule_id, schedule_name, at)| NextRun {
                schedule_id,
                schedule_name,
                at,
            }),
            last_run_failed: matches!(
                last,
                Some(ExecutionStatus::Failed | ExecutionStatus::Partial)
            ),
        })
    }
}

/// Adds what the store does not know: the description and any problem
/// that would make the next run fail.
fn decorate(
    mut s: Schedule,
    description: std::result::Result<String, String>,
    connections: &HashSet<String>,
) -> Schedule {
    let mut problems = Vec::new();
    match description {
        Ok(d) => s.description = d,
        Err(e) => {
            s.description = s.cron.clone();
            problems.push(format!("The schedule cannot be evaluated: {e}"));
        }
    }
    if !connections.contains(&s.template.connection_id) {
        problems.push(
            "The connection this schedule uses was removed; edit the schedule to choose another"
                .to_owned(),
        );
    }
    if !Path::new(&s.template.destination_dir).is_dir() {
        problems.push(format!(
            "The destination folder {} does not exist (is a disk unmounted?)",
            s.template.destination_dir
        ));
    }
    s.problem = (!problems.is_empty()).then(|| problems.join("; "));
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PowerState;

    fn vm(name: &str, path: &str) -> VmInfo {
        VmInfo {
            id: format!("id-{name}"),
            name: name.into(),
            path: path.into(),
            power_state: PowerState::PoweredOn,
            guest_os: String::new(),
            cpus: 1,
            memory_mib: 512,
            disks: 1,
            disk_capacity_bytes: None,
            disk_used_bytes: None,
            storage: Vec::new(),
            nics: 0,
            template: false,
            tools_status: None,
            datacenter: None,
            cluster: None,
            host: None,
            resource_pool: None,
            tags: Vec::new(),
            not_exportable: None,
            details_pending: false,
        }
    }

    #[test]
    fn globs_match_like_a_shell_ignoring_case() {
        let table = [
            ("web*", "web01", true),
            ("web*", "WEB-frontend", true),
            ("web*", "db01", false),
            ("*db*", "prod-db-02", true),
            ("db0?", "db01", true),
            ("db0?", "db011", false),
            ("*", "", true),
            ("", "x", false),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("**x", "abx", true),
            ("*a*a*a*a*a*b", &"a".repeat(60), false),
        ];
        for (pattern, text, want) in table {
            assert_eq!(glob_matches(pattern, text), want, "{pattern} vs {text}");
        }
    }

    #[test]
    fn rules_combine_name_and_folder() {
        let web = vm("web01", "/DC0/vm/prod/web01");
        let other = vm("web02", "/DC0/vm/production/web02");
        assert!(rule_matches(Some("web*"), None, &web));
        assert!(rule_matches(None, Some("/DC0/vm/prod"), &web));
        assert!(rule_matches(None, Some("/DC0/vm/prod/"), &web));
        // A folder is a path prefix by whole components, not by characters.
        assert!(!rule_matches(None, Some("/DC0/vm/prod"), &other));
        assert!(rule_matches(Some("web*"), Some("/DC0/vm/prod"), &web));
        assert!(!rule_matches(Some("db*"), Some("/DC0/vm/prod"), &web));
    }

    #[test]
    fn retention_numbers_are_checked() {
        assert!(validate_retention(Retention::KeepAll).is_ok());
        assert!(validate_retention(Retention::KeepLast { count: 7 }).is_ok());
        for bad in [
            Retention::KeepLast { count: 0 },
            Retention::KeepLast { count: 70_000 },
            Retention::Gfs {
                daily: 0,
                weekly: 0,
                monthly: 0,
            },
            Retention::Gfs {
                daily: 7,
                weekly: 5000,
                monthly: 0,
            },
        ] {
            let err = validate_retention(bad).expect_err("bad retention");
            assert_eq!(err.field(), Some("retention"), "{bad:?}");
        }
    }

    #[test]
    fn selections_are_normalised_or_refused() {
        let fixed = validate_selection(VmSelection::Fixed {
            vms: vec![" /DC0/vm/a ".into(), "/DC0/vm/a".into(), "vm-7".into()],
        })
        .expect("fixed");
        assert_eq!(
            fixed,
            VmSelection::Fixed {
                vms: vec!["/DC0/vm/a".into(), "vm-7".into()]
            }
        );
        assert!(validate_selection(VmSelection::Fixed { vms: vec![] }).is_err());
        assert!(
            validate_selection(VmSelection::Rule {
                name_pattern: Some("  ".into()),
                folder: None
            })
            .is_err()
        );
        assert!(
            validate_selection(VmSelection::Rule {
                name_pattern: None,
                folder: Some("prod".into())
            })
            .is_err()
        );
        assert_eq!(
            validate_selection(VmSelection::Rule {
                name_pattern: None,
                folder: Some("/DC0/vm/prod/".into())
            })
            .expect("folder"),
            VmSelection::Rule {
                name_pattern: None,
                folder: Some("/DC0/vm/prod".into())
            }
        );
    }
}

//! What a schedule is, as the window, `hyperctl` and the store see it.

use serde::{Deserialize, Serialize};

use crate::exports::ExportFormat;
use crate::model::Timestamp;

/// Which VMs a run exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VmSelection {
    /// Exactly these VMs: ids, or inventory paths (`/DC0/vm/web01`).
    Fixed { vms: Vec<String> },
    /// Whatever matches when the run starts, so a VM created next week is
    /// backed up without editing the schedule. Both parts must match when
    /// both are given.
    Rule {
        /// Glob on the VM name, case-insensitive: `*` any run, `?` one character.
        name_pattern: Option<String>,
        /// Inventory folder: the VM's path must lie under it (`/DC0/vm/prod`).
        folder: Option<String>,
    },
}

/// What each run exports, where and how.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ScheduleTemplate {
    /// Connection id (a name is accepted on input and stored as the id, so
    /// renaming the connection does not break the schedule).
    pub connection_id: String,
    pub selection: VmSelection,
    /// An existing folder; each run writes into
    /// `<destination_dir>/<schedule name>/<YYYYMMDD-HHMMSS>/`.
    pub destination_dir: String,
    pub format: ExportFormat,
}

/// How many runs' artefacts to keep. Only succeeded runs count as copies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Retention {
    /// Never delete anything (the default: deleting backups must be asked for).
    #[default]
    KeepAll,
    /// The newest `count` succeeded runs.
    KeepLast { count: u32 },
    /// Grandfather-father-son: the newest succeeded run of each of the last
    /// `daily` days, `weekly` ISO weeks and `monthly` months that have one
    /// (in the schedule's time zone).
    Gfs {
        daily: u32,
        weekly: u32,
        monthly: u32,
    },
}

/// What to do about a run whose time passed while no scheduler was running
/// (app closed, computer asleep, clock jumped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum MissedRunPolicy {
    /// Run once as soon as possible, however many times were missed.
    #[default]
    RunOnce,
    /// Record the missed run as skipped and wait for the next time.
    Skip,
}

impl MissedRunPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            MissedRunPolicy::RunOnce => "run_once",
            MissedRunPolicy::Skip => "skip",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [MissedRunPolicy::RunOnce, MissedRunPolicy::Skip]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

/// What the user submits to add or edit a schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ScheduleInput {
    pub name: String,
    /// 5-field cron expression or a preset such as `@daily`.
    pub cron: String,
    /// IANA zone (`Europe/Paris`); `None` or `local` means this computer's zone.
    pub time_zone: Option<String>,
    pub template: ScheduleTemplate,
    pub retention: Retention,
    pub missed_run_policy: MissedRunPolicy,
    pub enabled: bool,
}

/// A saved schedule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Schedule {
    pub id: String,
    pub name: String,
    pub cron: String,
    /// As entered: an IANA zone or `local`.
    pub time_zone: String,
    /// The cron expression in words ("At 02:00, every day").
    pub description: String,
    pub template: ScheduleTemplate,
    pub retention: Retention,
    pub missed_run_policy: MissedRunPolicy,
    pub enabled: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// When the last run started.
    pub last_run: Option<Timestamp>,
    /// When the scheduler will fire next (`None` while disabled). In the
    /// past means a run is due and will happen when a scheduler runs.
    pub next_run: Option<Timestamp>,
    /// The outcome of the newest run, for the tray icon and the list.
    pub last_status: Option<ExecutionStatus>,
    /// Why the schedule cannot run as it stands (its connection was removed,
    /// its destination is missing), so the window can show it.
    pub problem: Option<String>,
}

/// A schedule with its next few fire times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ScheduleDetail {
    pub schedule: Schedule,
    pub upcoming: Vec<Timestamp>,
}

/// What a cron expression means and when it fires next, for a form being typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct CronPreview {
    /// In words ("Every day at 02:00 (Europe/Paris)").
    pub description: String,
    pub upcoming: Vec<Timestamp>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    /// Not run at all; `reason` says why (overlap, paused, missed).
    Skipped,
    /// Some VMs exported, some did not.
    Partial,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "running",
            ExecutionStatus::Succeeded => "succeeded",
            ExecutionStatus::Failed => "failed",
            ExecutionStatus::Skipped => "skipped",
            ExecutionStatus::Partial => "partial",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            ExecutionStatus::Running,
            ExecutionStatus::Succeeded,
            ExecutionStatus::Failed,
            ExecutionStatus::Skipped,
            ExecutionStatus::Partial,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a run happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum RunTrigger {
    /// At its time.
    Scheduled,
    /// Late: its time passed while no scheduler was running.
    CatchUp,
    /// "Run now".
    Manual,
}

impl RunTrigger {
    pub fn as_str(self) -> &'static str {
        match self {
            RunTrigger::Scheduled => "scheduled",
            RunTrigger::CatchUp => "catch_up",
            RunTrigger::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            RunTrigger::Scheduled,
            RunTrigger::CatchUp,
            RunTrigger::Manual,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }
}

/// One run of a schedule (or one skipped time), as its history shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ScheduleExecution {
    pub id: i64,
    pub schedule_id: String,
    pub schedule_name: String,
    pub trigger: RunTrigger,
    /// The fire time this run belongs to (for "run now": when it was asked for).
    pub scheduled_for: Timestamp,
    pub started_at: Timestamp,
    pub finished_at: Option<Timestamp>,
    pub status: ExecutionStatus,
    /// Why it was skipped, failed or partial.
    pub reason: Option<String>,
    /// The folder this run created for its artefacts.
    pub run_dir: Option<String>,
    pub job_ids: Vec<String>,
    /// What the run's succeeded jobs produced (their `JobResult.path`).
    pub artefacts: Vec<String>,
    /// What its failed jobs left behind (`.part` files and work folders).
    pub leftovers: Vec<String>,
    /// When retention deleted this run's files.
    pub pruned_at: Option<Timestamp>,
}

/// One run whose files retention would delete now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct RetentionItem {
    pub execution_id: i64,
    pub scheduled_for: Timestamp,
    pub status: ExecutionStatus,
    pub paths: Vec<String>,
}

/// What the tray shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SchedulerStatus {
    /// Global pause (persisted): nothing fires, missed times are recorded as skipped.
    pub paused: bool,
    /// Whether this process is the one firing schedules (only one process
    /// does at a time; the others stand by).
    pub active_here: bool,
    /// Runs in progress, in any process.
    pub running: Vec<ScheduleExecution>,
    /// The next enabled schedule to fire.
    pub next: Option<NextRun>,
    /// The newest finished run failed or was partial.
    pub last_run_failed: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct NextRun {
    pub schedule_id: String,
    pub schedule_name: String,
    pub at: Timestamp,
}

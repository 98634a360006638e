//! The scheduler: fires due schedules, runs them, records the outcome and
//! applies retention.
//!
//! Rules (all recorded in `schedule_executions`):
//! - **Claiming**: a due time is claimed by moving the schedule's
//!   `next_run_at` with a compare-and-swap, so a time is run at most once
//!   even if two processes look at it. Only one process fires schedules at a
//!   time anyway: [`Core::run_scheduler`] holds `$DATA/scheduler.lock`, and
//!   a second process (the app beside `hyperctl scheduler`) stands by and
//!   takes over when the first ends.
//! - **Next run** is computed from the clock's now with [`CronSchedule`]
//!   (its DST rules apply), so however many times were missed, one run
//!   follows, never one per missed time. A clock that goes back is noticed
//!   and next times that are now too far ahead are recomputed.
//! - **Missed runs**: a time more than [`LATE_GRACE`] in the past when it is
//!   seen (the app was closed, the computer slept, the clock jumped) follows
//!   the schedule's policy: `run_once` runs it once (trigger `catch_up`),
//!   `skip` records it as skipped.
//! - **Overlap**: a run due while the schedule's previous run is still going
//!   (in any live process) is recorded as skipped.
//! - **Pause**: while schedules are paused, due times are recorded as
//!   skipped ("paused") and nothing runs; "run now" still works.
//! - **A run**: checks the destination still exists (an unmounted disk must
//!   not make backups land on the system disk), creates
//!   `DEST/<schedule name>/<YYYYMMDD-HHMMSS>/` (wall time in the schedule's
//!   zone), resolves the VMs (a rule is evaluated now), submits one export
//!   job per VM into that folder, waits for them, records succeeded /
//!   partial / failed with the artefacts the jobs reported, then applies
//!   retention.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;

use super::clock::Clock;
use super::model::{
    ExecutionStatus, MissedRunPolicy, RetentionItem, RunTrigger, Schedule, ScheduleExecution,
    VmSelection,
};
use super::retention::{RunRef, delete_recorded, runs_to_prune};
use super::{rule_matches, zone_of};
use crate::Core;
use crate::cron_schedule::CronSchedule;
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::exports::{ExportJobRequest, ExportSpec, check_destination_dir};
use crate::jobs::runner;
use crate::model::{JobState, Timestamp, VmFilter};
use crate::store::{BeginRun, Store};

/// How late a due time may be seen and still count as on time.
pub const LATE_GRACE: chrono::Duration = chrono::Duration::minutes(2);
/// The longest the loop sleeps, so clock changes, edits by other processes
/// and pause/resume are noticed within a second.
const MAX_SLEEP: Duration = Duration::from_secs(1);
/// How often a standby process checks whether it can take over.
const STANDBY_POLL: Duration = Duration::from_secs(2);
/// A clock that moves back by more than this triggers a recompute.
const CLOCK_BACK_TOLERANCE: chrono::Duration = chrono::Duration::seconds(30);
/// How many failure messages a run's reason quotes.
const REASON_MESSAGES: usize = 3;

const MISSED_WHILE_DOWN: &str = "missed while not running";
const MISSED_WHILE_UP: &str = "missed: the computer was asleep or the clock jumped";
const PAUSED: &str = "paused: schedules are paused";
const INTERRUPTED: &str = "interrupted: HyperSDK stopped during this run";

/// The scheduler's part of [`Core`].
#[derive(Debug)]
pub(crate) struct SchedulerState {
    pub(crate) clock: Arc<dyn Clock>,
    /// Runs in progress in this process.
    active: watch::Sender<usize>,
    /// Whether this process holds the scheduler lock.
    active_here: AtomicBool,
}

impl SchedulerState {
    pub(crate) fn new(clock: Arc<dyn Clock>) -> Self {
        SchedulerState {
            clock,
            active: watch::channel(0).0,
            active_here: AtomicBool::new(false),
        }
    }

    pub(crate) fn is_active_here(&self) -> bool {
        self.active_here.load(Ordering::SeqCst)
    }

    fn enter(&self) -> ActiveRun<'_> {
        self.active.send_modify(|n| *n += 1);
        ActiveRun { state: self }
    }
}

/// Counts a run as in progress until dropped, even if its task panics.
struct ActiveRun<'a> {
    state: &'a SchedulerState,
}

impl Drop for ActiveRun<'_> {
    fn drop(&mut self) {
        self.state.active.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// How a run ended.
struct Outcome {
    status: ExecutionStatus,
    reason: Option<String>,
    artefacts: Vec<String>,
    leftovers: Vec<String>,
}

impl Outcome {
    fn failed(reason: impl Into<String>) -> Self {
        Outcome {
            status: ExecutionStatus::Failed,
            reason: Some(reason.into()),
            artefacts: Vec::new(),
            leftovers: Vec::new(),
        }
    }
}

/// What the jobs of a run left: artefacts of the succeeded ones, `.part`
/// leftovers and error messages of the others.
#[derive(Debug, Default)]
struct JobOutputs {
    succeeded: usize,
    errors: Vec<String>,
    artefacts: Vec<String>,
    leftovers: Vec<String>,
}

fn job_outputs(store: &Store, job_ids: &[String]) -> Result<JobOutputs> {
    let mut out = JobOutputs::default();
    for id in job_ids {
        let Some(job) = store.get_job(id)? else {
            out.errors.push(format!("job {id} vanished"));
            continue;
        };
        match (&job.state, &job.result) {
            (JobState::Succeeded, Some(result)) => {
                out.succeeded += 1;
                out.artefacts.push(result.path.clone());
            }
            _ => {
                let why = job
                    .error
                    .as_ref()
                    .map(|e| e.message.clone())
                    .unwrap_or_else(|| job.state.to_string());
                out.errors.push(format!("{}: {why}", job.name));
                // The export engine keeps `OUT.part` and `OUT.part.d/` for a
                // resume; they are this run's files, so retention may
                // remove them once the run is superseded.
                let request: Option<ExportJobRequest> = store
                    .job_request(id)?
                    .and_then(|r| serde_json::from_str(&r).ok());
                if let Some(request) = request {
                    for suffix in [".part", ".part.d"] {
                        let mut p = request.destination.clone().into_os_string();
                        p.push(suffix);
                        let p = PathBuf::from(p);
                        if std::fs::symlink_metadata(&p).is_ok() {
                            out.leftovers.push(p.display().to_string());
                        }
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Ends the runs whose process died as failed ("interrupted"), keeping what
/// their finished jobs produced on record so retention can still find it.
pub(crate) fn reconcile_interrupted_runs(
    store: &Store,
    own_runner: &str,
    runners_dir: &Path,
    now: Timestamp,
) -> Result<usize> {
    let mut ended = 0;
    for run in store.running_execution_owners()? {
        let alive = run
            .runner_id
            .as_deref()
            .is_some_and(|r| r == own_runner || runner::is_alive(runners_dir, r));
        if alive {
            continue;
        }
        let outputs = job_outputs(store, &run.job_ids)?;
        store.finish_execution(
            run.id,
            ExecutionStatus::Failed,
            Some(INTERRUPTED),
            &outputs.artefacts,
            &outputs.leftovers,
            now,
        )?;
        ended += 1;
    }
    Ok(ended)
}

/// `DEST/<schedule>/<stamp>` (or `<stamp>-2`, … when that exists: a
/// repeated hour, two manual runs in one second). Created here, so the app
/// knows the folder is its own. The destination itself is never created.
fn create_run_dir(dest: &Path, schedule_name: &str, stamp: &str) -> Result<PathBuf> {
    let parent = dest.join(hypersdk_ovf::names::sanitize_component(
        schedule_name,
        "schedule",
        100,
    ));
    match std::fs::create_dir(&parent) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && parent.is_dir() => {}
        Err(e) => {
            return Err(CoreError::io(
                format!("cannot create {}", parent.display()),
                e,
            ));
        }
    }
    for n in 1..1000 {
        let dir = if n == 1 {
            parent.join(stamp)
        } else {
            parent.join(format!("{stamp}-{n}"))
        };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(CoreError::io(format!("cannot create {}", dir.display()), e));
            }
        }
    }
    Err(CoreError::Internal(format!(
        "{} holds too many runs named {stamp}",
        parent.display()
    )))
}

fn summarise(errors: &[String], total: usize) -> String {
    let mut text = format!("{} of {total} VM(s) failed: ", errors.len());
    text.push_str(
        &errors
            .iter()
            .take(REASON_MESSAGES)
            .cloned()
            .collect::<Vec<_>>()
            .join("; "),
    );
    if errors.len() > REASON_MESSAGES {
        text.push_str(&format!("; and {} more", errors.len() - REASON_MESSAGES));
    }
    text
}

impl Core {
    /// The scheduler's "now".
    pub fn now(&self) -> Timestamp {
        self.scheduler.clock.now()
    }

    fn scheduler_lock_path(&self) -> PathBuf {
        self.paths.data_dir.join("scheduler.lock")
    }

    /// Takes the scheduler lock if no other process holds it.
    fn try_scheduler_lock(&self) -> Result<Option<std::fs::File>> {
        let path = self.scheduler_lock_path();
        let file = std::fs::File::create(&path)
            .map_err(|e| CoreError::io(format!("cannot create {}", path.display()), e))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(file)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(CoreError::io(format!("cannot lock {}", path.display()), e))
            }
        }
    }

    /// Runs the scheduler until the process ends: the app calls it at
    /// start-up, `hyperctl scheduler` on servers without the app. Waits
    /// (standing by) while another process runs the schedules, then catches
    /// up on missed runs and fires schedules as they come due.
    pub async fn run_scheduler(self: Arc<Self>) {
        let mut told = false;
        let _lock = loop {
            match self.try_scheduler_lock() {
                Ok(Some(lock)) => break lock,
                Ok(None) => {
                    if !told {
                        tracing::info!(
                            "another HyperSDK process runs the schedules; standing by to take over"
                        );
                        told = true;
                    }
                }
                Err(e) => {
                    if !told {
                        tracing::error!(error = %e, "cannot take the scheduler lock; retrying");
                        told = true;
                    }
                }
            }
            tokio::time::sleep(STANDBY_POLL).await;
        };
        self.scheduler.active_here.store(true, Ordering::SeqCst);
        tracing::info!("scheduler running");
        self.bus
            .publish(CoreEvent::ScheduleChanged { schedule_id: None });
        if let Err(e) = self.scheduler_catch_up().await {
            tracing::warn!(error = %e, "cannot catch up on missed runs");
        }
        let mut last_now = self.now();
        loop {
            let now = self.now();
            if now + CLOCK_BACK_TOLERANCE < last_now {
                tracing::warn!(from = %last_now, to = %now, "the clock went back; recomputing next runs");
                if let Err(e) = self.recompute_next_runs().await {
                    tracing::warn!(error = %e, "cannot recompute next runs");
                }
            }
            last_now = now;
            if let Err(e) = self.scheduler_tick().await {
                tracing::warn!(error = %e, "scheduler tick failed");
            }
            let next = self
                .with_store(|store| store.earliest_next_run())
                .await
                .ok()
                .flatten();
            let wait = next
                .and_then(|(_, _, at)| (at - self.now()).to_std().ok())
                .unwrap_or(MAX_SLEEP)
                .clamp(Duration::from_millis(50), MAX_SLEEP);
            tokio::time::sleep(wait).await;
        }
    }

    /// One pass for `hyperctl scheduler --once` (for a system cron or a
    /// systemd timer): catch up, fire what is due, wait for the runs.
    /// Refused while another process runs the schedules.
    pub async fn run_scheduler_once(self: &Arc<Self>) -> Result<Vec<ScheduleExecution>> {
        let Some(_lock) = self.try_scheduler_lock()? else {
            return Err(CoreError::SchedulerBusy);
        };
        let begun = self.scheduler_catch_up().await?;
        self.wait_for_schedule_runs().await;
        let mut finished = Vec::with_capacity(begun.len());
        for run in begun {
            let id = run.id;
            finished.push(
                self.with_store(move |store| store.execution(id))
                    .await?
                    .unwrap_or(run),
            );
        }
        Ok(finished)
    }

    /// Fires every due schedule, treating times already past as missed
    /// while the app was not running. Call once when the scheduler starts.
    pub async fn scheduler_catch_up(self: &Arc<Self>) -> Result<Vec<ScheduleExecution>> {
        self.fire_due(MISSED_WHILE_DOWN).await
    }

    /// Fires every due schedule; the loop calls it about once a second.
    /// Returns the runs begun (running) or recorded as skipped.
    pub async fn scheduler_tick(self: &Arc<Self>) -> Result<Vec<ScheduleExecution>> {
        self.fire_due(MISSED_WHILE_UP).await
    }

    /// Waits until every run started by this process has finished.
    pub async fn wait_for_schedule_runs(&self) {
        let mut rx = self.scheduler.active.subscribe();
        // The sender lives in `self`, so this cannot fail while we wait.
        let _ = rx.wait_for(|n| *n == 0).await;
    }

    async fn fire_due(self: &Arc<Self>, missed: &str) -> Result<Vec<ScheduleExecution>> {
        let now = self.now();
        let (due, paused) = self
            .with_store(move |store| Ok((store.due_schedules(now)?, store.schedules_paused()?)))
            .await?;
        let mut begun = Vec::new();
        for schedule in due {
            let Some(slot) = schedule.next_run else {
                continue;
            };
            let (new_next, broken) = match CronSchedule::parse(&schedule.cron, &schedule.time_zone)
            {
                Ok(cron) => (cron.next_after(now), None),
                Err(e) => (
                    None,
                    Some(format!(
                        "the schedule cannot be evaluated ({e}); edit it to run again"
                    )),
                ),
            };
            let late = now - slot > LATE_GRACE;
            let trigger = if late {
                RunTrigger::CatchUp
            } else {
                RunTrigger::Scheduled
            };
            let skip_reason = if let Some(b) = broken {
                Some(b)
            } else if paused {
                Some(PAUSED.to_owned())
            } else if late && schedule.missed_run_policy == MissedRunPolicy::Skip {
                Some(format!("{missed} (due {})", slot.to_rfc3339()))
            } else {
                None
            };
            let run = self
                .begin_run(
                    &schedule,
                    Some((slot, new_next)),
                    trigger,
                    slot,
                    skip_reason,
                )
                .await?;
            let Some(run) = run else {
                continue;
            };
            if run.status == ExecutionStatus::Running {
                let core = Arc::clone(self);
                let (schedule, started) = (schedule.clone(), run.clone());
                // Counted before the task starts, so a caller that waits
                // right after this tick sees it.
                self.scheduler.active.send_modify(|n| *n += 1);
                tokio::spawn(async move {
                    let counted = ActiveRun {
                        state: &core.scheduler,
                    };
                    core.execute(schedule, started).await;
                    drop(counted);
                });
            }
            begun.push(run);
        }
        Ok(begun)
    }

    /// Records the run (running or skipped) and announces it.
    async fn begin_run(
        &self,
        schedule: &Schedule,
        claim: Option<(Timestamp, Option<Timestamp>)>,
        trigger: RunTrigger,
        scheduled_for: Timestamp,
        skip_reason: Option<String>,
    ) -> Result<Option<ScheduleExecution>> {
        let now = self.now();
        let schedule_id = schedule.id.clone();
        let runner_id = self.runner.id().to_owned();
        let runners_dir = self.paths.runners_dir();
        let run = self
            .with_store(move |store| {
                store.begin_execution(
                    &BeginRun {
                        schedule_id: &schedule_id,
                        claim,
                        trigger,
                        scheduled_for,
                        now,
                        runner_id: &runner_id,
                        skip_reason,
                    },
                    |r| r == runner_id || runner::is_alive(&runners_dir, r),
                )
            })
            .await?;
        if let Some(run) = &run {
            match run.status {
                ExecutionStatus::Skipped => tracing::info!(
                    schedule = %schedule.name, run = run.id,
                    reason = run.reason.as_deref().unwrap_or(""), "run skipped"
                ),
                _ => {
                    tracing::info!(schedule = %schedule.name, run = run.id, trigger = trigger.as_str(), "run started")
                }
            }
            self.bus.publish(CoreEvent::ScheduleRun {
                run: Box::new(run.clone()),
            });
            self.bus.publish(CoreEvent::ScheduleChanged {
                schedule_id: Some(schedule.id.clone()),
            });
        }
        Ok(run)
    }

    /// "Run now" in the foreground: returns when the run has finished (or
    /// at once, if it was skipped because the previous run is still going).
    /// Works while schedules are paused: it was asked for explicitly.
    pub async fn run_schedule_now(&self, id_or_name: &str) -> Result<ScheduleExecution> {
        let schedule = self.find_schedule(id_or_name).await?;
        let now = self.now();
        let run = self
            .begin_run(&schedule, None, RunTrigger::Manual, now, None)
            .await?
            .ok_or_else(|| CoreError::Internal("a manual run was not recorded".into()))?;
        if run.status != ExecutionStatus::Running {
            return Ok(run);
        }
        let _counted = self.scheduler.enter();
        Ok(self.execute(schedule, run).await)
    }

    /// "Run now" in the background (the window, the tray): returns the
    /// started (or skipped) run at once; `ScheduleRun` events follow it.
    pub async fn start_schedule_now(
        self: &Arc<Self>,
        id_or_name: &str,
    ) -> Result<ScheduleExecution> {
        let schedule = self.find_schedule(id_or_name).await?;
        let now = self.now();
        let run = self
            .begin_run(&schedule, None, RunTrigger::Manual, now, None)
            .await?
            .ok_or_else(|| CoreError::Internal("a manual run was not recorded".into()))?;
        if run.status == ExecutionStatus::Running {
            let core = Arc::clone(self);
            let started = run.clone();
            self.scheduler.active.send_modify(|n| *n += 1);
            tokio::spawn(async move {
                let counted = ActiveRun {
                    state: &core.scheduler,
                };
                core.execute(schedule, started).await;
                drop(counted);
            });
        }
        Ok(run)
    }

    /// Performs a begun run, records its outcome, applies retention, and
    /// announces the finished run. Never fails: every problem becomes the
    /// run's outcome.
    async fn execute(&self, schedule: Schedule, run: ScheduleExecution) -> ScheduleExecution {
        let outcome = match self.perform(&schedule, &run).await {
            Ok(outcome) => outcome,
            Err(e) => Outcome::failed(e.to_string()),
        };
        let id = run.id;
        let now = self.now();
        let finished = self
            .with_store(move |store| {
                store.finish_execution(
                    id,
                    outcome.status,
                    outcome.reason.as_deref(),
                    &outcome.artefacts,
                    &outcome.leftovers,
                    now,
                )
            })
            .await;
        let finished = match finished {
            Ok(f) => f,
            Err(e) => {
                tracing::error!(schedule = %schedule.name, run = id, error = %e, "cannot record the end of a run");
                return run;
            }
        };
        tracing::info!(
            schedule = %schedule.name, run = id, status = %finished.status,
            reason = finished.reason.as_deref().unwrap_or(""), "run finished"
        );
        // Retention reads the schedule afresh: it may have been edited
        // while the run went on.
        match self.find_schedule(&schedule.id).await {
            Ok(current) => {
                if let Err(e) = self.apply_retention(&current).await {
                    tracing::warn!(schedule = %schedule.name, error = %e, "retention failed");
                }
            }
            Err(e) => tracing::debug!(error = %e, "schedule gone before retention"),
        }
        self.bus.publish(CoreEvent::ScheduleRun {
            run: Box::new(finished.clone()),
        });
        self.bus.publish(CoreEvent::ScheduleChanged {
            schedule_id: Some(schedule.id.clone()),
        });
        finished
    }

    async fn perform(&self, schedule: &Schedule, run: &ScheduleExecution) -> Result<Outcome> {
        let template = &schedule.template;
        let dest = match check_destination_dir(&template.destination_dir) {
            Ok(d) => d,
            Err(e) => return Ok(Outcome::failed(format!("destination: {e}"))),
        };
        let stamp = run
            .scheduled_for
            .with_timezone(&zone_of(schedule))
            .format("%Y%m%d-%H%M%S")
            .to_string();
        let name = schedule.name.clone();
        let run_dir = tokio::task::spawn_blocking(move || create_run_dir(&dest, &name, &stamp))
            .await
            .map_err(|e| CoreError::Internal(format!("run folder task: {e}")))??;
        let (id, dir_text) = (run.id, run_dir.display().to_string());
        self.with_store(move |store| store.set_execution_run_dir(id, &dir_text))
            .await?;
        let outcome = self.export_into(schedule, run, &run_dir).await;
        // A run that wrote nothing leaves no empty folder behind (fails
        // harmlessly when something is in it).
        let _ = std::fs::remove_dir(&run_dir);
        outcome
    }

    async fn export_into(
        &self,
        schedule: &Schedule,
        run: &ScheduleExecution,
        run_dir: &Path,
    ) -> Result<Outcome> {
        let template = &schedule.template;
        let vm_ids: Vec<String> = match &template.selection {
            VmSelection::Fixed { vms } => vms.clone(),
            VmSelection::Rule {
                name_pattern,
                folder,
            } => {
                let all = match self
                    .list_vms(&template.connection_id, VmFilter::default())
                    .await
                {
                    Ok(all) => all,
                    Err(CoreError::NotFound {
                        what: "connection", ..
                    }) => {
                        return Ok(Outcome::failed(
                            "the connection this schedule uses was removed",
                        ));
                    }
                    Err(e) => return Ok(Outcome::failed(format!("cannot list VMs: {e}"))),
                };
                all.iter()
                    .filter(|vm| rule_matches(name_pattern.as_deref(), folder.as_deref(), vm))
                    .map(|vm| vm.id.clone())
                    .collect()
            }
        };
        if vm_ids.is_empty() {
            return Ok(Outcome::failed("no VM matched the schedule's rule"));
        }
        // One request per VM, so a VM that is gone or misnamed fails alone
        // and the others are still backed up (a partial run).
        let mut events = self.bus.subscribe();
        let mut job_ids = Vec::new();
        let mut errors = Vec::new();
        for vm in &vm_ids {
            let spec = ExportSpec {
                connection_id: template.connection_id.clone(),
                vm_ids: vec![vm.clone()],
                destination_dir: run_dir.display().to_string(),
                format: template.format.clone(),
            };
            match self.start_export(spec).await {
                Ok(jobs) => job_ids.extend(jobs.into_iter().map(|j| j.id)),
                Err(CoreError::NotFound {
                    what: "connection", ..
                }) => {
                    errors.push(format!(
                        "{vm}: the connection this schedule uses was removed"
                    ));
                }
                Err(e) => errors.push(format!("{vm}: {e}")),
            }
        }
        let (id, ids) = (run.id, job_ids.clone());
        self.with_store(move |store| store.set_execution_jobs(id, &ids))
            .await?;
        self.wait_for_jobs(&job_ids, &mut events).await?;
        let ids = job_ids.clone();
        let outputs = self
            .with_store(move |store| job_outputs(store, &ids))
            .await?;
        errors.extend(outputs.errors);
        let total = vm_ids.len();
        let status = if errors.is_empty() {
            ExecutionStatus::Succeeded
        } else if outputs.succeeded == 0 {
            ExecutionStatus::Failed
        } else {
            ExecutionStatus::Partial
        };
        Ok(Outcome {
            status,
            reason: (!errors.is_empty()).then(|| summarise(&errors, total)),
            artefacts: outputs.artefacts,
            leftovers: outputs.leftovers,
        })
    }

    /// Returns once every job has ended (woken by job events, with a slow
    /// poll as a safety net).
    async fn wait_for_jobs(
        &self,
        ids: &[String],
        events: &mut tokio::sync::broadcast::Receiver<CoreEvent>,
    ) -> Result<()> {
        loop {
            let pending = ids.to_vec();
            let open = self
                .with_store(move |store| {
                    for id in &pending {
                        if store.get_job(id)?.is_some_and(|j| !j.state.is_terminal()) {
                            return Ok(true);
                        }
                    }
                    Ok(false)
                })
                .await?;
            if !open {
                return Ok(());
            }
            let wake = async {
                loop {
                    match events.recv().await {
                        Ok(CoreEvent::JobUpdated { job })
                            if job.state.is_terminal() && ids.contains(&job.id) =>
                        {
                            return;
                        }
                        Ok(_) => {}
                        // Missed events: re-read the store.
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => return,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => {
                            std::future::pending::<()>().await
                        }
                    }
                }
            };
            let _ = tokio::time::timeout(MAX_SLEEP, wake).await;
        }
    }

    /// Recomputes next run times that lie further ahead than the schedule
    /// says they should from now (after the clock went back).
    pub async fn recompute_next_runs(&self) -> Result<usize> {
        let now = self.now();
        let schedules = self.with_store(|store| store.list_schedules()).await?;
        let mut changed = 0;
        for s in schedules.into_iter().filter(|s| s.enabled) {
            let Ok(cron) = CronSchedule::parse(&s.cron, &s.time_zone) else {
                continue;
            };
            let fresh = cron.next_after(now);
            if s.next_run.is_some_and(|stored| Some(stored) > fresh) {
                let id = s.id.clone();
                self.with_store(move |store| store.set_schedule_next_run(&id, fresh))
                    .await?;
                changed += 1;
            }
        }
        if changed > 0 {
            self.bus
                .publish(CoreEvent::ScheduleChanged { schedule_id: None });
        }
        Ok(changed)
    }

    /// Which runs' files retention would delete now (a dry run).
    pub async fn retention_preview(&self, id_or_name: &str) -> Result<Vec<RetentionItem>> {
        let schedule = self.find_schedule(id_or_name).await?;
        Ok(self
            .retention_plan(&schedule)
            .await?
            .into_iter()
            .map(|(item, _)| item)
            .filter(|item| !item.paths.is_empty())
            .collect())
    }

    async fn retention_plan(&self, schedule: &Schedule) -> Result<Vec<(RetentionItem, PathBuf)>> {
        let id = schedule.id.clone();
        let candidates = self
            .with_store(move |store| store.retention_candidates(&id))
            .await?;
        let refs: Vec<RunRef> = candidates
            .iter()
            .map(|e| RunRef {
                id: e.id,
                at: e.scheduled_for,
                succeeded: e.status == ExecutionStatus::Succeeded,
            })
            .collect();
        let prune = runs_to_prune(&schedule.retention, &refs, zone_of(schedule));
        Ok(prune
            .into_iter()
            .filter_map(|id| candidates.iter().find(|e| e.id == id))
            .filter_map(|e| {
                let run_dir = PathBuf::from(e.run_dir.as_deref()?);
                let paths = e.artefacts.iter().chain(&e.leftovers).cloned().collect();
                Some((
                    RetentionItem {
                        execution_id: e.id,
                        scheduled_for: e.scheduled_for,
                        status: e.status,
                        paths,
                    },
                    run_dir,
                ))
            })
            .collect())
    }

    /// Deletes the files of the runs retention no longer keeps: only the
    /// paths recorded for each run, inside the folder created for it, then
    /// that folder if it is empty. Anything else in the destination (or
    /// put into a run folder by someone else) stays. Returns what was
    /// deleted; a run whose files could not all be deleted is tried again
    /// after the next run.
    pub async fn apply_retention(&self, schedule: &Schedule) -> Result<Vec<RetentionItem>> {
        let plan = self.retention_plan(schedule).await?;
        let mut deleted = Vec::new();
        for (item, run_dir) in plan {
            let paths = item.paths.clone();
            let dir = run_dir.clone();
            let failures = tokio::task::spawn_blocking(move || {
                let mut failures = Vec::new();
                for p in &paths {
                    if let Err(e) = delete_recorded(Path::new(p), &dir) {
                        failures.push(format!("{p}: {e}"));
                    }
                }
                // Fails (harmlessly) while anything else is in it.
                let _ = std::fs::remove_dir(&dir);
                failures
            })
            .await
            .map_err(|e| CoreError::Internal(format!("retention task: {e}")))?;
            if failures.is_empty() {
                let (id, now) = (item.execution_id, self.now());
                self.with_store(move |store| store.mark_execution_pruned(id, now))
                    .await?;
                tracing::info!(schedule = %schedule.name, run = item.execution_id, files = item.paths.len(), "retention deleted a run's files");
                deleted.push(item);
            } else {
                tracing::warn!(schedule = %schedule.name, run = item.execution_id, failures = ?failures, "retention could not delete everything");
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_folders_are_unique_and_inside_the_destination() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let a = create_run_dir(tmp.path(), "../nightly", "20261127-020000").expect("first");
        let b = create_run_dir(tmp.path(), "../nightly", "20261127-020000").expect("second");
        assert_ne!(a, b);
        assert!(a.starts_with(tmp.path()) && b.starts_with(tmp.path()));
        assert!(b.display().to_string().ends_with("20261127-020000-2"));
        let missing = tmp.path().join("unmounted");
        assert!(create_run_dir(&missing, "nightly", "x").is_err());
        assert!(!missing.exists(), "the destination itself is never created");
    }

    #[test]
    fn reasons_quote_a_few_failures() {
        let errors: Vec<String> = (1..=5).map(|i| format!("vm{i}: boom")).collect();
        let text = summarise(&errors, 8);
        assert!(text.starts_with("5 of 8 VM(s) failed: vm1: boom; vm2: boom; vm3: boom"));
        assert!(text.ends_with("and 2 more"), "{text}");
    }
}

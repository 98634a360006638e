//! The `schedules` and `schedule_executions` tables, and the global pause flag.
//!
//! Firing is claimed with a compare-and-swap on `next_run_at`, and the
//! overlap check and the execution row are one transaction, so two
//! processes (the app and `hyperctl`) never start the same run twice.

use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Store;
use crate::error::{CoreError, Result};
use crate::model::Timestamp;
use crate::schedules::{
    ExecutionStatus, MissedRunPolicy, Retention, RunTrigger, Schedule, ScheduleExecution,
    ScheduleTemplate,
};

const SCHEDULE_COLUMNS: &str = "s.id, s.name, s.cron, s.time_zone, s.template_json, \
     s.retention_json, s.missed_run_policy, s.enabled, s.created_at, s.updated_at, \
     s.last_run_at, s.next_run_at, s.description, \
     (SELECT e.status FROM schedule_executions e WHERE e.schedule_id = s.id \
      AND e.status != 'running' ORDER BY e.id DESC LIMIT 1)";

const EXECUTION_COLUMNS: &str = "e.id, e.schedule_id, s.name, e.trigger, e.scheduled_for, \
     e.started_at, e.finished_at, e.status, e.reason, e.run_dir, e.job_ids_json, \
     e.artefacts_json, e.leftovers_json, e.pruned_at";

const PAUSED_KEY: &str = "schedules_paused";

/// What starting (or skipping) one run needs.
#[derive(Debug, Clone)]
pub struct BeginRun<'a> {
    pub schedule_id: &'a str,
    /// For timed runs: the `next_run_at` this process saw as due. The run is
    /// only begun if it is still there (no other process claimed it), and
    /// it is replaced by `new_next`. `None` for "run now".
    pub claim: Option<(Timestamp, Option<Timestamp>)>,
    pub trigger: RunTrigger,
    pub scheduled_for: Timestamp,
    pub now: Timestamp,
    pub runner_id: &'a str,
    /// Record the run as skipped for this reason instead of starting it.
    pub skip_reason: Option<String>,
}

/// A `running` execution and the process that owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningExecution {
    pub id: i64,
    pub runner_id: Option<String>,
    pub job_ids: Vec<String>,
    pub run_dir: Option<String>,
}

fn json<T: serde::Serialize>(what: &str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| CoreError::Internal(format!("{what}: {e}")))
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(err, _)
            if err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

impl Store {
    /// Fails with `schedule_name_taken` on a duplicate name (any case).
    pub fn insert_schedule(&self, s: &Schedule) -> Result<()> {
        let conn = self.lock()?;
        conn.execute(
            "INSERT INTO schedules (id, name, cron, time_zone, template_json, retention_json, \
             missed_run_policy, enabled, created_at, updated_at, last_run_at, next_run_at, \
             description) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            params![
                s.id,
                s.name,
                s.cron,
                s.time_zone,
                json("schedule template", &s.template)?,
                json("schedule retention", &s.retention)?,
                s.missed_run_policy.as_str(),
                s.enabled,
                s.created_at,
                s.updated_at,
                s.last_run,
                s.next_run,
                s.description,
            ],
        )
        .map_err(|e| {
            if is_unique_violation(&e) {
                CoreError::ScheduleNameTaken(s.name.clone())
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// Replaces everything the user edits, and the next run time.
    pub fn update_schedule(&self, s: &Schedule) -> Result<()> {
        let conn = self.lock()?;
        let changed = conn
            .execute(
                "UPDATE schedules SET name = ?2, cron = ?3, time_zone = ?4, template_json = ?5, \
                 retention_json = ?6, missed_run_policy = ?7, enabled = ?8, updated_at = ?9, \
                 next_run_at = ?10, description = ?11 WHERE id = ?1",
                params![
                    s.id,
                    s.name,
                    s.cron,
                    s.time_zone,
                    json("schedule template", &s.template)?,
                    json("schedule retention", &s.retention)?,
                    s.missed_run_policy.as_str(),
                    s.enabled,
                    s.updated_at,
                    s.next_run,
                    s.description,
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    CoreError::ScheduleNameTaken(s.name.clone())
                } else {
                    e.into()
                }
            })?;
        if changed == 0 {
            return Err(CoreError::NotFound {
                what: "schedule",
                id: s.id.clone(),
            });
        }
        Ok(())
    }

    /// Deletes the schedule and its history (never its artefacts on disk).
    pub fn delete_schedule(&self, id: &str) -> Result<bool> {
        Ok(self
            .lock()?
            .execute("DELETE FROM schedules WHERE id = ?1", [id])?
            > 0)
    }

    /// By name.
    pub fn list_schedules(&self) -> Result<Vec<Schedule>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules s ORDER BY s.name COLLATE NOCASE"
        ))?;
        let rows = stmt.query_map([], schedule_from_row)?;
        rows.map(|r| r?).collect()
    }

    /// By id, or else by (case-insensitive) name.
    pub fn find_schedule(&self, id_or_name: &str) -> Result<Option<Schedule>> {
        find_schedule(&*self.lock()?, id_or_name)
    }

    /// Enabled schedules whose next run time is not after `now`, earliest first.
    pub fn due_schedules(&self, now: Timestamp) -> Result<Vec<Schedule>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules s \
             WHERE s.enabled = 1 AND s.next_run_at IS NOT NULL AND s.next_run_at <= ?1 \
             ORDER BY s.next_run_at"
        ))?;
        let rows = stmt.query_map([now], schedule_from_row)?;
        rows.map(|r| r?).collect()
    }

    /// The enabled schedule that fires first: `(id, name, at)`.
    pub fn earliest_next_run(&self) -> Result<Option<(String, String, Timestamp)>> {
        Ok(self
            .lock()?
            .query_row(
                "SELECT id, name, next_run_at FROM schedules \
                 WHERE enabled = 1 AND next_run_at IS NOT NULL ORDER BY next_run_at LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    /// Sets when a schedule fires next (after enabling it, or when the clock
    /// went back and the stored time is too far ahead).
    pub fn set_schedule_next_run(&self, id: &str, next: Option<Timestamp>) -> Result<()> {
        self.lock()?.execute(
            "UPDATE schedules SET next_run_at = ?2 WHERE id = ?1",
            params![id, next],
        )?;
        Ok(())
    }

    pub fn set_schedule_enabled(
        &self,
        id: &str,
        enabled: bool,
        next: Option<Timestamp>,
        now: Timestamp,
    ) -> Result<()> {
        let changed = self.lock()?.execute(
            "UPDATE schedules SET enabled = ?2, next_run_at = ?3, updated_at = ?4 WHERE id = ?1",
            params![id, enabled, next, now],
        )?;
        if changed == 0 {
            return Err(CoreError::NotFound {
                what: "schedule",
                id: id.to_owned(),
            });
        }
        Ok(())
    }

    /// Claims and records one run (see [`BeginRun`]). `None` when another
    /// process claimed the time first. A run due while an earlier one of the
    /// same schedule is still going (in a live process, as `is_alive` tells)
    /// is recorded as skipped.
    pub fn begin_execution(
        &self,
        run: &BeginRun<'_>,
        is_alive: impl Fn(&str) -> bool,
    ) -> Result<Option<ScheduleExecution>> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        match run.claim {
            Some((seen, new_next)) => {
                let claimed = tx.execute(
                    "UPDATE schedules SET next_run_at = ?3 WHERE id = ?1 AND next_run_at = ?2",
                    params![run.schedule_id, seen, new_next],
                )?;
                if claimed == 0 {
                    return Ok(None);
                }
            }
            None => {
                if find_schedule(&tx, run.schedule_id)?.is_none() {
                    return Err(CoreError::NotFound {
                        what: "schedule",
                        id: run.schedule_id.to_owned(),
                    });
                }
            }
        }
        let mut skip_reason = run.skip_reason.clone();
        if skip_reason.is_none() {
            let mut stmt = tx.prepare(
                "SELECT id, runner_id FROM schedule_executions \
                 WHERE schedule_id = ?1 AND status = 'running'",
            )?;
            let running = stmt
                .query_map([run.schedule_id], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Option<String>>(1)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            if let Some((id, _)) = running
                .iter()
                .find(|(_, runner)| runner.as_deref().is_some_and(&is_alive))
            {
                skip_reason = Some(format!("overlap: previous run #{id} still going"));
            }
        }
        let status = if skip_reason.is_some() {
            ExecutionStatus::Skipped
        } else {
            ExecutionStatus::Running
        };
        let finished_at = skip_reason.as_ref().map(|_| run.now);
        tx.execute(
            "INSERT INTO schedule_executions (schedule_id, trigger, scheduled_for, started_at, \
             finished_at, status, reason, runner_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                run.schedule_id,
                run.trigger.as_str(),
                run.scheduled_for,
                run.now,
                finished_at,
                status.as_str(),
                skip_reason,
                (status == ExecutionStatus::Running).then_some(run.runner_id),
            ],
        )?;
        let id = tx.last_insert_rowid();
        if status == ExecutionStatus::Running {
            tx.execute(
                "UPDATE schedules SET last_run_at = ?2 WHERE id = ?1",
                params![run.schedule_id, run.now],
            )?;
        }
        let execution = get_execution(&tx, id)?
            .ok_or_else(|| CoreError::Internal("inserted execution vanished".into()))?;
        tx.commit()?;
        Ok(Some(execution))
    }

    pub fn set_execution_run_dir(&self, id: i64, run_dir: &str) -> Result<()> {
        self.lock()?.execute(
            "UPDATE schedule_executions SET run_dir = ?2 WHERE id = ?1",
            params![id, run_dir],
        )?;
        Ok(())
    }

    /// Recorded as soon as the jobs exist, so a crash mid-run still knows them.
    pub fn set_execution_jobs(&self, id: i64, job_ids: &[String]) -> Result<()> {
        self.lock()?.execute(
            "UPDATE schedule_executions SET job_ids_json = ?2 WHERE id = ?1",
            params![id, json("job ids", &job_ids)?],
        )?;
        Ok(())
    }

    /// Ends a running execution with its outcome and what it left on disk.
    pub fn finish_execution(
        &self,
        id: i64,
        status: ExecutionStatus,
        reason: Option<&str>,
        artefacts: &[String],
        leftovers: &[String],
        now: Timestamp,
    ) -> Result<ScheduleExecution> {
        let conn = self.lock()?;
        conn.execute(
            "UPDATE schedule_executions SET status = ?2, reason = ?3, artefacts_json = ?4, \
             leftovers_json = ?5, finished_at = ?6, runner_id = NULL \
             WHERE id = ?1 AND status = 'running'",
            params![
                id,
                status.as_str(),
                reason,
                json("artefacts", &artefacts)?,
                json("leftovers", &leftovers)?,
                now
            ],
        )?;
        get_execution(&conn, id)?.ok_or_else(|| CoreError::NotFound {
            what: "schedule run",
            id: id.to_string(),
        })
    }

    /// Newest first.
    pub fn executions(&self, schedule_id: &str, limit: u32) -> Result<Vec<ScheduleExecution>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM schedule_executions e \
             JOIN schedules s ON s.id = e.schedule_id \
             WHERE e.schedule_id = ?1 ORDER BY e.id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![schedule_id, limit], execution_from_row)?;
        rows.map(|r| r?).collect()
    }

    pub fn execution(&self, id: i64) -> Result<Option<ScheduleExecution>> {
        get_execution(&*self.lock()?, id)
    }

    /// Every `running` execution, in any process.
    pub fn running_executions(&self) -> Result<Vec<ScheduleExecution>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM schedule_executions e \
             JOIN schedules s ON s.id = e.schedule_id \
             WHERE e.status = 'running' ORDER BY e.id"
        ))?;
        let rows = stmt.query_map([], execution_from_row)?;
        rows.map(|r| r?).collect()
    }

    /// `running` executions with their owners, for start-up reconciliation.
    pub fn running_execution_owners(&self) -> Result<Vec<RunningExecution>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(
            "SELECT id, runner_id, job_ids_json, run_dir FROM schedule_executions \
             WHERE status = 'running'",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, Option<String>>(3)?,
            ))
        })?;
        let mut out = Vec::new();
        for row in rows {
            let (id, runner_id, jobs, run_dir) = row?;
            out.push(RunningExecution {
                id,
                runner_id,
                job_ids: decode_list(&jobs, id)?,
                run_dir,
            });
        }
        Ok(out)
    }

    /// The newest finished (not skipped) execution across all schedules.
    pub fn latest_finished_status(&self) -> Result<Option<ExecutionStatus>> {
        let status: Option<String> = self
            .lock()?
            .query_row(
                "SELECT status FROM schedule_executions \
                 WHERE status NOT IN ('running','skipped') ORDER BY finished_at DESC, id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?;
        Ok(status.as_deref().and_then(ExecutionStatus::parse))
    }

    /// Finished runs of a schedule that still have files on disk: what
    /// retention chooses from.
    pub fn retention_candidates(&self, schedule_id: &str) -> Result<Vec<ScheduleExecution>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {EXECUTION_COLUMNS} FROM schedule_executions e \
             JOIN schedules s ON s.id = e.schedule_id \
             WHERE e.schedule_id = ?1 AND e.status IN ('succeeded','failed','partial') \
             AND e.pruned_at IS NULL AND e.run_dir IS NOT NULL ORDER BY e.id"
        ))?;
        let rows = stmt.query_map([schedule_id], execution_from_row)?;
        rows.map(|r| r?).collect()
    }

    pub fn mark_execution_pruned(&self, id: i64, at: Timestamp) -> Result<()> {
        self.lock()?.execute(
            "UPDATE schedule_executions SET pruned_at = ?2 WHERE id = ?1",
            params![id, at],
        )?;
        Ok(())
    }

    /// The global pause, kept in the settings table so it survives restarts.
    pub fn schedules_paused(&self) -> Result<bool> {
        let value: Option<String> = self
            .lock()?
            .query_row(
                "SELECT value_json FROM settings WHERE key = ?1",
                [PAUSED_KEY],
                |r| r.get(0),
            )
            .optional()?;
        Ok(value.as_deref() == Some("true"))
    }

    pub fn set_schedules_paused(&self, paused: bool) -> Result<()> {
        self.lock()?.execute(
            "INSERT INTO settings (key, value_json) VALUES (?1, ?2) \
             ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json",
            params![PAUSED_KEY, if paused { "true" } else { "false" }],
        )?;
        Ok(())
    }
}

fn find_schedule(conn: &Connection, id_or_name: &str) -> Result<Option<Schedule>> {
    conn.query_row(
        &format!(
            "SELECT {SCHEDULE_COLUMNS} FROM schedules s WHERE s.id = ?1 \
             UNION ALL SELECT {SCHEDULE_COLUMNS} FROM schedules s WHERE s.name = ?1 LIMIT 1"
        ),
        [id_or_name],
        schedule_from_row,
    )
    .optional()?
    .transpose()
}

fn get_execution(conn: &Connection, id: i64) -> Result<Option<ScheduleExecution>> {
    conn.query_row(
        &format!(
            "SELECT {EXECUTION_COLUMNS} FROM schedule_executions e \
             JOIN schedules s ON s.id = e.schedule_id WHERE e.id = ?1"
        ),
        [id],
        execution_from_row,
    )
    .optional()?
    .transpose()
}

fn decode_list(text: &str, execution: i64) -> Result<Vec<String>> {
    serde_json::from_str(text)
        .map_err(|e| CoreError::Internal(format!("schedule run {execution}: bad list: {e}")))
}

/// `problem` is left for the core to fill in: it needs the connections and
/// the filesystem, not this row.
fn schedule_from_row(row: &Row<'_>) -> rusqlite::Result<Result<Schedule>> {
    let id: String = row.get(0)?;
    let template: String = row.get(4)?;
    let retention: String = row.get(5)?;
    let policy: String = row.get(6)?;
    let last_status: Option<String> = row.get(13)?;
    let decoded = (|| {
        let template: ScheduleTemplate = serde_json::from_str(&template)
            .map_err(|e| CoreError::Internal(format!("schedule {id} template: {e}")))?;
        let retention: Retention = serde_json::from_str(&retention)
            .map_err(|e| CoreError::Internal(format!("schedule {id} retention: {e}")))?;
        let policy = MissedRunPolicy::parse(&policy).ok_or_else(|| {
            CoreError::Internal(format!(
                "schedule {id} has unknown missed-run policy {policy}"
            ))
        })?;
        Ok((template, retention, policy))
    })();
    let (template, retention, missed_run_policy) = match decoded {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Schedule {
        id,
        name: row.get(1)?,
        cron: row.get(2)?,
        time_zone: row.get(3)?,
        description: row.get(12)?,
        template,
        retention,
        missed_run_policy,
        enabled: row.get(7)?,
        created_at: row.get(8)?,
        updated_at: row.get(9)?,
        last_run: row.get(10)?,
        next_run: row.get(11)?,
        last_status: last_status.as_deref().and_then(ExecutionStatus::parse),
        problem: None,
    }))
}

fn execution_from_row(row: &Row<'_>) -> rusqlite::Result<Result<ScheduleExecution>> {
    let id: i64 = row.get(0)?;
    let trigger: String = row.get(3)?;
    let status: String = row.get(7)?;
    let jobs: String = row.get(10)?;
    let artefacts: String = row.get(11)?;
    let leftovers: String = row.get(12)?;
    let decoded = (|| {
        let trigger = RunTrigger::parse(&trigger).ok_or_else(|| {
            CoreError::Internal(format!("schedule run {id} has unknown trigger {trigger}"))
        })?;
        let status = ExecutionStatus::parse(&status).ok_or_else(|| {
            CoreError::Internal(format!("schedule run {id} has unknown status {status}"))
        })?;
        Ok((
            trigger,
            status,
            decode_list(&jobs, id)?,
            decode_list(&artefacts, id)?,
            decode_list(&leftovers, id)?,
        ))
    })();
    let (trigger, status, job_ids, artefacts, leftovers) = match decoded {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(ScheduleExecution {
        id,
        schedule_id: row.get(1)?,
        schedule_name: row.get(2)?,
        trigger,
        scheduled_for: row.get(4)?,
        started_at: row.get(5)?,
        finished_at: row.get(6)?,
        status,
        reason: row.get(8)?,
        run_dir: row.get(9)?,
        job_ids,
        artefacts,
        leftovers,
        pruned_at: row.get(13)?,
    }))
}

//! The `jobs` and `job_events` tables.

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Store;
use super::webhooks::enqueue_job_event;
use crate::error::{ApiError, CoreError, Result};
use crate::model::{Job, JobEvent, JobKind, JobProgress, JobResult, JobState, Timestamp};
use crate::webhooks::WebhookEvent;

const COLUMNS: &str = "id, name, kind, connection_id, state, created_at, started_at, finished_at, \
                       progress_json, error_json, result_json";

pub struct NewJobRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub kind: JobKind,
    pub connection_id: Option<&'a str>,
    pub request_json: &'a str,
    pub runner_id: &'a str,
}

/// A queued or running job and the process that owns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveJob {
    pub id: String,
    pub runner_id: Option<String>,
}

impl Store {
    pub fn insert_job(&self, new: &NewJobRow<'_>) -> Result<Job> {
        let now = Utc::now();
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO jobs (id, name, kind, connection_id, state, request_json, runner_id, created_at) \
             VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7)",
            params![
                new.id,
                new.name,
                new.kind.as_str(),
                new.connection_id,
                new.request_json,
                new.runner_id,
                now
            ],
        )?;
        insert_event(&tx, new.id, now, JobState::Queued, "queued")?;
        // The webhook outbox row commits with the job, or not at all.
        enqueue_job_event(&tx, new.id, WebhookEvent::JobCreated, now, None)?;
        let job = get_job(&tx, new.id)?
            .ok_or_else(|| CoreError::Internal("inserted job vanished".into()))?;
        tx.commit()?;
        Ok(job)
    }

    /// Moves a job to `to` and records why, in one transaction. A job that
    /// has already reached a terminal state is never moved again (a late
    /// "succeeded" must not overwrite "cancelled"); then `None` is returned.
    pub fn transition_job(
        &self,
        id: &str,
        to: JobState,
        message: &str,
        error: Option<&ApiError>,
    ) -> Result<Option<Job>> {
        self.finish_job(id, to, message, error, None)
    }

    /// [`Store::transition_job`] that also records what the job produced.
    pub fn finish_job(
        &self,
        id: &str,
        to: JobState,
        message: &str,
        error: Option<&ApiError>,
        result: Option<&JobResult>,
    ) -> Result<Option<Job>> {
        let now = Utc::now();
        let error_json = error
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| CoreError::Internal(format!("job error: {e}")))?;
        let result_json = result
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| CoreError::Internal(format!("job result: {e}")))?;
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let changed = tx.execute(
            "UPDATE jobs SET state = ?2, \
               started_at = CASE WHEN ?2 = 'running' THEN COALESCE(started_at, ?3) ELSE started_at END, \
               finished_at = CASE WHEN ?2 IN ('queued','running') THEN NULL ELSE ?3 END, \
               error_json = COALESCE(?4, error_json), \
               result_json = COALESCE(?5, result_json), \
               runner_id = CASE WHEN ?2 IN ('queued','running') THEN runner_id ELSE NULL END \
             WHERE id = ?1 AND state IN ('queued','running')",
            params![id, to.as_str(), now, error_json, result_json],
        )?;
        if changed == 0 {
            return match get_job(&tx, id)? {
                Some(_) => Ok(None),
                None => Err(CoreError::NotFound {
                    what: "job",
                    id: id.to_owned(),
                }),
            };
        }
        insert_event(&tx, id, now, to, message)?;
        if let Some(event) = webhook_event(to) {
            enqueue_job_event(&tx, id, event, now, None)?;
        }
        let job = get_job(&tx, id)?;
        tx.commit()?;
        Ok(job)
    }

    pub fn update_job_progress(&self, id: &str, progress: &JobProgress) -> Result<()> {
        let json = serde_json::to_string(progress)
            .map_err(|e| CoreError::Internal(format!("job progress: {e}")))?;
        self.lock()?.execute(
            "UPDATE jobs SET progress_json = ?2 WHERE id = ?1",
            params![id, json],
        )?;
        Ok(())
    }

    /// Newest first.
    pub fn list_jobs(&self, limit: u32) -> Result<Vec<Job>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {COLUMNS} FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?1"
        ))?;
        let rows = stmt.query_map([limit], from_row)?;
        rows.map(|r| r?).collect()
    }

    pub fn get_job(&self, id: &str) -> Result<Option<Job>> {
        get_job(&*self.lock()?, id)
    }

    pub fn job_events(&self, id: &str) -> Result<Vec<JobEvent>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(
            "SELECT job_id, at, state, message FROM job_events WHERE job_id = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([id], |row| {
            let state: String = row.get(2)?;
            Ok(
                JobState::parse(&state).map(|state| -> rusqlite::Result<JobEvent> {
                    Ok(JobEvent {
                        job_id: row.get(0)?,
                        at: row.get(1)?,
                        state,
                        message: row.get(3)?,
                    })
                }),
            )
        })?;
        let mut events = Vec::new();
        for row in rows {
            match row? {
                Some(event) => events.push(event?),
                None => {
                    return Err(CoreError::Internal(format!(
                        "job {id} has an event in an unknown state"
                    )));
                }
            }
        }
        Ok(events)
    }

    /// Asks whichever process owns the job to cancel it (see jobs::engine).
    pub fn request_cancel(&self, id: &str) -> Result<()> {
        self.lock()?.execute(
            "UPDATE jobs SET cancel_requested = 1 WHERE id = ?1 AND state IN ('queued','running')",
            [id],
        )?;
        Ok(())
    }

    pub fn cancel_requests(&self, runner_id: &str) -> Result<Vec<String>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(
            "SELECT id FROM jobs WHERE runner_id = ?1 AND cancel_requested = 1 \
             AND state IN ('queued','running')",
        )?;
        let rows = stmt.query_map([runner_id], |row| row.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn activity(&self) -> Result<crate::model::Activity> {
        let conn = self.lock()?;
        let (running, queued): (u32, u32) = conn.query_row(
            "SELECT COALESCE(SUM(state = 'running'), 0), COALESCE(SUM(state = 'queued'), 0) \
             FROM jobs WHERE state IN ('running','queued')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let last: Option<(String, Timestamp)> = conn
            .query_row(
                "SELECT state, finished_at FROM jobs WHERE finished_at IS NOT NULL \
                 ORDER BY finished_at DESC LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        Ok(crate::model::Activity {
            running,
            queued,
            last_outcome: last.as_ref().and_then(|(s, _)| JobState::parse(s)),
            last_finished_at: last.map(|(_, at)| at),
        })
    }

    /// The request a job was submitted with (JSON), for retries.
    pub fn job_request(&self, id: &str) -> Result<Option<String>> {
        Ok(self
            .lock()?
            .query_row("SELECT request_json FROM jobs WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?)
    }

    /// Export jobs of the last week that ended without succeeding and whose
    /// server side (a snapshot) has not been confirmed gone: `(id, request)`.
    pub fn interrupted_exports_needing_cleanup(&self) -> Result<Vec<(String, String)>> {
        let since = Utc::now() - chrono::Duration::days(7);
        let conn = self.lock()?;
        let mut stmt = conn.prepare(
            "SELECT id, request_json FROM jobs WHERE kind = 'export' \
             AND state IN ('failed','cancelled','interrupted') AND server_cleanup_done = 0 \
             AND created_at >= ?1 ORDER BY created_at",
        )?;
        let rows = stmt.query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    pub fn mark_export_cleaned(&self, id: &str) -> Result<()> {
        self.lock()?.execute(
            "UPDATE jobs SET server_cleanup_done = 1 WHERE id = ?1",
            [id],
        )?;
        Ok(())
    }

    pub fn active_jobs(&self) -> Result<Vec<ActiveJob>> {
        let conn = self.lock()?;
        let mut stmt =
            conn.prepare("SELECT id, runner_id FROM jobs WHERE state IN ('queued','running')")?;
        let rows = stmt.query_map([], |row| {
            Ok(ActiveJob {
                id: row.get(0)?,
                runner_id: row.get(1)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

/// The webhook event announcing a move to `state`. A job interrupted by a
/// stopped process is announced as failed (error code `interrupted`), so a
/// receiver hears about every job that did not succeed.
fn webhook_event(state: JobState) -> Option<WebhookEvent> {
    match state {
        JobState::Queued => None,
        JobState::Running => Some(WebhookEvent::JobStarted),
        JobState::Succeeded => Some(WebhookEvent::JobCompleted),
        JobState::Failed | JobState::Interrupted => Some(WebhookEvent::JobFailed),
        JobState::Cancelled => Some(WebhookEvent::JobCancelled),
    }
}

fn insert_event(
    conn: &Connection,
    id: &str,
    at: Timestamp,
    state: JobState,
    message: &str,
) -> Result<()> {
    conn.execute(
        "INSERT INTO job_events (job_id, at, state, message) VALUES (?1, ?2, ?3, ?4)",
        params![id, at, state.as_str(), message],
    )?;
    Ok(())
}

fn get_job(conn: &Connection, id: &str) -> Result<Option<Job>> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM jobs WHERE id = ?1"),
        [id],
        from_row,
    )
    .optional()?
    .transpose()
}

fn from_row(row: &Row<'_>) -> rusqlite::Result<Result<Job>> {
    let id: String = row.get(0)?;
    let kind: String = row.get(2)?;
    let state: String = row.get(4)?;
    let progress: Option<String> = row.get(8)?;
    let error: Option<String> = row.get(9)?;
    let result: Option<String> = row.get(10)?;
    let decoded = (|| {
        let kind = JobKind::parse(&kind)
            .ok_or_else(|| CoreError::Internal(format!("job {id} has unknown kind {kind}")))?;
        let state = JobState::parse(&state)
            .ok_or_else(|| CoreError::Internal(format!("job {id} has unknown state {state}")))?;
        let progress: Option<JobProgress> = progress
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| CoreError::Internal(format!("job {id} progress: {e}")))?;
        let error: Option<ApiError> = error
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| CoreError::Internal(format!("job {id} error: {e}")))?;
        let result: Option<JobResult> = result
            .map(|p| serde_json::from_str(&p))
            .transpose()
            .map_err(|e| CoreError::Internal(format!("job {id} result: {e}")))?;
        Ok((kind, state, progress, error, result))
    })();
    let (kind, state, progress, error, result) = match decoded {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    Ok(Ok(Job {
        id,
        name: row.get(1)?,
        kind,
        connection_id: row.get(3)?,
        state,
        created_at: row.get(5)?,
        started_at: row.get(6)?,
        finished_at: row.get(7)?,
        progress,
        error,
        result,
    }))
}

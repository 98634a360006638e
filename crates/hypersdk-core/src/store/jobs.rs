//! The `jobs` and `job_events` tables.

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::Store;
use super::webhooks::enqueue_job_event;
use crate::error::{ApiError, CoreError, Result};
use crate::model::{
    Job, JobEvent, JobKind, JobPage, JobProgress, JobQuery, JobResult, JobSortKey, JobState,
    Timestamp,
};
use crate::webhooks::WebhookEvent;

const COLUMNS: &str = "id, name, kind, connection_id, state, created_at, started_at, finished_at, \
                       progress_json, error_json, result_json";
/// [`COLUMNS`] of the jobs table when it is joined (as `j`) with its connection (as `c`).
const J_COLUMNS: &str = "j.id, j.name, j.kind, j.connection_id, j.state, j.created_at, \
                         j.started_at, j.finished_at, j.progress_json, j.error_json, j.result_json";

/// The tie-breaker after any other sort key.
const NEWEST: &str = "j.created_at DESC, j.rowid DESC";

/// The `State` sort: what needs attention first.
const STATE_RANK: &str = "CASE j.state WHEN 'running' THEN 0 WHEN 'queued' THEN 1 \
                          WHEN 'failed' THEN 2 WHEN 'interrupted' THEN 3 WHEN 'cancelled' THEN 4 \
                          ELSE 5 END";

/// What `jobs_search` holds for a job (the migration's triggers write the same): name, id,
/// connection name and error message, one per line so a word never spans two of them, in
/// lower case so words too short for the index are found by a plain `instr`.
const JOB_SEARCH_TEXT: &str = "lower(j.name || char(10) || j.id || char(10) || COALESCE(c.name, '') \
    || char(10) || COALESCE(CASE WHEN json_valid(j.error_json) \
    THEN json_extract(j.error_json, '$.message') END, ''))";

/// Words shorter than this cannot use the trigram index (it indexes 3-character sequences).
const TRIGRAM: usize = 3;

/// From this many matches, a page in creation order walks the creation index (see
/// [`Store::query_jobs`]): then at least 1 % of 100,000 jobs match, so a page is found within a
/// few thousand index entries. Fewer matches are gathered and sorted, which is then cheaper.
const WALK_AT_MATCHES: u32 = 1000;

/// Some SQL and the values of its `?`s.
struct Sql {
    sql: String,
    params: Vec<rusqlite::types::Value>,
}

/// A query's filters as SQL over `jobs j`: those on the job's own columns, and the words, which
/// select rows of `jobs_search` (keyed by the jobs' rowids).
struct JobFilterSql {
    rows: Option<Sql>,
    /// Words the trigram index finds.
    indexed: Option<Sql>,
    /// Words too short for it, each as the spellings it may have in the stored text.
    short: Vec<Vec<rusqlite::types::Value>>,
}

/// Where a query's words are looked for: a table, its column of job rowids, and the condition.
struct SearchSql {
    table: &'static str,
    key: &'static str,
    condition: String,
}

impl JobFilterSql {
    fn new(q: &JobQuery) -> JobFilterSql {
        use rusqlite::types::Value;
        let mut clauses: Vec<String> = Vec::new();
        let mut params: Vec<Value> = Vec::new();
        if !q.states.is_empty() {
            let marks = vec!["?"; q.states.len()].join(", ");
            clauses.push(format!("j.state IN ({marks})"));
            params.extend(q.states.iter().map(|s| Value::Text(s.as_str().to_owned())));
        }
        match q.provider.as_deref() {
            None => {}
            Some("none") => clauses.push("j.connection_id IS NULL".into()),
            Some(kind) => {
                clauses
                    .push("j.connection_id IN (SELECT id FROM connections WHERE kind = ?)".into());
                params.push(Value::Text(kind.to_owned()));
            }
        }
        if let Some(id) = &q.connection_id {
            clauses.push("j.connection_id = ?".into());
            params.push(Value::Text(id.clone()));
        }
        let rows = (!clauses.is_empty()).then(|| Sql {
            sql: clauses.join(" AND "),
            params,
        });

        // Words of three characters or more are looked up in the trigram index (which folds
        // case itself). Shorter ones cannot be, and are looked for in the text itself.
        let words: Vec<&str> = q.text.split_whitespace().collect();
        let indexed: Vec<String> = words
            .iter()
            .filter(|w| w.chars().count() >= TRIGRAM)
            .map(|w| format!("\"{}\"", w.to_lowercase().replace('"', "\"\"")))
            .collect();
        let indexed = (!indexed.is_empty()).then(|| Sql {
            sql: "jobs_search MATCH ?".to_owned(),
            params: vec![Value::Text(indexed.join(" AND "))],
        });
        let short = words
            .iter()
            .filter(|w| w.chars().count() < TRIGRAM)
            .map(|w| short_word_spellings(w))
            .collect();
        JobFilterSql {
            rows,
            indexed,
            short,
        }
    }

    /// The words, as a condition on rows of a table keyed by the jobs' rowids; None without
    /// words. Words too short for the index alone are looked for in `jobs_search_content`, the
    /// FTS5 table's own store of the texts (a plain table, `id` and `c0`): a scan of it takes
    /// a third of the time of the same scan through the FTS5 table, which hands each row's text
    /// over one call at a time.
    fn search(&self) -> Option<SearchSql> {
        let short = |column: &str| {
            self.short
                .iter()
                .map(|spellings| {
                    let any = vec![format!("instr({column}, ?) > 0"); spellings.len()];
                    format!("({})", any.join(" OR "))
                })
                .collect::<Vec<_>>()
                .join(" AND ")
        };
        match (&self.indexed, self.short.is_empty()) {
            (None, true) => None,
            (None, false) => Some(SearchSql {
                table: "jobs_search_content",
                key: "id",
                condition: short("c0"),
            }),
            (Some(indexed), true) => Some(SearchSql {
                table: "jobs_search",
                key: "rowid",
                condition: indexed.sql.clone(),
            }),
            (Some(indexed), false) => Some(SearchSql {
                table: "jobs_search",
                key: "rowid",
                condition: format!("{} AND {}", indexed.sql, short("text")),
            }),
        }
    }

    /// Every filter, as a condition on `jobs j`. When `walking` the creation index, the words
    /// are tested row by row as they are reached (the walk stops after a page) instead of being
    /// gathered first from all 100,000 rows — unless the trigram index gathers them cheaply.
    fn where_sql(&self, walking: bool) -> String {
        let mut parts = Vec::new();
        if let Some(rows) = &self.rows {
            parts.push(rows.sql.clone());
        }
        if let Some(search) = self.search() {
            parts.push(if walking && self.indexed.is_none() {
                format!(
                    "EXISTS (SELECT 1 FROM {} WHERE {} = j.rowid AND {})",
                    search.table, search.key, search.condition
                )
            } else {
                format!(
                    "j.rowid IN (SELECT {} FROM {} WHERE {})",
                    search.key, search.table, search.condition
                )
            });
        }
        if parts.is_empty() {
            "1".to_owned()
        } else {
            parts.join(" AND ")
        }
    }

    /// The values for [`JobFilterSql::where_sql`] and [`JobFilterSql::search`], in order.
    fn params(&self) -> impl Iterator<Item = &rusqlite::types::Value> {
        [&self.rows, &self.indexed]
            .into_iter()
            .flatten()
            .flat_map(|s| s.params.iter())
            .chain(self.short.iter().flatten())
    }
}

/// The ways a word of one or two characters may be spelt in the stored search text. SQLite's
/// `lower()`, which wrote it, lowers ASCII letters only: an ASCII letter is looked for in lower
/// case, any other letter in its lower and its upper case ("é" finds "É" too, as a longer word
/// does through the trigram index). Two characters give at most four spellings.
fn short_word_spellings(word: &str) -> Vec<rusqlite::types::Value> {
    let mut spellings = vec![String::new()];
    for c in word.chars() {
        let cases: Vec<String> = if c.is_ascii() {
            vec![c.to_ascii_lowercase().to_string()]
        } else {
            let (lower, upper) = (c.to_lowercase().to_string(), c.to_uppercase().to_string());
            if lower == upper {
                vec![lower]
            } else {
                vec![lower, upper]
            }
        };
        spellings = spellings
            .iter()
            .flat_map(|start| cases.iter().map(move |case| format!("{start}{case}")))
            .collect();
    }
    spellings
        .into_iter()
        .map(rusqlite::types::Value::Text)
        .collect()
}

/// Rebuilds `jobs_search` when it no longer matches the jobs table: a restored or hand-edited
/// database, or a `VACUUM` that renumbered the jobs' rowids (the index is keyed by them). The
/// check reads two counts and the newest job's entry, so it costs nothing at start-up.
pub(super) fn repair_search_index(conn: &Connection) -> Result<()> {
    let consistent: bool = conn.query_row(
        // jobs_search_docsize has a row per entry: counting it reads no text. The newest job is
        // chosen before the join: joined first, SQLite read every entry of the FTS5 table and
        // sorted them (~90 ms at 100,000 jobs, on every open).
        "SELECT (SELECT count(*) FROM jobs) = (SELECT count(*) FROM jobs_search_docsize) \
           AND COALESCE((SELECT instr(s.text, j.id) > 0 \
                FROM (SELECT rowid, id FROM jobs ORDER BY rowid DESC LIMIT 1) j \
                JOIN jobs_search s ON s.rowid = j.rowid), \
                NOT EXISTS (SELECT 1 FROM jobs))",
        [],
        |r| r.get(0),
    )?;
    if !consistent {
        tracing::warn!("the jobs search index does not match the jobs; rebuilding it");
        let tx = conn.unchecked_transaction()?;
        tx.execute("DELETE FROM jobs_search", [])?;
        tx.execute(
            &format!(
                "INSERT INTO jobs_search (rowid, text) SELECT j.rowid, {JOB_SEARCH_TEXT} \
                 FROM jobs j LEFT JOIN connections c ON c.id = j.connection_id"
            ),
            [],
        )?;
        tx.commit()?;
    }
    Ok(())
}

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

    /// Records a step of a running job in its event log (the state stays
    /// `running`); `None` when the job is no longer running.
    pub fn add_job_step(&self, id: &str, message: &str) -> Result<Option<Job>> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let Some(job) = get_job(&tx, id)? else {
            return Err(CoreError::NotFound {
                what: "job",
                id: id.to_owned(),
            });
        };
        if job.state != JobState::Running {
            return Ok(None);
        }
        insert_event(&tx, id, Utc::now(), JobState::Running, message)?;
        tx.commit()?;
        Ok(Some(job))
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

    /// One page of the jobs a query selects, in its order, with how many match and how many
    /// there are. The query is validated by the caller ([`crate::Core::query_jobs`]).
    pub fn query_jobs(&self, q: &JobQuery) -> Result<JobPage> {
        let filter = JobFilterSql::new(q);
        let dir = if q.desc { "DESC" } else { "ASC" };
        let order = match q.sort {
            JobSortKey::CreatedAt => format!("j.created_at {dir}, j.rowid {dir}"),
            JobSortKey::Name => format!("j.name COLLATE NOCASE {dir}, {NEWEST}"),
            JobSortKey::State => format!("{STATE_RANK} {dir}, {NEWEST}"),
            JobSortKey::Provider => format!("COALESCE(c.kind, 'none') {dir}, {NEWEST}"),
            JobSortKey::Connection => {
                format!("COALESCE(c.name, '') COLLATE NOCASE {dir}, {NEWEST}")
            }
        };
        let conn = self.lock()?;
        // One snapshot for the counts and the page, though another process may be writing.
        let tx = conn.unchecked_transaction()?;
        let total: u32 = tx.query_row("SELECT count(*) FROM jobs", [], |r| r.get(0))?;
        let matched: u32 = match (&filter.rows, filter.search()) {
            (None, None) => total,
            // Only words: the search table alone knows how many jobs have them.
            (None, Some(search)) => tx.query_row(
                &format!(
                    "SELECT count(*) FROM {} WHERE {}",
                    search.table, search.condition
                ),
                rusqlite::params_from_iter(filter.params()),
                |r| r.get(0),
            )?,
            _ => tx.query_row(
                &format!(
                    "SELECT count(*) FROM jobs j WHERE {}",
                    filter.where_sql(false)
                ),
                rusqlite::params_from_iter(filter.params()),
                |r| r.get(0),
            )?,
        };
        let mut jobs = Vec::new();
        if q.limit > 0 && q.offset < matched {
            // Many matches in creation order: walk the creation index from the end and stop
            // after the page (a row is tested as it is reached). SQLite's own choice, gathering
            // every match and then sorting them, costs ~3 µs a match: 300 ms when a search
            // matches all of 100,000 jobs. Few matches: that choice is the fast one.
            let walk = q.sort == JobSortKey::CreatedAt && matched >= WALK_AT_MATCHES;
            // Every job matches (the first letters of a search): the filters leave the page as
            // it is, and testing them row by row would cost more than the page.
            let unfiltered = matched == total;
            let mut stmt = tx.prepare(&format!(
                "SELECT {J_COLUMNS} FROM jobs j {} LEFT JOIN connections c ON c.id = j.connection_id \
                 WHERE {} ORDER BY {order} LIMIT {} OFFSET {}",
                if walk { "INDEXED BY jobs_by_created" } else { "" },
                if unfiltered { "1".to_owned() } else { filter.where_sql(walk) },
                q.limit,
                q.offset
            ))?;
            let params: Vec<&rusqlite::types::Value> = if unfiltered {
                Vec::new()
            } else {
                filter.params().collect()
            };
            let rows = stmt.query_map(rusqlite::params_from_iter(params), from_row)?;
            for row in rows {
                jobs.push(row??);
            }
        }
        tx.commit()?;
        Ok(JobPage {
            jobs,
            matched,
            total,
        })
    }

    /// The id of the one job whose id starts with `prefix` (people copy short ids from tables).
    pub fn resolve_job_id(&self, prefix: &str) -> Result<String> {
        let not_found = || CoreError::NotFound {
            what: "job",
            id: prefix.to_owned(),
        };
        // Ids are UUIDs: anything else cannot match, and keeps GLOB's wildcards out.
        if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            return Err(not_found());
        }
        let conn = self.lock()?;
        // GLOB on the primary key is a range scan of its index (LIKE would not be: NOCASE).
        let mut stmt = conn.prepare("SELECT id FROM jobs WHERE id GLOB ?1 || '*' LIMIT 2")?;
        let ids: Vec<String> = stmt
            .query_map([prefix.to_ascii_lowercase()], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        match ids.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(not_found()),
            _ => {
                let n: u32 = conn.query_row(
                    "SELECT count(*) FROM jobs WHERE id GLOB ?1 || '*'",
                    [prefix.to_ascii_lowercase()],
                    |r| r.get(0),
                )?;
                Err(CoreError::invalid(
                    "id",
                    format!("\"{prefix}\" matches {n} jobs; give more of the id"),
                ))
            }
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProviderKind;
    use crate::store::test_support::{insert_connection, temp_store as store};

    fn connection(store: &Store, name: &str, kind: ProviderKind) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        insert_connection(store, &id, name, kind);
        id
    }

    fn job(store: &Store, name: &str, connection: Option<&str>) -> Job {
        let id = uuid::Uuid::new_v4().to_string();
        store
            .insert_job(&NewJobRow {
                id: &id,
                name,
                kind: JobKind::Export,
                connection_id: connection,
                request_json: "{}",
                runner_id: "test",
            })
            .expect("insert job")
    }

    fn fail(store: &Store, id: &str, message: &str) {
        let error = ApiError {
            code: "source_unreachable".into(),
            message: message.into(),
            retryable: true,
        };
        store
            .transition_job(id, JobState::Failed, "failed", Some(&error))
            .expect("fail job");
    }

    fn names(store: &Store, q: &JobQuery) -> Vec<String> {
        store
            .query_jobs(q)
            .expect("query")
            .jobs
            .into_iter()
            .map(|j| j.name)
            .collect()
    }

    fn text(t: &str) -> JobQuery {
        JobQuery {
            text: t.into(),
            ..JobQuery::newest(100)
        }
    }

    #[test]
    fn pages_count_what_matches_and_what_exists() {
        let (_dir, store) = store();
        for i in 0..25 {
            job(&store, &format!("Export vm-{i:02}"), None);
        }
        let page = store
            .query_jobs(&JobQuery {
                offset: 10,
                ..JobQuery::newest(10)
            })
            .expect("query");
        assert_eq!((page.matched, page.total), (25, 25));
        let got: Vec<_> = page.jobs.iter().map(|j| j.name.as_str()).collect();
        // Newest first, created in the same millisecond or not: rowid breaks the tie.
        let want: Vec<String> = (5..15).rev().map(|i| format!("Export vm-{i:02}")).collect();
        assert_eq!(got, want);

        let past_the_end = store
            .query_jobs(&JobQuery {
                offset: 30,
                ..JobQuery::newest(10)
            })
            .expect("query");
        assert!(past_the_end.jobs.is_empty());
        assert_eq!(past_the_end.matched, 25);

        let counted_only = store.query_jobs(&JobQuery::newest(0)).expect("query");
        assert!(counted_only.jobs.is_empty());
        assert_eq!(counted_only.matched, 25);
    }

    #[test]
    fn text_matches_name_id_connection_and_error_in_any_case() {
        let (_dir, store) = store();
        let prod = connection(&store, "Prod-vCenter", ProviderKind::Vsphere);
        let web = job(&store, "Export web-01", Some(&prod));
        let db = job(&store, "Export DB-Primary", None);
        fail(&store, &db.id, "Connection refused by ESXi host esx-07");
        job(&store, "Export mail", None);
        job(&store, "Export Été", None);

        assert_eq!(names(&store, &text("WEB")), ["Export web-01"]);
        assert_eq!(names(&store, &text("db-prim")), ["Export DB-Primary"]);
        // The connection's name, and the error message.
        assert_eq!(names(&store, &text("prod-vcenter")), ["Export web-01"]);
        assert_eq!(names(&store, &text("esx-07")), ["Export DB-Primary"]);
        // The id, or a part of it.
        assert_eq!(names(&store, &text(&web.id[..13])), ["Export web-01"]);
        // Every word must match, wherever each is.
        assert_eq!(
            names(&store, &text("export refused")),
            ["Export DB-Primary"]
        );
        assert!(names(&store, &text("web refused")).is_empty());
        // Words too short for the trigram index are matched too, in any case, letters beyond
        // ASCII included (stored as written: SQLite's lower() lowers ASCII only).
        assert_eq!(names(&store, &text("ai")), ["Export mail"]);
        assert_eq!(names(&store, &text("AI")), ["Export mail"]);
        assert_eq!(names(&store, &text("x")).len(), 4);
        assert_eq!(names(&store, &text("éT")), ["Export Été"]);
        assert_eq!(names(&store, &text("ÉT")), ["Export Été"]);
        assert_eq!(names(&store, &text("été")), ["Export Été"]);
        assert!(names(&store, &text("ét ai")).is_empty());
        // Quotes and FTS operators are plain text, not query syntax.
        assert!(names(&store, &text("\"web OR mail\"")).is_empty());
        assert!(names(&store, &text("NEAR(web")).is_empty());
        assert!(names(&store, &text("%")).is_empty());
    }

    #[test]
    fn the_index_follows_renamed_and_removed_connections() {
        let (_dir, store) = store();
        let id = connection(&store, "old-name", ProviderKind::Vsphere);
        job(&store, "Export a", Some(&id));
        assert_eq!(names(&store, &text("old-name")), ["Export a"]);

        store
            .lock()
            .expect("lock")
            .execute(
                "UPDATE connections SET name = 'new-name' WHERE id = ?1",
                [&id],
            )
            .expect("rename");
        assert!(names(&store, &text("old-name")).is_empty());
        assert_eq!(names(&store, &text("new-name")), ["Export a"]);

        // Removing the connection keeps the job (without a connection) and forgets the name.
        store.delete_connection(&id, || Ok(())).expect("delete");
        assert!(names(&store, &text("new-name")).is_empty());
        assert_eq!(names(&store, &text("export")), ["Export a"]);
        let none = JobQuery {
            provider: Some("none".into()),
            ..JobQuery::newest(10)
        };
        assert_eq!(names(&store, &none), ["Export a"]);
    }

    #[test]
    fn filters_combine_and_sorts_break_ties_newest_first() {
        let (_dir, store) = store();
        let vc = connection(&store, "b-vcenter", ProviderKind::Vsphere);
        let aws = connection(&store, "a-aws", ProviderKind::Aws);
        let j1 = job(&store, "charlie", Some(&vc));
        let j2 = job(&store, "Alpha", Some(&aws));
        job(&store, "bravo", None);
        let j4 = job(&store, "delta", Some(&vc));
        fail(&store, &j1.id, "boom");
        store
            .transition_job(&j4.id, JobState::Running, "started", None)
            .expect("start");
        store
            .transition_job(&j2.id, JobState::Running, "started", None)
            .expect("start");
        store
            .finish_job(&j2.id, JobState::Succeeded, "done", None, None)
            .expect("finish");

        let by = |sort, desc| JobQuery {
            sort,
            desc,
            ..JobQuery::newest(10)
        };
        assert_eq!(
            names(&store, &by(JobSortKey::Name, false)),
            ["Alpha", "bravo", "charlie", "delta"]
        );
        assert_eq!(
            names(&store, &by(JobSortKey::State, false)),
            ["delta", "bravo", "charlie", "Alpha"],
            "running, queued, failed, …, succeeded"
        );
        assert_eq!(
            names(&store, &by(JobSortKey::Connection, false)),
            ["bravo", "Alpha", "delta", "charlie"],
            "no connection first, then by name; ties newest first"
        );
        assert_eq!(
            names(&store, &by(JobSortKey::Provider, true)),
            ["delta", "charlie", "bravo", "Alpha"],
            "vsphere, none, aws (descending by kind); ties newest first"
        );

        let vsphere_failed = JobQuery {
            states: vec![JobState::Failed, JobState::Succeeded],
            provider: Some("vsphere".into()),
            ..JobQuery::newest(10)
        };
        assert_eq!(names(&store, &vsphere_failed), ["charlie"]);
        let of_connection = JobQuery {
            connection_id: Some(vc.clone()),
            text: "del".into(),
            ..JobQuery::newest(10)
        };
        let page = store.query_jobs(&of_connection).expect("query");
        assert_eq!((page.matched, page.total), (1, 4));
        assert_eq!(page.jobs[0].name, "delta");
    }

    #[test]
    fn short_ids_resolve_when_unambiguous() {
        let (_dir, store) = store();
        let a = job(&store, "a", None);
        assert_eq!(store.resolve_job_id(&a.id).expect("full id"), a.id);
        assert_eq!(store.resolve_job_id(&a.id[..8]).expect("prefix"), a.id);
        assert_eq!(
            store
                .resolve_job_id(&a.id[..8].to_uppercase())
                .expect("any case"),
            a.id
        );
        for bad in ["", "*", "zz", "0000000-not-there"] {
            assert!(
                matches!(store.resolve_job_id(bad), Err(CoreError::NotFound { .. })),
                "{bad}"
            );
        }
        // Two jobs whose ids share the first character (likely with 40 jobs).
        let ids: Vec<String> = (0..40)
            .map(|i| job(&store, &format!("j{i}"), None).id)
            .collect();
        let shared = ids
            .iter()
            .chain([&a.id])
            .find_map(|x| {
                let first = &x[..1];
                (ids.iter()
                    .chain([&a.id])
                    .filter(|y| y.starts_with(first))
                    .count()
                    > 1)
                .then(|| first.to_owned())
            })
            .expect("41 random ids share a first hex digit");
        assert!(matches!(
            store.resolve_job_id(&shared),
            Err(CoreError::InvalidInput { field: "id", .. })
        ));
    }

    #[test]
    fn walking_the_creation_index_gives_the_same_pages() {
        let (_dir, store) = store();
        let n = WALK_AT_MATCHES as usize + 300;
        let mut names_newest_first: Vec<String> = Vec::new();
        // Four jobs in five carry the word "wx", which no id (hex) and no error can hold: more
        // than WALK_AT_MATCHES jobs, not all, match it.
        let name = |i: usize| {
            if i.is_multiple_of(5) {
                format!("Export vm-{i:04}")
            } else {
                format!("Export vm-{i:04} wx")
            }
        };
        for i in 0..n {
            let j = job(&store, &name(i), None);
            if i % 3 == 0 {
                fail(&store, &j.id, "refused");
            }
            names_newest_first.insert(0, j.name);
        }
        let newest_first_where = |keep: &dyn Fn(usize) -> bool| -> Vec<String> {
            (0..n).rev().filter(|&i| keep(i)).map(name).collect()
        };
        let failed_newest_first = newest_first_where(&|i| i % 3 == 0);
        let wx_newest_first = newest_first_where(&|i| i % 5 != 0);
        let failed_wx_newest_first = newest_first_where(&|i| i % 3 == 0 && i % 5 != 0);
        assert!(wx_newest_first.len() >= WALK_AT_MATCHES as usize);
        // Everything matches (the walk); a third matches (gathered, then sorted); both by words
        // and by state, and pages far down. Short words: many (the walk tests each row's text),
        // fewer (gathered from the stored texts), with a state, and beside an indexed word.
        for (q, want) in [
            (text("export"), &names_newest_first),
            (text("ex"), &names_newest_first),
            (text("wx"), &wx_newest_first),
            (text("WX vm"), &wx_newest_first),
            (text("export wx"), &wx_newest_first),
            (
                JobQuery {
                    states: vec![JobState::Failed],
                    text: "wx".into(),
                    ..JobQuery::newest(100)
                },
                &failed_wx_newest_first,
            ),
            (
                JobQuery {
                    states: vec![JobState::Failed],
                    ..JobQuery::newest(100)
                },
                &failed_newest_first,
            ),
            (
                JobQuery {
                    states: vec![JobState::Failed],
                    text: "refused vm".into(),
                    ..JobQuery::newest(100)
                },
                &failed_newest_first,
            ),
        ] {
            for offset in [0, 380.min(want.len() as u32 - 1), want.len() as u32 - 30] {
                let page = store
                    .query_jobs(&JobQuery {
                        offset,
                        ..q.clone()
                    })
                    .expect("query");
                assert_eq!(page.matched as usize, want.len(), "{q:?}");
                let got: Vec<&str> = page.jobs.iter().map(|j| j.name.as_str()).collect();
                let end = (offset as usize + 100).min(want.len());
                assert_eq!(got, want[offset as usize..end], "{q:?} at {offset}");
            }
        }
    }

    #[test]
    fn a_search_index_out_of_step_is_rebuilt_on_open() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hypersdk.db");
        {
            let store = Store::open(&path).expect("open");
            job(&store, "Export kept", None);
            // What a restore of an older copy, or a VACUUM renumbering rowids, could leave.
            store
                .lock()
                .expect("lock")
                .execute("DELETE FROM jobs_search", [])
                .expect("clear index");
            assert!(names(&store, &text("kept")).is_empty());
        }
        let store = Store::open(&path).expect("reopen");
        assert_eq!(names(&store, &text("kept")), ["Export kept"]);
    }
}

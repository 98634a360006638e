//! SQLite state shared by the app and `hyperctl`.
//!
//! WAL mode plus a busy timeout lets both processes use one file at once. The
//! row is the truth: state changes are committed before they are announced.

mod connections;
mod jobs;
mod metrics;
mod schedules;
mod settings;
mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use rusqlite_migration::{M, Migrations};

use crate::error::{CoreError, Result};

pub use jobs::{ActiveJob, NewJobRow};
pub use metrics::{
    HistogramRow, JobMetricRow, MetricBatch, RESOLUTION_MINUTE, RESOLUTION_SECOND, SampleRow,
    SeriesRow,
};
pub use schedules::{BeginRun, RunningExecution};
pub use webhooks::enqueue_in_tx;
pub(crate) use webhooks::{AttemptRecord, Claimed, Next, StoredHeader, WebhookRow};

/// How long a writer waits for the other process's transaction to finish.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Append-only: a released migration is never edited, only followed by another.
const MIGRATIONS: &[M<'static>] = &[
    M::up(
        r#"
CREATE TABLE connections (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    name         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    endpoint     TEXT NOT NULL,
    username     TEXT NOT NULL,
    options_json TEXT NOT NULL DEFAULT '{}',
    -- The keyring account holding the secret; never the secret itself.
    secret_ref   TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE jobs (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    connection_id    TEXT REFERENCES connections(id) ON DELETE SET NULL,
    state            TEXT NOT NULL CHECK (state IN
                       ('queued','running','succeeded','failed','cancelled','interrupted')),
    request_json     TEXT NOT NULL DEFAULT '{}',
    -- The process (see jobs::runner) that owns a queued or running job.
    runner_id        TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created_at       TEXT NOT NULL,
    started_at       TEXT,
    finished_at      TEXT,
    progress_json    TEXT,
    error_json       TEXT
);
CREATE INDEX jobs_by_state ON jobs(state);
CREATE INDEX jobs_by_created ON jobs(created_at);

CREATE TABLE job_events (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id  TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    at      TEXT NOT NULL,
    state   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_events_by_job ON job_events(job_id, id);

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value_json TEXT NOT NULL
);
"#,
    ),
    M::up("ALTER TABLE connections ADD COLUMN tls_fingerprint TEXT;"),
    // What a succeeded export produced (model::JobResult as JSON), and whether
    // what an unfinished export left on the server has been cleaned up.
    M::up(
        "ALTER TABLE jobs ADD COLUMN result_json TEXT;
         ALTER TABLE jobs ADD COLUMN server_cleanup_done INTEGER NOT NULL DEFAULT 0;",
    ),
    // Webhooks and their outbox (see store/webhooks.rs). Outbox rows are
    // written in the transaction of the change they announce; `job_id` has no
    // foreign key so the log outlives whatever happens to a job row.
    M::up(
        r#"
CREATE TABLE webhooks (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    url             TEXT NOT NULL,
    -- JSON list of event names, or ["*"].
    events_json     TEXT NOT NULL,
    -- JSON list of {name, value} or {name, secret_ref}: secret values live in the keyring.
    headers_json    TEXT NOT NULL DEFAULT '[]',
    timeout_ms      INTEGER NOT NULL,
    max_attempts    INTEGER NOT NULL,
    enabled         INTEGER NOT NULL DEFAULT 1,
    -- Why HyperSDK disabled the hook itself (410 Gone).
    disabled_reason TEXT,
    -- The keyring account of the signing secret; never the secret itself.
    secret_ref      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id       TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
    -- Stable across retries and redeliveries; receivers dedupe by it.
    event_id         TEXT NOT NULL,
    event            TEXT NOT NULL,
    -- Orders a job's events per webhook; NULL for events about no job.
    job_id           TEXT,
    payload_json     TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending','delivered','dead','cancelled')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    -- Unix milliseconds.
    next_attempt_at  INTEGER NOT NULL,
    -- The runner (process) sending the row, and until when (Unix ms).
    lease_owner      TEXT,
    lease_until      INTEGER,
    last_attempt_at  TEXT,
    last_status_code INTEGER,
    last_error       TEXT,
    last_latency_ms  INTEGER,
    created_at       TEXT NOT NULL,
    delivered_at     TEXT
);
CREATE UNIQUE INDEX webhook_deliveries_event ON webhook_deliveries(webhook_id, event_id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(status, next_attempt_at);
CREATE INDEX webhook_deliveries_chain ON webhook_deliveries(webhook_id, job_id, status, id);
"#,
    ),
    // Scheduled backups. The template, retention and list columns are JSON
    // (schedules::model types); timestamps are chrono's text form, which
    // sorts in time order. The global pause lives in `settings`.
    M::up(
        r#"
CREATE TABLE schedules (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE COLLATE NOCASE,
    cron              TEXT NOT NULL,
    time_zone         TEXT NOT NULL,
    -- CronSchedule::describe() at save time, so listing needs no parsing.
    description       TEXT NOT NULL DEFAULT '',
    template_json     TEXT NOT NULL,
    retention_json    TEXT NOT NULL,
    missed_run_policy TEXT NOT NULL CHECK (missed_run_policy IN ('run_once','skip')),
    enabled           INTEGER NOT NULL DEFAULT 1,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    last_run_at       TEXT,
    -- NULL while disabled.
    next_run_at       TEXT
);
CREATE INDEX schedules_by_next_run ON schedules(next_run_at) WHERE enabled = 1;

CREATE TABLE schedule_executions (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule_id    TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
    trigger        TEXT NOT NULL CHECK (trigger IN ('scheduled','catch_up','manual')),
    scheduled_for  TEXT NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT,
    status         TEXT NOT NULL CHECK (status IN
                     ('running','succeeded','failed','skipped','partial')),
    reason         TEXT,
    -- The process (jobs::runner) running it, while it runs.
    runner_id      TEXT,
    -- The folder the app created for this run's artefacts.
    run_dir        TEXT,
    job_ids_json   TEXT NOT NULL DEFAULT '[]',
    -- What retention may delete: only ever these paths.
    artefacts_json TEXT NOT NULL DEFAULT '[]',
    leftovers_json TEXT NOT NULL DEFAULT '[]',
    pruned_at      TEXT
);
CREATE INDEX schedule_executions_by_schedule ON schedule_executions(schedule_id, id);
CREATE INDEX schedule_executions_running ON schedule_executions(status) WHERE status = 'running';
"#,
    ),
    // Metrics (see metrics/): per-second and per-minute buckets of each series,
    // and one row per finished job that outlives the job's own row and its
    // connection (the provider kind is copied, not referenced).
    M::up(
        r#"
CREATE TABLE metric_samples (
    series     TEXT NOT NULL,
    -- Bucket length in seconds: 1 (kept an hour) or 60 (kept 30 days).
    resolution INTEGER NOT NULL,
    -- Bucket start, Unix seconds (UTC).
    ts         INTEGER NOT NULL,
    -- '' for process-wide series.
    job_id     TEXT NOT NULL DEFAULT '',
    -- Rate series: bytes moved in the bucket; gauges: the sum of the samples.
    total      REAL NOT NULL,
    n          INTEGER NOT NULL,
    -- Rate series: the highest one-second rate; gauges: the highest sample.
    peak       REAL NOT NULL,
    PRIMARY KEY (series, resolution, ts, job_id)
) WITHOUT ROWID;

CREATE TABLE job_metrics (
    job_id           TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL,
    provider         TEXT,
    connection_id    TEXT,
    connection_name  TEXT,
    outcome          TEXT NOT NULL,
    started_at       INTEGER,
    finished_at      INTEGER NOT NULL,
    duration_seconds REAL,
    bytes            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX job_metrics_by_finished ON job_metrics(finished_at);
CREATE INDEX jobs_by_finished ON jobs(finished_at);
"#,
    ),
    // Text search of the jobs list (see jobs::JOB_SEARCH_TEXT, which the triggers repeat): a
    // trigram index answers "which jobs contain this substring" without reading 100,000 rows
    // per keystroke. Kept by triggers,
    // so every writer (the app, hyperctl, an older build's connection rename) keeps it right.
    M::up(
        r#"
CREATE VIRTUAL TABLE jobs_search USING fts5(text, tokenize = 'trigram');

CREATE TRIGGER jobs_search_insert AFTER INSERT ON jobs BEGIN
    INSERT INTO jobs_search (rowid, text) VALUES (new.rowid, lower(
        new.name || char(10) || new.id || char(10)
        || COALESCE((SELECT name FROM connections WHERE id = new.connection_id), '') || char(10)
        || COALESCE(CASE WHEN json_valid(new.error_json) THEN json_extract(new.error_json, '$.message') END, '')));
END;

CREATE TRIGGER jobs_search_update AFTER UPDATE OF name, connection_id, error_json ON jobs BEGIN
    UPDATE jobs_search SET text = lower(
        new.name || char(10) || new.id || char(10)
        || COALESCE((SELECT name FROM connections WHERE id = new.connection_id), '') || char(10)
        || COALESCE(CASE WHEN json_valid(new.error_json) THEN json_extract(new.error_json, '$.message') END, ''))
    WHERE rowid = new.rowid;
END;

CREATE TRIGGER jobs_search_delete AFTER DELETE ON jobs BEGIN
    DELETE FROM jobs_search WHERE rowid = old.rowid;
END;

CREATE TRIGGER jobs_search_connection_renamed AFTER UPDATE OF name ON connections BEGIN
    UPDATE jobs_search SET text = (
        SELECT lower(j.name || char(10) || j.id || char(10) || new.name || char(10)
            || COALESCE(CASE WHEN json_valid(j.error_json) THEN json_extract(j.error_json, '$.message') END, ''))
        FROM jobs j WHERE j.rowid = jobs_search.rowid)
    WHERE rowid IN (SELECT rowid FROM jobs WHERE connection_id = new.id);
END;

INSERT INTO jobs_search (rowid, text)
SELECT j.rowid, lower(j.name || char(10) || j.id || char(10) || COALESCE(c.name, '') || char(10)
    || COALESCE(CASE WHEN json_valid(j.error_json) THEN json_extract(j.error_json, '$.message') END, ''))
FROM jobs j LEFT JOIN connections c ON c.id = j.connection_id;
"#,
    ),
    // The Jobs table sorted by name reads its page from this index (ties, the same name, are
    // put newest first by a sort of just those rows) instead of sorting every job per click:
    // 42 ms → 1 ms at 100,000 jobs.
    M::up("CREATE INDEX jobs_by_name ON jobs(name COLLATE NOCASE, created_at DESC);"),
    // The keys (JSON list) of a connection's secret options; their values
    // live in the keyring under `connection:<id>:<key>`.
    M::up("ALTER TABLE connections ADD COLUMN secret_options_json TEXT NOT NULL DEFAULT '[]';"),
];

/// The size the WAL file is cut back to after a checkpoint (bytes). SQLite checkpoints at about
/// 4 MiB of WAL, so everyday writes never reach it.
const WAL_SIZE_LIMIT: i64 = 8 * 1024 * 1024;

pub struct Store {
    conn: Mutex<Connection>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the database and brings its schema up to date.
    ///
    /// A file that is not a SQLite database or comes from a newer build is
    /// reported and left exactly as it was: a user's history is never
    /// silently replaced by an empty database. Damage inside the file's pages
    /// is found by [`Store::check_integrity`], which opening does not run.
    pub fn open(path: &Path) -> Result<Store> {
        if path.exists() {
            // Surface permission problems as such, not as "corrupt".
            std::fs::File::open(path).map_err(|e| CoreError::DatabaseUnreadable {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        }
        let mut conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| classify_open_error(path, e))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;

        // Before anything writes. Walking every page (`quick_check`) took a second at 100,000
        // jobs, paid by every `hyperctl` call and before the window could show anything; it
        // runs on demand and in the app's background instead (`check_integrity`).
        read_schema(&conn, path)?;
        if conn.is_readonly(rusqlite::MAIN_DB)? {
            return Err(CoreError::DatabaseUnreadable {
                path: path.to_path_buf(),
                detail: "the file is read-only".into(),
            });
        }
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| classify_open_error(path, e))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        // SQLite reuses the WAL file from its start after a checkpoint but never shrinks it: one
        // large transaction (a migration, metrics recorded for 100,000 jobs at once: 18 MiB)
        // would otherwise hold its size on disk for good.
        conn.pragma_update(None, "journal_size_limit", WAL_SIZE_LIMIT)?;

        let known = MIGRATIONS.len();
        let found: usize = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
        if found > known {
            return Err(CoreError::DatabaseTooNew {
                path: path.to_path_buf(),
                found,
                known,
            });
        }
        Migrations::from_slice(MIGRATIONS)
            .to_latest(&mut conn)
            .map_err(|e| CoreError::DatabaseCorrupt {
                path: path.to_path_buf(),
                detail: format!("schema migration failed: {e}"),
            })?;

        jobs::repair_search_index(&conn)?;

        Ok(Store {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// [`check_integrity`] of this store's file. It reads through a connection of its own, so
    /// the store stays usable (and writable, thanks to WAL) while every page is read.
    pub fn check_integrity(&self) -> Result<IntegrityReport> {
        check_integrity(&self.path)
    }

    pub(crate) fn lock(&self) -> Result<MutexGuard<'_, Connection>> {
        // A panic while holding the lock cannot leave a half-applied change
        // behind (SQLite rolls back), so the connection is still usable.
        Ok(self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    /// SQLite's counter of commits by *other* connections: cheap to poll, so
    /// the app notices `hyperctl` changes without re-reading tables.
    pub fn data_version(&self) -> Result<i64> {
        Ok(self
            .lock()?
            .query_row("PRAGMA data_version", [], |row| row.get(0))?)
    }
}

/// How many problems a check lists; SQLite stops looking after that many.
const MAX_INTEGRITY_PROBLEMS: usize = 100;

/// What SQLite's `quick_check` found in a database file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct IntegrityReport {
    pub path: PathBuf,
    pub ok: bool,
    /// SQLite's description of each problem (at most 100); empty when `ok`.
    pub problems: Vec<String>,
    pub elapsed_ms: u64,
}

impl IntegrityReport {
    /// The report as an outcome: damage becomes `database_corrupt` naming the file.
    pub fn into_result(self) -> Result<IntegrityReport> {
        if self.ok {
            return Ok(self);
        }
        let first = self.problems.first().map(String::as_str).unwrap_or("");
        Err(CoreError::DatabaseCorrupt {
            detail: format!(
                "the integrity check found {} problem{}, the first: {first}",
                self.problems.len(),
                if self.problems.len() == 1 { "" } else { "s" }
            ),
            path: self.path,
        })
    }
}

/// Reads every page of the database at `path` (SQLite's `quick_check`: b-tree structure,
/// record formats, NOT NULL and CHECK constraints; not UNIQUE indexes against their tables).
///
/// Opens the file read-only: the check never creates, migrates or repairs anything, works on a
/// file the store refuses to open, and in WAL mode neither waits for nor blocks a writer. A
/// file that is not SQLite at all is `database_corrupt`; damage found inside one is a report
/// with `ok == false` (see [`IntegrityReport::into_result`]).
pub fn check_integrity(path: &Path) -> Result<IntegrityReport> {
    let started = std::time::Instant::now();
    if !path.exists() {
        return Err(CoreError::NotFound {
            what: "database",
            id: path.display().to_string(),
        });
    }
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| classify_open_error(path, e))?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    read_schema(&conn, path)?;

    let mut stmt = conn.prepare(&format!("PRAGMA quick_check({MAX_INTEGRITY_PROBLEMS})"))?;
    let mut rows = stmt.query([])?;
    let mut problems = Vec::new();
    loop {
        match rows.next() {
            Ok(Some(row)) => {
                let line: String = row.get(0)?;
                // The first line names the schema ("main") on a line of its own: noise here.
                let line = line
                    .strip_prefix("*** in database main ***\n")
                    .unwrap_or(&line);
                problems.push(line.to_owned());
            }
            Ok(None) => break,
            // After listing what the b-tree walk found, the check reads each table's rows,
            // and a page it cannot read ends the statement: that is damage too, not a failure
            // to check.
            Err(e) if is_corruption(&e) => {
                problems.push(e.to_string());
                break;
            }
            Err(e) => return Err(e.into()),
        }
    }
    if problems == ["ok"] {
        problems.clear();
    }
    Ok(IntegrityReport {
        path: path.to_path_buf(),
        ok: problems.is_empty(),
        problems,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Reads the file's header and schema: a foreign or truncated file fails here, as
/// `database_corrupt` naming it, and is left as it was.
fn read_schema(conn: &Connection, path: &Path) -> Result<()> {
    conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| {
        row.get::<_, i64>(0)
    })
    .map_err(|e| classify_open_error(path, e))?;
    Ok(())
}

fn is_corruption(err: &rusqlite::Error) -> bool {
    matches!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase)
    )
}

fn classify_open_error(path: &Path, err: rusqlite::Error) -> CoreError {
    use rusqlite::ErrorCode;
    match err.sqlite_error_code() {
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => CoreError::DatabaseCorrupt {
            path: path.to_path_buf(),
            detail: err.to_string(),
        },
        Some(ErrorCode::CannotOpen | ErrorCode::PermissionDenied | ErrorCode::ReadOnly) => {
            CoreError::DatabaseUnreadable {
                path: path.to_path_buf(),
                detail: err.to_string(),
            }
        }
        _ => CoreError::Database(err),
    }
}

/// Helpers for the store's and the metrics' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use chrono::Utc;

    use super::Store;
    use crate::model::{Connection, ProviderKind};

    /// A store in a new temporary directory, which lives as long as the returned guard.
    pub(crate) fn temp_store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("hypersdk.db")).expect("open store");
        (dir, store)
    }

    /// Inserts a connection row without a secret.
    pub(crate) fn insert_connection(store: &Store, id: &str, name: &str, kind: ProviderKind) {
        let now = Utc::now();
        store
            .insert_connection(
                &Connection {
                    id: id.into(),
                    kind,
                    name: name.into(),
                    endpoint: "https://lab.example".into(),
                    username: "u".into(),
                    options: Default::default(),
                    has_secret: false,
                    secret_options: Vec::new(),
                    tls_fingerprint: None,
                    created_at: now,
                    updated_at: now,
                },
                None,
                || Ok(()),
            )
            .expect("insert connection");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        assert!(Migrations::from_slice(MIGRATIONS).validate().is_ok());
    }

    #[test]
    fn garbage_file_is_reported_and_left_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hypersdk.db");
        let garbage = b"this is not a database, it is a shopping list\n".repeat(200);
        std::fs::write(&path, &garbage).expect("write");

        let err = Store::open(&path).expect_err("garbage must not open");
        assert_eq!(err.code(), "database_corrupt");
        assert!(err.to_string().contains(&path.display().to_string()));
        assert_eq!(std::fs::read(&path).expect("read back"), garbage);
    }

    /// Overwrites the b-tree header of one page holding `marker` (not page 1, not the file
    /// header), as a bad sector or a torn write would: SQLite can no longer read that page.
    fn damage_a_page_holding(path: &Path, marker: &[u8]) {
        let mut bytes = std::fs::read(path).expect("read db");
        let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
            1 => 65_536,
            n => usize::from(n),
        };
        let pages: Vec<usize> = (1..bytes.len() / page_size)
            .filter(|p| {
                bytes[p * page_size..(p + 1) * page_size]
                    .windows(marker.len())
                    .any(|w| w == marker)
            })
            .collect();
        assert!(pages.len() > 2, "the rows should span several pages");
        let page = pages[pages.len() / 2];
        bytes[page * page_size..page * page_size + 64].fill(0xA5);
        std::fs::write(path, bytes).expect("write db");
    }

    #[test]
    fn a_damaged_page_opens_cheaply_but_fails_the_integrity_check() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hypersdk.db");
        let store = Store::open(&path).expect("create");
        let healthy = store.check_integrity().expect("check");
        assert!(healthy.ok && healthy.problems.is_empty(), "{healthy:?}");
        assert_eq!(healthy.path, path);
        {
            let conn = store.lock().expect("lock");
            // A table that opening never reads, so the damage is found only by the check.
            let mut insert = conn
                .prepare("INSERT INTO metric_samples (series, resolution, ts, total, n, peak) VALUES ('damage-me', 1, ?1, 1, 1, 1)")
                .expect("prepare");
            for ts in 0..2_000 {
                insert.execute([ts]).expect("insert");
            }
        }
        drop(store);
        damage_a_page_holding(&path, b"damage-me");

        let store = Store::open(&path).expect("page damage is not looked for on open");
        // The store's own connection stays free while the check runs.
        let held = store.lock().expect("lock");
        let report = store.check_integrity().expect("check runs");
        drop(held);
        assert!(!report.ok, "{report:?}");
        // The walk's own finding is kept, not only the error that ends the statement.
        assert!(
            report.problems[0].starts_with("Tree ") && report.problems[0].contains(" page "),
            "{report:?}"
        );
        let err = report.into_result().expect_err("damage is an error");
        assert_eq!(err.code(), "database_corrupt");
        assert!(
            err.to_string().contains(&path.display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn checking_a_garbage_file_names_it_and_leaves_it_untouched() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hypersdk.db");
        let garbage = b"this is not a database, it is a shopping list\n".repeat(200);
        std::fs::write(&path, &garbage).expect("write");

        let err = check_integrity(&path).expect_err("garbage");
        assert_eq!(err.code(), "database_corrupt");
        assert!(err.to_string().contains(&path.display().to_string()));
        assert_eq!(std::fs::read(&path).expect("read back"), garbage);
        assert_eq!(
            check_integrity(&dir.path().join("missing.db"))
                .expect_err("missing")
                .code(),
            "not_found"
        );
    }

    #[test]
    fn the_wal_is_cut_back_after_a_large_transaction() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hypersdk.db");
        let wal = dir.path().join("hypersdk.db-wal");
        let store = Store::open(&path).expect("create");
        let conn = store.lock().expect("lock");
        conn.execute_batch(
            "CREATE TABLE bulk (b BLOB); BEGIN; \
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 64) \
             INSERT INTO bulk SELECT randomblob(256 * 1024) FROM n; COMMIT;",
        )
        .expect("16 MiB in one transaction");
        let grown = std::fs::metadata(&wal).expect("wal").len();
        assert!(grown > 2 * WAL_SIZE_LIMIT as u64, "{grown}");
        // The next writer after a checkpoint starts the WAL again, and cuts the file back.
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .expect("checkpoint");
        conn.execute("DELETE FROM bulk WHERE rowid = 1", [])
            .expect("small write");
        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
            .expect("checkpoint");
        let after = std::fs::metadata(&wal).expect("wal").len();
        assert!(after <= WAL_SIZE_LIMIT as u64, "{grown} -> {after}");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hypersdk.db");
        drop(Store::open(&path).expect("create"));
        let conn = Connection::open(&path).expect("raw open");
        conn.pragma_update(None, "user_version", 99).expect("bump");
        drop(conn);
        let err = Store::open(&path).expect_err("newer schema");
        assert_eq!(err.code(), "database_too_new");
    }

    #[test]
    fn reopening_keeps_schema_and_wal() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hypersdk.db");
        drop(Store::open(&path).expect("create"));
        let store = Store::open(&path).expect("reopen");
        let mode: String = store
            .lock()
            .expect("lock")
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .expect("mode");
        assert_eq!(mode, "wal");
    }
}

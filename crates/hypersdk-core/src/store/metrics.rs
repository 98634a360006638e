//! The `metric_samples` and `job_metrics` tables (see `crate::metrics`).
//!
//! Every second's samples are written twice in one transaction: as a
//! one-second bucket and added into the minute bucket they belong to. So the
//! minute series is always complete up to now (a 24 h chart needs no union
//! with the raw seconds), and retention is two range deletes.

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use super::Store;
use crate::error::Result;

/// One second's value of one series, ready to be stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRow {
    pub series: &'static str,
    /// Empty for process-wide series.
    pub job_id: String,
    /// Rate series: bytes moved in this second; gauges: the sample.
    pub value: f64,
    /// Rate series: bytes per second; gauges: the sample.
    pub peak: f64,
}

/// What the recorder writes in one transaction, at most once a second.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricBatch {
    /// The second (Unix time) the samples belong to.
    pub ts: i64,
    pub samples: Vec<SampleRow>,
    /// Jobs that reached a terminal state since the last batch.
    pub finished_jobs: Vec<String>,
}

/// One bucket of a series as read back: `total`, `n` and `peak` summed or
/// maxed over the stored rows it covers.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRow {
    pub job_id: String,
    pub bucket: i64,
    pub total: f64,
    pub n: i64,
    pub peak: f64,
}

/// One finished job as the metrics keep it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobMetricRow {
    pub job_id: String,
    pub name: String,
    pub kind: String,
    pub provider: Option<String>,
    pub connection_id: Option<String>,
    pub connection_name: Option<String>,
    pub outcome: String,
    pub started_at: Option<i64>,
    pub finished_at: i64,
    pub duration_seconds: Option<f64>,
    pub bytes: u64,
}

pub const RESOLUTION_SECOND: i64 = 1;
pub const RESOLUTION_MINUTE: i64 = 60;

const UPSERT: &str = "INSERT INTO metric_samples (series, resolution, ts, job_id, total, n, peak) \
     VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6) \
     ON CONFLICT(series, resolution, ts, job_id) DO UPDATE SET \
       total = total + excluded.total, n = n + 1, peak = MAX(peak, excluded.peak)";

/// The row of a finished job, derived from `jobs` (and its connection, while
/// it exists). The same statement serves the recorder (one job it saw end)
/// and the catch-up for jobs that ended in a process without a recorder;
/// `INSERT OR IGNORE` makes both idempotent.
const RECORD_FINISHED: &str = "INSERT OR IGNORE INTO job_metrics \
     (job_id, name, kind, provider, connection_id, connection_name, outcome, \
      started_at, finished_at, duration_seconds, bytes) \
     SELECT j.id, j.name, j.kind, c.kind, j.connection_id, c.name, j.state, \
       CAST(strftime('%s', j.started_at) AS INTEGER), \
       CAST(strftime('%s', j.finished_at) AS INTEGER), \
       CASE WHEN j.started_at IS NULL THEN NULL \
            ELSE MAX(0.0, (julianday(j.finished_at) - julianday(j.started_at)) * 86400.0) END, \
       COALESCE(json_extract(j.result_json, '$.bytes'), \
                json_extract(j.progress_json, '$.bytes_done'), 0) \
     FROM jobs j LEFT JOIN connections c ON c.id = j.connection_id \
     WHERE j.state IN ('succeeded','failed','cancelled','interrupted') \
       AND j.finished_at IS NOT NULL";

/// How far back the catch-up looks behind the newest recorded job: jobs are
/// recorded when they end, so anything missing ended after it (a day covers
/// clock adjustments between processes).
const CATCH_UP_OVERLAP_SECONDS: i64 = 86_400;

impl Store {
    /// Writes one batch (one transaction) and, when `prune` is set, drops
    /// buckets past their retention as of `now`.
    pub fn write_metrics(
        &self,
        batch: &MetricBatch,
        prune: Option<(i64, i64)>,
        now: i64,
    ) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        {
            let mut upsert = tx.prepare_cached(UPSERT)?;
            let minute = batch.ts - batch.ts.rem_euclid(RESOLUTION_MINUTE);
            for s in &batch.samples {
                upsert.execute(params![
                    s.series,
                    RESOLUTION_SECOND,
                    batch.ts,
                    s.job_id,
                    s.value,
                    s.peak
                ])?;
                upsert.execute(params![
                    s.series,
                    RESOLUTION_MINUTE,
                    minute,
                    s.job_id,
                    s.value,
                    s.peak
                ])?;
            }
        }
        for id in &batch.finished_jobs {
            tx.execute(&format!("{RECORD_FINISHED} AND j.id = ?1"), [id])?;
        }
        if let Some((second_retention, minute_retention)) = prune {
            prune_samples(&tx, now, second_retention, minute_retention)?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Buckets of `bucket` seconds (a multiple of `resolution`) of one series
    /// over `[from, to)`, per job, ordered by job then time.
    pub fn metric_buckets(
        &self,
        series: &str,
        resolution: i64,
        bucket: i64,
        from: i64,
        to: i64,
        job_id: Option<&str>,
    ) -> Result<Vec<SeriesRow>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT job_id, (ts / ?3) * ?3 AS bucket, SUM(total), SUM(n), MAX(peak) \
             FROM metric_samples \
             WHERE series = ?1 AND resolution = ?2 AND ts >= ?4 AND ts < ?5 \
               AND (?6 IS NULL OR job_id = ?6) \
             GROUP BY job_id, bucket ORDER BY job_id, bucket",
        )?;
        let rows = stmt.query_map(
            params![series, resolution, bucket.max(1), from, to, job_id],
            |r| {
                Ok(SeriesRow {
                    job_id: r.get(0)?,
                    bucket: r.get(1)?,
                    total: r.get(2)?,
                    n: r.get(3)?,
                    peak: r.get(4)?,
                })
            },
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Display names of jobs (from `jobs`, else from `job_metrics`).
    pub fn job_names(&self, ids: &[String]) -> Result<Vec<(String, String)>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT COALESCE((SELECT name FROM jobs WHERE id = ?1), \
                             (SELECT name FROM job_metrics WHERE job_id = ?1))",
        )?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let name: Option<String> = stmt.query_row([id], |r| r.get(0)).optional()?.flatten();
            out.push((id.clone(), name.unwrap_or_else(|| id.clone())));
        }
        Ok(out)
    }

    /// Records every finished job that `job_metrics` does not have yet
    /// (jobs that ended in a process that ran no recorder, or while the
    /// recorder lagged). Cheap when there is nothing to do.
    pub fn catch_up_job_metrics(&self) -> Result<usize> {
        let conn = self.lock()?;
        let newest: Option<i64> =
            conn.query_row("SELECT MAX(finished_at) FROM job_metrics", [], |r| r.get(0))?;
        let changed = match newest {
            None => conn.execute(RECORD_FINISHED, [])?,
            Some(newest) => {
                let since = DateTime::<Utc>::from_timestamp(newest - CATCH_UP_OVERLAP_SECONDS, 0)
                    .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
                conn.execute(
                    &format!("{RECORD_FINISHED} AND j.finished_at >= ?1"),
                    [since],
                )?
            }
        };
        Ok(changed)
    }

    /// Finished jobs whose end lies in `[from, to)`, oldest first.
    pub fn job_metrics_between(&self, from: i64, to: i64) -> Result<Vec<JobMetricRow>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached(
            "SELECT job_id, name, kind, provider, connection_id, connection_name, outcome, \
                    started_at, finished_at, duration_seconds, bytes \
             FROM job_metrics WHERE finished_at >= ?1 AND finished_at < ?2 \
             ORDER BY finished_at, job_id",
        )?;
        let rows = stmt.query_map([from, to], |r| {
            Ok(JobMetricRow {
                job_id: r.get(0)?,
                name: r.get(1)?,
                kind: r.get(2)?,
                provider: r.get(3)?,
                connection_id: r.get(4)?,
                connection_name: r.get(5)?,
                outcome: r.get(6)?,
                started_at: r.get(7)?,
                finished_at: r.get(8)?,
                duration_seconds: r.get(9)?,
                bytes: u64::try_from(r.get::<_, i64>(10)?).unwrap_or(0),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// How many jobs are in each state now (every state the table holds).
    pub fn job_state_counts(&self) -> Result<Vec<(String, u64)>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare_cached("SELECT state, COUNT(*) FROM jobs GROUP BY state")?;
        let rows = stmt.query_map([], |r| {
            Ok((r.get(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0)))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Bytes of every succeeded job's artefact, ever (a monotonic counter as
    /// long as `job_metrics` rows are kept, which they are).
    pub fn bytes_exported_total(&self) -> Result<u64> {
        let total: i64 = self.lock()?.query_row(
            "SELECT COALESCE(SUM(bytes), 0) FROM job_metrics WHERE outcome = 'succeeded'",
            [],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(total).unwrap_or(0))
    }

    /// Per (outcome, provider): how many jobs finished, and of those with a
    /// duration how many took at most each of `bounds` seconds, how many in
    /// all and their summed duration — a cumulative histogram in one pass.
    pub fn duration_histogram(&self, bounds: &[f64]) -> Result<Vec<HistogramRow>> {
        let mut cols = String::new();
        for i in 0..bounds.len() {
            cols.push_str(&format!(
                "SUM(CASE WHEN duration_seconds <= ?{} THEN 1 ELSE 0 END), ",
                i + 1
            ));
        }
        let provider =
            "COALESCE(provider, CASE WHEN connection_id IS NULL THEN 'none' ELSE 'unknown' END)";
        let sql = format!(
            "SELECT outcome, {provider}, {cols} COUNT(duration_seconds), \
                    COALESCE(SUM(duration_seconds), 0.0), COUNT(*) \
             FROM job_metrics GROUP BY outcome, {provider} ORDER BY 1, 2"
        );
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&sql)?;
        let n = bounds.len();
        let count = |r: &rusqlite::Row<'_>, i: usize| -> rusqlite::Result<u64> {
            Ok(u64::try_from(r.get::<_, i64>(i)?).unwrap_or(0))
        };
        let rows = stmt.query_map(rusqlite::params_from_iter(bounds.iter()), |r| {
            let mut buckets = Vec::with_capacity(n);
            for i in 0..n {
                buckets.push(count(r, 2 + i)?);
            }
            Ok(HistogramRow {
                outcome: r.get(0)?,
                provider: r.get(1)?,
                buckets,
                count: count(r, 2 + n)?,
                sum: r.get(3 + n)?,
                finished: count(r, 4 + n)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The newest one-second bucket of a process-wide series within
    /// `[since, now]`: `(ts, total, peak)`.
    pub fn latest_second(&self, series: &str, since: i64) -> Result<Option<(i64, f64, f64)>> {
        Ok(self
            .lock()?
            .query_row(
                "SELECT ts, total, peak FROM metric_samples \
                 WHERE series = ?1 AND resolution = 1 AND job_id = '' AND ts >= ?2 \
                 ORDER BY ts DESC LIMIT 1",
                params![series, since],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?)
    }

    /// Running jobs that started before `since` and moved no byte since
    /// then (per their one-second throughput buckets).
    pub fn stalled_jobs(&self, series: &str, since: i64) -> Result<u64> {
        let since_ts =
            DateTime::<Utc>::from_timestamp(since, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
        let n: i64 = self.lock()?.query_row(
            "SELECT COUNT(*) FROM jobs j WHERE j.state = 'running' \
               AND j.started_at IS NOT NULL AND j.started_at < ?2 \
               AND NOT EXISTS (SELECT 1 FROM metric_samples m \
                   WHERE m.series = ?1 AND m.resolution = 1 AND m.ts >= ?3 \
                     AND m.job_id = j.id AND m.total > 0)",
            params![series, since_ts, since],
            |r| r.get(0),
        )?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

/// One (outcome, provider) row of [`Store::duration_histogram`].
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramRow {
    pub outcome: String,
    pub provider: String,
    /// Cumulative counts, one per bound.
    pub buckets: Vec<u64>,
    /// Jobs with a duration (they started).
    pub count: u64,
    pub sum: f64,
    /// Every finished job, started or not.
    pub finished: u64,
}

/// Once a minute a scan of a few hundred thousand rows at most: cheaper than
/// an index every upsert would have to maintain.
fn prune_samples(conn: &Connection, now: i64, second_keep: i64, minute_keep: i64) -> Result<()> {
    let mut stmt =
        conn.prepare_cached("DELETE FROM metric_samples WHERE resolution = ?1 AND ts < ?2")?;
    stmt.execute(params![RESOLUTION_SECOND, now - second_keep])?;
    stmt.execute(params![RESOLUTION_MINUTE, now - minute_keep])?;
    Ok(())
}

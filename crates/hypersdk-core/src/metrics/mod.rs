//! Metrics: what runs and how fast, what ran and how it went.
//!
//! The [`recorder`] subscribes to the event bus and, once a second, turns job
//! progress into throughput samples (and, in the app, samples the process's
//! CPU and memory), writes them in one transaction and publishes a
//! [`CoreEvent::MetricsSample`](crate::CoreEvent::MetricsSample) for the
//! window. Samples are kept at one-second resolution for an hour and as
//! one-minute buckets for 30 days ([`SECOND_RETENTION`], [`MINUTE_RETENTION`]);
//! finished jobs get a row in `job_metrics` that outlives retention.
//!
//! Queries pick their bucket size from the range ([`choose_buckets`]), so a
//! chart gets at most [`MAX_POINTS`] points per line whatever it asks for.
//! The Prometheus endpoint ([`endpoint`]) renders the same tables in the text
//! exposition format ([`exposition`]).

mod counters;
pub mod endpoint;
pub mod export;
pub mod exposition;
pub(crate) mod recorder;
pub mod resources;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Local, TimeZone, Timelike, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{CoreError, Result};
use crate::model::{JobState, ProviderKind};
use crate::store::{RESOLUTION_MINUTE, RESOLUTION_SECOND, Store};

pub(crate) use counters::snapshot as counters_snapshot;
pub use counters::{scheduler_run, scheduler_skipped, webhook_delivery};

/// One-second buckets cover at least this long (seconds): "the last hour".
pub const SECOND_RETENTION: i64 = 3_600;
/// They are kept this much longer, so a "last hour" whose start a window rounded down by a few
/// seconds — or that is read just before the once-a-minute pruning — still finds them all.
pub const SECOND_RETENTION_MARGIN: i64 = 300;
/// Retention is enforced this often (seconds).
pub const PRUNE_EVERY: i64 = 60;
/// One-minute buckets are kept this long (seconds); older ones are dropped.
pub const MINUTE_RETENTION: i64 = 30 * 86_400;
/// The most points a query returns per line.
pub const MAX_POINTS: i64 = 1_000;
/// A running job that moved no byte for this long counts as stalled.
pub const STALL_AFTER_SECONDS: i64 = 300;
/// The most finished jobs a stats query lists one by one (the scatter plot);
/// counts and totals always cover every job in the range.
pub const MAX_RUN_POINTS: usize = 5_000;

/// Bucket lengths a query may use, shortest first.
const BUCKETS: [i64; 14] = [
    1, 5, 10, 15, 30, 60, 300, 600, 1_800, 3_600, 10_800, 21_600, 43_200, 86_400,
];

/// Stored series names (the `series` column).
pub(crate) mod series {
    /// Per job: bytes moved in a bucket.
    pub const JOB_BYTES: &str = "job_bytes";
    /// Per process, added across processes: bytes all jobs moved.
    pub const WRITE_BYTES: &str = "write_bytes";
    /// The app process: CPU time as a percentage of one core.
    pub const CPU_PERCENT: &str = "cpu_percent";
    /// The app process: resident memory.
    pub const RSS_BYTES: &str = "rss_bytes";
}

/// A time range in Unix seconds, `from` inclusive, `to` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct TimeRange {
    pub from: i64,
    pub to: i64,
}

impl TimeRange {
    /// The last `seconds` up to `now`.
    pub fn last(seconds: i64, now: i64) -> TimeRange {
        TimeRange {
            from: now - seconds,
            to: now + 1,
        }
    }

    fn validate(&self) -> Result<()> {
        if self.to <= self.from {
            return Err(CoreError::invalid(
                "range",
                "The end of the time range must be after its start",
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum MetricKind {
    /// Bytes per second, one line per job.
    JobThroughput,
    /// Bytes per second written by all jobs together (the destinations).
    WriteRate,
    /// The app's CPU use, percent of one core.
    CpuPercent,
    /// The app's resident memory, bytes.
    RssBytes,
}

impl MetricKind {
    fn series(self) -> &'static str {
        match self {
            MetricKind::JobThroughput => series::JOB_BYTES,
            MetricKind::WriteRate => series::WRITE_BYTES,
            MetricKind::CpuPercent => series::CPU_PERCENT,
            MetricKind::RssBytes => series::RSS_BYTES,
        }
    }

    /// Rates are bytes per bucket divided by its length; gauges are means.
    fn is_rate(self) -> bool {
        matches!(self, MetricKind::JobThroughput | MetricKind::WriteRate)
    }

    pub fn unit(self) -> &'static str {
        match self {
            MetricKind::JobThroughput | MetricKind::WriteRate => "bytes_per_second",
            MetricKind::CpuPercent => "percent",
            MetricKind::RssBytes => "bytes",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SeriesQuery {
    pub metric: MetricKind,
    pub range: TimeRange,
    /// Only this job's line (job throughput only).
    pub job_id: Option<String>,
}

/// One bucket of a line.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SeriesPoint {
    /// Bucket start, Unix seconds.
    pub t: i64,
    /// Rates: the average over the bucket; gauges: the mean sample.
    pub value: f64,
    /// The highest one-second value inside the bucket.
    pub peak: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct SeriesLine {
    /// The job id, or the metric's name for process-wide series.
    pub key: String,
    pub label: String,
    pub points: Vec<SeriesPoint>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct MetricSeries {
    pub metric: MetricKind,
    /// `bytes_per_second`, `percent` or `bytes`.
    pub unit: String,
    pub range: TimeRange,
    /// The length of every point's bucket.
    pub bucket_seconds: u32,
    pub lines: Vec<SeriesLine>,
}

/// One second of live figures, published once a second while the recorder
/// runs (the window's live charts; no polling).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct MetricsSample {
    /// Unix seconds.
    pub t: i64,
    pub jobs: Vec<JobRate>,
    /// Sum of the jobs' rates: what the destinations are being written at.
    pub write_rate: f64,
    /// Only where the process samples its resources (the app).
    pub cpu_percent: Option<f64>,
    pub rss_bytes: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct JobRate {
    pub job_id: String,
    pub bytes_per_second: f64,
    pub bytes_done: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct OutcomeCount {
    pub outcome: JobState,
    pub count: u32,
}

/// Finished jobs of one provider kind (`none`: no connection, e.g. local
/// packaging; `unknown`: the connection was removed before it was recorded).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ProviderOutcomes {
    pub provider: String,
    pub succeeded: u32,
    pub failed: u32,
    pub cancelled: u32,
    pub interrupted: u32,
}

/// One finished job: a point of the duration-vs-size plot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct JobRun {
    pub job_id: String,
    pub name: String,
    pub provider: String,
    pub connection: Option<String>,
    pub outcome: JobState,
    /// Unix seconds.
    pub started_at: Option<i64>,
    pub finished_at: i64,
    pub duration_seconds: Option<f64>,
    pub bytes: u64,
}

/// Runs that started in one local hour of one weekday.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct HeatCell {
    /// 0 = Monday … 6 = Sunday.
    pub weekday: u8,
    /// 0–23, local time.
    pub hour: u8,
    pub count: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct JobStats {
    pub range: TimeRange,
    /// Now, whatever the range.
    pub running: u32,
    pub queued: u32,
    /// Jobs that finished in the range, by outcome (every outcome, zeros too).
    pub by_outcome: Vec<OutcomeCount>,
    pub by_provider: Vec<ProviderOutcomes>,
    /// Bytes of the artefacts of the jobs that succeeded in the range.
    pub bytes_exported: u64,
    /// Finished jobs in the range, newest last, at most [`MAX_RUN_POINTS`].
    pub runs: Vec<JobRun>,
    /// Whether `runs` left older jobs out.
    pub runs_truncated: bool,
    /// 168 cells, Monday 00 h first.
    pub heatmap: Vec<HeatCell>,
}

/// `(stored resolution, bucket length)` for a range: one-second data only
/// while the whole range is still inside its retention, and the shortest
/// bucket that keeps a line within [`MAX_POINTS`].
pub fn choose_buckets(range: TimeRange, now: i64) -> (i64, i64) {
    let span = (range.to - range.from).max(1);
    // Pruning keeps one-second buckets for RETENTION + MARGIN and runs every PRUNE_EVERY, so
    // everything after this instant is still there.
    let stored = if range.from >= now - (SECOND_RETENTION + SECOND_RETENTION_MARGIN - PRUNE_EVERY) {
        RESOLUTION_SECOND
    } else {
        RESOLUTION_MINUTE
    };
    let bucket = BUCKETS
        .into_iter()
        .find(|b| *b >= stored && points(span, *b) <= MAX_POINTS)
        .unwrap_or(BUCKETS[BUCKETS.len() - 1]);
    (stored, bucket)
}

/// How many buckets of `bucket` seconds a span of `span` seconds touches.
fn points(span: i64, bucket: i64) -> i64 {
    (span + bucket - 1) / bucket
}

/// A series over a range, at the resolution [`choose_buckets`] picks.
pub fn query_series(store: &Store, query: &SeriesQuery, now: i64) -> Result<MetricSeries> {
    query.range.validate()?;
    let (stored, bucket) = choose_buckets(query.range, now);
    let job = match query.metric {
        MetricKind::JobThroughput => query.job_id.as_deref(),
        _ => None,
    };
    // Align the start so buckets are the same whatever the exact range.
    let from = query.range.from - query.range.from.rem_euclid(bucket);
    let rows = store.metric_buckets(
        query.metric.series(),
        stored,
        bucket,
        from,
        query.range.to,
        job,
    )?;
    let mut by_key: BTreeMap<String, Vec<SeriesPoint>> = BTreeMap::new();
    for row in rows {
        let value = if query.metric.is_rate() {
            row.total / bucket as f64
        } else if row.n > 0 {
            row.total / row.n as f64
        } else {
            0.0
        };
        by_key.entry(row.job_id).or_default().push(SeriesPoint {
            t: row.bucket,
            value,
            peak: row.peak,
        });
    }
    let lines = if query.metric == MetricKind::JobThroughput {
        let ids: Vec<String> = by_key.keys().cloned().collect();
        let names: BTreeMap<String, String> = store.job_names(&ids)?.into_iter().collect();
        by_key
            .into_iter()
            .map(|(key, points)| SeriesLine {
                label: names.get(&key).cloned().unwrap_or_else(|| key.clone()),
                key,
                points,
            })
            .collect()
    } else {
        let name = match query.metric {
            MetricKind::WriteRate => "Write rate",
            MetricKind::CpuPercent => "CPU",
            MetricKind::RssBytes => "Memory (RSS)",
            MetricKind::JobThroughput => "Throughput",
        };
        by_key
            .into_values()
            .map(|points| SeriesLine {
                key: query.metric.series().to_owned(),
                label: name.to_owned(),
                points,
            })
            .collect()
    };
    Ok(MetricSeries {
        metric: query.metric,
        unit: query.metric.unit().to_owned(),
        range: query.range,
        bucket_seconds: u32::try_from(bucket).unwrap_or(u32::MAX),
        lines,
    })
}

/// Job statistics for a range; local weekday and hour for the heat map
/// come from `zone` (the machine's zone in the app and `hyperctl`).
pub fn query_job_stats<Tz: TimeZone>(
    store: &Store,
    range: TimeRange,
    zone: &Tz,
) -> Result<JobStats> {
    range.validate()?;
    store.catch_up_job_metrics()?;
    let rows = store.job_metrics_between(range.from, range.to)?;
    let (mut running, mut queued) = (0u32, 0u32);
    for (state, n) in store.job_state_counts()? {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        match state.as_str() {
            "running" => running = n,
            "queued" => queued = n,
            _ => {}
        }
    }
    const OUTCOMES: [JobState; 4] = [
        JobState::Succeeded,
        JobState::Failed,
        JobState::Cancelled,
        JobState::Interrupted,
    ];
    let mut by_outcome: BTreeMap<&'static str, u32> =
        OUTCOMES.iter().map(|o| (o.as_str(), 0)).collect();
    let mut by_provider: BTreeMap<String, ProviderOutcomes> = BTreeMap::new();
    let mut heat = [[0u32; 24]; 7];
    let mut bytes_exported = 0u64;
    let mut runs = Vec::new();
    for row in &rows {
        let Some(outcome) = JobState::parse(&row.outcome).filter(|s| s.is_terminal()) else {
            continue;
        };
        *by_outcome.entry(outcome.as_str()).or_default() += 1;
        let provider = provider_label(row.provider.as_deref(), row.connection_id.as_deref());
        let entry = by_provider
            .entry(provider.clone())
            .or_insert_with(|| ProviderOutcomes {
                provider: provider.clone(),
                succeeded: 0,
                failed: 0,
                cancelled: 0,
                interrupted: 0,
            });
        match outcome {
            JobState::Succeeded => entry.succeeded += 1,
            JobState::Failed => entry.failed += 1,
            JobState::Cancelled => entry.cancelled += 1,
            _ => entry.interrupted += 1,
        }
        if outcome == JobState::Succeeded {
            bytes_exported = bytes_exported.saturating_add(row.bytes);
        }
        // When backups happen: by start, or by end for jobs that never started.
        let at = row.started_at.unwrap_or(row.finished_at);
        if let Some(local) = zone.timestamp_opt(at, 0).earliest() {
            let day = local.weekday().num_days_from_monday() as usize;
            let hour = local.hour() as usize;
            if let Some(cell) = heat.get_mut(day).and_then(|d| d.get_mut(hour)) {
                *cell += 1;
            }
        }
        runs.push(JobRun {
            job_id: row.job_id.clone(),
            name: row.name.clone(),
            provider,
            connection: row.connection_name.clone(),
            outcome,
            started_at: row.started_at,
            finished_at: row.finished_at,
            duration_seconds: row.duration_seconds,
            bytes: row.bytes,
        });
    }
    let runs_truncated = runs.len() > MAX_RUN_POINTS;
    if runs_truncated {
        runs.drain(..runs.len() - MAX_RUN_POINTS);
    }
    let heatmap = heat
        .iter()
        .enumerate()
        .flat_map(|(d, hours)| {
            hours.iter().enumerate().map(move |(h, count)| HeatCell {
                weekday: u8::try_from(d).unwrap_or(0),
                hour: u8::try_from(h).unwrap_or(0),
                count: *count,
            })
        })
        .collect();
    Ok(JobStats {
        range,
        running,
        queued,
        by_outcome: OUTCOMES
            .iter()
            .map(|o| OutcomeCount {
                outcome: *o,
                count: by_outcome.get(o.as_str()).copied().unwrap_or(0),
            })
            .collect(),
        by_provider: by_provider.into_values().collect(),
        bytes_exported,
        runs,
        runs_truncated,
        heatmap,
    })
}

/// The provider label of a recorded job.
fn provider_label(provider: Option<&str>, connection_id: Option<&str>) -> String {
    match (provider, connection_id) {
        (Some(p), _) => p
            .parse::<ProviderKind>()
            .map(|k| k.as_str().to_owned())
            .unwrap_or_else(|_| p.to_owned()),
        (None, Some(_)) => "unknown".to_owned(),
        (None, None) => "none".to_owned(),
    }
}

/// The machine's local zone, as the app and `hyperctl` show times.
pub fn local_zone() -> Local {
    Local
}

/// Now, in Unix seconds.
pub fn unix_now() -> i64 {
    Utc::now().timestamp()
}

/// A Unix time as a UTC timestamp (for display and CSV).
pub fn to_datetime(t: i64) -> DateTime<Utc> {
    DateTime::<Utc>::from_timestamp(t, 0).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

#[cfg(test)]
mod tests;

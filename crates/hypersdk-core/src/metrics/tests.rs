//! Downsampling, retention and queries on a controlled clock: the recorder's
//! state is fed made-up events and ticks with made-up times, and written
//! to a real SQLite file exactly as the running recorder writes it.

use chrono::{FixedOffset, Utc};
use rusqlite::params;

use super::recorder::RecorderState;
use super::resources::ResourceSample;
use super::*;
use crate::events::CoreEvent;
use crate::model::{Job, JobKind, JobProgress};
use crate::store::test_support::{insert_connection, temp_store as store};
use crate::store::{NewJobRow, Store};

const MIB: u64 = 1024 * 1024;
/// An hour boundary, so minute buckets line up with the simulated seconds.
const T0: i64 = 1_767_225_600; // 2026-01-01 00:00:00 UTC, a Thursday

fn progress(job: &str, bytes_done: u64) -> CoreEvent {
    CoreEvent::JobProgress {
        progress: JobProgress {
            job_id: job.into(),
            bytes_done,
            bytes_total: None,
            rate_bps: 0.0,
            eta_seconds: None,
            disks: vec![],
        },
    }
}

fn resources(cpu: f64, rss: u64) -> ResourceSample {
    ResourceSample {
        cpu_percent: Some(cpu),
        rss_bytes: Some(rss),
        cpu_seconds_total: None,
    }
}

/// One simulated second: the tick, then the write — with retention at the
/// end of every minute, as the recorder task prunes once a minute.
fn second(
    state: &mut RecorderState,
    store: &Store,
    ts: i64,
    res: Option<&ResourceSample>,
) -> MetricsSample {
    let (batch, sample) = state.tick(ts, 1.0, res);
    let prune =
        (ts % 60 == 59).then_some((SECOND_RETENTION + SECOND_RETENTION_MARGIN, MINUTE_RETENTION));
    store.write_metrics(&batch, prune, ts).expect("write");
    sample
}

fn count_rows(store: &Store, resolution: i64, before: i64) -> i64 {
    store
        .lock()
        .expect("lock")
        .query_row(
            "SELECT COUNT(*) FROM metric_samples WHERE resolution = ?1 AND ts < ?2",
            params![resolution, before],
            |r| r.get(0),
        )
        .expect("count")
}

fn series(store: &Store, metric: MetricKind, range: TimeRange, now: i64) -> MetricSeries {
    query_series(
        store,
        &SeriesQuery {
            metric,
            range,
            job_id: None,
        },
        now,
    )
    .expect("series")
}

#[test]
fn bucket_size_follows_the_range() {
    let now = T0;
    assert_eq!(choose_buckets(TimeRange::last(900, now), now), (1, 1));
    assert_eq!(choose_buckets(TimeRange::last(3_600, now), now), (1, 5));
    assert_eq!(choose_buckets(TimeRange::last(86_400, now), now), (60, 300));
    assert_eq!(
        choose_buckets(TimeRange::last(7 * 86_400, now), now),
        (60, 1_800)
    );
    assert_eq!(
        choose_buckets(TimeRange::last(30 * 86_400, now), now),
        (60, 3_600)
    );
    // Ten minutes a day ago: only minutes are left, whatever the span.
    let old = TimeRange {
        from: now - 86_400,
        to: now - 86_400 + 600,
    };
    assert_eq!(choose_buckets(old, now), (60, 60));
    // A last hour whose start a window rounded down a little still reads seconds.
    let rounded = TimeRange {
        from: now - 3_600 - 10,
        to: now - 9,
    };
    assert_eq!(choose_buckets(rounded, now), (1, 5));
    for days in [1, 7, 30, 365] {
        let range = TimeRange::last(days * 86_400, now);
        let (_, b) = choose_buckets(range, now);
        assert!(points(range.to - range.from, b) <= MAX_POINTS);
    }
}

#[test]
fn seconds_roll_up_into_minutes_and_expire_on_schedule() {
    let (_dir, store) = store();
    let mut state = RecorderState::default();
    // A job moving 1 MiB every second for 70 minutes, CPU alternating 40 % / 60 %.
    let seconds = 70 * 60;
    let mut done = 0u64;
    state.on_event(&progress("job-a", 0));
    let mut last = None;
    for i in 0..seconds {
        done += MIB;
        state.on_event(&progress("job-a", done));
        let cpu = if i % 2 == 0 { 40.0 } else { 60.0 };
        let res = resources(cpu, 100 * MIB);
        last = Some(second(&mut state, &store, T0 + i, Some(&res)));
    }
    let now = T0 + seconds - 1;
    let live = last.expect("ticked");
    assert_eq!(live.jobs.len(), 1);
    assert!((live.jobs[0].bytes_per_second - MIB as f64).abs() < 1e-6);
    assert!((live.write_rate - MIB as f64).abs() < 1e-6);

    // Seconds older than an hour (and the margin) are gone; minutes are all there.
    assert_eq!(
        count_rows(&store, 1, now - SECOND_RETENTION - SECOND_RETENTION_MARGIN),
        0
    );
    assert!(
        count_rows(&store, 1, now - SECOND_RETENTION) > 0,
        "the margin is kept"
    );
    assert!(count_rows(&store, 1, now + 1) > 0);
    assert_eq!(count_rows(&store, 60, T0), 0);

    // The last 15 minutes come from seconds: one point a second at 1 MiB/s.
    let recent = series(
        &store,
        MetricKind::JobThroughput,
        TimeRange::last(900, now),
        now,
    );
    assert_eq!(recent.bucket_seconds, 1);
    let line = &recent.lines[0];
    assert_eq!(line.key, "job-a");
    assert_eq!(line.points.len(), 901);
    assert!(
        line.points
            .iter()
            .all(|p| (p.value - MIB as f64).abs() < 1e-6)
    );

    // The whole run (older than an hour) comes from minutes: the average
    // over each full minute is still exactly 1 MiB/s, and CPU means 50 %.
    let whole = TimeRange {
        from: T0,
        to: T0 + seconds,
    };
    let rate = series(&store, MetricKind::JobThroughput, whole, now);
    assert_eq!(rate.bucket_seconds, 60);
    assert_eq!(rate.lines[0].points.len(), 70);
    for p in &rate.lines[0].points {
        assert!((p.value - MIB as f64).abs() < 1e-6, "{p:?}");
        assert!((p.peak - MIB as f64).abs() < 1e-6, "{p:?}");
    }
    let write = series(&store, MetricKind::WriteRate, whole, now);
    assert_eq!(write.lines[0].points, rate.lines[0].points);
    let cpu = series(&store, MetricKind::CpuPercent, whole, now);
    assert_eq!(cpu.unit, "percent");
    for p in &cpu.lines[0].points {
        assert!((p.value - 50.0).abs() < 1e-9, "{p:?}");
        assert_eq!(p.peak, 60.0);
    }
    let rss = series(&store, MetricKind::RssBytes, whole, now);
    assert!(
        rss.lines[0]
            .points
            .iter()
            .all(|p| p.value == (100 * MIB) as f64)
    );

    // 30 days and a minute later, one more second prunes every old minute.
    let later = now + MINUTE_RETENTION + 60; // also the last second of a minute
    second(&mut state, &store, later, Some(&resources(10.0, MIB)));
    assert_eq!(count_rows(&store, 60, later - MINUTE_RETENTION), 0);
    assert_eq!(
        count_rows(
            &store,
            1,
            later - SECOND_RETENTION - SECOND_RETENTION_MARGIN
        ),
        0
    );
    let month = series(
        &store,
        MetricKind::CpuPercent,
        TimeRange::last(MINUTE_RETENTION + 86_400, later),
        later,
    );
    assert_eq!(month.lines.len(), 1);
    assert_eq!(
        month.lines[0].points.len(),
        1,
        "only the new minute is left"
    );
}

#[test]
fn a_job_counts_only_its_own_bytes_and_is_dropped_after_it_ends() {
    let (_dir, store) = store();
    let mut state = RecorderState::default();
    // A resumed export reports 40 GiB done on its first event: not a spike.
    state.on_event(&progress("resumed", 40 * 1024 * MIB));
    state.on_event(&progress("resumed", 40 * 1024 * MIB + 3 * MIB));
    let (batch, sample) = state.tick(T0, 1.0, None);
    assert_eq!(sample.jobs[0].bytes_per_second, (3 * MIB) as f64);
    assert_eq!(batch.samples.len(), 2, "job + write rate, no resources");
    assert!(sample.cpu_percent.is_none());

    let mut job = job_row("resumed");
    job.state = JobState::Succeeded;
    state.on_event(&CoreEvent::JobUpdated { job: Box::new(job) });
    let (batch, sample) = state.tick(T0 + 1, 1.0, None);
    assert_eq!(batch.finished_jobs, vec!["resumed".to_owned()]);
    assert_eq!(sample.jobs.len(), 1, "its last second is still recorded");
    let (_, sample) = state.tick(T0 + 2, 1.0, None);
    assert!(sample.jobs.is_empty());
    assert!(state.is_idle());
    store.write_metrics(&batch, None, T0 + 1).expect("write");
}

fn job_row(id: &str) -> Job {
    Job {
        id: id.into(),
        name: id.into(),
        kind: JobKind::Export,
        connection_id: None,
        state: JobState::Running,
        created_at: Utc::now(),
        started_at: None,
        finished_at: None,
        progress: None,
        error: None,
        result: None,
    }
}

/// Inserts a finished job with chosen times (the engine would use "now").
fn finished_job(
    store: &Store,
    id: &str,
    connection: Option<&str>,
    state: JobState,
    started: Option<i64>,
    finished: i64,
    bytes: u64,
) {
    store
        .insert_job(&NewJobRow {
            id,
            name: &format!("Export {id}"),
            kind: JobKind::Export,
            connection_id: connection,
            request_json: "{}",
            runner_id: "test",
        })
        .expect("insert job");
    let result = serde_json::json!({
        "path": "/x", "files": [], "bytes": bytes, "manifest_algorithm": "sha256", "verified": true
    });
    let progress = serde_json::json!({
        "job_id": id, "bytes_done": bytes, "bytes_total": null, "rate_bps": 0.0,
        "eta_seconds": null, "disks": []
    });
    store
        .lock()
        .expect("lock")
        .execute(
            "UPDATE jobs SET state = ?2, started_at = ?3, finished_at = ?4, \
             result_json = CASE WHEN ?2 = 'succeeded' THEN ?5 END, progress_json = ?6 WHERE id = ?1",
            params![
                id,
                state.as_str(),
                started.map(to_datetime),
                to_datetime(finished),
                result.to_string(),
                progress.to_string()
            ],
        )
        .expect("finish job");
}

fn connection(store: &Store, id: &str, kind: ProviderKind) {
    insert_connection(store, id, &format!("{kind} lab"), kind);
}

#[test]
fn job_stats_count_bytes_and_place_runs_on_the_heat_map() {
    let (_dir, store) = store();
    connection(&store, "vc", ProviderKind::Vsphere);
    connection(&store, "pve", ProviderKind::Proxmox);
    // Thursday 2026-01-01: 02:00 UTC ran 10 min, 03:30 failed after 1 min.
    finished_job(
        &store,
        "a",
        Some("vc"),
        JobState::Succeeded,
        Some(T0 + 7_200),
        T0 + 7_800,
        5 * MIB,
    );
    finished_job(
        &store,
        "b",
        Some("vc"),
        JobState::Failed,
        Some(T0 + 12_600),
        T0 + 12_660,
        MIB,
    );
    finished_job(
        &store,
        "c",
        Some("pve"),
        JobState::Succeeded,
        Some(T0 + 7_230),
        T0 + 9_000,
        7 * MIB,
    );
    // Cancelled while queued: no start, no duration.
    finished_job(&store, "d", None, JobState::Cancelled, None, T0 + 100, 0);
    // Outside the range.
    finished_job(
        &store,
        "old",
        Some("vc"),
        JobState::Succeeded,
        Some(T0 - 90_000),
        T0 - 86_400,
        MIB,
    );
    // The proxmox connection goes away: its job keeps its provider.
    store.catch_up_job_metrics().expect("catch up");
    store
        .delete_connection("pve", || Ok(()))
        .expect("delete connection");

    let utc = FixedOffset::east_opt(0).expect("utc");
    let range = TimeRange {
        from: T0,
        to: T0 + 86_400,
    };
    let stats = query_job_stats(&store, range, &utc).expect("stats");
    let outcome = |s: JobState| {
        stats
            .by_outcome
            .iter()
            .find(|o| o.outcome == s)
            .map(|o| o.count)
    };
    assert_eq!(outcome(JobState::Succeeded), Some(2));
    assert_eq!(outcome(JobState::Failed), Some(1));
    assert_eq!(outcome(JobState::Cancelled), Some(1));
    assert_eq!(outcome(JobState::Interrupted), Some(0));
    assert_eq!(stats.bytes_exported, 12 * MIB);
    let providers: Vec<(&str, u32, u32, u32)> = stats
        .by_provider
        .iter()
        .map(|p| (p.provider.as_str(), p.succeeded, p.failed, p.cancelled))
        .collect();
    assert_eq!(
        providers,
        vec![
            ("none", 0, 0, 1),
            ("proxmox", 1, 0, 0),
            ("vsphere", 1, 1, 0)
        ]
    );
    let a = stats.runs.iter().find(|r| r.job_id == "a").expect("run a");
    assert_eq!(a.duration_seconds.map(f64::round), Some(600.0));
    assert_eq!(a.bytes, 5 * MIB);
    assert_eq!(a.connection.as_deref(), Some("vsphere lab"));
    assert!(stats.runs.iter().all(|r| r.job_id != "old"));
    let d = stats.runs.iter().find(|r| r.job_id == "d").expect("run d");
    assert_eq!(d.duration_seconds, None);

    assert_eq!(stats.heatmap.len(), 168);
    let cell = |weekday: u8, hour: u8| {
        stats
            .heatmap
            .iter()
            .find(|c| c.weekday == weekday && c.hour == hour)
            .map(|c| c.count)
    };
    // Thursday is weekday 3 (Monday = 0).
    assert_eq!(cell(3, 2), Some(2));
    assert_eq!(cell(3, 3), Some(1));
    assert_eq!(cell(3, 0), Some(1), "never started: placed by its end");
    assert_eq!(stats.heatmap.iter().map(|c| c.count).sum::<u32>(), 4);

    // The same jobs two hours east: the heat map moves, nothing else does.
    let east = FixedOffset::east_opt(2 * 3600).expect("offset");
    let shifted = query_job_stats(&store, range, &east).expect("stats");
    assert_eq!(
        shifted
            .heatmap
            .iter()
            .find(|c| c.weekday == 3 && c.hour == 4)
            .map(|c| c.count),
        Some(2)
    );
    assert_eq!(shifted.bytes_exported, stats.bytes_exported);

    let bad = query_job_stats(&store, TimeRange { from: 10, to: 10 }, &utc);
    assert_eq!(bad.expect_err("empty range").code(), "invalid_input");
}

#[test]
fn the_exposition_covers_every_declared_metric() {
    let (_dir, store) = store();
    connection(&store, "vc", ProviderKind::Vsphere);
    finished_job(
        &store,
        "a",
        Some("vc"),
        JobState::Succeeded,
        Some(T0),
        T0 + 45,
        5 * MIB,
    );
    finished_job(
        &store,
        "b",
        Some("vc"),
        JobState::Failed,
        Some(T0),
        T0 + 4_000,
        MIB,
    );
    let now = unix_now();
    let mut state = RecorderState::default();
    state.on_event(&progress("live", 0));
    state.on_event(&progress("live", 2 * MIB));
    let (batch, _) = state.tick(now - 1, 1.0, None);
    store.write_metrics(&batch, None, now).expect("write");

    let text = exposition::render(&store, now).expect("render");
    for name in exposition::METRIC_NAMES {
        assert!(
            text.contains(&format!("# TYPE {name} ")),
            "{name} missing:\n{text}"
        );
    }
    assert!(
        text.contains("hypersdk_exported_bytes_total 5242880\n"),
        "{text}"
    );
    assert!(
        text.contains("hypersdk_throughput_bytes_per_second 2097152\n"),
        "{text}"
    );
    assert!(
        text.contains("hypersdk_jobs{state=\"failed\"} 1\n"),
        "{text}"
    );
    assert!(text.contains(
        "hypersdk_job_duration_seconds_bucket{outcome=\"succeeded\",provider=\"vsphere\",le=\"60\"} 1\n"
    ), "{text}");
    assert!(text.contains(
        "hypersdk_job_duration_seconds_bucket{outcome=\"failed\",provider=\"vsphere\",le=\"3600\"} 0\n"
    ), "{text}");
    assert!(
        text.contains(
            "hypersdk_job_duration_seconds_count{outcome=\"failed\",provider=\"vsphere\"} 1\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "hypersdk_jobs_finished_total{outcome=\"succeeded\",provider=\"vsphere\"} 1\n"
        ),
        "{text}"
    );
}

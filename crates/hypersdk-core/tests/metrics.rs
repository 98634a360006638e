//! Metrics end to end on a real data dir: the recorder samples a running
//! job, the history survives reopening the core, and the Prometheus
//! endpoint is scraped over TCP and judged by `promtool check metrics`
//! (apt package `prometheus`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use hypersdk_core::jobs::{JobContext, JobOutcome, JobWork, NewJob};
use hypersdk_core::metrics::{MetricKind, SeriesQuery, TimeRange, exposition, unix_now};
use hypersdk_core::model::{JobKind, JobState, Settings};
use hypersdk_core::providers::ProviderRegistry;
use hypersdk_core::{Core, CoreEvent, Paths};

fn open(dir: &std::path::Path) -> Arc<Core> {
    Arc::new(Core::open(Paths::in_dir(dir), ProviderRegistry::default()).expect("open core"))
}

/// A job that moves 256 KiB every 100 ms for `millis`.
fn steady_job(millis: u64) -> JobWork {
    Box::new(move |ctx: JobContext| {
        Box::pin(async move {
            ctx.progress.set_disks([("disk0".to_owned(), None)]);
            let mut done = 0u64;
            for _ in 0..millis / 100 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                done += 256 * 1024;
                ctx.progress.disk_bytes(0, done);
            }
            Ok(JobOutcome {
                summary: "copied".into(),
                result: None,
            })
        })
    })
}

async fn wait_terminal(core: &Core, id: &str) -> JobState {
    for _ in 0..400 {
        let job = core.job(id).await.expect("job").job;
        if job.state.is_terminal() {
            return job.state;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {id} did not finish");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_is_sampled_live_and_its_history_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    let mut events = core.events().subscribe();
    core.start_metrics(true);
    let job = core
        .submit_job(
            NewJob {
                name: "steady".into(),
                kind: JobKind::Export,
                connection_id: None,
                request: serde_json::json!({}),
            },
            steady_job(3_000),
        )
        .await
        .expect("submit");
    assert_eq!(wait_terminal(&core, &job.id).await, JobState::Succeeded);
    core.flush_metrics().await;

    // Live: about one sample a second, and at least one saw the job move.
    let mut samples = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let CoreEvent::MetricsSample { sample } = event {
            samples.push(sample);
        }
    }
    assert!(
        (3..=7).contains(&samples.len()),
        "{} samples in ~3 s",
        samples.len()
    );
    assert!(
        samples.iter().any(|s| s
            .jobs
            .iter()
            .any(|j| j.job_id == job.id && j.bytes_per_second > 0.0)),
        "{samples:?}"
    );
    assert!(samples.iter().any(|s| s.rss_bytes.is_some()));

    let range = TimeRange::last(600, unix_now());
    let query = SeriesQuery {
        metric: MetricKind::JobThroughput,
        range,
        job_id: Some(job.id.clone()),
    };
    let before = core.metric_series(query.clone()).await.expect("series");
    assert_eq!(before.lines.len(), 1);
    assert_eq!(before.lines[0].label, "steady");
    let moved: f64 = before.lines[0].points.iter().map(|p| p.value).sum();
    // 30 × 256 KiB, give or take what the last tick did not see.
    assert!(moved >= 6.0 * 1024.0 * 1024.0, "moved {moved}");
    let stats = core.job_stats(range).await.expect("stats");
    assert_eq!(stats.by_outcome[0].count, 1, "{stats:?}");
    let resources = core.app_resource_series(range).await.expect("resources");
    assert_eq!(resources.len(), 3);
    assert!(!resources[1].lines.is_empty(), "RSS was recorded");
    drop(core);

    // A new process on the same data dir sees the same history.
    let reopened = open(dir.path());
    let after = reopened.metric_series(query).await.expect("series");
    assert_eq!(after.lines, before.lines);
    let stats_after = reopened.job_stats(range).await.expect("stats");
    assert_eq!(stats_after.runs, stats.runs);
}

fn scrape(addr: std::net::SocketAddr, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    let (head, body) = response.split_once("\r\n\r\n").expect("http response");
    (head.to_owned(), body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_serves_what_promtool_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    core.start_metrics(false);
    let job = core
        .submit_job(
            NewJob {
                name: "quick".into(),
                kind: JobKind::Export,
                connection_id: None,
                request: serde_json::json!({}),
            },
            steady_job(300),
        )
        .await
        .expect("submit");
    wait_terminal(&core, &job.id).await;
    core.flush_metrics().await;
    hypersdk_core::metrics::scheduler_run("succeeded");
    hypersdk_core::metrics::scheduler_skipped();
    hypersdk_core::metrics::webhook_delivery(false);

    let server = core
        .serve_metrics("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("serve");
    let addr = server.addr;
    let (head, body) = tokio::task::spawn_blocking(move || scrape(addr, "/metrics"))
        .await
        .expect("scrape");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_lowercase()
            .contains(&format!("content-type: {}", exposition::CONTENT_TYPE)),
        "{head}"
    );
    for name in exposition::METRIC_NAMES {
        assert!(body.contains(&format!("# TYPE {name} ")), "{name}:\n{body}");
    }
    assert!(
        body.contains("hypersdk_jobs{state=\"succeeded\"} 1\n"),
        "{body}"
    );
    assert!(
        body.contains(
            "hypersdk_job_duration_seconds_count{outcome=\"succeeded\",provider=\"none\"} 1\n"
        ),
        "{body}"
    );
    assert!(
        body.contains("hypersdk_webhook_failures_total 1\n"),
        "{body}"
    );

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus) is needed for this test");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("write to promtool");
    let out = promtool.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    let (head, _) = tokio::task::spawn_blocking(move || scrape(addr, "/nope"))
        .await
        .expect("scrape");
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    drop(server);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(addr).is_err(), "stopped when dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_validate_the_listen_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    let defaults = core.settings().await.expect("settings");
    assert!(!defaults.metrics_enabled);
    assert_eq!(defaults.metrics_listen, "127.0.0.1:9464");
    let bad = core
        .update_settings(Settings {
            metrics_listen: "localhost:9464".into(),
            ..defaults.clone()
        })
        .await
        .expect_err("host names are refused");
    assert_eq!(bad.code(), "invalid_listen_address");
    let saved = core
        .update_settings(Settings {
            metrics_enabled: true,
            metrics_listen: " [::1]:9999 ".into(),
            ..defaults
        })
        .await
        .expect("save");
    assert_eq!(saved.metrics_listen, "[::1]:9999");
    // Not the app (no run_background): the CLI opens no port, it only reports.
    let status = core.metrics_endpoint_status().await.expect("status");
    assert!(status.enabled && status.loopback_only && status.url.is_none());

    // The app manages the endpoint from the settings, live.
    tokio::spawn(Arc::clone(&core).run_background());
    let mut settings = core.settings().await.expect("settings");
    settings.metrics_listen = "127.0.0.1:0".into();
    // run_background takes the endpoint over once it has started: wait for that, bounded.
    let mut tries = 0;
    let (settings, status) = loop {
        let saved = core
            .update_settings(settings.clone())
            .await
            .expect("enable");
        let status = core.metrics_endpoint_status().await.expect("status");
        tries += 1;
        if status.url.is_some() || tries >= 50 {
            break (saved, status);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    let url = status.url.clone().expect("serving");
    assert!(status.error.is_none() && status.loopback_only, "{status:?}");
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics")
        .parse()
        .expect("url");
    let (head, body) = tokio::task::spawn_blocking(move || scrape(addr, "/metrics"))
        .await
        .expect("scrape");
    assert!(
        head.starts_with("HTTP/1.1 200") && body.contains("hypersdk_jobs"),
        "{head}"
    );

    core.update_settings(Settings {
        metrics_enabled: false,
        ..settings
    })
    .await
    .expect("disable");
    let status = core.metrics_endpoint_status().await.expect("status");
    assert!(!status.enabled && status.url.is_none());
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(TcpStream::connect(addr).is_err(), "stopped when disabled");
}

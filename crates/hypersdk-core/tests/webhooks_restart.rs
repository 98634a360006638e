//! Crash and restart, at process level: the "app" is this test binary run
//! again as a child process (the ignored `child_process` test), killed with
//! SIGKILL while deliveries are pending, then started again.
//!
//! Phase 1: one receiver is down (nothing listens on its port) and another
//! accepts requests and never answers (so deliveries are mid-send). Three
//! jobs run: one succeeds, one fails, one is still running at the kill.
//! Phase 2: both receivers are up and answer 200; a fresh process opens the
//! same database (marking the running job interrupted → `job.failed`) and
//! delivers. Every event must arrive, each job's in order, and the rows that
//! were mid-send must be resent (same event id) long before their leases
//! would have expired: the dead process's lease is taken over at once.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::receiver::{Receiver, Reply, always, free_port};
use common::{export_request, fails, hook, open, runs_forever, succeeds, wait_for_state};
use hypersdk_core::model::JobState;
use hypersdk_core::store::Store;
use hypersdk_core::webhooks::{DeliveryFilter, DeliveryStatus, WebhookSettings};
use tokio::io::{AsyncBufReadExt, BufReader};

const MODE: &str = "HYPERSDK_WEBHOOK_TEST_CHILD";
const DIR: &str = "HYPERSDK_WEBHOOK_TEST_DIR";
const URL_DOWN: &str = "HYPERSDK_WEBHOOK_TEST_URL_DOWN";
const URL_HUNG: &str = "HYPERSDK_WEBHOOK_TEST_URL_HUNG";
/// Long enough that a resend within the test's limits can only come from
/// taking over the dead process's lease, not from the lease running out.
const HUNG_TIMEOUT_MS: u32 = 60_000;

fn child(mode: &str, dir: &Path, down: &str, hung: &str) -> tokio::process::Command {
    let exe = std::env::current_exe().expect("test binary");
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args([
        "child_process",
        "--exact",
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ])
    .env(MODE, mode)
    .env(DIR, dir)
    .env(URL_DOWN, down)
    .env(URL_HUNG, hung)
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::from(
        std::fs::File::create(dir.join(format!("child-{mode}.stderr"))).expect("stderr file"),
    ))
    .kill_on_drop(true);
    cmd
}

/// Reads the child's stdout until `word` appears; returns the line from there.
async fn wait_line(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    word: &str,
    timeout: Duration,
    dir: &Path,
) -> String {
    let read = async {
        while let Ok(Some(line)) = lines.next_line().await {
            // libtest may have printed "test child_process ... " on the same line.
            if let Some(at) = line.find(word) {
                return Some(line[at..].to_owned());
            }
        }
        None
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Some(line)) => line,
        other => panic!(
            "child never printed {word} ({other:?}); its stderr:\n{}",
            std::fs::read_to_string(dir.join("child-produce.stderr")).unwrap_or_default()
                + &std::fs::read_to_string(dir.join("child-deliver.stderr")).unwrap_or_default()
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_with_deliveries_pending_then_restarted_delivers_every_event_in_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path();
    let down_port = free_port();
    let down_url = format!("http://127.0.0.1:{down_port}/hook");
    let hung = Receiver::start(Arc::new(|_, _| Reply::Hang)).await;
    let hung_port = hung.addr.port();

    // Phase 1: the app runs, the receivers are down or hung; then it is killed.
    let mut app = child("produce", dir, &down_url, &hung.url)
        .spawn()
        .expect("spawn the app");
    let mut lines = BufReader::new(app.stdout.take().expect("stdout")).lines();
    let ready = wait_line(&mut lines, "READY", Duration::from_secs(60), dir).await;
    let jobs: Vec<String> = ready
        .split_whitespace()
        .skip(1)
        .map(str::to_owned)
        .collect();
    assert_eq!(jobs.len(), 3, "{ready}");
    // Every job's first event is being sent to the hung receiver right now.
    let mid_send: HashSet<String> = hung
        .wait_for(3, Duration::from_secs(30))
        .await
        .iter()
        .map(|r| r.event_id())
        .collect();
    assert_eq!(mid_send.len(), 3);
    app.start_kill().expect("SIGKILL");
    app.wait().await.expect("reaped");
    drop(hung);

    // What the dead app left: pending rows, some with failed attempts, none delivered.
    {
        let store = Store::open(&dir.join("hypersdk.db")).expect("open store");
        let rows = store.list_deliveries(None, None, None, 1000).expect("rows");
        assert!(!rows.is_empty());
        assert!(
            rows.iter().all(|d| d.status == DeliveryStatus::Pending),
            "{rows:#?}"
        );
        assert!(
            rows.iter()
                .any(|d| d.webhook_name == "down" && d.attempts >= 2),
            "the down receiver was retried: {rows:#?}"
        );
    }

    // Phase 2: both receivers up, the app restarted.
    let down = Receiver::start_on(down_port, always(200)).await;
    let hung_again = Receiver::start_on(hung_port, always(200)).await;
    let started = Instant::now();
    let mut app = child("deliver", dir, &down_url, &hung_again.url)
        .spawn()
        .expect("restart the app");
    let mut lines = BufReader::new(app.stdout.take().expect("stdout")).lines();
    wait_line(&mut lines, "DONE", Duration::from_secs(40), dir).await;
    let took = started.elapsed();
    let status = app.wait().await.expect("exit");
    assert!(status.success(), "{status:?}");
    assert!(
        took < Duration::from_millis(u64::from(HUNG_TIMEOUT_MS) / 2),
        "delivered in {took:?}: the dead process's leases must be taken over at once"
    );

    let store = Store::open(&dir.join("hypersdk.db")).expect("open store");
    let rows = store.list_deliveries(None, None, None, 1000).expect("rows");
    assert_eq!(rows.len(), 18, "3 events × 3 jobs × 2 hooks: {rows:#?}");
    assert!(rows.iter().all(|d| d.status == DeliveryStatus::Delivered));

    for (name, receiver) in [("down", &down), ("hung", &hung_again)] {
        let got = receiver.requests();
        let delivered_ids: HashSet<String> = got.iter().map(|r| r.event_id()).collect();
        for row in rows.iter().filter(|d| d.webhook_name == name) {
            assert!(
                delivered_ids.contains(&row.event_id),
                "{name}: event {} ({}) never arrived",
                row.event_id,
                row.event
            );
        }
        let mut per_job: HashMap<String, Vec<String>> = HashMap::new();
        for r in &got {
            let v = r.json();
            let job = v["data"]["job_id"].as_str().unwrap_or_default().to_owned();
            let event = v["event"].as_str().unwrap_or_default().to_owned();
            let seen = per_job.entry(job).or_default();
            if seen.last() != Some(&event) {
                seen.push(event);
            }
        }
        for (i, job) in jobs.iter().enumerate() {
            let end = if i == 0 {
                "job.completed"
            } else {
                "job.failed"
            };
            assert_eq!(
                per_job.get(job).map(Vec::as_slice),
                Some(
                    ["job.created", "job.started", end]
                        .map(String::from)
                        .as_slice()
                ),
                "{name}: job {i} in order"
            );
        }
        let interrupted = got
            .iter()
            .map(|r| r.json())
            .find(|v| v["data"]["job_id"] == jobs[2].as_str() && v["event"] == "job.failed")
            .expect("the running job's end");
        assert_eq!(interrupted["data"]["error"]["code"], "interrupted");
    }
    // The rows that were mid-send when the app died were sent again, same ids.
    let resent: HashSet<String> = hung_again.requests().iter().map(|r| r.event_id()).collect();
    assert!(mid_send.is_subset(&resent), "{mid_send:?} vs {resent:?}");
}

/// The "app": run only as a child of the test above.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by killed_with_deliveries_pending_then_restarted_delivers_every_event_in_order"]
async fn child_process() {
    let (Ok(mode), Ok(dir), Ok(down), Ok(hung)) = (
        std::env::var(MODE),
        std::env::var(DIR),
        std::env::var(URL_DOWN),
        std::env::var(URL_HUNG),
    ) else {
        return;
    };
    let core = open(Path::new(&dir));
    match mode.as_str() {
        "produce" => {
            core.update_webhook_settings(WebhookSettings {
                retry_base_ms: 100,
                retry_cap_ms: 1_000,
                ..WebhookSettings::default()
            })
            .await
            .expect("settings");
            let mut a = hook("down", &down, &["*"]);
            a.max_attempts = Some(100);
            a.timeout_ms = Some(2_000);
            core.add_webhook(a).await.expect("hook down");
            let mut b = hook("hung", &hung, &["*"]);
            b.max_attempts = Some(100);
            b.timeout_ms = Some(HUNG_TIMEOUT_MS);
            core.add_webhook(b).await.expect("hook hung");
            tokio::spawn(Arc::clone(&core).run_webhooks());
            let j1 = core
                .submit_job(export_request("ok"), succeeds("/exports/ok.ova"))
                .await
                .expect("j1");
            let j2 = core
                .submit_job(export_request("bad"), fails("destination_full"))
                .await
                .expect("j2");
            let j3 = core
                .submit_job(export_request("long"), runs_forever())
                .await
                .expect("j3");
            wait_for_state(&core, &j1.id, JobState::Succeeded).await;
            wait_for_state(&core, &j2.id, JobState::Failed).await;
            wait_for_state(&core, &j3.id, JobState::Running).await;
            // Let the down receiver's retries pile up a little.
            loop {
                let rows = core
                    .webhook_deliveries(DeliveryFilter {
                        webhook: Some("down".into()),
                        ..DeliveryFilter::default()
                    })
                    .await
                    .expect("rows");
                if rows.iter().filter(|d| d.attempts >= 2).count() >= 3 {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            println!("READY {} {} {}", j1.id, j2.id, j3.id);
            std::future::pending::<()>().await;
        }
        "deliver" => {
            tokio::spawn(Arc::clone(&core).run_webhooks());
            loop {
                let pending = core
                    .webhook_deliveries(DeliveryFilter {
                        status: Some(DeliveryStatus::Pending),
                        ..DeliveryFilter::default()
                    })
                    .await
                    .expect("rows");
                if pending.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            println!("DONE");
        }
        other => panic!("unknown child mode {other}"),
    }
}

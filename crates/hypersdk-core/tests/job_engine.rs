//! The job engine end to end on a real SQLite file: lifecycle, cancellation,
//! limits, crash recovery and cancellation from another process.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hypersdk_core::jobs::{JobContext, JobOutcome, JobWork, NewJob};
use hypersdk_core::model::{JobKind, JobState, Settings};
use hypersdk_core::providers::ProviderRegistry;
use hypersdk_core::store::{NewJobRow, Store};
use hypersdk_core::{Core, CoreError, CoreEvent, Paths};

fn open(dir: &std::path::Path) -> Arc<Core> {
    Arc::new(Core::open(Paths::in_dir(dir), ProviderRegistry::default()).expect("open core"))
}

fn new_job(name: &str, connection: Option<&str>) -> NewJob {
    NewJob {
        name: name.into(),
        kind: JobKind::Export,
        connection_id: connection.map(str::to_owned),
        request: serde_json::json!({ "vm": name }),
    }
}

fn work<F, Fut>(f: F) -> JobWork
where
    F: FnOnce(JobContext) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = hypersdk_core::Result<JobOutcome>> + Send + 'static,
{
    Box::new(move |ctx| Box::pin(f(ctx)))
}

/// Work that waits for cancellation, then cleans up (as an export would).
fn until_cancelled(cleaned: Arc<AtomicBool>) -> JobWork {
    work(move |ctx: JobContext| async move {
        ctx.cancel.cancelled().await;
        cleaned.store(true, Ordering::SeqCst);
        Err(CoreError::Cancelled)
    })
}

async fn wait_for_state(core: &Core, id: &str, want: JobState) -> hypersdk_core::model::JobDetail {
    for _ in 0..200 {
        let detail = core.job(id).await.expect("job");
        if detail.job.state == want {
            return detail;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("job {id} never reached {want}: {:?}", core.job(id).await);
}

#[tokio::test]
async fn a_job_runs_reports_progress_and_succeeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    let mut events = core.events().subscribe();
    let job = core
        .submit_job(
            new_job("copy", None),
            work(|ctx: JobContext| async move {
                ctx.progress
                    .set_disks([("disk0.vmdk".to_owned(), Some(4096))]);
                for i in 1..=4u64 {
                    ctx.progress.disk_bytes(0, i * 1024);
                }
                Ok(JobOutcome {
                    summary: "copied 4 KiB".into(),
                    result: None,
                })
            }),
        )
        .await
        .expect("submit");
    assert_eq!(job.state, JobState::Queued);

    let detail = wait_for_state(&core, &job.id, JobState::Succeeded).await;
    let states: Vec<_> = detail.events.iter().map(|e| e.state).collect();
    assert_eq!(
        states,
        [JobState::Queued, JobState::Running, JobState::Succeeded]
    );
    assert_eq!(detail.events[2].message, "copied 4 KiB");
    assert!(detail.job.started_at.is_some() && detail.job.finished_at.is_some());

    let mut seen_updates = Vec::new();
    let mut last_progress = None;
    while let Ok(ev) = events.try_recv() {
        match ev {
            CoreEvent::JobUpdated { job } => seen_updates.push(job.state),
            CoreEvent::JobProgress { progress } => last_progress = Some(progress),
            _ => {}
        }
    }
    assert_eq!(
        seen_updates,
        [JobState::Queued, JobState::Running, JobState::Succeeded]
    );
    let p = last_progress.expect("progress events");
    assert_eq!((p.bytes_done, p.bytes_total), (4096, Some(4096)));
}

#[tokio::test]
async fn cancelling_stops_the_work_and_lets_it_clean_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    let cleaned = Arc::new(AtomicBool::new(false));
    let job = core
        .submit_job(new_job("long", None), until_cancelled(Arc::clone(&cleaned)))
        .await
        .expect("submit");
    wait_for_state(&core, &job.id, JobState::Running).await;
    core.cancel_job(&job.id).await.expect("cancel");
    wait_for_state(&core, &job.id, JobState::Cancelled).await;
    assert!(
        cleaned.load(Ordering::SeqCst),
        "the work saw the token and cleaned up"
    );

    let err = core.cancel_job(&job.id).await.expect_err("already ended");
    assert_eq!(err.code(), "job_not_cancellable");
}

#[tokio::test]
async fn failures_and_panics_become_failed_jobs_with_a_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    let failing = core
        .submit_job(
            new_job("fails", None),
            work(|_ctx: JobContext| async move {
                Err(CoreError::Unreachable {
                    endpoint: "vc.example.com".into(),
                    detail: "connection refused".into(),
                })
            }),
        )
        .await
        .expect("submit");
    let detail = wait_for_state(&core, &failing.id, JobState::Failed).await;
    let error = detail.job.error.expect("error recorded");
    assert_eq!(error.code, "unreachable");
    assert!(error.retryable);

    let panicking = core
        .submit_job(
            new_job("panics", None),
            work(|_ctx: JobContext| async move {
                if true {
                    panic!("boom");
                }
                Ok(JobOutcome::default())
            }),
        )
        .await
        .expect("submit");
    let detail = wait_for_state(&core, &panicking.id, JobState::Failed).await;
    assert_eq!(detail.job.error.expect("error").code, "internal");
}

#[tokio::test]
async fn the_global_limit_queues_jobs_until_a_slot_frees() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    core.update_settings(Settings {
        max_concurrent_jobs: 1,
        max_jobs_per_connection: 1,
        ..Settings::default()
    })
    .await
    .expect("settings");
    // Jobs reference real connections (a foreign key); no secret, so no keyring.
    let mut ids = Vec::new();
    for name in ["c1", "c2"] {
        let c = core
            .add_connection(hypersdk_core::model::ConnectionInput {
                kind: hypersdk_core::model::ProviderKind::Proxmox,
                name: name.into(),
                endpoint: "pve.example.com".into(),
                username: "root@pam".into(),
                secret: None,
                secret_options: Default::default(),
                options: Default::default(),
                tls_fingerprint: None,
            })
            .await
            .expect("connection");
        ids.push(c.id);
    }
    let first = core
        .submit_job(
            new_job("first", Some(&ids[0])),
            until_cancelled(Arc::default()),
        )
        .await
        .expect("first");
    let second = core
        .submit_job(
            new_job("second", Some(&ids[1])),
            until_cancelled(Arc::default()),
        )
        .await
        .expect("second");
    wait_for_state(&core, &first.id, JobState::Running).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        core.job(&second.id).await.expect("second").job.state,
        JobState::Queued
    );

    core.cancel_job(&first.id).await.expect("cancel first");
    wait_for_state(&core, &second.id, JobState::Running).await;
    // A queued job can be cancelled too, and never starts.
    let third = core
        .submit_job(new_job("third", None), until_cancelled(Arc::default()))
        .await
        .expect("third");
    core.cancel_job(&third.id).await.expect("cancel queued");
    let detail = wait_for_state(&core, &third.id, JobState::Cancelled).await;
    assert!(detail.job.started_at.is_none());
    core.cancel_job(&second.id).await.expect("cancel second");
}

#[tokio::test]
async fn jobs_of_a_dead_process_become_interrupted_never_succeeded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let paths = Paths::in_dir(dir.path());
    paths.create_dirs().expect("dirs");
    {
        // A process that crashed: its rows say queued/running, its runner
        // lock is gone.
        let store = Store::open(&paths.database).expect("store");
        for (id, state) in [("j-run", JobState::Running), ("j-queued", JobState::Queued)] {
            store
                .insert_job(&NewJobRow {
                    id,
                    name: id,
                    kind: JobKind::Export,
                    connection_id: None,
                    request_json: "{}",
                    runner_id: "crashed-runner",
                })
                .expect("insert");
            if state == JobState::Running {
                store
                    .transition_job(id, JobState::Running, "started", None)
                    .expect("run");
            }
        }
    }
    let core = open(dir.path());
    for id in ["j-run", "j-queued"] {
        let detail = core.job(id).await.expect("job");
        assert_eq!(detail.job.state, JobState::Interrupted, "{id}");
        assert_eq!(detail.job.error.expect("why").code, "interrupted");
    }
}

#[tokio::test]
async fn a_second_process_neither_interrupts_nor_loses_live_jobs_and_can_cancel_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = open(dir.path());
    tokio::spawn(Arc::clone(&app).run_background());
    let cleaned = Arc::new(AtomicBool::new(false));
    let job = app
        .submit_job(new_job("live", None), until_cancelled(Arc::clone(&cleaned)))
        .await
        .expect("submit");
    wait_for_state(&app, &job.id, JobState::Running).await;

    // `hyperctl` opening the same state must leave the app's job running…
    let cli = open(dir.path());
    assert_eq!(
        cli.job(&job.id).await.expect("job").job.state,
        JobState::Running
    );
    // …and its cancel reaches the app through the database.
    cli.cancel_job(&job.id)
        .await
        .expect("cancel from the other process");
    wait_for_state(&app, &job.id, JobState::Cancelled).await;
    assert!(cleaned.load(Ordering::SeqCst));
}

#[tokio::test]
async fn activity_counts_jobs_under_way_and_the_last_outcome() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    assert_eq!(
        core.activity().await.expect("activity"),
        hypersdk_core::model::Activity::default()
    );
    let gate = std::sync::Arc::new(tokio::sync::Notify::new());
    let g = gate.clone();
    let job = core
        .submit_job(
            new_job("held", None),
            work(move |_ctx: JobContext| async move {
                g.notified().await;
                Err(CoreError::Internal("boom".into()))
            }),
        )
        .await
        .expect("submit");
    wait_for_state(&core, &job.id, JobState::Running).await;
    let busy = core.activity().await.expect("activity");
    assert_eq!((busy.running, busy.queued, busy.last_outcome), (1, 0, None));
    gate.notify_one();
    wait_for_state(&core, &job.id, JobState::Failed).await;
    let done = core.activity().await.expect("activity");
    assert_eq!(
        (done.running, done.last_outcome),
        (0, Some(JobState::Failed))
    );
    assert!(done.last_finished_at.is_some());
}

#[tokio::test]
async fn desktop_settings_persist_and_the_close_hint_is_given_once() {
    use hypersdk_core::model::{DesktopSettings, NotifyRuns};
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let core = open(dir.path());
        assert_eq!(
            core.desktop_settings().await.expect("read"),
            DesktopSettings {
                notify_runs: NotifyRuns::Always
            }
        );
        core.update_desktop_settings(DesktopSettings {
            notify_runs: NotifyRuns::FailuresOnly,
        })
        .await
        .expect("write");
        assert!(core.take_close_hint().await.expect("first"));
        assert!(!core.take_close_hint().await.expect("second"));
    }
    let core = open(dir.path());
    assert_eq!(
        core.desktop_settings().await.expect("reread").notify_runs,
        NotifyRuns::FailuresOnly
    );
    assert!(!core.take_close_hint().await.expect("after restart"));
}

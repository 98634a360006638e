//! Webhook delivery against real HTTP receivers on loopback: retries and
//! their timing, Retry-After, 410 Gone, timeouts, redirects, the private
//! destination guard, per-job order, the test event and the payload shape.
//! No secrets here (see `webhooks_secrets.rs` for the keyring-backed ones).

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use common::receiver::{Receiver, Reply, always, fail_first, free_port};
use common::{
    deliveries, export_request, fails, fast_retries, hook, open, succeeds, wait_for_state,
    wait_settled,
};
use hypersdk_core::model::JobState;
use hypersdk_core::webhooks::{DeliveryStatus, WebhookSettings, retry_delay_bound};

const WAIT: Duration = Duration::from_secs(15);
/// How late the worker may be beyond a computed due time (its wake-up,
/// a database round trip, a loaded CI machine).
const SLACK: Duration = Duration::from_millis(400);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_retried_within_backoff_bounds_and_delivered_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    core.update_webhook_settings(WebhookSettings {
        retry_base_ms: 150,
        retry_cap_ms: 1_000,
        ..WebhookSettings::default()
    })
    .await
    .expect("settings");
    let receiver = Receiver::start(fail_first(4, 500)).await;
    core.add_webhook(hook("ops", &receiver.url, &["job.completed"]))
        .await
        .expect("add");
    tokio::spawn(Arc::clone(&core).run_webhooks());

    let job = core
        .submit_job(export_request("web01"), succeeds("/exports/web01.ova"))
        .await
        .expect("submit");
    let got = receiver.wait_for(5, WAIT).await;
    // Nothing more once it was delivered.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let got_all = receiver.requests();
    assert_eq!(got_all.len(), 5, "{got_all:#?}");

    let event_id = got[0].event_id();
    assert!(!event_id.is_empty());
    for (i, r) in got.iter().enumerate() {
        assert_eq!(r.event_id(), event_id, "the same event id on every attempt");
        assert_eq!(
            r.header("x-hypersdk-attempt"),
            Some((i + 1).to_string().as_str())
        );
        assert_eq!(r.header("x-hypersdk-event"), Some("job.completed"));
        assert_eq!(r.method, "POST");
        assert_eq!(r.body, got[0].body, "the same body on every attempt");
    }
    let delivered: Vec<_> = got.iter().filter(|r| r.answered == 200).collect();
    assert_eq!(delivered.len(), 1, "delivered exactly once");

    // The n-th retry waits at most min(cap, base·2^(n−1)): 150, 300, 600, 1000 ms.
    for (n, pair) in got.windows(2).enumerate() {
        let gap = pair[1].at.duration_since(pair[0].at);
        let bound = retry_delay_bound(
            u32::try_from(n + 1).expect("small"),
            Duration::from_millis(150),
            Duration::from_millis(1_000),
        );
        assert!(
            gap <= bound + SLACK,
            "retry {} came after {gap:?}, bound {bound:?}",
            n + 1
        );
    }

    let d = wait_settled(&core, "ops", WAIT).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0].status, DeliveryStatus::Delivered);
    assert_eq!(d[0].attempts, 5);
    assert_eq!(d[0].last_status_code, Some(200));
    assert_eq!(d[0].event_id, event_id);
    assert_eq!(d[0].job_id.as_deref(), Some(job.id.as_str()));
    assert!(d[0].last_error.is_none() && d[0].delivered_at.is_some());
    let hooks = core.list_webhooks().await.expect("list");
    let last = hooks[0].last_delivery.as_ref().expect("last delivery");
    assert_eq!(
        (last.status, last.status_code),
        (DeliveryStatus::Delivered, Some(200))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_payload_has_the_documented_shape() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    let receiver = Receiver::start(always(204)).await;
    core.add_webhook(hook("all", &receiver.url, &["*"]))
        .await
        .expect("add");
    tokio::spawn(Arc::clone(&core).run_webhooks());
    let ok = core
        .submit_job(export_request("db01"), succeeds("/exports/db01.ova"))
        .await
        .expect("submit");
    wait_for_state(&core, &ok.id, JobState::Succeeded).await;
    let bad = core
        .submit_job(export_request("db02"), fails("destination_full"))
        .await
        .expect("submit");
    wait_for_state(&core, &bad.id, JobState::Failed).await;
    let got = receiver.wait_for(6, WAIT).await;

    let by_event: HashMap<(String, String), serde_json::Value> = got
        .iter()
        .map(|r| {
            let v = r.json();
            (
                (
                    v["event"].as_str().unwrap_or_default().to_owned(),
                    v["data"]["job_id"].as_str().unwrap_or_default().to_owned(),
                ),
                v,
            )
        })
        .collect();
    let completed = &by_event[&("job.completed".to_owned(), ok.id.clone())];
    let keys: Vec<&str> = completed
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 3);
    assert!(completed["timestamp"].as_str().expect("ts").ends_with('Z'));
    let data = completed["data"].as_object().expect("data");
    let mut fields: Vec<&str> = data.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        [
            "bytes",
            "duration_seconds",
            "error",
            "job_id",
            "job_name",
            "output_paths",
            "vm_path"
        ]
    );
    assert_eq!(data["job_name"], "Export db01");
    assert_eq!(data["vm_path"], "/DC0/vm/db01");
    assert_eq!(
        data["output_paths"],
        serde_json::json!(["/exports/db01.ova"])
    );
    assert_eq!(data["bytes"], 123_456);
    assert!(data["duration_seconds"].as_f64().expect("duration") >= 0.0);
    assert!(data["error"].is_null());
    // The body starts with the event, as the old product's did.
    let raw = got
        .iter()
        .find(|r| r.header("x-hypersdk-event") == Some("job.completed"))
        .expect("completed");
    assert!(
        raw.body
            .starts_with(r#"{"event":"job.completed","timestamp":""#)
    );
    assert_eq!(raw.header("content-type"), Some("application/json"));
    assert!(
        raw.header("x-hypersdk-signature").is_none(),
        "no secret, no signature"
    );

    let failed = &by_event[&("job.failed".to_owned(), bad.id.clone())]["data"];
    assert_eq!(failed["error"]["code"], "destination_full");
    assert_eq!(failed["error"]["message"], "the destination disk is full");
    assert_eq!(failed["output_paths"], serde_json::json!([]));
    assert!(failed["bytes"].is_null());
    let created = &by_event[&("job.created".to_owned(), bad.id.clone())]["data"];
    assert!(created["duration_seconds"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_is_honoured_in_seconds_and_as_a_date() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    fast_retries(&core).await;
    let date = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let receiver = Receiver::start(Arc::new(move |i, _| match i {
        0 => Reply::StatusWith(503, vec![("Retry-After".into(), "1".into())]),
        1 => Reply::StatusWith(429, vec![("Retry-After".into(), date.clone())]),
        _ => Reply::Status(200),
    }))
    .await;
    core.add_webhook(hook("slow", &receiver.url, &["job.created"]))
        .await
        .expect("add");
    tokio::spawn(Arc::clone(&core).run_webhooks());
    core.submit_job(export_request("a"), succeeds("/x.ova"))
        .await
        .expect("submit");
    let got = receiver.wait_for(3, WAIT).await;
    let first_gap = got[1].at.duration_since(got[0].at);
    assert!(
        first_gap >= Duration::from_millis(950) && first_gap <= Duration::from_secs(1) + SLACK,
        "Retry-After: 1 gave {first_gap:?} (backoff alone would be ≤ 100 ms)"
    );
    // The date was ~3 s ahead when made, in whole seconds: ≥ 1 s from here.
    let second_gap = got[2].at.duration_since(got[1].at);
    assert!(
        second_gap >= Duration::from_millis(950),
        "Retry-After date gave {second_gap:?}"
    );
    let d = wait_settled(&core, "slow", WAIT).await;
    assert_eq!(d[0].status, DeliveryStatus::Delivered);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_stops_retries_and_disables_the_hook() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    fast_retries(&core).await;
    let receiver = Receiver::start(always(410)).await;
    core.add_webhook(hook("gone", &receiver.url, &["job.created"]))
        .await
        .expect("add");
    tokio::spawn(Arc::clone(&core).run_webhooks());
    core.submit_job(export_request("a"), succeeds("/x.ova"))
        .await
        .expect("submit");
    let d = wait_settled(&core, "gone", WAIT).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert_eq!(receiver.requests().len(), 1, "no retry after 410");
    assert_eq!(d[0].status, DeliveryStatus::Dead);
    assert_eq!(d[0].attempts, 1);
    assert_eq!(d[0].last_status_code, Some(410));
    let h = core.webhook("gone").await.expect("hook");
    assert!(!h.enabled);
    assert!(
        h.disabled_reason
            .as_deref()
            .is_some_and(|r| r.contains("410 Gone")),
        "{h:?}"
    );
    assert_eq!(h.dead, 1);
    // Disabled: later events are not queued for it.
    core.submit_job(export_request("b"), succeeds("/y.ova"))
        .await
        .expect("submit");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(deliveries(&core, "gone").await.len(), 1);

    // Enabled again and redelivered: same event id, fresh budget.
    core.set_webhook_enabled("gone", true, false)
        .await
        .expect("enable");
    let again = core.redeliver(d[0].id).await.expect("redeliver");
    assert_eq!(again.event_id, d[0].event_id);
    receiver.wait_for(2, WAIT).await;
    assert_eq!(receiver.requests()[1].event_id(), d[0].event_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_never_answers_times_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    fast_retries(&core).await;
    let receiver = Receiver::start(Arc::new(|_, _| Reply::Hang)).await;
    let mut input = hook("hung", &receiver.url, &["job.created"]);
    input.timeout_ms = Some(1_000);
    input.max_attempts = Some(2);
    core.add_webhook(input).await.expect("add");
    tokio::spawn(Arc::clone(&core).run_webhooks());
    let started = std::time::Instant::now();
    core.submit_job(export_request("a"), succeeds("/x.ova"))
        .await
        .expect("submit");
    let d = wait_settled(&core, "hung", WAIT).await;
    let took = started.elapsed();
    assert_eq!(receiver.requests().len(), 2, "both attempts reached it");
    assert_eq!(d[0].status, DeliveryStatus::Dead);
    assert_eq!(d[0].attempts, 2);
    assert_eq!(d[0].last_status_code, None);
    let latency = d[0].last_latency_ms.expect("latency");
    assert!(
        (950..=2_000).contains(&latency),
        "the attempt ended at the 1 s timeout, not {latency} ms"
    );
    assert!(
        d[0].last_error
            .as_deref()
            .is_some_and(|e| e.contains("no answer within 1.0 s")),
        "{:?}",
        d[0].last_error
    );
    assert!(
        took < Duration::from_secs(5),
        "two 1 s timeouts took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_not_followed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    fast_retries(&core).await;
    let elsewhere = Receiver::start(always(200)).await;
    let location = elsewhere.url.clone();
    let redirecting = Receiver::start(Arc::new(move |_, _| {
        Reply::StatusWith(307, vec![("Location".into(), location.clone())])
    }))
    .await;
    let mut input = hook("moved", &redirecting.url, &["job.created"]);
    input.max_attempts = Some(2);
    core.add_webhook(input).await.expect("add");
    tokio::spawn(Arc::clone(&core).run_webhooks());
    core.submit_job(export_request("a"), succeeds("/x.ova"))
        .await
        .expect("submit");
    let d = wait_settled(&core, "moved", WAIT).await;
    assert_eq!(redirecting.requests().len(), 2, "a 3xx is a failed attempt");
    assert!(
        elsewhere.requests().is_empty(),
        "the redirect was not followed"
    );
    assert_eq!(d[0].status, DeliveryStatus::Dead);
    assert_eq!(d[0].last_status_code, Some(307));
    let error = d[0].last_error.clone().unwrap_or_default();
    assert!(error.contains("redirects are not followed"), "{error}");
    assert!(
        error.contains(&elsewhere.url),
        "names the Location: {error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn private_destinations_are_refused_at_connect_time_when_blocked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    let receiver = Receiver::start(always(200)).await;
    let port = receiver.addr.port();
    // Saved while the guard is off: saving never resolves anything.
    let mut by_name = hook(
        "by-name",
        &format!("http://localhost:{port}/hook"),
        &["job.created"],
    );
    by_name.max_attempts = Some(1);
    let mut by_ip = hook("by-ip", &receiver.url, &["job.created"]);
    by_ip.max_attempts = Some(1);
    core.add_webhook(by_name).await.expect("add");
    core.add_webhook(by_ip).await.expect("add");
    core.update_webhook_settings(WebhookSettings {
        block_private_destinations: true,
        ..WebhookSettings::default()
    })
    .await
    .expect("settings");
    tokio::spawn(Arc::clone(&core).run_webhooks());
    core.submit_job(export_request("a"), succeeds("/x.ova"))
        .await
        .expect("submit");
    for name in ["by-name", "by-ip"] {
        let d = wait_settled(&core, name, WAIT).await;
        assert_eq!(d[0].status, DeliveryStatus::Dead, "{name}");
        let error = d[0].last_error.clone().unwrap_or_default();
        assert!(
            error.contains("private destinations are blocked"),
            "{name}: {error}"
        );
        assert!(
            error.contains("127.0.0.1") || error.contains("::1"),
            "{name}: {error}"
        );
    }
    assert!(receiver.requests().is_empty(), "nothing connected");
    // The guard is read on every attempt: turned off, the same hooks deliver.
    core.update_webhook_settings(WebhookSettings::default())
        .await
        .expect("settings");
    for name in ["by-name", "by-ip"] {
        let id = deliveries(&core, name).await[0].id;
        core.redeliver(id).await.expect("redeliver");
    }
    receiver.wait_for(2, WAIT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_jobs_events_arrive_in_order_despite_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    fast_retries(&core).await;
    // Fails every third request: retries interleave with new events.
    let receiver = Receiver::start(Arc::new(|i, _| {
        if i % 3 == 1 {
            Reply::Status(502)
        } else {
            Reply::Status(200)
        }
    }))
    .await;
    core.add_webhook(hook("ordered", &receiver.url, &["*"]))
        .await
        .expect("add");
    tokio::spawn(Arc::clone(&core).run_webhooks());
    let mut jobs = Vec::new();
    for i in 0..6 {
        let work = if i % 2 == 0 {
            succeeds("/x.ova")
        } else {
            fails("destination_full")
        };
        jobs.push(
            core.submit_job(export_request(&format!("vm{i}")), work)
                .await
                .expect("submit"),
        );
    }
    let settled = wait_settled(&core, "ordered", Duration::from_secs(30)).await;
    assert_eq!(settled.len(), 18);
    assert!(
        settled
            .iter()
            .all(|d| d.status == DeliveryStatus::Delivered)
    );
    let got = receiver.requests();
    for (i, job) in jobs.iter().enumerate() {
        let delivered: Vec<String> = got
            .iter()
            .filter(|r| r.answered == 200)
            .map(|r| r.json())
            .filter(|v| v["data"]["job_id"] == job.id.as_str())
            .map(|v| v["event"].as_str().unwrap_or_default().to_owned())
            .collect();
        let end = if i % 2 == 0 {
            "job.completed"
        } else {
            "job.failed"
        };
        assert_eq!(delivered, ["job.created", "job.started", end], "job {i}");
        // No event of a job was even attempted before the previous one was delivered.
        let attempted: Vec<String> = got
            .iter()
            .map(|r| r.json())
            .filter(|v| v["data"]["job_id"] == job.id.as_str())
            .map(|v| v["event"].as_str().unwrap_or_default().to_owned())
            .collect();
        let mut dedup = attempted.clone();
        dedup.dedup();
        assert_eq!(
            dedup,
            ["job.created", "job.started", end],
            "job {i}: {attempted:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_test_event_reports_the_status_and_is_logged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    let receiver = Receiver::start(fail_first(1, 500)).await;
    core.add_webhook(hook("t", &receiver.url, &["job.failed"]))
        .await
        .expect("add");
    // Works on a disabled hook, without the worker running.
    core.set_webhook_enabled("t", false, false)
        .await
        .expect("disable");
    let first = core.test_webhook("t").await.expect("test");
    assert!(!first.ok);
    assert_eq!(first.status_code, Some(500));
    let second = core
        .test_webhook("T")
        .await
        .expect("test by name, any case");
    assert!(second.ok);
    assert_eq!(second.status_code, Some(200));
    assert_ne!(first.event_id, second.event_id);
    let got = receiver.requests();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].header("x-hypersdk-event"), Some("webhook.test"));
    assert_eq!(got[1].header("x-hypersdk-attempt"), Some("1"));
    assert_eq!(got[1].json()["data"]["webhook_name"], "t");
    let log = deliveries(&core, "t").await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].id, second.delivery_id);
    assert_eq!(log[0].status, DeliveryStatus::Delivered);
    assert_eq!(log[1].status, DeliveryStatus::Dead);
    assert_eq!(log[1].event, "webhook.test");

    // Down receiver: a clear error, not a failure of the call.
    let port = free_port();
    let mut input = hook("down", &format!("http://127.0.0.1:{port}/"), &["*"]);
    input.timeout_ms = Some(1_000);
    core.add_webhook(input).await.expect("add");
    let down = core.test_webhook("down").await.expect("test");
    assert!(!down.ok && down.status_code.is_none());
    assert!(
        down.error
            .as_deref()
            .is_some_and(|e| e.contains("cannot connect")),
        "{down:?}"
    );
}

#[tokio::test]
async fn invalid_configurations_are_rejected_when_saved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    for (url, code, words) in [
        (
            "ftp://example.com/hook",
            "invalid_url",
            "must start with https://",
        ),
        (
            "https://user:pw@example.com/hook",
            "invalid_url",
            "user name or password",
        ),
        ("example.com/hook", "invalid_url", "not a valid URL"),
    ] {
        let err = core
            .add_webhook(hook("bad", url, &[]))
            .await
            .expect_err(url);
        assert_eq!(err.code(), code, "{url}");
        assert_eq!(err.field(), Some("url"));
        assert!(err.to_string().contains(words), "{url}: {err}");
    }
    let err = core
        .add_webhook(hook("bad", "https://example.com/", &["job.done"]))
        .await
        .expect_err("unknown event");
    assert_eq!(err.code(), "invalid_event");
    assert!(
        err.to_string().contains("job.completed, job.failed"),
        "{err}"
    );
    core.add_webhook(hook("ok", "https://example.com/", &[]))
        .await
        .expect("add");
    let err = core
        .add_webhook(hook("OK", "https://example.com/", &[]))
        .await
        .expect_err("dup");
    assert_eq!(err.code(), "webhook_name_taken");
    assert!(core.list_webhooks().await.expect("list").len() == 1);
    let hook = core.webhook("ok").await.expect("get");
    assert_eq!(hook.events, ["*"]);
    assert!(hook.enabled && !hook.has_secret);
}

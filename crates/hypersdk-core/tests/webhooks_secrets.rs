//! Webhook secrets against the real OS keyring (run inside
//! `scripts/lib/with-session.sh`, as `scripts/test.sh` does): the signature
//! verifies with an independent implementation (Python's `hmac`), secret
//! header values reach only their header, and no secret — signing secret,
//! secret header, connection password — appears in any body, any other
//! header, or the database. `secret-tool` is the independent judge of what
//! the keyring holds.

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::receiver::{Receiver, always};
use common::{export_request, hook, open, succeeds, wait_for_state, wait_settled};
use hypersdk_core::model::{ConnectionInput, JobState, ProviderKind, Secret};
use hypersdk_core::secrets::KEYRING_SERVICE;
use hypersdk_core::webhooks::{DeliveryStatus, WebhookHeaderInput, WebhookSettings};

fn secret_tool_lookup(account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", KEYRING_SERVICE, "username", account])
        .output()
        .expect("secret-tool runs (apt libsecret-tools)");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Verifies `X-HyperSDK-Signature` the way a receiver would, in Python.
fn python_verifies(secret: &str, header: &str, body: &str) -> bool {
    let script = r#"
import hmac, hashlib, sys
secret, header, body = sys.argv[1], sys.argv[2], sys.stdin.buffer.read()
parts = dict(p.split("=", 1) for p in header.split(","))
expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
sys.exit(0 if hmac.compare_digest(expected, parts["v1"]) else 1)
"#;
    let mut child = Command::new("python3")
        .args(["-c", script, secret, header])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(body.as_bytes()).expect("write body");
    }
    child.wait().expect("python3 exit").success()
}

fn files_containing(dir: &std::path::Path, needle: &str) -> Vec<std::path::PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
            {
                hits.push(p);
            }
        }
    }
    hits
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_deliveries_verify_independently_and_never_carry_a_secret() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    let signing = format!("whsec-{nonce}-signing");
    let token = format!("tok-{nonce}-bearer");
    let password = format!("pw-{nonce}-connection");

    // A connection with a password, so one more secret exists to leak.
    core.add_connection(ConnectionInput {
        kind: ProviderKind::Vsphere,
        name: "vc".into(),
        endpoint: "vc.example.com".into(),
        username: "administrator@vsphere.local".into(),
        secret: Some(Secret::new(password.clone())),
        secret_options: Default::default(),
        options: BTreeMap::new(),
        tls_fingerprint: None,
    })
    .await
    .expect("connection");

    let receiver = Receiver::start(always(200)).await;
    let mut input = hook("signed", &receiver.url, &["*"]);
    input.signing_secret = Some(Secret::new(signing.clone()));
    input.headers = vec![
        WebhookHeaderInput {
            name: "Authorization".into(),
            value: Secret::new(format!("Bearer {token}")),
            secret: true,
        },
        WebhookHeaderInput {
            name: "X-Team".into(),
            value: Secret::new("ops"),
            secret: false,
        },
    ];
    let saved = core.add_webhook(input).await.expect("add");
    assert!(saved.has_secret);
    let auth = saved
        .headers
        .iter()
        .find(|h| h.name == "Authorization")
        .expect("auth header");
    assert!(auth.secret && auth.value.is_none(), "{auth:?}");
    let saved_json = serde_json::to_string(&saved).expect("json");
    assert!(!saved_json.contains(&token) && !saved_json.contains(&signing));
    assert_eq!(
        secret_tool_lookup(&format!("webhook:{}", saved.id)).as_deref(),
        Some(signing.as_str())
    );
    assert_eq!(
        secret_tool_lookup(&format!("webhook:{}:header:authorization", saved.id)).as_deref(),
        Some(format!("Bearer {token}").as_str())
    );

    tokio::spawn(Arc::clone(&core).run_webhooks());
    let job = core
        .submit_job(export_request("db01"), succeeds("/exports/db01.ova"))
        .await
        .expect("submit");
    wait_for_state(&core, &job.id, JobState::Succeeded).await;
    let test = core.test_webhook("signed").await.expect("test event");
    assert!(test.ok, "{test:?}");
    let got = receiver.wait_for(4, Duration::from_secs(15)).await;
    wait_settled(&core, "signed", Duration::from_secs(15)).await;

    let now = chrono::Utc::now().timestamp();
    for r in &got {
        let signature = r.header("x-hypersdk-signature").expect("signed");
        assert!(
            python_verifies(&signing, signature, &r.body),
            "Python's hmac rejects {signature} for {}",
            r.body
        );
        assert!(!python_verifies("wrong-secret", signature, &r.body));
        let t: i64 = signature
            .trim_start_matches("t=")
            .split(',')
            .next()
            .and_then(|t| t.parse().ok())
            .expect("t=");
        assert!((now - t).abs() < 120, "t is the send time: {t} vs {now}");
        assert_eq!(
            r.header("authorization"),
            Some(format!("Bearer {token}").as_str())
        );
        assert_eq!(r.header("x-team"), Some("ops"));
        for secret in [&signing, &token, &password] {
            assert!(
                !r.body.contains(secret.as_str()),
                "a secret in the body: {}",
                r.body
            );
            for (name, value) in &r.headers {
                if name == "authorization" && secret == &token {
                    continue;
                }
                assert!(
                    !value.contains(secret.as_str()),
                    "a secret in header {name}: {value}"
                );
            }
        }
    }
    // Nor in the database, the logs or anything else under the data dir.
    for secret in [&signing, &token, &password] {
        assert_eq!(
            files_containing(dir.path(), secret),
            Vec::<std::path::PathBuf>::new()
        );
    }

    // Removing the hook removes its keyring entries.
    core.remove_webhook("signed").await.expect("remove");
    assert_eq!(secret_tool_lookup(&format!("webhook:{}", saved.id)), None);
    assert_eq!(
        secret_tool_lookup(&format!("webhook:{}:header:authorization", saved.id)),
        None
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updating_keeps_or_replaces_secrets_as_asked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    let receiver = Receiver::start(always(200)).await;
    let mut input = hook("u", &receiver.url, &["*"]);
    input.signing_secret = Some(Secret::new("first-secret"));
    input.headers = vec![WebhookHeaderInput {
        name: "X-Api-Key".into(),
        value: Secret::new("key-1"),
        secret: true,
    }];
    let saved = core.add_webhook(input).await.expect("add");

    // Same secret header with an empty value and no signing secret: both kept.
    let mut edit = hook("u2", &receiver.url, &["job.failed"]);
    edit.headers = vec![WebhookHeaderInput {
        name: "x-api-key".into(),
        value: Secret::new(""),
        secret: true,
    }];
    let updated = core.update_webhook("u", edit).await.expect("update");
    assert_eq!(updated.name, "u2");
    assert!(updated.has_secret);
    core.test_webhook("u2").await.expect("test");
    let r = receiver.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(r[0].header("x-api-key"), Some("key-1"));
    assert!(python_verifies(
        "first-secret",
        r[0].header("x-hypersdk-signature").expect("sig"),
        &r[0].body
    ));

    // Header dropped, signing secret removed (empty): keyring entries go.
    let mut edit = hook("u2", &receiver.url, &["job.failed"]);
    edit.signing_secret = Some(Secret::new(""));
    let updated = core.update_webhook("u2", edit).await.expect("update");
    assert!(!updated.has_secret && updated.headers.is_empty());
    assert_eq!(secret_tool_lookup(&format!("webhook:{}", saved.id)), None);
    assert_eq!(
        secret_tool_lookup(&format!("webhook:{}:header:x-api-key", saved.id)),
        None
    );
    core.test_webhook("u2").await.expect("test");
    let r = receiver.wait_for(2, Duration::from_secs(5)).await;
    assert!(r[1].header("x-hypersdk-signature").is_none());
    assert!(r[1].header("x-api-key").is_none());

    // A new secret header needs a value.
    let mut edit = hook("u2", &receiver.url, &[]);
    edit.headers = vec![WebhookHeaderInput {
        name: "X-New".into(),
        value: Secret::new(""),
        secret: true,
    }];
    let err = core.update_webhook("u2", edit).await.expect_err("no value");
    assert_eq!(err.code(), "invalid_header");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_events_are_rate_limited_per_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    let core = open(dir.path());
    core.update_webhook_settings(WebhookSettings {
        progress_interval_seconds: 5,
        ..WebhookSettings::default()
    })
    .await
    .expect("settings");
    let receiver = Receiver::start(always(200)).await;
    core.add_webhook(hook("p", &receiver.url, &["job.progress", "job.completed"]))
        .await
        .expect("add");
    tokio::spawn(Arc::clone(&core).run_webhooks());
    let job = core
        .submit_job(
            export_request("big"),
            Box::new(|ctx: hypersdk_core::jobs::JobContext| {
                Box::pin(async move {
                    ctx.progress
                        .set_disks([("disk1.vmdk".to_owned(), Some(13_000))]);
                    // 6.5 s of progress, reported every 50 ms.
                    for i in 1..=130u64 {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        ctx.progress.disk_bytes(0, i * 100);
                    }
                    Ok(hypersdk_core::jobs::JobOutcome::default())
                })
            }),
        )
        .await
        .expect("submit");
    wait_for_state(&core, &job.id, JobState::Succeeded).await;
    let d = wait_settled(&core, "p", Duration::from_secs(15)).await;
    let mut events: Vec<&str> = d.iter().map(|d| d.event.as_str()).collect();
    events.reverse();
    assert_eq!(
        events,
        ["job.progress", "job.completed"],
        "one per 5 s, then the end"
    );
    assert!(d.iter().all(|d| d.status == DeliveryStatus::Delivered));
    let progress: serde_json::Value = serde_json::from_str(&d[1].payload).expect("json");
    let data = &progress["data"];
    assert!(
        data["duration_seconds"].as_f64().expect("duration") >= 4.9,
        "{data}"
    );
    assert!(data["bytes"].as_u64().expect("bytes") > 0);
    assert_eq!(data["progress"]["bytes_total"], 13_000);
}

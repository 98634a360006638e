//! Helpers shared by the webhook integration tests.

#![allow(dead_code)] // Each test file uses part of this module.

pub mod receiver;

use std::sync::Arc;
use std::time::{Duration, Instant};

use hypersdk_core::jobs::{JobContext, JobOutcome, JobWork, NewJob};
use hypersdk_core::model::{Job, JobKind, JobResult, JobState};
use hypersdk_core::providers::ProviderRegistry;
use hypersdk_core::webhooks::{
    DeliveryFilter, DeliveryStatus, WebhookDelivery, WebhookInput, WebhookSettings,
};
use hypersdk_core::{Core, CoreError, Paths};

pub fn open(dir: &std::path::Path) -> Arc<Core> {
    Arc::new(Core::open(Paths::in_dir(dir), ProviderRegistry::default()).expect("open core"))
}

/// Retries fast so tests take seconds: first retry within 100 ms, at most 1 s.
pub async fn fast_retries(core: &Core) {
    core.update_webhook_settings(WebhookSettings {
        retry_base_ms: 100,
        retry_cap_ms: 1_000,
        ..WebhookSettings::default()
    })
    .await
    .expect("settings");
}

pub fn hook(name: &str, url: &str, events: &[&str]) -> WebhookInput {
    WebhookInput {
        name: name.into(),
        url: url.into(),
        events: events.iter().map(|e| (*e).to_owned()).collect(),
        headers: vec![],
        timeout_ms: Some(2_000),
        max_attempts: Some(10),
        signing_secret: None,
    }
}

pub fn export_request(vm: &str) -> NewJob {
    NewJob {
        name: format!("Export {vm}"),
        kind: JobKind::Export,
        connection_id: None,
        request: serde_json::json!({
            "vm_path": format!("/DC0/vm/{vm}"),
            "format": { "package": "ova" },
        }),
    }
}

/// Work that succeeds at once with an artefact.
pub fn succeeds(path: &str) -> JobWork {
    let path = path.to_owned();
    Box::new(move |_ctx: JobContext| {
        Box::pin(async move {
            Ok(JobOutcome {
                summary: "done".into(),
                result: Some(JobResult {
                    path,
                    files: vec!["vm.ovf".into(), "vm-disk1.vmdk".into(), "vm.mf".into()],
                    bytes: 123_456,
                    manifest_algorithm: "sha256".into(),
                    verified: true,
                    disk_checks: Vec::new(),
                }),
            })
        })
    })
}

pub fn fails(code: &'static str) -> JobWork {
    Box::new(move |_ctx: JobContext| {
        Box::pin(async move {
            Err(CoreError::Remote {
                code,
                message: "the destination disk is full".into(),
                retryable: true,
            })
        })
    })
}

/// Work that runs until cancelled (or its process dies).
pub fn runs_forever() -> JobWork {
    Box::new(move |ctx: JobContext| {
        Box::pin(async move {
            ctx.cancel.cancelled().await;
            Err(CoreError::Cancelled)
        })
    })
}

pub async fn wait_for_state(core: &Core, id: &str, want: JobState) -> Job {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let job = core.job(id).await.expect("job").job;
        if job.state == want {
            return job;
        }
        assert!(
            Instant::now() < deadline,
            "job {id} never reached {want}: {job:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn deliveries(core: &Core, webhook: &str) -> Vec<WebhookDelivery> {
    core.webhook_deliveries(DeliveryFilter {
        webhook: Some(webhook.into()),
        ..DeliveryFilter::default()
    })
    .await
    .expect("deliveries")
}

/// Waits until every delivery of `webhook` has left `pending`.
pub async fn wait_settled(core: &Core, webhook: &str, timeout: Duration) -> Vec<WebhookDelivery> {
    let deadline = Instant::now() + timeout;
    loop {
        let all = deliveries(core, webhook).await;
        if !all.is_empty() && all.iter().all(|d| d.status != DeliveryStatus::Pending) {
            return all;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries still pending after {timeout:?}: {all:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

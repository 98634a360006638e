//! The delivery worker: claims due outbox rows, sends them, records outcomes.
//!
//! Rules (see `store/webhooks.rs` for how the claim enforces them):
//! - at most [`MAX_IN_FLIGHT`] requests at once per process;
//! - a job's events reach each webhook in commit order: the next one is not
//!   claimed until the previous one is delivered or dead;
//! - a row is leased (timeout + 30 s) while it is being sent; a process that
//!   dies mid-send loses its lease at once (its runner lock is free), so the
//!   row is retried by whichever process runs the worker next — the receiver
//!   may see that event twice and dedupes by `X-HyperSDK-Event-Id`;
//! - the worker sleeps until the earliest due row (at most a second, so rows
//!   queued by another process are noticed) and is woken early by job state
//!   changes, redeliveries and enabled hooks.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinSet;

use super::delivery::{self, Attempt, Outcome, Sent, load_target};
use super::net::Clients;
use super::payload;
use super::{WebhookEvent, WebhookSettings, WebhookTestResult};
use crate::Core;
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::jobs::{blocking, runner};
use crate::store::{AttemptRecord, Claimed, Next, WebhookRow};

/// Requests in flight at once, per process.
const MAX_IN_FLIGHT: usize = 8;
/// The longest the worker sleeps without looking at the database.
const POLL: Duration = Duration::from_secs(1);
/// The shortest sleep, so a row that is due but not claimable (its job's
/// earlier event is still in flight elsewhere) cannot spin the loop.
const MIN_SLEEP: Duration = Duration::from_millis(20);
const PRUNE_EVERY: Duration = Duration::from_secs(60 * 60);
/// Finished deliveries are kept this long for the delivery log.
const KEEP_FINISHED_DAYS: i64 = 30;

pub(super) async fn run(core: Arc<Core>) {
    let clients = match Clients::new() {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(error = %e, "webhook deliveries are disabled: cannot build the HTTP client");
            return;
        }
    };
    spawn_waker(&core);
    let mut tasks: JoinSet<i64> = JoinSet::new();
    let mut by_task: HashMap<tokio::task::Id, i64> = HashMap::new();
    let mut in_flight: HashSet<i64> = HashSet::new();
    let mut last_prune: Option<tokio::time::Instant> = None;
    loop {
        let settings = match core.webhook_settings().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read webhook settings; using the defaults");
                WebhookSettings::default()
            }
        };
        // Another process may have changed the interval.
        core.jobs
            .set_webhook_progress_interval(settings.progress_interval_seconds);

        let room = MAX_IN_FLIGHT.saturating_sub(in_flight.len());
        match claim(&core, room, &in_flight).await {
            Ok(claimed) => {
                for c in claimed {
                    let id = c.id;
                    in_flight.insert(id);
                    let handle =
                        tasks.spawn(deliver(Arc::clone(&core), clients.clone(), settings, c));
                    by_task.insert(handle.id(), id);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot claim webhook deliveries"),
        }

        if last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(tokio::time::Instant::now());
            prune(&core).await;
        }

        let sleep = if in_flight.len() >= MAX_IN_FLIGHT {
            // Full: a finishing task wakes us.
            POLL
        } else {
            next_sleep(&core).await
        };
        tokio::select! {
            () = tokio::time::sleep(sleep) => {}
            () = core.webhook_wake.notified() => {}
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => {
                let task = match &done {
                    Ok((task, _)) => *task,
                    Err(e) => e.id(),
                };
                if let Err(e) = &done {
                    // The row keeps its lease until it expires, then is retried.
                    tracing::error!(error = %e, "a webhook delivery task failed");
                }
                if let Some(id) = by_task.remove(&task) {
                    in_flight.remove(&id);
                }
            }
        }
    }
}

/// Job state changes queue outbox rows in this process: look at once rather
/// than at the next poll. (Progress events are not worth a wake-up.)
fn spawn_waker(core: &Arc<Core>) {
    let mut rx = core.bus.subscribe();
    let wake = Arc::clone(&core.webhook_wake);
    tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(CoreEvent::JobUpdated { .. }) | Err(RecvError::Lagged(_)) => wake.notify_one(),
                Ok(_) => {}
                Err(RecvError::Closed) => break,
            }
        }
    });
}

async fn claim(core: &Arc<Core>, room: usize, in_flight: &HashSet<i64>) -> Result<Vec<Claimed>> {
    if room == 0 {
        return Ok(Vec::new());
    }
    let store = Arc::clone(&core.store);
    let runner_id = core.runner.id().to_owned();
    let runners_dir = core.paths.runners_dir();
    let in_flight = in_flight.clone();
    blocking(move || {
        let alive = |owner: &str| runner::is_alive(&runners_dir, owner);
        store.claim_deliveries(
            &runner_id,
            Utc::now().timestamp_millis(),
            room,
            &in_flight,
            &alive,
        )
    })
    .await
}

async fn next_sleep(core: &Core) -> Duration {
    let now = Utc::now().timestamp_millis();
    match core
        .with_store(move |store| store.next_delivery_due_ms(now))
        .await
    {
        Ok(Some(due)) => {
            let ms = u64::try_from(due.saturating_sub(now)).unwrap_or(0);
            Duration::from_millis(ms).clamp(MIN_SLEEP, POLL)
        }
        Ok(None) => POLL,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read when the next webhook delivery is due");
            POLL
        }
    }
}

async fn prune(core: &Core) {
    let before = Utc::now() - chrono::Duration::days(KEEP_FINISHED_DAYS);
    match core
        .with_store(move |store| store.prune_deliveries(before))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "old webhook deliveries removed from the log"),
        Err(e) => tracing::warn!(error = %e, "cannot prune old webhook deliveries"),
    }
}

/// Sends one claimed delivery and records the outcome. Returns its id.
async fn deliver(core: Arc<Core>, clients: Clients, settings: WebhookSettings, c: Claimed) -> i64 {
    let number = c.attempts.saturating_add(1);
    let keyring = core.keyring.clone();
    let (url, headers, secret_ref, timeout_ms) = (
        c.url.clone(),
        c.headers.clone(),
        c.secret_ref.clone(),
        c.timeout_ms,
    );
    let target = blocking(move || {
        let headers = headers.map_err(CoreError::Internal)?;
        load_target(&keyring, &url, &headers, secret_ref.as_deref(), timeout_ms)
    })
    .await;
    let sent = match target {
        Ok(target) => {
            delivery::send(
                &clients,
                settings.block_private_destinations,
                &target,
                Attempt {
                    delivery_id: c.id,
                    event_id: &c.event_id,
                    event: &c.event,
                    number,
                    body: &c.payload,
                },
            )
            .await
        }
        Err(e) => Sent::local_failure(e.to_string()),
    };
    let next = decide(&sent, number, c.max_attempts, &settings);
    crate::metrics::webhook_delivery(matches!(next, Next::Delivered));
    let record = AttemptRecord {
        at: sent.at,
        status_code: sent.status_code(),
        latency_ms: sent.latency_ms,
        error: sent.error(),
    };
    match &next {
        Next::Delivered => tracing::info!(
            delivery = c.id, webhook = %c.webhook_id, event = %c.event, event_id = %c.event_id, attempt = number,
            status = record.status_code, latency_ms = record.latency_ms, "webhook delivered"
        ),
        Next::Retry { at_ms } => tracing::info!(
            delivery = c.id, webhook = %c.webhook_id, event = %c.event, attempt = number, status = record.status_code,
            error = record.error.as_deref().unwrap_or(""),
            retry_in_ms = at_ms - Utc::now().timestamp_millis(), "webhook attempt failed; will retry"
        ),
        Next::Dead | Next::Gone { .. } => tracing::warn!(
            delivery = c.id, webhook = %c.webhook_id, event = %c.event, attempt = number, status = record.status_code,
            error = record.error.as_deref().unwrap_or(""), "webhook delivery gave up (dead)"
        ),
    }
    let store = Arc::clone(&core.store);
    let runner_id = core.runner.id().to_owned();
    let id = c.id;
    match blocking(move || store.finish_delivery(id, &runner_id, &record, &next)).await {
        Ok(true) => {}
        Ok(false) => tracing::info!(
            delivery = id,
            "delivery changed while it was being sent (redelivered, cancelled or removed); outcome not recorded"
        ),
        Err(e) => tracing::error!(delivery = id, error = %e, "cannot record a webhook attempt"),
    }
    core.bus.publish(CoreEvent::WebhooksChanged);
    id
}

/// What follows an attempt: 2xx delivered; 410 dead and the hook disabled;
/// otherwise dead after the last attempt, else a retry after `Retry-After`
/// when the receiver sent one, or after the jittered backoff.
fn decide(sent: &Sent, number: u32, max_attempts: u32, settings: &WebhookSettings) -> Next {
    match &sent.outcome {
        Outcome::Delivered { .. } => Next::Delivered,
        Outcome::Gone { status } => Next::Gone {
            reason: format!(
                "the receiver answered {status} Gone on {}; enable the webhook again once it accepts events",
                sent.at.format("%Y-%m-%d %H:%M:%S UTC")
            ),
        },
        Outcome::Failed { .. } if number >= max_attempts => Next::Dead,
        Outcome::Failed { retry_after, .. } => {
            let wait = retry_after.unwrap_or_else(|| settings.backoff().delay(number));
            let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
            Next::Retry {
                at_ms: Utc::now().timestamp_millis().saturating_add(wait_ms),
            }
        }
    }
}

/// Sends `webhook.test` once, synchronously, and logs it as a delivery.
pub(super) async fn send_test(
    core: &Core,
    row: &WebhookRow,
    settings: &WebhookSettings,
) -> Result<WebhookTestResult> {
    let now = Utc::now();
    let event_id = uuid::Uuid::new_v4().to_string();
    let data = serde_json::json!({
        "webhook_id": row.webhook.id,
        "webhook_name": row.webhook.name,
        "message": "This is a test event from HyperSDK Desktop.",
    });
    let body = payload::envelope(WebhookEvent::WebhookTest, now, &data)?;
    let keyring = core.keyring.clone();
    let (url, headers, secret_ref, timeout_ms) = (
        row.webhook.url.clone(),
        row.headers.clone(),
        row.secret_ref.clone(),
        row.webhook.timeout_ms,
    );
    let target =
        blocking(move || load_target(&keyring, &url, &headers, secret_ref.as_deref(), timeout_ms))
            .await?;
    let clients = Clients::new()?;
    let sent = delivery::send(
        &clients,
        settings.block_private_destinations,
        &target,
        Attempt {
            // Not in the outbox yet: the row is written with the outcome.
            delivery_id: 0,
            event_id: &event_id,
            event: WebhookEvent::WebhookTest.as_str(),
            number: 1,
            body: &body,
        },
    )
    .await;
    let ok = matches!(sent.outcome, Outcome::Delivered { .. });
    let record = AttemptRecord {
        at: sent.at,
        status_code: sent.status_code(),
        latency_ms: sent.latency_ms,
        error: match &sent.outcome {
            // A test never disables the hook; say what a real event would do.
            Outcome::Gone { status } => Some(format!(
                "HTTP {status} Gone: a real event would be marked dead and the webhook disabled"
            )),
            _ => sent.error(),
        },
    };
    let store = Arc::clone(&core.store);
    let (hook_id, eid, body_owned, rec) = (
        row.webhook.id.clone(),
        event_id.clone(),
        body.clone(),
        record.clone(),
    );
    let delivery_id =
        blocking(move || store.insert_test_delivery(&hook_id, &eid, &body_owned, &rec, ok)).await?;
    Ok(WebhookTestResult {
        ok,
        status_code: record.status_code,
        latency_ms: record.latency_ms,
        error: record.error,
        event_id,
        delivery_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(retry_after: Option<Duration>) -> Sent {
        Sent {
            outcome: Outcome::Failed {
                status: Some(503),
                error: "HTTP 503".into(),
                retry_after,
            },
            at: Utc::now(),
            latency_ms: 3,
        }
    }

    #[test]
    fn outcomes_map_to_the_next_step() {
        let s = WebhookSettings {
            retry_base_ms: 1_000,
            retry_cap_ms: 1_000,
            ..WebhookSettings::default()
        };
        let delivered = Sent {
            outcome: Outcome::Delivered { status: 204 },
            ..failed(None)
        };
        assert_eq!(decide(&delivered, 1, 3, &s), Next::Delivered);
        let gone = Sent {
            outcome: Outcome::Gone { status: 410 },
            ..failed(None)
        };
        assert!(matches!(decide(&gone, 1, 3, &s), Next::Gone { .. }));
        assert_eq!(decide(&failed(None), 3, 3, &s), Next::Dead);
        let now = Utc::now().timestamp_millis();
        match decide(&failed(None), 1, 3, &s) {
            Next::Retry { at_ms } => assert!((now..=now + 1_100).contains(&at_ms), "{at_ms}"),
            other => panic!("{other:?}"),
        }
        // Retry-After wins over the (shorter) backoff.
        match decide(&failed(Some(Duration::from_secs(30))), 1, 3, &s) {
            Next::Retry { at_ms } => assert!(at_ms >= now + 29_900, "{at_ms}"),
            other => panic!("{other:?}"),
        }
    }
}

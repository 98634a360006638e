//! The `webhooks` table and the `webhook_deliveries` outbox.
//!
//! Outbox rows are inserted by [`enqueue_in_tx`] / [`enqueue_job_event`]
//! inside the transaction of the change they announce, so an event exists if
//! and only if its change was committed. The delivery worker then claims rows
//! with a lease (`lease_owner`, `lease_until`) so that two processes sharing
//! the database never send the same row at the same time, and records each
//! attempt's outcome on the row.
//!
//! Scheduling columns (`next_attempt_at`, `lease_until`) are Unix
//! milliseconds, compared in SQL; display timestamps are RFC 3339 text like
//! every other table.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};

use super::Store;
use crate::error::{ApiError, CoreError, Result};
use crate::model::{JobProgress, JobResult, Timestamp};
use crate::webhooks::payload::{self, JobFacts};
use crate::webhooks::{
    DeliveryStatus, DeliverySummary, NewWebhook, Webhook, WebhookDelivery, WebhookEvent,
    WebhookHeader, WebhookSettings, subscribes,
};

const SETTINGS_KEY: &str = "webhooks";
/// A lease outlives the request it covers by this much, so a slow receiver
/// never sees a second process send the same row while the first still waits.
pub(crate) const LEASE_MARGIN_MS: i64 = 30_000;

const HOOK_COLUMNS: &str = "id, name, url, events_json, headers_json, timeout_ms, max_attempts, \
                            enabled, disabled_reason, secret_ref, created_at, updated_at";
const DELIVERY_COLUMNS: &str = "d.id, d.webhook_id, w.name, d.event_id, d.event, d.job_id, \
     d.status, d.attempts, d.next_attempt_at, d.last_attempt_at, d.last_status_code, \
     d.last_error, d.last_latency_ms, d.created_at, d.delivered_at, d.payload_json";

/// A custom header as stored: a plain value, or the keyring account holding it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredHeader {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<String>,
}

/// A webhook with what only the core may see: the keyring references.
#[derive(Debug, Clone)]
pub(crate) struct WebhookRow {
    pub webhook: Webhook,
    pub headers: Vec<StoredHeader>,
    pub secret_ref: Option<String>,
}

/// A delivery the worker has leased and must send.
#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub id: i64,
    pub webhook_id: String,
    pub event_id: String,
    pub event: String,
    pub payload: String,
    /// Attempts already made; this one is number `attempts + 1`.
    pub attempts: u32,
    pub max_attempts: u32,
    pub url: String,
    /// The custom headers, or why they cannot be read (then the attempt
    /// fails on our side instead of one bad row stopping every delivery).
    pub headers: std::result::Result<Vec<StoredHeader>, String>,
    pub timeout_ms: u32,
    pub secret_ref: Option<String>,
}

/// One attempt, as the delivery log shows it.
#[derive(Debug, Clone)]
pub(crate) struct AttemptRecord {
    pub at: Timestamp,
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub error: Option<String>,
}

/// What happens to a delivery after an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    Delivered,
    Retry {
        at_ms: i64,
    },
    Dead,
    /// The receiver answered 410 Gone: this delivery is dead and the webhook
    /// is disabled (its other pending deliveries wait until it is enabled).
    Gone {
        reason: String,
    },
}

/// Announces `event` with `data` to every enabled webhook subscribed to it,
/// inside the caller's transaction — so the event is committed together with
/// the change it announces, or not at all. Returns how many deliveries were
/// queued (0 when nobody listens).
///
/// This is the door for events that are not job state changes (the
/// scheduler's `schedule.triggered` / `schedule.skipped`): call it with the
/// transaction that records the schedule's run. `data` becomes the payload's
/// `data` object verbatim, so it must never hold a secret. When `data` has a
/// string `job_id`, the event is ordered with that job's events (a receiver
/// sees them in commit order). The worker in this process is not woken; it
/// finds the row on its next poll (at most a second later).
pub fn enqueue_in_tx(
    tx: &Transaction<'_>,
    event: WebhookEvent,
    data: &serde_json::Value,
) -> Result<usize> {
    let hooks = subscribers(tx, event)?;
    if hooks.is_empty() {
        return Ok(0);
    }
    let now = Utc::now();
    let job_id = data.get("job_id").and_then(|v| v.as_str());
    let body = payload::envelope(event, now, data)?;
    insert_deliveries(tx, &hooks, event, job_id, &body, now)
}

/// Queues a `job.*` event for the job `job_id`, built from its row as this
/// transaction sees it (so the payload matches the committed state).
pub(crate) fn enqueue_job_event(
    conn: &Connection,
    job_id: &str,
    event: WebhookEvent,
    at: Timestamp,
    progress: Option<&JobProgress>,
) -> Result<usize> {
    let hooks = subscribers(conn, event)?;
    if hooks.is_empty() {
        return Ok(0);
    }
    let facts = job_facts(conn, job_id)?;
    let data = payload::job_data(event, facts, at, progress);
    let body = payload::envelope(event, at, &data)?;
    insert_deliveries(conn, &hooks, event, Some(job_id), &body, at)
}

fn subscribers(conn: &Connection, event: WebhookEvent) -> Result<Vec<String>> {
    let mut stmt = conn.prepare_cached("SELECT id, events_json FROM webhooks WHERE enabled = 1")?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
    let mut out = Vec::new();
    for row in rows {
        let (id, events) = row?;
        // A row this build cannot read must not block every job's state
        // change (this runs inside that transaction): skip it, loudly.
        match serde_json::from_str::<Vec<String>>(&events) {
            Ok(events) if subscribes(&events, event) => out.push(id),
            Ok(_) => {}
            Err(e) => {
                tracing::error!(webhook = %id, error = %e, "webhook has unreadable events; skipped")
            }
        }
    }
    Ok(out)
}

fn insert_deliveries(
    conn: &Connection,
    hooks: &[String],
    event: WebhookEvent,
    job_id: Option<&str>,
    body: &str,
    at: Timestamp,
) -> Result<usize> {
    // One event, one id: every webhook (and every retry) sees the same one.
    let event_id = uuid::Uuid::new_v4().to_string();
    let mut stmt = conn.prepare_cached(
        "INSERT INTO webhook_deliveries \
         (webhook_id, event_id, event, job_id, payload_json, status, attempts, next_attempt_at, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 0, ?6, ?7)",
    )?;
    for hook in hooks {
        stmt.execute(params![
            hook,
            event_id,
            event.as_str(),
            job_id,
            body,
            at.timestamp_millis(),
            at
        ])?;
    }
    Ok(hooks.len())
}

fn job_facts(conn: &Connection, job_id: &str) -> Result<JobFacts> {
    let row = conn
        .query_row(
            "SELECT name, request_json, started_at, finished_at, result_json, error_json \
             FROM jobs WHERE id = ?1",
            [job_id],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<Timestamp>>(2)?,
                    r.get::<_, Option<Timestamp>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            },
        )
        .optional()?
        .ok_or_else(|| CoreError::NotFound {
            what: "job",
            id: job_id.to_owned(),
        })?;
    let (name, request_json, started_at, finished_at, result, error) = row;
    // As above: an unreadable detail makes a poorer payload, never a job
    // stuck in its state.
    let result: Option<JobResult> = result.and_then(|r| {
        serde_json::from_str(&r)
            .map_err(|e| tracing::warn!(job = %job_id, error = %e, "unreadable job result"))
            .ok()
    });
    let error: Option<ApiError> = error.and_then(|r| {
        serde_json::from_str(&r)
            .map_err(|e| tracing::warn!(job = %job_id, error = %e, "unreadable job error"))
            .ok()
    });
    Ok(JobFacts {
        id: job_id.to_owned(),
        name,
        request_json,
        started_at,
        finished_at,
        result,
        error,
    })
}

fn ms_to_time(ms: i64) -> Option<Timestamp> {
    DateTime::from_timestamp_millis(ms)
}

impl Store {
    pub fn webhook_settings(&self) -> Result<WebhookSettings> {
        let conn = self.lock()?;
        let json: Option<String> = conn
            .query_row(
                "SELECT value_json FROM settings WHERE key = ?1",
                [SETTINGS_KEY],
                |r| r.get(0),
            )
            .optional()?;
        match json {
            None => Ok(WebhookSettings::default()),
            Some(json) => serde_json::from_str(&json).map_err(|e| {
                CoreError::Internal(format!("stored webhook settings are unreadable: {e}"))
            }),
        }
    }

    pub fn put_webhook_settings(&self, settings: &WebhookSettings) -> Result<()> {
        let json = serde_json::to_string(settings)
            .map_err(|e| CoreError::Internal(format!("webhook settings: {e}")))?;
        self.lock()?.execute(
            "INSERT INTO settings (key, value_json) VALUES (?1, ?2) \
             ON CONFLICT(key) DO UPDATE SET value_json = excluded.value_json",
            params![SETTINGS_KEY, json],
        )?;
        Ok(())
    }

    pub(crate) fn webhook_name_taken(&self, name: &str, except_id: Option<&str>) -> Result<bool> {
        Ok(self
            .lock()?
            .query_row(
                "SELECT 1 FROM webhooks WHERE name = ?1 AND id IS NOT ?2",
                params![name, except_id],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Inserts the row and runs `before_commit` (the keyring writes) inside
    /// the same transaction: both land, or neither.
    pub(crate) fn insert_webhook(
        &self,
        w: &NewWebhook,
        before_commit: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        tx.execute(
            &format!(
                "INSERT INTO webhooks ({HOOK_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, NULL, ?8, ?9, ?9)"
            ),
            params![
                w.id,
                w.name,
                w.url,
                to_json(&w.events)?,
                to_json(&w.headers)?,
                w.timeout_ms,
                w.max_attempts,
                w.secret_ref,
                w.created_at
            ],
        )
        .map_err(|e| name_conflict(e, &w.name))?;
        before_commit()?;
        tx.commit()?;
        Ok(())
    }

    /// Replaces the configuration; `enabled` and the delivery log are kept.
    pub(crate) fn update_webhook(
        &self,
        w: &NewWebhook,
        now: Timestamp,
        before_commit: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let changed = tx
            .execute(
                "UPDATE webhooks SET name = ?2, url = ?3, events_json = ?4, headers_json = ?5, \
                 timeout_ms = ?6, max_attempts = ?7, secret_ref = ?8, updated_at = ?9 WHERE id = ?1",
                params![
                    w.id,
                    w.name,
                    w.url,
                    to_json(&w.events)?,
                    to_json(&w.headers)?,
                    w.timeout_ms,
                    w.max_attempts,
                    w.secret_ref,
                    now
                ],
            )
            .map_err(|e| name_conflict(e, &w.name))?;
        if changed == 0 {
            return Err(CoreError::NotFound {
                what: "webhook",
                id: w.id.clone(),
            });
        }
        before_commit()?;
        tx.commit()?;
        Ok(())
    }

    /// Deletes the webhook and (by cascade) its deliveries; `before_commit`
    /// removes the keyring entries. If that fails the row stays.
    pub(crate) fn delete_webhook(
        &self,
        id: &str,
        before_commit: impl FnOnce() -> Result<()>,
    ) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let changed = tx.execute("DELETE FROM webhooks WHERE id = ?1", [id])?;
        if changed == 0 {
            return Err(CoreError::NotFound {
                what: "webhook",
                id: id.to_owned(),
            });
        }
        before_commit()?;
        tx.commit()?;
        Ok(())
    }

    pub(crate) fn set_webhook_enabled(
        &self,
        id: &str,
        enabled: bool,
        reason: Option<&str>,
        drop_pending: bool,
    ) -> Result<()> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        set_enabled(&tx, id, enabled, reason, Utc::now())?;
        if drop_pending {
            tx.execute(
                "UPDATE webhook_deliveries SET status = 'cancelled', lease_owner = NULL, \
                 lease_until = NULL WHERE webhook_id = ?1 AND status = 'pending'",
                [id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {HOOK_COLUMNS} FROM webhooks ORDER BY name COLLATE NOCASE"
        ))?;
        let rows = stmt.query_map([], hook_from_row)?;
        let mut out = Vec::new();
        for row in rows {
            let mut hook = row??.webhook;
            add_status(&conn, &mut hook)?;
            out.push(hook);
        }
        Ok(out)
    }

    /// By id, or else by (case-insensitive) name.
    pub(crate) fn find_webhook(&self, id_or_name: &str) -> Result<Option<WebhookRow>> {
        let conn = self.lock()?;
        let found = conn
            .query_row(
                &format!(
                    "SELECT {HOOK_COLUMNS} FROM webhooks WHERE id = ?1 \
                     UNION ALL SELECT {HOOK_COLUMNS} FROM webhooks WHERE name = ?1 LIMIT 1"
                ),
                [id_or_name],
                hook_from_row,
            )
            .optional()?
            .transpose()?;
        match found {
            Some(mut row) => {
                add_status(&conn, &mut row.webhook)?;
                Ok(Some(row))
            }
            None => Ok(None),
        }
    }

    /// Newest first.
    pub fn list_deliveries(
        &self,
        webhook_id: Option<&str>,
        status: Option<DeliveryStatus>,
        job_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>> {
        let conn = self.lock()?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE (?1 IS NULL OR d.webhook_id = ?1) AND (?2 IS NULL OR d.status = ?2) \
             AND (?3 IS NULL OR d.job_id = ?3) ORDER BY d.id DESC LIMIT ?4"
        ))?;
        let rows = stmt.query_map(
            params![
                webhook_id,
                status.map(DeliveryStatus::as_str),
                job_id,
                limit
            ],
            delivery_from_row,
        )?;
        rows.map(|r| r?).collect()
    }

    pub fn get_delivery(&self, id: i64) -> Result<Option<WebhookDelivery>> {
        get_delivery(&*self.lock()?, id)
    }

    /// Queues a finished delivery again with a fresh attempt budget.
    pub(crate) fn redeliver(&self, id: i64, now: Timestamp) -> Result<WebhookDelivery> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let current = get_delivery(&tx, id)?.ok_or_else(|| CoreError::NotFound {
            what: "delivery",
            id: id.to_string(),
        })?;
        if current.status == DeliveryStatus::Pending {
            return Err(CoreError::invalid(
                "delivery",
                format!("delivery {id} is still pending: it is sent as soon as it is due"),
            ));
        }
        tx.execute(
            "UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?2, \
             lease_owner = NULL, lease_until = NULL, delivered_at = NULL WHERE id = ?1",
            params![id, now.timestamp_millis()],
        )?;
        let updated = get_delivery(&tx, id)?
            .ok_or_else(|| CoreError::Internal("redelivered row vanished".into()))?;
        tx.commit()?;
        Ok(updated)
    }

    /// Leases up to `limit` due deliveries for `runner`, oldest due first.
    ///
    /// A row is due when it is pending, its time has come, its webhook is
    /// enabled, and no earlier delivery of the same job to the same webhook
    /// is still pending (per-job order). Its lease must be free, expired, or
    /// held by a process that has died (`owner_alive` says no) — then a crash
    /// mid-send is retried at once instead of after the lease runs out. The
    /// whole claim is one IMMEDIATE transaction, so two processes cannot
    /// claim the same row.
    pub(crate) fn claim_deliveries(
        &self,
        runner: &str,
        now_ms: i64,
        limit: usize,
        in_flight: &HashSet<i64>,
        owner_alive: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<Claimed>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.lock()?;
        // A plain read first: the worker polls every second, and taking the
        // write lock each time would make the app and hyperctl contend for
        // nothing.
        let any_due: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 AND w.enabled = 1)",
            [now_ms],
            |r| r.get(0),
        )?;
        if !any_due {
            return Ok(Vec::new());
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let candidates: Vec<(i64, Option<String>, Option<i64>, u32)> = {
            let mut stmt = tx.prepare_cached(
                "SELECT d.id, d.lease_owner, d.lease_until, w.timeout_ms \
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                 WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 AND w.enabled = 1 \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
                     WHERE e.webhook_id = d.webhook_id AND e.job_id = d.job_id \
                     AND e.status = 'pending' AND e.id < d.id) \
                 ORDER BY d.next_attempt_at, d.id LIMIT ?2",
            )?;
            let window = i64::try_from(limit.saturating_add(in_flight.len())).unwrap_or(i64::MAX);
            let rows = stmt.query_map(params![now_ms, window], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            rows.collect::<rusqlite::Result<_>>()?
        };
        let mut claimed_ids = Vec::new();
        for (id, owner, until, timeout_ms) in candidates {
            if claimed_ids.len() >= limit {
                break;
            }
            if in_flight.contains(&id) {
                continue;
            }
            let free = match (&owner, until) {
                (None, _) | (_, None) => true,
                (Some(_), Some(until)) if until <= now_ms => true,
                (Some(owner), Some(_)) => owner != runner && !owner_alive(owner),
            };
            if !free {
                continue;
            }
            let lease_until = now_ms + i64::from(timeout_ms) + LEASE_MARGIN_MS;
            tx.execute(
                "UPDATE webhook_deliveries SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1",
                params![id, runner, lease_until],
            )?;
            claimed_ids.push(id);
        }
        let mut claimed = Vec::with_capacity(claimed_ids.len());
        {
            let mut stmt = tx.prepare_cached(
                "SELECT d.id, d.webhook_id, d.event_id, d.event, d.payload_json, d.attempts, \
                 w.max_attempts, w.url, w.headers_json, w.timeout_ms, w.secret_ref \
                 FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id WHERE d.id = ?1",
            )?;
            for id in claimed_ids {
                let row = stmt.query_row([id], |r| {
                    Ok((
                        Claimed {
                            id: r.get(0)?,
                            webhook_id: r.get(1)?,
                            event_id: r.get(2)?,
                            event: r.get(3)?,
                            payload: r.get(4)?,
                            attempts: r.get(5)?,
                            max_attempts: r.get(6)?,
                            url: r.get(7)?,
                            headers: Ok(Vec::new()),
                            timeout_ms: r.get(9)?,
                            secret_ref: r.get(10)?,
                        },
                        r.get::<_, String>(8)?,
                    ))
                })?;
                let (mut c, headers) = row;
                c.headers = serde_json::from_str(&headers)
                    .map_err(|e| format!("the webhook's stored headers are unreadable: {e}"));
                claimed.push(c);
            }
        }
        tx.commit()?;
        Ok(claimed)
    }

    /// Records an attempt's outcome, if `runner` still holds the lease (a
    /// delivery redelivered, cancelled or removed meanwhile is left alone).
    pub(crate) fn finish_delivery(
        &self,
        id: i64,
        runner: &str,
        attempt: &AttemptRecord,
        next: &Next,
    ) -> Result<bool> {
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let (status, next_ms, delivered_at) = match next {
            Next::Delivered => ("delivered", None, Some(attempt.at)),
            Next::Retry { at_ms } => ("pending", Some(*at_ms), None),
            Next::Dead | Next::Gone { .. } => ("dead", None, None),
        };
        let changed = tx.execute(
            "UPDATE webhook_deliveries SET status = ?3, attempts = attempts + 1, \
             next_attempt_at = COALESCE(?4, next_attempt_at), lease_owner = NULL, lease_until = NULL, \
             last_attempt_at = ?5, last_status_code = ?6, last_error = ?7, last_latency_ms = ?8, \
             delivered_at = ?9 \
             WHERE id = ?1 AND lease_owner = ?2 AND status = 'pending'",
            params![
                id,
                runner,
                status,
                next_ms,
                attempt.at,
                attempt.status_code,
                attempt.error,
                attempt.latency_ms,
                delivered_at
            ],
        )?;
        if changed == 1
            && let Next::Gone { reason } = next
        {
            let hook: String = tx.query_row(
                "SELECT webhook_id FROM webhook_deliveries WHERE id = ?1",
                [id],
                |r| r.get(0),
            )?;
            set_enabled(&tx, &hook, false, Some(reason), attempt.at)?;
        }
        tx.commit()?;
        Ok(changed == 1)
    }

    /// Records a `webhook.test` delivery that was sent synchronously.
    pub(crate) fn insert_test_delivery(
        &self,
        webhook_id: &str,
        event_id: &str,
        body: &str,
        attempt: &AttemptRecord,
        delivered: bool,
    ) -> Result<i64> {
        let conn = self.lock()?;
        conn.execute(
            "INSERT INTO webhook_deliveries (webhook_id, event_id, event, job_id, payload_json, status, \
             attempts, next_attempt_at, last_attempt_at, last_status_code, last_error, last_latency_ms, \
             created_at, delivered_at) \
             VALUES (?1, ?2, ?3, NULL, ?4, ?5, 1, ?6, ?7, ?8, ?9, ?10, ?7, ?11)",
            params![
                webhook_id,
                event_id,
                WebhookEvent::WebhookTest.as_str(),
                body,
                if delivered { "delivered" } else { "dead" },
                attempt.at.timestamp_millis(),
                attempt.at,
                attempt.status_code,
                attempt.error,
                attempt.latency_ms,
                delivered.then_some(attempt.at)
            ],
        )?;
        Ok(conn.last_insert_rowid())
    }

    /// When the worker should look again: the earliest due time among
    /// deliveries it could claim (heads of their job's queue, lease free).
    pub(crate) fn next_delivery_due_ms(&self, now_ms: i64) -> Result<Option<i64>> {
        Ok(self.lock()?.query_row(
            "SELECT MIN(d.next_attempt_at) FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.status = 'pending' AND w.enabled = 1 \
             AND (d.lease_until IS NULL OR d.lease_until <= ?1) \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
                 WHERE e.webhook_id = d.webhook_id AND e.job_id = d.job_id \
                 AND e.status = 'pending' AND e.id < d.id)",
            [now_ms],
            |r| r.get(0),
        )?)
    }

    /// Forgets finished deliveries created before `before`; pending ones are
    /// kept whatever their age.
    pub(crate) fn prune_deliveries(&self, before: Timestamp) -> Result<usize> {
        Ok(self.lock()?.execute(
            "DELETE FROM webhook_deliveries WHERE status != 'pending' AND created_at < ?1",
            [before],
        )?)
    }

    /// Records the progress snapshot and, when `announce` is set and the job
    /// is still running, queues a `job.progress` event — in one transaction,
    /// so a late snapshot can never be announced after the job's end.
    pub(crate) fn update_job_progress_and_announce(
        &self,
        id: &str,
        progress: &JobProgress,
    ) -> Result<usize> {
        let json = serde_json::to_string(progress)
            .map_err(|e| CoreError::Internal(format!("job progress: {e}")))?;
        let mut conn = self.lock()?;
        let tx = conn.transaction()?;
        let running = tx.execute(
            "UPDATE jobs SET progress_json = ?2 WHERE id = ?1 AND state = 'running'",
            params![id, json],
        )?;
        let queued = if running == 1 {
            enqueue_job_event(
                &tx,
                id,
                WebhookEvent::JobProgress,
                Utc::now(),
                Some(progress),
            )?
        } else {
            0
        };
        tx.commit()?;
        Ok(queued)
    }
}

fn set_enabled(
    conn: &Connection,
    id: &str,
    enabled: bool,
    reason: Option<&str>,
    now: Timestamp,
) -> Result<()> {
    let changed = conn.execute(
        "UPDATE webhooks SET enabled = ?2, disabled_reason = ?3, updated_at = ?4 WHERE id = ?1",
        params![id, enabled, if enabled { None } else { reason }, now],
    )?;
    if changed == 0 {
        return Err(CoreError::NotFound {
            what: "webhook",
            id: id.to_owned(),
        });
    }
    Ok(())
}

fn get_delivery(conn: &Connection, id: i64) -> Result<Option<WebhookDelivery>> {
    conn.query_row(
        &format!(
            "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
             WHERE d.id = ?1"
        ),
        [id],
        delivery_from_row,
    )
    .optional()?
    .transpose()
}

fn add_status(conn: &Connection, hook: &mut Webhook) -> Result<()> {
    hook.last_delivery = conn
        .query_row(
            "SELECT id, event, status, last_status_code, last_attempt_at, last_error \
             FROM webhook_deliveries WHERE webhook_id = ?1 AND last_attempt_at IS NOT NULL \
             ORDER BY last_attempt_at DESC, id DESC LIMIT 1",
            [&hook.id],
            |r| {
                let status: String = r.get(2)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    status,
                    r.get::<_, Option<u16>>(3)?,
                    r.get::<_, Timestamp>(4)?,
                    r.get::<_, Option<String>>(5)?,
                ))
            },
        )
        .optional()?
        .map(|(delivery_id, event, status, status_code, at, error)| {
            Ok::<_, CoreError>(DeliverySummary {
                delivery_id,
                event,
                status: parse_status(&status)?,
                status_code,
                at,
                error,
            })
        })
        .transpose()?;
    let (pending, dead): (u32, u32) = conn.query_row(
        "SELECT COALESCE(SUM(status = 'pending'), 0), COALESCE(SUM(status = 'dead'), 0) \
         FROM webhook_deliveries WHERE webhook_id = ?1",
        [&hook.id],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?;
    hook.pending = pending;
    hook.dead = dead;
    Ok(())
}

fn parse_status(s: &str) -> Result<DeliveryStatus> {
    DeliveryStatus::parse(s)
        .ok_or_else(|| CoreError::Internal(format!("unknown delivery status {s}")))
}

fn to_json<T: Serialize>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| CoreError::Internal(format!("webhook: {e}")))
}

fn name_conflict(err: rusqlite::Error, name: &str) -> CoreError {
    match err.sqlite_error() {
        Some(e) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE => {
            CoreError::WebhookNameTaken(name.to_owned())
        }
        _ => CoreError::Database(err),
    }
}

/// Two-step decoding, as for connections: a row this build cannot read is a
/// clear error, not a panic.
fn hook_from_row(row: &Row<'_>) -> rusqlite::Result<Result<WebhookRow>> {
    let id: String = row.get(0)?;
    let events: String = row.get(3)?;
    let headers: String = row.get(4)?;
    let secret_ref: Option<String> = row.get(9)?;
    let decoded = (|| {
        let events: Vec<String> = serde_json::from_str(&events)
            .map_err(|e| CoreError::Internal(format!("webhook {id} events: {e}")))?;
        let headers: Vec<StoredHeader> = serde_json::from_str(&headers)
            .map_err(|e| CoreError::Internal(format!("webhook {id} headers: {e}")))?;
        Ok((events, headers))
    })();
    let (events, headers) = match decoded {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    let webhook = Webhook {
        id,
        name: row.get(1)?,
        url: row.get(2)?,
        events,
        headers: headers
            .iter()
            .map(|h| WebhookHeader {
                name: h.name.clone(),
                value: h.value.clone(),
                secret: h.secret_ref.is_some(),
            })
            .collect(),
        timeout_ms: row.get(5)?,
        max_attempts: row.get(6)?,
        enabled: row.get(7)?,
        disabled_reason: row.get(8)?,
        has_secret: secret_ref.is_some(),
        created_at: row.get(10)?,
        updated_at: row.get(11)?,
        last_delivery: None,
        pending: 0,
        dead: 0,
    };
    Ok(Ok(WebhookRow {
        webhook,
        headers,
        secret_ref,
    }))
}

fn delivery_from_row(row: &Row<'_>) -> rusqlite::Result<Result<WebhookDelivery>> {
    let status: String = row.get(6)?;
    let status = match parse_status(&status) {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    let next_ms: i64 = row.get(8)?;
    Ok(Ok(WebhookDelivery {
        id: row.get(0)?,
        webhook_id: row.get(1)?,
        webhook_name: row.get(2)?,
        event_id: row.get(3)?,
        event: row.get(4)?,
        job_id: row.get(5)?,
        status,
        attempts: row.get(7)?,
        next_attempt_at: (status == DeliveryStatus::Pending)
            .then(|| ms_to_time(next_ms))
            .flatten(),
        last_attempt_at: row.get(9)?,
        last_status_code: row.get(10)?,
        last_error: row.get(11)?,
        last_latency_ms: row.get(12)?,
        created_at: row.get(13)?,
        delivered_at: row.get(14)?,
        payload: row.get(15)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{JobKind, JobState};
    use crate::store::NewJobRow;
    use crate::store::test_support::temp_store as store;

    fn hook(store: &Store, name: &str, events: &[&str]) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        store
            .insert_webhook(
                &NewWebhook {
                    id: id.clone(),
                    name: name.into(),
                    url: "http://127.0.0.1:9/hook".into(),
                    events: events.iter().map(|e| (*e).to_owned()).collect(),
                    headers: vec![],
                    timeout_ms: 1_000,
                    max_attempts: 3,
                    secret_ref: None,
                    created_at: Utc::now(),
                },
                || Ok(()),
            )
            .expect("insert hook");
        id
    }

    fn job(store: &Store, name: &str) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        store
            .insert_job(&NewJobRow {
                id: &id,
                name,
                kind: JobKind::Export,
                connection_id: None,
                request_json: r#"{"vm_path":"/DC0/vm/web"}"#,
                runner_id: "r",
            })
            .expect("insert job");
        id
    }

    fn events(store: &Store, hook: &str) -> Vec<(String, Option<String>, String)> {
        let mut all = store
            .list_deliveries(Some(hook), None, None, 1000)
            .expect("list");
        all.reverse();
        all.into_iter()
            .map(|d| (d.event, d.job_id, d.event_id))
            .collect()
    }

    #[test]
    fn state_changes_fan_out_to_enabled_subscribed_hooks_with_one_event_id() {
        let (_dir, store) = store();
        let all = hook(&store, "all", &["*"]);
        let failures = hook(&store, "failures", &["job.failed"]);
        let off = hook(&store, "off", &["*"]);
        store
            .set_webhook_enabled(&off, false, None, false)
            .expect("disable");

        let j = job(&store, "Export web");
        store
            .transition_job(&j, JobState::Running, "started", None)
            .expect("start");
        let err = ApiError {
            code: "destination_full".into(),
            message: "full".into(),
            retryable: true,
        };
        store
            .transition_job(&j, JobState::Failed, "full", Some(&err))
            .expect("fail");
        // A job that has ended is never moved again, and announces nothing.
        assert!(
            store
                .transition_job(&j, JobState::Succeeded, "late", None)
                .expect("late")
                .is_none()
        );

        let seen: Vec<String> = events(&store, &all).into_iter().map(|e| e.0).collect();
        assert_eq!(seen, ["job.created", "job.started", "job.failed"]);
        let f = events(&store, &failures);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].1.as_deref(), Some(j.as_str()));
        // The same event has the same id for every hook.
        assert_eq!(f[0].2, events(&store, &all)[2].2);
        assert!(events(&store, &off).is_empty());

        let failed = store.get_delivery(
            store
                .list_deliveries(Some(&failures), None, None, 1)
                .expect("list")[0]
                .id,
        );
        let body: serde_json::Value =
            serde_json::from_str(&failed.expect("get").expect("some").payload).expect("json");
        assert_eq!(body["event"], "job.failed");
        assert_eq!(body["data"]["job_id"], j.as_str());
        assert_eq!(body["data"]["vm_path"], "/DC0/vm/web");
        assert_eq!(body["data"]["error"]["code"], "destination_full");
    }

    #[test]
    fn an_outbox_row_exists_only_if_its_change_committed() {
        let (_dir, store) = store();
        let h = hook(&store, "all", &["*"]);
        // A job id that does not exist: the UPDATE changes nothing, the
        // transaction ends without a state change — and without an event.
        let missing = store.transition_job("nope", JobState::Running, "started", None);
        assert!(missing.is_err());
        // A caller's transaction that rolls back takes its events with it.
        {
            let mut conn = store.lock().expect("lock");
            let tx = conn.transaction().expect("tx");
            let n = enqueue_in_tx(
                &tx,
                WebhookEvent::ScheduleTriggered,
                &serde_json::json!({"schedule_id": "s1"}),
            )
            .expect("enqueue");
            assert_eq!(n, 1);
            drop(tx);
        }
        assert!(events(&store, &h).is_empty());
        {
            let mut conn = store.lock().expect("lock");
            let tx = conn.transaction().expect("tx");
            enqueue_in_tx(
                &tx,
                WebhookEvent::ScheduleSkipped,
                &serde_json::json!({"schedule_id": "s1", "job_id": "j9", "reason": "previous run still going"}),
            )
            .expect("enqueue");
            tx.commit().expect("commit");
        }
        let e = events(&store, &h);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].0, "schedule.skipped");
        assert_eq!(e[0].1.as_deref(), Some("j9"), "ordered with its job");
    }

    #[test]
    fn claims_keep_job_order_and_never_share_a_row() {
        let (_dir, store) = store();
        let h = hook(&store, "all", &["*"]);
        let a = job(&store, "a");
        job(&store, "b");
        store
            .transition_job(&a, JobState::Running, "started", None)
            .expect("start");
        let now = Utc::now().timestamp_millis() + 10;
        let nobody = |_: &str| false;
        let everybody = |_: &str| true;
        let none = HashSet::new();

        // Heads only: a's created and b's created; a's started waits.
        let first = store
            .claim_deliveries("r1", now, 10, &none, &everybody)
            .expect("claim");
        let firsts: Vec<&str> = first.iter().map(|c| c.event.as_str()).collect();
        assert_eq!(firsts, ["job.created", "job.created"]);
        // A second, live process gets nothing while the leases hold.
        assert!(
            store
                .claim_deliveries("r2", now, 10, &none, &everybody)
                .expect("claim")
                .is_empty()
        );
        // If r1 died, r2 takes its rows over at once.
        let stolen = store
            .claim_deliveries("r2", now, 10, &none, &nobody)
            .expect("claim");
        assert_eq!(stolen.len(), 2);
        // r1's late outcome is not recorded: it lost the lease.
        let rec = AttemptRecord {
            at: Utc::now(),
            status_code: Some(200),
            latency_ms: 1,
            error: None,
        };
        assert!(
            !store
                .finish_delivery(first[0].id, "r1", &rec, &Next::Delivered)
                .expect("finish")
        );
        // a's created delivered → a's started becomes claimable; a failure
        // with retry keeps b's later events (none) and a's order.
        let a_created = stolen
            .iter()
            .find(|c| c.payload.contains(&a))
            .expect("a created");
        assert!(
            store
                .finish_delivery(a_created.id, "r2", &rec, &Next::Delivered)
                .expect("finish")
        );
        let next = store
            .claim_deliveries(
                "r2",
                now,
                10,
                &HashSet::from([stolen[0].id, stolen[1].id]),
                &everybody,
            )
            .expect("claim");
        assert_eq!(next.len(), 1);
        assert_eq!(next[0].event, "job.started");
        assert_eq!(next[0].attempts, 0);

        // A retry in the future is not due; dead does not block the queue.
        let retry = Next::Retry {
            at_ms: now + 60_000,
        };
        let fail = AttemptRecord {
            status_code: Some(500),
            error: Some("HTTP 500".into()),
            ..rec.clone()
        };
        assert!(
            store
                .finish_delivery(next[0].id, "r2", &fail, &retry)
                .expect("finish")
        );
        let d = store.get_delivery(next[0].id).expect("get").expect("some");
        assert_eq!(d.status, DeliveryStatus::Pending);
        assert_eq!(d.attempts, 1);
        assert_eq!(d.last_status_code, Some(500));
        assert!(d.next_attempt_at.is_some());
        assert!(
            store
                .claim_deliveries("r2", now, 10, &HashSet::from([stolen[1].id]), &everybody)
                .expect("claim")
                .is_empty()
        );
        assert_eq!(
            store.next_delivery_due_ms(now).expect("due"),
            Some(now + 60_000)
        );
        let hooks = store.list_webhooks().expect("list");
        assert_eq!(hooks[0].id, h);
        assert_eq!(hooks[0].pending, 2);
        assert_eq!(
            hooks[0].last_delivery.as_ref().map(|l| l.status_code),
            Some(Some(500))
        );
    }

    #[test]
    fn gone_disables_the_hook_and_redeliver_resets_the_budget() {
        let (_dir, store) = store();
        let h = hook(&store, "all", &["job.created"]);
        job(&store, "a");
        let now = Utc::now().timestamp_millis() + 10;
        let c = store
            .claim_deliveries("r", now, 1, &HashSet::new(), &|_| true)
            .expect("claim");
        let rec = AttemptRecord {
            at: Utc::now(),
            status_code: Some(410),
            latency_ms: 1,
            error: Some("gone".into()),
        };
        store
            .finish_delivery(
                c[0].id,
                "r",
                &rec,
                &Next::Gone {
                    reason: "gone".into(),
                },
            )
            .expect("finish");
        let hook = store.find_webhook(&h).expect("find").expect("some").webhook;
        assert!(!hook.enabled);
        assert_eq!(hook.disabled_reason.as_deref(), Some("gone"));
        assert_eq!(hook.dead, 1);
        // Disabled: new jobs queue nothing for it.
        job(&store, "b");
        assert_eq!(events(&store, &h).len(), 1);

        let again = store.redeliver(c[0].id, Utc::now()).expect("redeliver");
        assert_eq!(again.status, DeliveryStatus::Pending);
        assert_eq!(again.attempts, 0);
        assert_eq!(again.event_id, c[0].event_id, "same event id");
        assert!(
            store.redeliver(c[0].id, Utc::now()).is_err(),
            "already pending"
        );
        // Paused while the hook is off; resumes when it is enabled.
        assert!(
            store
                .claim_deliveries("r", now, 1, &HashSet::new(), &|_| true)
                .expect("claim")
                .is_empty()
        );
        store
            .set_webhook_enabled(&h, true, None, false)
            .expect("enable");
        let hook = store
            .find_webhook("ALL")
            .expect("find by name")
            .expect("some")
            .webhook;
        assert!(hook.enabled && hook.disabled_reason.is_none());
        assert_eq!(
            store
                .claim_deliveries("r", now, 1, &HashSet::new(), &|_| true)
                .expect("claim")
                .len(),
            1
        );
        // Dropping pending deliveries on disable cancels them.
        store
            .set_webhook_enabled(&h, false, None, true)
            .expect("disable");
        let cancelled = store
            .list_deliveries(Some(&h), Some(DeliveryStatus::Cancelled), None, 10)
            .expect("list");
        assert_eq!(cancelled.len(), 1);
    }

    #[test]
    fn progress_is_announced_only_while_running() {
        let (_dir, store) = store();
        let h = hook(&store, "p", &["job.progress"]);
        let j = job(&store, "a");
        let p = JobProgress {
            job_id: j.clone(),
            bytes_done: 5,
            bytes_total: Some(10),
            rate_bps: 1.0,
            eta_seconds: Some(5.0),
            disks: vec![],
        };
        assert_eq!(
            store
                .update_job_progress_and_announce(&j, &p)
                .expect("queued job"),
            0
        );
        store
            .transition_job(&j, JobState::Running, "started", None)
            .expect("start");
        assert_eq!(
            store
                .update_job_progress_and_announce(&j, &p)
                .expect("running"),
            1
        );
        store
            .transition_job(&j, JobState::Succeeded, "done", None)
            .expect("done");
        assert_eq!(
            store
                .update_job_progress_and_announce(&j, &p)
                .expect("ended"),
            0
        );
        let e = events(&store, &h);
        assert_eq!(e.len(), 1);
        let d = store
            .list_deliveries(Some(&h), None, None, 1)
            .expect("list")
            .remove(0);
        let body: serde_json::Value = serde_json::from_str(&d.payload).expect("json");
        assert_eq!(body["data"]["progress"]["percent"], 50.0);
    }

    #[test]
    fn an_unreadable_webhook_row_never_blocks_a_job() {
        let (_dir, store) = store();
        let good = hook(&store, "good", &["*"]);
        let bad = hook(&store, "bad", &["*"]);
        store
            .lock()
            .expect("lock")
            .execute(
                "UPDATE webhooks SET events_json = 'not json' WHERE id = ?1",
                [&bad],
            )
            .expect("corrupt");
        let j = job(&store, "a");
        store
            .transition_job(&j, JobState::Running, "started", None)
            .expect("the job still moves");
        assert_eq!(events(&store, &good).len(), 2);
        assert!(events(&store, &bad).is_empty());
    }

    #[test]
    fn settings_round_trip_and_removal_cascades() {
        let (_dir, store) = store();
        assert_eq!(
            store.webhook_settings().expect("get"),
            WebhookSettings::default()
        );
        let s = WebhookSettings {
            block_private_destinations: true,
            ..WebhookSettings::default()
        };
        store.put_webhook_settings(&s).expect("put");
        assert_eq!(store.webhook_settings().expect("get"), s);
        let h = hook(&store, "x", &["*"]);
        job(&store, "a");
        assert!(store.webhook_name_taken("X", None).expect("taken"));
        let dup = store.insert_webhook(
            &NewWebhook {
                id: "other".into(),
                name: "X".into(),
                url: "http://127.0.0.1:9/".into(),
                events: vec!["*".into()],
                headers: vec![],
                timeout_ms: 1000,
                max_attempts: 1,
                secret_ref: None,
                created_at: Utc::now(),
            },
            || Ok(()),
        );
        assert_eq!(dup.expect_err("dup").code(), "webhook_name_taken");
        store.delete_webhook(&h, || Ok(())).expect("delete");
        assert!(
            store
                .list_deliveries(None, None, None, 10)
                .expect("list")
                .is_empty()
        );
    }
}

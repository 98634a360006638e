//! Webhooks: every job and schedule event, delivered to HTTP receivers at
//! least once, in order per job, signed, across crashes and restarts.
//!
//! The shape is a transactional outbox. The SQLite transaction that changes a
//! job's state also inserts one `webhook_deliveries` row per subscribed,
//! enabled webhook ([`crate::store`]), so an event exists exactly when its state
//! change does. A delivery worker ([`Core::run_webhooks`], started by
//! [`Core::run_background`]) claims due rows with a lease, POSTs them, and
//! records the outcome: delivered (2xx), retried later with exponential
//! backoff and full jitter (or `Retry-After`), or dead after the last attempt
//! or a `410 Gone`. See `docs/ARCHITECTURE.md` ("Webhooks") for the rules.

mod backoff;
mod delivery;
mod net;
pub(crate) mod payload;
mod sign;
mod worker;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::Core;
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::model::{Secret, Timestamp};
use crate::secrets::Keyring;
use crate::store::{StoredHeader, WebhookRow};

pub use backoff::{parse_retry_after, retry_delay_bound};
pub use net::is_blocked_destination;
pub use sign::{SIGNATURE_HEADER, signature_header};

/// Request headers every delivery carries.
pub const EVENT_HEADER: &str = "X-HyperSDK-Event";
/// The same on every attempt and every redelivery: receivers dedupe by it.
pub const EVENT_ID_HEADER: &str = "X-HyperSDK-Event-Id";
pub const ATTEMPT_HEADER: &str = "X-HyperSDK-Attempt";
/// The outbox row, so a receiver's support request can name it.
pub const DELIVERY_HEADER: &str = "X-HyperSDK-Delivery";

pub const DEFAULT_TIMEOUT_MS: u32 = 10_000;
pub const MIN_TIMEOUT_MS: u32 = 500;
pub const MAX_TIMEOUT_MS: u32 = 300_000;
/// With the default backoff (2 s doubling to a 15 min cap, full jitter) 25
/// attempts span about two hours on average: a receiver that is down for an
/// hour, or a laptop asleep over lunch, still gets every event.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 25;
pub const MAX_MAX_ATTEMPTS: u32 = 100;
const MAX_NAME_CHARS: usize = 100;
const MAX_URL_CHARS: usize = 2048;
const MAX_HEADERS: usize = 20;
const MAX_HEADER_NAME_CHARS: usize = 100;
const MAX_HEADER_VALUE_BYTES: usize = 8 * 1024;
const MAX_SIGNING_SECRET_BYTES: usize = 4 * 1024;
/// What `list_deliveries` returns when no limit is given.
pub const DEFAULT_DELIVERY_LIMIT: u32 = 200;

/// Headers HyperSDK sets itself (or the HTTP stack does); a custom header may
/// not replace them, or a receiver could be told a wrong event id or length.
const RESERVED_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "content-type",
    "transfer-encoding",
    "connection",
    "user-agent",
    "te",
    "upgrade",
    "trailer",
    "expect",
];
const RESERVED_PREFIX: &str = "x-hypersdk-";

/// The events a webhook can subscribe to, and the test event.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, specta::Type,
)]
pub enum WebhookEvent {
    #[serde(rename = "job.created")]
    JobCreated,
    #[serde(rename = "job.started")]
    JobStarted,
    /// At most one per job per `progress_interval_seconds` (settings).
    #[serde(rename = "job.progress")]
    JobProgress,
    #[serde(rename = "job.completed")]
    JobCompleted,
    /// Also sent for jobs `interrupted` by a stopped process (error code
    /// `interrupted`): a receiver hears about every job that did not succeed.
    #[serde(rename = "job.failed")]
    JobFailed,
    #[serde(rename = "job.cancelled")]
    JobCancelled,
    #[serde(rename = "schedule.triggered")]
    ScheduleTriggered,
    #[serde(rename = "schedule.skipped")]
    ScheduleSkipped,
    /// Sent only by "Send test event" / `hyperctl webhook test`; never
    /// subscribed to, not even by `*`.
    #[serde(rename = "webhook.test")]
    WebhookTest,
}

impl WebhookEvent {
    /// Every event a webhook can subscribe to, in documentation order.
    pub const SUBSCRIBABLE: [WebhookEvent; 8] = [
        WebhookEvent::JobCreated,
        WebhookEvent::JobStarted,
        WebhookEvent::JobProgress,
        WebhookEvent::JobCompleted,
        WebhookEvent::JobFailed,
        WebhookEvent::JobCancelled,
        WebhookEvent::ScheduleTriggered,
        WebhookEvent::ScheduleSkipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEvent::JobCreated => "job.created",
            WebhookEvent::JobStarted => "job.started",
            WebhookEvent::JobProgress => "job.progress",
            WebhookEvent::JobCompleted => "job.completed",
            WebhookEvent::JobFailed => "job.failed",
            WebhookEvent::JobCancelled => "job.cancelled",
            WebhookEvent::ScheduleTriggered => "schedule.triggered",
            WebhookEvent::ScheduleSkipped => "schedule.skipped",
            WebhookEvent::WebhookTest => "webhook.test",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookEvent> {
        Self::SUBSCRIBABLE
            .into_iter()
            .chain([WebhookEvent::WebhookTest])
            .find(|e| e.as_str() == s)
    }
}

impl std::fmt::Display for WebhookEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The wildcard subscription: every subscribable event (never `webhook.test`).
pub const ALL_EVENTS: &str = "*";

/// Whether a webhook subscribed to `events` (names, or `*`) wants `event`.
pub fn subscribes(events: &[String], event: WebhookEvent) -> bool {
    event != WebhookEvent::WebhookTest
        && events
            .iter()
            .any(|e| e == ALL_EVENTS || e == event.as_str())
}

/// A saved webhook: everything but its secrets, which live in the keyring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Webhook {
    pub id: String,
    pub name: String,
    pub url: String,
    /// Event names, or `["*"]` for every event.
    pub events: Vec<String>,
    pub headers: Vec<WebhookHeader>,
    pub timeout_ms: u32,
    pub max_attempts: u32,
    pub enabled: bool,
    /// Set when HyperSDK turned the hook off itself (the receiver answered
    /// `410 Gone`); cleared when the user enables it again.
    pub disabled_reason: Option<String>,
    /// Whether deliveries are signed (`X-HyperSDK-Signature`).
    pub has_secret: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The most recent attempt, for the list's status column.
    pub last_delivery: Option<DeliverySummary>,
    /// Deliveries waiting to be sent (or retried).
    pub pending: u32,
    /// Deliveries that gave up; each can be redelivered.
    pub dead: u32,
}

/// A custom request header. Secret values stay in the keyring: `value` is
/// `None` for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct WebhookHeader {
    pub name: String,
    pub value: Option<String>,
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct DeliverySummary {
    pub delivery_id: i64,
    pub event: String,
    pub status: DeliveryStatus,
    pub status_code: Option<u16>,
    pub at: Timestamp,
    pub error: Option<String>,
}

/// What the user submits to add (or replace) a webhook.
#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct WebhookInput {
    pub name: String,
    /// `http://` or `https://`, without credentials.
    pub url: String,
    /// Event names or `*`; empty means `*`.
    #[serde(default)]
    pub events: Vec<String>,
    #[serde(default)]
    pub headers: Vec<WebhookHeaderInput>,
    /// Default 10 000 ms; 500 ms to 5 min.
    #[serde(default)]
    pub timeout_ms: Option<u32>,
    /// Default 25; 1 to 100.
    #[serde(default)]
    pub max_attempts: Option<u32>,
    /// The HMAC-SHA256 key for `X-HyperSDK-Signature`. On update `None` keeps
    /// the stored one and an empty value removes it.
    #[serde(default)]
    pub signing_secret: Option<Secret>,
}

/// A custom header as entered. `value` is a [`Secret`] for every header so a
/// secret one can never be serialised or logged by accident; non-secret
/// values are stored in the database in clear. On update, a secret header
/// with an empty value keeps the value stored for that name.
#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct WebhookHeaderInput {
    pub name: String,
    pub value: Secret,
    #[serde(default)]
    pub secret: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or for an earlier event of its job).
    Pending,
    /// A 2xx answer was received.
    Delivered,
    /// Gave up: the last attempt failed, or the receiver answered 410 Gone.
    Dead,
    /// Dropped by the user (`disable --drop-pending`); can be redelivered.
    Cancelled,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Dead => "dead",
            DeliveryStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Dead,
            DeliveryStatus::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

impl std::fmt::Display for DeliveryStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event on its way to one webhook, and how its attempts went.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct WebhookDelivery {
    pub id: i64,
    pub webhook_id: String,
    pub webhook_name: String,
    /// Stable across attempts and redeliveries (`X-HyperSDK-Event-Id`).
    pub event_id: String,
    pub event: String,
    pub job_id: Option<String>,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// When the next attempt is due (pending deliveries only).
    pub next_attempt_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<u16>,
    pub last_error: Option<String>,
    pub last_latency_ms: Option<u32>,
    pub created_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    /// The exact request body (JSON text); never contains a secret.
    pub payload: String,
}

/// Which deliveries to list; empty means the newest of every webhook.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct DeliveryFilter {
    /// Webhook id or name.
    #[serde(default)]
    pub webhook: Option<String>,
    #[serde(default)]
    pub status: Option<DeliveryStatus>,
    #[serde(default)]
    pub job_id: Option<String>,
    /// Newest first; default 200.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// What "Send test event" saw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct WebhookTestResult {
    /// True for a 2xx answer.
    pub ok: bool,
    pub status_code: Option<u16>,
    pub latency_ms: u32,
    pub error: Option<String>,
    pub event_id: String,
    /// The test is recorded in the delivery log like any other delivery.
    pub delivery_id: i64,
}

/// Webhook settings, stored under their own key in the `settings` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(default)]
pub struct WebhookSettings {
    /// Refuse to connect to loopback, private (RFC 1918, ULA), link-local,
    /// CGNAT and unspecified addresses. Checked against the address actually
    /// connected to, after DNS resolution, on every attempt. Off by default:
    /// a receiver on this machine or the LAN is a common, legitimate set-up.
    pub block_private_destinations: bool,
    /// `job.progress` is sent at most once per job per this many seconds
    /// (5–86 400; default 60).
    pub progress_interval_seconds: u32,
    /// Backoff: the n-th retry waits a uniformly random time in
    /// `[0, min(retry_cap_ms, retry_base_ms × 2^(n−1))]` ("full jitter").
    /// 100 ms – 60 s; default 2 s.
    pub retry_base_ms: u32,
    /// 1 s – 1 h; default 15 min; never below `retry_base_ms`.
    pub retry_cap_ms: u32,
}

pub const DEFAULT_PROGRESS_INTERVAL_SECONDS: u32 = 60;
pub const MIN_PROGRESS_INTERVAL_SECONDS: u32 = 5;
pub const MAX_PROGRESS_INTERVAL_SECONDS: u32 = 86_400;
pub const DEFAULT_RETRY_BASE_MS: u32 = 2_000;
pub const MIN_RETRY_BASE_MS: u32 = 100;
pub const MAX_RETRY_BASE_MS: u32 = 60_000;
pub const DEFAULT_RETRY_CAP_MS: u32 = 15 * 60 * 1000;
pub const MIN_RETRY_CAP_MS: u32 = 1_000;
pub const MAX_RETRY_CAP_MS: u32 = 60 * 60 * 1000;

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            block_private_destinations: false,
            progress_interval_seconds: DEFAULT_PROGRESS_INTERVAL_SECONDS,
            retry_base_ms: DEFAULT_RETRY_BASE_MS,
            retry_cap_ms: DEFAULT_RETRY_CAP_MS,
        }
    }
}

impl WebhookSettings {
    pub fn validate(&self) -> Result<()> {
        let range = |field: &'static str, v: u32, lo: u32, hi: u32, what: &str| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(CoreError::invalid(
                    field,
                    format!("{what} must be between {lo} and {hi}"),
                ))
            }
        };
        range(
            "progress_interval_seconds",
            self.progress_interval_seconds,
            MIN_PROGRESS_INTERVAL_SECONDS,
            MAX_PROGRESS_INTERVAL_SECONDS,
            "The job.progress interval (seconds)",
        )?;
        range(
            "retry_base_ms",
            self.retry_base_ms,
            MIN_RETRY_BASE_MS,
            MAX_RETRY_BASE_MS,
            "The first retry delay (ms)",
        )?;
        range(
            "retry_cap_ms",
            self.retry_cap_ms,
            MIN_RETRY_CAP_MS,
            MAX_RETRY_CAP_MS,
            "The longest retry delay (ms)",
        )?;
        if self.retry_cap_ms < self.retry_base_ms {
            return Err(CoreError::invalid(
                "retry_cap_ms",
                "The longest retry delay must not be shorter than the first one",
            ));
        }
        Ok(())
    }

    pub(crate) fn backoff(&self) -> backoff::Backoff {
        backoff::Backoff {
            base: Duration::from_millis(u64::from(self.retry_base_ms)),
            cap: Duration::from_millis(u64::from(self.retry_cap_ms)),
        }
    }
}

/// The event names a webhook can subscribe to, for forms and error messages.
pub fn event_names() -> Vec<String> {
    WebhookEvent::SUBSCRIBABLE
        .into_iter()
        .map(|e| e.as_str().to_owned())
        .chain([ALL_EVENTS.to_owned()])
        .collect()
}

/// A validated, normalised webhook input.
#[derive(Debug)]
struct Valid {
    name: String,
    url: String,
    events: Vec<String>,
    headers: Vec<ValidHeader>,
    timeout_ms: u32,
    max_attempts: u32,
    signing_secret: Option<Secret>,
}

#[derive(Debug)]
struct ValidHeader {
    name: String,
    value: Secret,
    secret: bool,
}

fn validate(input: WebhookInput) -> Result<Valid> {
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        return Err(CoreError::invalid("name", "Name is required"));
    }
    if name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "name",
            format!("Name must be at most {MAX_NAME_CHARS} characters, without control characters"),
        ));
    }
    let url = normalize_url(&input.url)?;
    let events = normalize_events(&input.events)?;
    let headers = validate_headers(input.headers)?;
    let timeout_ms = input.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&timeout_ms) {
        return Err(CoreError::invalid(
            "timeout_ms",
            format!(
                "The timeout must be between {} and {} seconds",
                f64::from(MIN_TIMEOUT_MS) / 1000.0,
                MAX_TIMEOUT_MS / 1000
            ),
        ));
    }
    let max_attempts = input.max_attempts.unwrap_or(DEFAULT_MAX_ATTEMPTS);
    if !(1..=MAX_MAX_ATTEMPTS).contains(&max_attempts) {
        return Err(CoreError::invalid(
            "max_attempts",
            format!("Maximum attempts must be between 1 and {MAX_MAX_ATTEMPTS}"),
        ));
    }
    if input
        .signing_secret
        .as_ref()
        .is_some_and(|s| s.expose().len() > MAX_SIGNING_SECRET_BYTES)
    {
        return Err(CoreError::invalid(
            "signing_secret",
            "The signing secret must be at most 4 KiB",
        ));
    }
    Ok(Valid {
        name,
        url,
        events,
        headers,
        timeout_ms,
        max_attempts,
        signing_secret: input.signing_secret,
    })
}

/// Accepts an absolute `http://` or `https://` URL and returns it canonical.
/// User names and passwords in the URL are refused: they would sit in the
/// database in clear (put a token in a secret header instead). A query string
/// is allowed — many receivers need one — and is stored as typed.
pub fn normalize_url(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(CoreError::invalid("url", "URL is required"));
    }
    if raw.chars().count() > MAX_URL_CHARS {
        return Err(CoreError::invalid(
            "url",
            format!("The URL must be at most {MAX_URL_CHARS} characters"),
        ));
    }
    let url = Url::parse(raw).map_err(|e| {
        CoreError::invalid(
            "url",
            format!("\"{raw}\" is not a valid URL ({e}); write it in full, e.g. https://hooks.example.com/hypersdk"),
        )
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(CoreError::invalid(
            "url",
            format!(
                "\"{raw}\" must start with https:// (or http://); {}:// is not supported",
                url.scheme()
            ),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(CoreError::invalid(
            "url",
            format!("\"{raw}\" has no host name"),
        ));
    }
    if url.port() == Some(0) {
        return Err(CoreError::invalid(
            "url",
            format!("\"{raw}\" has a port out of range: ports are 1 to 65535"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CoreError::invalid(
            "url",
            "The URL must not contain a user name or password (they would be stored unencrypted); \
             put a token in a secret header instead",
        ));
    }
    if url.fragment().is_some() {
        return Err(CoreError::invalid(
            "url",
            "The URL must not contain a #fragment: it is never sent to the receiver",
        ));
    }
    Ok(url.to_string())
}

fn normalize_events(events: &[String]) -> Result<Vec<String>> {
    let mut out = BTreeSet::new();
    for raw in events {
        let e = raw.trim();
        if e == ALL_EVENTS {
            return Ok(vec![ALL_EVENTS.to_owned()]);
        }
        match WebhookEvent::parse(e) {
            Some(WebhookEvent::WebhookTest) => {
                return Err(CoreError::invalid(
                    "events",
                    "webhook.test is sent only by \"Send test event\" and cannot be subscribed to",
                ));
            }
            Some(event) => {
                out.insert(event);
            }
            None => {
                return Err(CoreError::invalid(
                    "events",
                    format!(
                        "unknown event \"{e}\" (valid: {})",
                        event_names().join(", ")
                    ),
                ));
            }
        }
    }
    if out.is_empty() {
        return Ok(vec![ALL_EVENTS.to_owned()]);
    }
    Ok(out.into_iter().map(|e| e.as_str().to_owned()).collect())
}

fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

fn validate_headers(headers: Vec<WebhookHeaderInput>) -> Result<Vec<ValidHeader>> {
    if headers.len() > MAX_HEADERS {
        return Err(CoreError::invalid(
            "headers",
            format!("At most {MAX_HEADERS} custom headers"),
        ));
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(headers.len());
    for h in headers {
        let name = h.name.trim().to_owned();
        if name.is_empty()
            || name.chars().count() > MAX_HEADER_NAME_CHARS
            || !name.chars().all(is_token_char)
        {
            return Err(CoreError::invalid(
                "headers",
                format!(
                    "\"{name}\" is not a valid header name (letters, digits and !#$%&'*+-.^_`|~, at most {MAX_HEADER_NAME_CHARS})"
                ),
            ));
        }
        let lower = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with(RESERVED_PREFIX) {
            return Err(CoreError::invalid(
                "headers",
                format!("{name} is set by HyperSDK itself and cannot be a custom header"),
            ));
        }
        if !seen.insert(lower) {
            return Err(CoreError::invalid(
                "headers",
                format!("The header {name} is given twice"),
            ));
        }
        let value = h.value.expose();
        // Leading/trailing blanks are not part of a header value on the wire.
        let trimmed = value.trim_matches([' ', '\t']);
        if trimmed.len() > MAX_HEADER_VALUE_BYTES
            || trimmed
                .chars()
                .any(|c| (c.is_control() && c != '\t') || !c.is_ascii())
        {
            // The value itself is not echoed: it may be a secret.
            return Err(CoreError::invalid(
                "headers",
                format!(
                    "The value of {name} must be printable ASCII without line breaks, at most 8 KiB"
                ),
            ));
        }
        if trimmed.is_empty() && !h.secret {
            return Err(CoreError::invalid(
                "headers",
                format!("The header {name} needs a value"),
            ));
        }
        out.push(ValidHeader {
            name,
            value: Secret::new(trimmed),
            secret: h.secret,
        });
    }
    Ok(out)
}

impl Core {
    pub async fn list_webhooks(&self) -> Result<Vec<Webhook>> {
        self.with_store(|store| store.list_webhooks()).await
    }

    /// By id or (case-insensitive) name.
    pub async fn webhook(&self, id_or_name: &str) -> Result<Webhook> {
        Ok(self.webhook_row(id_or_name).await?.webhook)
    }

    async fn webhook_row(&self, id_or_name: &str) -> Result<WebhookRow> {
        let key = id_or_name.to_owned();
        self.with_store(move |store| store.find_webhook(&key))
            .await?
            .ok_or_else(|| CoreError::NotFound {
                what: "webhook",
                id: id_or_name.to_owned(),
            })
    }

    /// Saves a webhook; its signing secret and secret header values go to
    /// the keyring (`webhook:<id>`, `webhook:<id>:header:<name>`) in the same
    /// all-or-nothing step as the row.
    pub async fn add_webhook(&self, input: WebhookInput) -> Result<Webhook> {
        let valid = validate(input)?;
        if valid.headers.iter().any(|h| h.secret && h.value.is_empty()) {
            return Err(CoreError::invalid(
                "headers",
                "Every secret header needs a value",
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let now = Utc::now();
        let plan = SecretPlan::new(&id, &valid, &[], None);
        let signing_ref = plan.signing_ref.clone();
        let row = NewWebhook {
            id: id.clone(),
            name: valid.name.clone(),
            url: valid.url.clone(),
            events: valid.events.clone(),
            headers: plan.stored_headers.clone(),
            timeout_ms: valid.timeout_ms,
            max_attempts: valid.max_attempts,
            secret_ref: signing_ref,
            created_at: now,
        };
        let keyring = self.keyring.clone();
        self.with_store(move |store| {
            if store.webhook_name_taken(&row.name, None)? {
                return Err(CoreError::WebhookNameTaken(row.name.clone()));
            }
            store.insert_webhook(&row, || plan.apply(&keyring))
        })
        .await?;
        tracing::info!(webhook = %id, name = %valid.name, "webhook added");
        self.bus.publish(CoreEvent::WebhooksChanged);
        self.webhook(&id).await
    }

    /// Replaces a webhook's configuration (name, URL, events, headers,
    /// limits). `signing_secret: None` keeps the stored secret; a secret
    /// header sent with an empty value keeps its stored value.
    pub async fn update_webhook(&self, id_or_name: &str, input: WebhookInput) -> Result<Webhook> {
        let valid = validate(input)?;
        let existing = self.webhook_row(id_or_name).await?;
        let id = existing.webhook.id.clone();
        for h in valid
            .headers
            .iter()
            .filter(|h| h.secret && h.value.is_empty())
        {
            let kept = existing
                .headers
                .iter()
                .any(|s| s.secret_ref.is_some() && s.name.eq_ignore_ascii_case(&h.name));
            if !kept {
                return Err(CoreError::invalid(
                    "headers",
                    format!("The secret header {} needs a value", h.name),
                ));
            }
        }
        let plan = SecretPlan::new(
            &id,
            &valid,
            &existing.headers,
            existing.secret_ref.as_deref(),
        );
        let row = NewWebhook {
            id: id.clone(),
            name: valid.name.clone(),
            url: valid.url.clone(),
            events: valid.events.clone(),
            headers: plan.stored_headers.clone(),
            timeout_ms: valid.timeout_ms,
            max_attempts: valid.max_attempts,
            secret_ref: plan.signing_ref.clone(),
            created_at: existing.webhook.created_at,
        };
        let keyring = self.keyring.clone();
        self.with_store(move |store| {
            if store.webhook_name_taken(&row.name, Some(&row.id))? {
                return Err(CoreError::WebhookNameTaken(row.name.clone()));
            }
            store.update_webhook(&row, Utc::now(), || plan.apply(&keyring))
        })
        .await?;
        tracing::info!(webhook = %id, "webhook updated");
        self.bus.publish(CoreEvent::WebhooksChanged);
        self.webhook(&id).await
    }

    /// Removes the webhook, its delivery log and its keyring entries. If the
    /// keyring refuses, nothing is removed, so no secret is orphaned.
    pub async fn remove_webhook(&self, id_or_name: &str) -> Result<()> {
        let existing = self.webhook_row(id_or_name).await?;
        let id = existing.webhook.id.clone();
        let accounts: Vec<String> = existing
            .secret_ref
            .iter()
            .cloned()
            .chain(existing.headers.iter().filter_map(|h| h.secret_ref.clone()))
            .collect();
        let keyring = self.keyring.clone();
        self.with_store(move |store| {
            store.delete_webhook(&id, || accounts.iter().try_for_each(|a| keyring.delete(a)))
        })
        .await?;
        tracing::info!(webhook = %existing.webhook.id, "webhook removed");
        self.bus.publish(CoreEvent::WebhooksChanged);
        Ok(())
    }

    /// Turns a webhook on or off. A disabled hook gets no new events and its
    /// pending deliveries wait (they resume when it is enabled again), unless
    /// `drop_pending` marks them `cancelled`.
    pub async fn set_webhook_enabled(
        &self,
        id_or_name: &str,
        enabled: bool,
        drop_pending: bool,
    ) -> Result<Webhook> {
        let existing = self.webhook_row(id_or_name).await?;
        let id = existing.webhook.id.clone();
        self.with_store(move |store| {
            store.set_webhook_enabled(&id, enabled, None, drop_pending && !enabled)
        })
        .await?;
        self.bus.publish(CoreEvent::WebhooksChanged);
        self.wake_webhooks();
        self.webhook(&existing.webhook.id).await
    }

    pub async fn webhook_deliveries(&self, filter: DeliveryFilter) -> Result<Vec<WebhookDelivery>> {
        let webhook_id = match &filter.webhook {
            Some(key) => Some(self.webhook(key).await?.id),
            None => None,
        };
        self.with_store(move |store| {
            store.list_deliveries(
                webhook_id.as_deref(),
                filter.status,
                filter.job_id.as_deref(),
                filter
                    .limit
                    .unwrap_or(DEFAULT_DELIVERY_LIMIT)
                    .clamp(1, 10_000),
            )
        })
        .await
    }

    pub async fn webhook_delivery(&self, id: i64) -> Result<WebhookDelivery> {
        self.with_store(move |store| store.get_delivery(id))
            .await?
            .ok_or_else(|| CoreError::NotFound {
                what: "delivery",
                id: id.to_string(),
            })
    }

    /// Sends a delivery again with a fresh attempt budget and the same event
    /// id (the receiver may already have it, and dedupes). Works for dead,
    /// cancelled and delivered deliveries; a pending one is already queued.
    pub async fn redeliver(&self, delivery_id: i64) -> Result<WebhookDelivery> {
        let delivery = self
            .with_store(move |store| store.redeliver(delivery_id, Utc::now()))
            .await?;
        tracing::info!(delivery = delivery_id, "delivery queued again");
        self.bus.publish(CoreEvent::WebhooksChanged);
        self.wake_webhooks();
        Ok(delivery)
    }

    pub async fn webhook_settings(&self) -> Result<WebhookSettings> {
        self.with_store(|store| store.webhook_settings()).await
    }

    pub async fn update_webhook_settings(
        &self,
        settings: WebhookSettings,
    ) -> Result<WebhookSettings> {
        settings.validate()?;
        self.with_store(move |store| store.put_webhook_settings(&settings))
            .await?;
        self.jobs
            .set_webhook_progress_interval(settings.progress_interval_seconds);
        self.bus.publish(CoreEvent::SettingsChanged);
        Ok(settings)
    }

    /// Sends a signed `webhook.test` event now, once, without retries, and
    /// records it in the delivery log. Works for disabled hooks too, so a
    /// hook can be checked before it is turned on.
    pub async fn test_webhook(&self, id_or_name: &str) -> Result<WebhookTestResult> {
        let row = self.webhook_row(id_or_name).await?;
        let settings = self.webhook_settings().await?;
        let result = worker::send_test(self, &row, &settings).await?;
        self.bus.publish(CoreEvent::WebhooksChanged);
        Ok(result)
    }

    /// Delivers webhook events until the process ends. Started by
    /// [`Core::run_background`]; call it directly only in a process that does
    /// not run that loop. Any number of processes may run it on one database:
    /// a lease on each row keeps two from sending the same delivery at once.
    pub async fn run_webhooks(self: Arc<Self>) {
        worker::run(self).await;
    }

    /// Nudges the delivery worker (a new event, a redelivery, a hook enabled)
    /// so it does not wait for its next poll.
    pub(crate) fn wake_webhooks(&self) {
        self.webhook_wake.notify_one();
    }
}

/// A webhook row as it is about to be written.
#[derive(Debug, Clone)]
pub(crate) struct NewWebhook {
    pub id: String,
    pub name: String,
    pub url: String,
    pub events: Vec<String>,
    pub headers: Vec<StoredHeader>,
    pub timeout_ms: u32,
    pub max_attempts: u32,
    pub secret_ref: Option<String>,
    pub created_at: Timestamp,
}

/// The keyring side of saving a webhook: what to write, what to delete, and
/// what the row stores in their place.
struct SecretPlan {
    signing_ref: Option<String>,
    stored_headers: Vec<StoredHeader>,
    writes: Vec<(String, Secret)>,
    deletes: Vec<String>,
}

impl SecretPlan {
    fn new(
        id: &str,
        valid: &Valid,
        existing_headers: &[StoredHeader],
        existing_signing_ref: Option<&str>,
    ) -> SecretPlan {
        let mut writes = Vec::new();
        let mut deletes = Vec::new();
        let signing_account = Keyring::webhook_account(id);
        let signing_ref = match &valid.signing_secret {
            Some(s) if s.is_empty() => {
                if let Some(old) = existing_signing_ref {
                    deletes.push(old.to_owned());
                }
                None
            }
            Some(s) => {
                writes.push((signing_account.clone(), s.clone()));
                Some(signing_account)
            }
            None => existing_signing_ref.map(str::to_owned),
        };
        let mut stored_headers = Vec::with_capacity(valid.headers.len());
        let mut kept_accounts = BTreeSet::new();
        for h in &valid.headers {
            if h.secret {
                let account = Keyring::webhook_header_account(id, &h.name);
                if !h.value.is_empty() {
                    writes.push((account.clone(), h.value.clone()));
                }
                kept_accounts.insert(account.clone());
                stored_headers.push(StoredHeader {
                    name: h.name.clone(),
                    value: None,
                    secret_ref: Some(account),
                });
            } else {
                stored_headers.push(StoredHeader {
                    name: h.name.clone(),
                    value: Some(h.value.expose().to_owned()),
                    secret_ref: None,
                });
            }
        }
        // Secret headers that were removed (or made non-secret) leave the keyring.
        for old in existing_headers {
            if let Some(account) = &old.secret_ref
                && !kept_accounts.contains(account)
            {
                deletes.push(account.clone());
            }
        }
        SecretPlan {
            signing_ref,
            stored_headers,
            writes,
            deletes,
        }
    }

    /// Runs inside the store transaction: an error rolls the row back. Entries
    /// written before a failure are removed again (best effort), so a failed
    /// save leaves the keyring as it found it.
    fn apply(&self, keyring: &Keyring) -> Result<()> {
        for (i, (account, secret)) in self.writes.iter().enumerate() {
            if let Err(e) = keyring.set(account, secret) {
                for (written, _) in &self.writes[..i] {
                    if let Err(undo) = keyring.delete(written) {
                        tracing::warn!(error = %undo, "cannot undo a keyring write");
                    }
                }
                return Err(e);
            }
        }
        for account in &self.deletes {
            keyring.delete(account)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> WebhookInput {
        WebhookInput {
            name: " ops ".into(),
            url: "https://hooks.example.com/hypersdk".into(),
            events: vec![],
            headers: vec![],
            timeout_ms: None,
            max_attempts: None,
            signing_secret: None,
        }
    }

    #[test]
    fn urls_are_checked_with_a_reason() {
        let ok = [
            (
                "https://hooks.example.com/x?token=abc",
                "https://hooks.example.com/x?token=abc",
            ),
            ("http://127.0.0.1:9000/hook", "http://127.0.0.1:9000/hook"),
            ("  https://[::1]:8443  ", "https://[::1]:8443/"),
        ];
        for (raw, want) in ok {
            assert_eq!(normalize_url(raw).expect(raw), want);
        }
        let bad = [
            ("", "required"),
            ("hooks.example.com/x", "not a valid URL"),
            ("ftp://hooks.example.com/x", "must start with https://"),
            ("file:///etc/passwd", "must start with https://"),
            (
                "https://user:pw@hooks.example.com/",
                "user name or password",
            ),
            ("https://token@hooks.example.com/", "user name or password"),
            ("https://hooks.example.com:0/", "port"),
            ("https://hooks.example.com:99999/", "not a valid URL"),
            ("https://hooks.example.com/#frag", "fragment"),
        ];
        for (raw, want) in bad {
            let err = normalize_url(raw).expect_err(raw);
            assert_eq!(err.code(), "invalid_url", "{raw}");
            assert!(err.to_string().contains(want), "{raw}: {err}");
        }
    }

    #[test]
    fn events_are_checked_and_normalised() {
        assert_eq!(normalize_events(&[]).expect("empty"), vec!["*"]);
        assert_eq!(
            normalize_events(&[
                "job.failed".into(),
                "job.completed".into(),
                "job.failed".into()
            ])
            .expect("list"),
            vec!["job.completed", "job.failed"]
        );
        assert_eq!(
            normalize_events(&["job.failed".into(), "*".into()]).expect("star"),
            vec!["*"]
        );
        let err = normalize_events(&["job.finished".into()]).expect_err("unknown");
        assert_eq!(err.code(), "invalid_event");
        assert!(
            err.to_string().contains("job.completed")
                && err.to_string().contains("schedule.skipped"),
            "lists the valid ones: {err}"
        );
        assert!(normalize_events(&["webhook.test".into()]).is_err());
    }

    #[test]
    fn subscriptions_match_names_and_the_wildcard_but_never_the_test_event() {
        let star = vec!["*".to_owned()];
        let some = vec!["job.failed".to_owned()];
        assert!(subscribes(&star, WebhookEvent::ScheduleSkipped));
        assert!(!subscribes(&star, WebhookEvent::WebhookTest));
        assert!(subscribes(&some, WebhookEvent::JobFailed));
        assert!(!subscribes(&some, WebhookEvent::JobCompleted));
        for e in WebhookEvent::SUBSCRIBABLE {
            assert_eq!(WebhookEvent::parse(e.as_str()), Some(e));
            assert_eq!(
                serde_json::to_value(e).expect("json"),
                serde_json::Value::String(e.as_str().into())
            );
        }
    }

    #[test]
    fn headers_are_checked_without_echoing_values() {
        let h = |name: &str, value: &str, secret: bool| WebhookHeaderInput {
            name: name.into(),
            value: Secret::new(value),
            secret,
        };
        let mut i = input();
        i.headers = vec![
            h("X-Team", " ops ", false),
            h("Authorization", "Bearer t0k", true),
        ];
        let v = validate(i).expect("valid");
        assert_eq!(v.headers[0].value.expose(), "ops");
        assert_eq!(v.name, "ops");
        for (bad, why) in [
            (h("X Team", "v", false), "not a valid header name"),
            (h("Content-Type", "text/plain", false), "set by HyperSDK"),
            (h("X-HyperSDK-Event-Id", "x", false), "set by HyperSDK"),
            (h("X-A", "", false), "needs a value"),
        ] {
            let mut i = input();
            i.headers = vec![bad];
            let err = validate(i).expect_err(why);
            assert_eq!(err.code(), "invalid_header");
            assert!(err.to_string().contains(why), "{err}");
        }
        let mut i = input();
        i.headers = vec![h("Authorization", "Bearer sekrit\r\nX-Evil: 1", true)];
        let err = validate(i).expect_err("crlf");
        assert!(!err.to_string().contains("sekrit"), "{err}");
        let mut i = input();
        i.headers = vec![h("X-A", "1", false), h("x-a", "2", false)];
        assert!(validate(i).expect_err("dup").to_string().contains("twice"));
    }

    #[test]
    fn limits_have_bounds() {
        let mut i = input();
        i.timeout_ms = Some(100);
        assert_eq!(
            validate(i).expect_err("timeout").field(),
            Some("timeout_ms")
        );
        let mut i = input();
        i.max_attempts = Some(0);
        assert_eq!(
            validate(i).expect_err("attempts").field(),
            Some("max_attempts")
        );
        let v = validate(input()).expect("defaults");
        assert_eq!(v.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(v.max_attempts, DEFAULT_MAX_ATTEMPTS);
        assert_eq!(v.events, vec!["*"]);
    }

    #[test]
    fn settings_have_bounds() {
        assert!(WebhookSettings::default().validate().is_ok());
        let s = WebhookSettings {
            retry_base_ms: 5_000,
            retry_cap_ms: 2_000,
            ..WebhookSettings::default()
        };
        assert_eq!(s.validate().expect_err("cap").field(), Some("retry_cap_ms"));
        let s = WebhookSettings {
            progress_interval_seconds: 1,
            ..WebhookSettings::default()
        };
        assert!(s.validate().is_err());
        // Settings stored by an older build (fewer keys) still load.
        let old: WebhookSettings =
            serde_json::from_str(r#"{"block_private_destinations":true}"#).expect("old");
        assert!(old.block_private_destinations);
        assert_eq!(old.retry_base_ms, DEFAULT_RETRY_BASE_MS);
    }
}

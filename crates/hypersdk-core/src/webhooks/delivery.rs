//! One HTTP attempt: the request, its headers and signature, and what the
//! answer means.

use std::error::Error as _;
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, LOCATION, RETRY_AFTER};
use url::Url;

use super::net::{BlockedDestination, Clients, check_literal};
use super::{
    ATTEMPT_HEADER, DELIVERY_HEADER, EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER,
    parse_retry_after, signature_header,
};
use crate::error::{CoreError, Result};
use crate::model::{Secret, Timestamp};
use crate::secrets::Keyring;
use crate::store::StoredHeader;

/// Where and how to send: the webhook's configuration with its secrets read
/// from the keyring for this attempt only.
pub(crate) struct Target {
    pub url: Url,
    pub headers: HeaderMap,
    pub signing_secret: Option<Secret>,
    pub timeout: Duration,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // HeaderMap's Debug prints values; secret headers must not reach a log.
        f.debug_struct("Target")
            .field("url", &self.url.as_str())
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("signed", &self.signing_secret.is_some())
            .finish()
    }
}

/// Reads secrets from the keyring (blocking: call off the async threads).
pub(crate) fn load_target(
    keyring: &Keyring,
    url: &str,
    headers: &[StoredHeader],
    secret_ref: Option<&str>,
    timeout_ms: u32,
) -> Result<Target> {
    let url = Url::parse(url)
        .map_err(|e| CoreError::Internal(format!("stored webhook URL is invalid: {e}")))?;
    let mut map = HeaderMap::new();
    for h in headers {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|e| CoreError::Internal(format!("stored header name {}: {e}", h.name)))?;
        let mut value = match (&h.value, &h.secret_ref) {
            (Some(v), _) => HeaderValue::from_str(v),
            (None, Some(account)) => {
                let secret = keyring.get(account)?.ok_or_else(|| CoreError::Keyring {
                    detail: format!(
                        "the value of the secret header {} is missing from the OS keyring; \
                         edit the webhook to set it again",
                        h.name
                    ),
                })?;
                HeaderValue::from_str(secret.expose())
            }
            (None, None) => {
                return Err(CoreError::Internal(format!(
                    "stored header {} has no value",
                    h.name
                )));
            }
        }
        .map_err(|_| {
            CoreError::Internal(format!("stored header {} has an invalid value", h.name))
        })?;
        // Marks the value as sensitive for the HTTP stack (never logged, not
        // compressed into HPACK tables).
        value.set_sensitive(h.secret_ref.is_some());
        map.append(name, value);
    }
    let signing_secret = match secret_ref {
        None => None,
        Some(account) => Some(keyring.get(account)?.ok_or_else(|| {
            CoreError::Keyring {
                detail: "the signing secret of this webhook is missing from the OS keyring; \
                     edit the webhook to set it again"
                    .into(),
            }
        })?),
    };
    Ok(Target {
        url,
        headers: map,
        signing_secret,
        timeout: Duration::from_millis(u64::from(timeout_ms)),
    })
}

/// What one attempt carries.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Attempt<'a> {
    pub delivery_id: i64,
    pub event_id: &'a str,
    pub event: &'a str,
    /// 1 for the first attempt.
    pub number: u32,
    pub body: &'a str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// A 2xx answer.
    Delivered { status: u16 },
    /// 410 Gone: the receiver wants no more events.
    Gone { status: u16 },
    Failed {
        status: Option<u16>,
        error: String,
        retry_after: Option<Duration>,
    },
}

#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub outcome: Outcome,
    pub at: Timestamp,
    pub latency_ms: u32,
}

impl Sent {
    /// An attempt that failed on our side before anything was sent (a
    /// secret missing from the keyring, say).
    pub fn local_failure(error: String) -> Sent {
        Sent {
            outcome: Outcome::Failed {
                status: None,
                error,
                retry_after: None,
            },
            at: Utc::now(),
            latency_ms: 0,
        }
    }

    pub fn status_code(&self) -> Option<u16> {
        match &self.outcome {
            Outcome::Delivered { status } | Outcome::Gone { status } => Some(*status),
            Outcome::Failed { status, .. } => *status,
        }
    }

    pub fn error(&self) -> Option<String> {
        match &self.outcome {
            Outcome::Delivered { .. } => None,
            Outcome::Gone { status } => Some(format!(
                "HTTP {status} Gone: the receiver asked for no more events; the webhook was disabled"
            )),
            Outcome::Failed { error, .. } => Some(error.clone()),
        }
    }
}

/// Sends one attempt. Never fails: every problem is an [`Outcome::Failed`]
/// with a sentence for the delivery log.
pub(crate) async fn send(
    clients: &Clients,
    block_private: bool,
    target: &Target,
    attempt: Attempt<'_>,
) -> Sent {
    let at = Utc::now();
    let started = Instant::now();
    let elapsed =
        |started: Instant| u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
    if block_private && let Err(blocked) = check_literal(&target.url) {
        return Sent::local_failure(blocked.to_string());
    }
    let headers = match request_headers(target, attempt, at.timestamp()) {
        Ok(h) => h,
        Err(e) => return Sent::local_failure(e.to_string()),
    };
    let response = clients
        .get(block_private)
        .post(target.url.clone())
        .headers(headers)
        .timeout(target.timeout)
        .body(attempt.body.to_owned())
        .send()
        .await;
    let latency_ms = elapsed(started);
    let outcome = match response {
        Ok(resp) => classify(&resp),
        Err(e) => Outcome::Failed {
            status: None,
            error: describe(&e, target.timeout),
            retry_after: None,
        },
    };
    Sent {
        outcome,
        at,
        latency_ms,
    }
}

fn request_headers(target: &Target, attempt: Attempt<'_>, unix_seconds: i64) -> Result<HeaderMap> {
    let mut headers = target.headers.clone();
    let value = |v: &str| {
        HeaderValue::from_str(v).map_err(|e| CoreError::Internal(format!("header value: {e}")))
    };
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(EVENT_HEADER, value(attempt.event)?);
    headers.insert(EVENT_ID_HEADER, value(attempt.event_id)?);
    headers.insert(ATTEMPT_HEADER, value(&attempt.number.to_string())?);
    headers.insert(DELIVERY_HEADER, value(&attempt.delivery_id.to_string())?);
    if let Some(secret) = &target.signing_secret {
        let signature = signature_header(
            secret.expose().as_bytes(),
            unix_seconds,
            attempt.body.as_bytes(),
        )?;
        headers.insert(SIGNATURE_HEADER, value(&signature)?);
    }
    Ok(headers)
}

fn classify(resp: &reqwest::Response) -> Outcome {
    let status = resp.status();
    let code = status.as_u16();
    if status.is_success() {
        return Outcome::Delivered { status: code };
    }
    if code == 410 {
        return Outcome::Gone { status: code };
    }
    let reason = status.canonical_reason().unwrap_or("");
    let mut error = format!("HTTP {code} {reason}").trim_end().to_owned();
    if status.is_redirection() {
        error.push_str(": redirects are not followed; point the webhook at the final URL");
        if let Some(location) = resp.headers().get(LOCATION).and_then(|v| v.to_str().ok()) {
            error.push_str(&format!(" (Location: {})", truncate(location, 200)));
        }
    }
    let retry_after = resp
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()));
    if let Some(wait) = retry_after {
        error.push_str(&format!(" (Retry-After: {} s)", wait.as_secs()));
    }
    Outcome::Failed {
        status: Some(code),
        error,
        retry_after,
    }
}

/// A sentence for the log: the refusal reason when the guard refused, else
/// the innermost causes (reqwest's own top line repeats the URL and says
/// little).
fn describe(err: &reqwest::Error, timeout: Duration) -> String {
    let mut causes = Vec::new();
    let mut source = err.source();
    while let Some(s) = source {
        if let Some(blocked) = s.downcast_ref::<BlockedDestination>() {
            return blocked.to_string();
        }
        causes.push(s.to_string());
        source = s.source();
    }
    if err.is_timeout() {
        return format!(
            "no answer within {:.1} s (the webhook's timeout)",
            timeout.as_secs_f64()
        );
    }
    causes.dedup();
    let detail = causes.join(": ");
    let what = if err.is_connect() {
        "cannot connect"
    } else {
        "the request failed"
    };
    if detail.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {detail}")
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(max).collect();
        format!("{cut}…")
    }
}

//! `hyperctl webhook`.

use std::io::{IsTerminal, Read};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use clap::{Args, Subcommand};
use hypersdk_core::model::Secret;
use hypersdk_core::webhooks::{
    DeliveryFilter, DeliveryStatus, Webhook, WebhookDelivery, WebhookHeaderInput, WebhookInput,
    WebhookSettings, event_names,
};
use hypersdk_core::{ApiError, Core, CoreError};

use crate::output;

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Save a webhook; its signing secret and secret header values go to the OS keyring.
    Add(AddArgs),
    /// List webhooks with their last delivery.
    #[command(alias = "ls")]
    List,
    /// Show one webhook.
    Show {
        /// Webhook name or id.
        webhook: String,
    },
    /// Send a signed webhook.test event now and print the receiver's answer.
    Test {
        /// Webhook name or id.
        webhook: String,
    },
    /// Remove a webhook, its delivery log and its keyring entries.
    #[command(alias = "rm")]
    Remove {
        /// Webhook name or id.
        webhook: String,
    },
    /// Show the delivery log, newest first.
    Deliveries(DeliveriesArgs),
    /// Queue a delivery again (same event id, fresh attempts).
    Redeliver {
        /// The delivery's id, as `deliveries` prints it.
        delivery: i64,
    },
    /// Turn a webhook on; its waiting deliveries resume.
    Enable {
        /// Webhook name or id.
        webhook: String,
    },
    /// Turn a webhook off; it gets no new events and its pending deliveries wait.
    Disable {
        /// Webhook name or id.
        webhook: String,
        /// Mark its pending deliveries cancelled instead (each can be redelivered).
        #[arg(long)]
        drop_pending: bool,
    },
    /// Send pending deliveries from this process, then exit (for machines
    /// where HyperSDK Desktop, which delivers in the background, is not running).
    Deliver {
        /// Give up after this many seconds even if deliveries are still pending.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
    },
    /// Show or change webhook settings; unspecified ones keep their value.
    Settings(SettingsArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// A unique name to refer to the webhook by.
    #[arg(long)]
    name: String,
    /// The receiver's http:// or https:// URL (no user name or password in it).
    #[arg(long)]
    url: String,
    /// An event to send (repeatable): job.created, job.started, job.progress,
    /// job.completed, job.failed, job.cancelled, schedule.triggered,
    /// schedule.skipped, or * for all (the default).
    #[arg(long = "event", value_name = "EVENT")]
    events: Vec<String>,
    /// A header sent with every delivery, as KEY=VALUE (repeatable); stored in clear.
    #[arg(long = "header", value_name = "KEY=VALUE", value_parser = parse_header)]
    headers: Vec<(String, String)>,
    /// A header whose value is secret (repeatable): the value is prompted
    /// for (or read as the next line of standard input) and kept in the OS keyring.
    #[arg(long = "secret-header", value_name = "KEY")]
    secret_headers: Vec<String>,
    /// Sign deliveries: read the signing secret from standard input (the first line).
    #[arg(long)]
    secret_stdin: bool,
    /// Seconds to wait for the receiver's answer (0.5-300; default 10).
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Attempts before a delivery is given up as dead (1-100; default 25).
    #[arg(long, value_name = "N")]
    max_attempts: Option<u32>,
    /// Save it turned off.
    #[arg(long)]
    disabled: bool,
}

#[derive(Debug, Args)]
pub struct DeliveriesArgs {
    /// Only this webhook's deliveries (name or id).
    webhook: Option<String>,
    /// Only deliveries in this state: pending, delivered, dead or cancelled.
    #[arg(long)]
    status: Option<String>,
    /// Only deliveries about this job.
    #[arg(long)]
    job: Option<String>,
    /// At most this many (default 200).
    #[arg(long)]
    limit: Option<u32>,
}

#[derive(Debug, Args)]
pub struct SettingsArgs {
    /// Refuse loopback, private and link-local destinations (checked on every connection).
    #[arg(long, value_name = "true|false")]
    block_private_destinations: Option<bool>,
    /// Send job.progress at most once per job per this many seconds (5-86400).
    #[arg(long, value_name = "SECS")]
    progress_interval: Option<u32>,
    /// The first retry waits up to this many milliseconds (100-60000).
    #[arg(long, value_name = "MS")]
    retry_base_ms: Option<u32>,
    /// No retry waits longer than this many milliseconds (1000-3600000).
    #[arg(long, value_name = "MS")]
    retry_cap_ms: Option<u32>,
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| format!("\"{s}\" is not KEY=VALUE"))?;
    if k.trim().is_empty() {
        return Err(format!("\"{s}\" has an empty KEY"));
    }
    Ok((k.trim().to_owned(), v.to_owned()))
}

/// Secrets come from a prompt, or from standard input one per line — never
/// from arguments, which every user can read through `ps` and which end up
/// in shell history.
struct SecretSource {
    piped: Option<std::vec::IntoIter<String>>,
}

impl SecretSource {
    fn open() -> Result<SecretSource, ApiError> {
        if std::io::stdin().is_terminal() {
            return Ok(SecretSource { piped: None });
        }
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CoreError::io("cannot read standard input", e))?;
        let lines: Vec<String> = text
            .lines()
            .map(|l| l.strip_suffix('\r').unwrap_or(l).to_owned())
            .collect();
        Ok(SecretSource {
            piped: Some(lines.into_iter()),
        })
    }

    fn next(&mut self, what: &str) -> Result<Secret, ApiError> {
        match &mut self.piped {
            Some(lines) => lines.next().map(Secret::new).ok_or_else(|| {
                CoreError::invalid(
                    "secret",
                    format!(
                        "standard input ended before the {what}: give one line each — the signing \
                         secret first (with --secret-stdin), then each --secret-header value in order"
                    ),
                )
                .into()
            }),
            None => rpassword::prompt_password(format!("{what}: "))
                .map(Secret::new)
                .map_err(|e| CoreError::io("cannot read from the terminal", e).into()),
        }
    }
}

pub async fn run(core: &Arc<Core>, cmd: WebhookCommand, json: bool) -> Result<(), ApiError> {
    match cmd {
        WebhookCommand::Add(args) => add(core, args, json).await,
        WebhookCommand::List => {
            let hooks = core.list_webhooks().await?;
            if json {
                return output::json(&hooks);
            }
            if hooks.is_empty() {
                println!(
                    "No webhooks. Add one with: hyperctl webhook add --name NAME --url https://… [--event job.failed]"
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = hooks
                .iter()
                .map(|h| {
                    vec![
                        h.name.clone(),
                        if h.enabled { "on" } else { "off" }.into(),
                        h.events.join(","),
                        last_delivery(h),
                        h.pending.to_string(),
                        h.dead.to_string(),
                        h.url.clone(),
                    ]
                })
                .collect();
            output::table(
                &[
                    "NAME",
                    "ENABLED",
                    "EVENTS",
                    "LAST DELIVERY",
                    "PENDING",
                    "DEAD",
                    "URL",
                ],
                &rows,
            );
            Ok(())
        }
        WebhookCommand::Show { webhook } => {
            let h = core.webhook(&webhook).await?;
            if json {
                return output::json(&h);
            }
            print_webhook(&h);
            Ok(())
        }
        WebhookCommand::Test { webhook } => {
            let h = core.webhook(&webhook).await?;
            let result = core.test_webhook(&h.id).await?;
            if json {
                output::json(&result)?;
            } else {
                match result.status_code {
                    Some(code) => println!(
                        "HTTP {code} from {} in {} ms (event {})",
                        h.url, result.latency_ms, result.event_id
                    ),
                    None => println!(
                        "No answer from {}: {} (event {})",
                        h.url,
                        result.error.as_deref().unwrap_or("unknown error"),
                        result.event_id
                    ),
                }
            }
            if result.ok {
                Ok(())
            } else {
                Err(ApiError {
                    code: "webhook_test_failed".into(),
                    message: match (result.status_code, &result.error) {
                        (Some(code), _) => {
                            format!("the receiver of \"{}\" answered HTTP {code}", h.name)
                        }
                        (None, Some(e)) => format!("the test event to \"{}\" failed: {e}", h.name),
                        (None, None) => format!("the test event to \"{}\" failed", h.name),
                    },
                    retryable: true,
                })
            }
        }
        WebhookCommand::Remove { webhook } => {
            let h = core.webhook(&webhook).await?;
            core.remove_webhook(&h.id).await?;
            if json {
                return output::json(&serde_json::json!({ "removed": h.id }));
            }
            println!(
                "Removed webhook \"{}\", its delivery log and its keyring entries.",
                h.name
            );
            Ok(())
        }
        WebhookCommand::Deliveries(args) => {
            let status = args
                .status
                .as_deref()
                .map(|s| {
                    DeliveryStatus::parse(&s.to_lowercase()).ok_or_else(|| {
                        ApiError::from(CoreError::invalid(
                            "status",
                            format!(
                                "unknown status \"{s}\" (expected pending, delivered, dead or cancelled)"
                            ),
                        ))
                    })
                })
                .transpose()?;
            let list = core
                .webhook_deliveries(DeliveryFilter {
                    webhook: args.webhook,
                    status,
                    job_id: args.job,
                    limit: args.limit,
                })
                .await?;
            if json {
                return output::json(&list);
            }
            if list.is_empty() {
                println!("No deliveries.");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = list.iter().map(delivery_row).collect();
            output::table(
                &[
                    "ID", "TIME", "WEBHOOK", "EVENT", "JOB", "STATUS", "CODE", "ATTEMPTS",
                    "LATENCY", "ERROR",
                ],
                &rows,
            );
            Ok(())
        }
        WebhookCommand::Redeliver { delivery } => {
            let d = core.redeliver(delivery).await?;
            if json {
                return output::json(&d);
            }
            println!(
                "Delivery {} ({} to \"{}\") queued again with event id {}.",
                d.id, d.event, d.webhook_name, d.event_id
            );
            println!(
                "HyperSDK Desktop sends it in the background; without the app, run: hyperctl webhook deliver"
            );
            Ok(())
        }
        WebhookCommand::Enable { webhook } => {
            let h = core.set_webhook_enabled(&webhook, true, false).await?;
            if json {
                return output::json(&h);
            }
            println!("Webhook \"{}\" is on.", h.name);
            Ok(())
        }
        WebhookCommand::Disable {
            webhook,
            drop_pending,
        } => {
            let before = core.webhook(&webhook).await?;
            let h = core
                .set_webhook_enabled(&before.id, false, drop_pending)
                .await?;
            if json {
                return output::json(&h);
            }
            if drop_pending {
                println!(
                    "Webhook \"{}\" is off; {} pending deliveries were cancelled.",
                    h.name, before.pending
                );
            } else {
                println!(
                    "Webhook \"{}\" is off; its {} pending deliveries wait until it is enabled again.",
                    h.name, h.pending
                );
            }
            Ok(())
        }
        WebhookCommand::Deliver { timeout } => deliver(core, timeout, json).await,
        WebhookCommand::Settings(args) => {
            let mut s = core.webhook_settings().await?;
            let changing = args.block_private_destinations.is_some()
                || args.progress_interval.is_some()
                || args.retry_base_ms.is_some()
                || args.retry_cap_ms.is_some();
            if let Some(v) = args.block_private_destinations {
                s.block_private_destinations = v;
            }
            if let Some(v) = args.progress_interval {
                s.progress_interval_seconds = v;
            }
            if let Some(v) = args.retry_base_ms {
                s.retry_base_ms = v;
            }
            if let Some(v) = args.retry_cap_ms {
                s.retry_cap_ms = v;
            }
            if changing {
                s = core.update_webhook_settings(s).await?;
            }
            if json {
                return output::json(&s);
            }
            print_settings(&s);
            Ok(())
        }
    }
}

async fn add(core: &Core, args: AddArgs, json: bool) -> Result<(), ApiError> {
    let mut source = if args.secret_stdin || !args.secret_headers.is_empty() {
        Some(SecretSource::open()?)
    } else {
        None
    };
    let signing_secret = match (&mut source, args.secret_stdin) {
        (Some(src), true) => {
            let s = src.next("signing secret")?;
            if s.is_empty() {
                return Err(CoreError::invalid(
                    "signing_secret",
                    "the signing secret on standard input is empty",
                )
                .into());
            }
            Some(s)
        }
        _ => None,
    };
    let mut headers: Vec<WebhookHeaderInput> = args
        .headers
        .into_iter()
        .map(|(name, value)| WebhookHeaderInput {
            name,
            value: Secret::new(value),
            secret: false,
        })
        .collect();
    for name in args.secret_headers {
        let value = match &mut source {
            Some(src) => src.next(&format!("value of {name}"))?,
            None => {
                return Err(CoreError::Internal("no source for secret headers".into()).into());
            }
        };
        headers.push(WebhookHeaderInput {
            name,
            value,
            secret: true,
        });
    }
    let timeout_ms = args
        .timeout
        .map(|secs| {
            if secs.is_finite() && secs > 0.0 && secs <= 86_400.0 {
                // In range by the check above; the core applies the real bounds.
                Ok((secs * 1000.0).round() as u32)
            } else {
                Err(ApiError::from(CoreError::invalid(
                    "timeout_ms",
                    format!("--timeout {secs} is not a number of seconds"),
                )))
            }
        })
        .transpose()?;
    let input = WebhookInput {
        name: args.name,
        url: args.url,
        events: args.events,
        headers,
        timeout_ms,
        max_attempts: args.max_attempts,
        signing_secret,
    };
    let mut h = core.add_webhook(input).await?;
    if args.disabled {
        h = core.set_webhook_enabled(&h.id, false, false).await?;
    }
    if json {
        return output::json(&h);
    }
    println!(
        "Added webhook \"{}\" → {} ({}{}).",
        h.name,
        h.url,
        h.events.join(", "),
        if h.has_secret { ", signed" } else { "" }
    );
    println!("Check it with: hyperctl webhook test {}", h.name);
    Ok(())
}

/// Runs the delivery worker here until nothing is pending (or `timeout`).
async fn deliver(core: &Arc<Core>, timeout: u64, json: bool) -> Result<(), ApiError> {
    let worker = tokio::spawn(Arc::clone(core).run_webhooks());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout);
    let pending = loop {
        let pending = core
            .webhook_deliveries(DeliveryFilter {
                status: Some(DeliveryStatus::Pending),
                ..DeliveryFilter::default()
            })
            .await?;
        if pending.is_empty() || tokio::time::Instant::now() >= deadline {
            break pending;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    worker.abort();
    if json {
        return output::json(&serde_json::json!({ "pending": pending.len() }));
    }
    if pending.is_empty() {
        println!("Nothing left to deliver.");
        Ok(())
    } else {
        Err(ApiError {
            code: "deliveries_pending".into(),
            message: format!(
                "{} deliveries are still pending after {timeout} s (receivers down, or waiting to retry); \
                 see: hyperctl webhook deliveries --status pending",
                pending.len()
            ),
            retryable: true,
        })
    }
}

fn last_delivery(h: &Webhook) -> String {
    match &h.last_delivery {
        None => "-".into(),
        Some(l) => {
            let code = l.status_code.map(|c| format!(" {c}")).unwrap_or_default();
            format!("{}{code} {}", l.status, ago(l.at))
        }
    }
}

fn ago(at: chrono::DateTime<Utc>) -> String {
    let secs = (Utc::now() - at).num_seconds().max(0);
    match secs {
        0..=59 => format!("{secs}s ago"),
        60..=3599 => format!("{}m ago", secs / 60),
        3600..=86_399 => format!("{}h ago", secs / 3600),
        _ => at.format("%Y-%m-%d").to_string(),
    }
}

fn delivery_row(d: &WebhookDelivery) -> Vec<String> {
    let time = d.last_attempt_at.unwrap_or(d.created_at);
    let mut error = d.last_error.clone().unwrap_or_default();
    if error.chars().count() > 60 {
        error = error.chars().take(59).collect::<String>() + "…";
    }
    if d.status == DeliveryStatus::Pending
        && let Some(next) = d.next_attempt_at
    {
        let wait = (next - Utc::now()).num_seconds();
        if wait > 0 {
            error = format!("next try in {wait}s; {error}");
        }
    }
    vec![
        d.id.to_string(),
        time.format("%Y-%m-%d %H:%M:%S").to_string(),
        d.webhook_name.clone(),
        d.event.clone(),
        d.job_id
            .as_deref()
            .map(|j| j.chars().take(8).collect())
            .unwrap_or_else(|| "-".into()),
        d.status.to_string(),
        d.last_status_code
            .map(|c| c.to_string())
            .unwrap_or_else(|| "-".into()),
        d.attempts.to_string(),
        d.last_latency_ms
            .map(|l| format!("{l} ms"))
            .unwrap_or_else(|| "-".into()),
        error,
    ]
}

fn print_webhook(h: &Webhook) {
    println!("ID:           {}", h.id);
    println!("Name:         {}", h.name);
    println!("URL:          {}", h.url);
    println!("Events:       {}", h.events.join(", "));
    println!(
        "Enabled:      {}{}",
        if h.enabled { "yes" } else { "no" },
        h.disabled_reason
            .as_deref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    println!(
        "Signed:       {}",
        if h.has_secret {
            "yes (X-HyperSDK-Signature; secret in the OS keyring)"
        } else {
            "no"
        }
    );
    for header in &h.headers {
        match &header.value {
            Some(v) if !header.secret => println!("Header:       {}: {v}", header.name),
            _ => println!("Header:       {}: (secret, in the OS keyring)", header.name),
        }
    }
    println!("Timeout:      {:.1} s", f64::from(h.timeout_ms) / 1000.0);
    println!("Max attempts: {}", h.max_attempts);
    println!("Pending:      {}", h.pending);
    println!("Dead:         {}", h.dead);
    println!("Last:         {}", last_delivery(h));
    if let Some(e) = h.last_delivery.as_ref().and_then(|l| l.error.as_deref()) {
        println!("Last error:   {e}");
    }
    println!("Created:      {}", h.created_at.to_rfc3339());
    println!("Updated:      {}", h.updated_at.to_rfc3339());
}

fn print_settings(s: &WebhookSettings) {
    output::table(
        &["SETTING", "VALUE"],
        &[
            vec![
                "block_private_destinations".into(),
                s.block_private_destinations.to_string(),
            ],
            vec![
                "progress_interval_seconds".into(),
                s.progress_interval_seconds.to_string(),
            ],
            vec!["retry_base_ms".into(), s.retry_base_ms.to_string()],
            vec!["retry_cap_ms".into(), s.retry_cap_ms.to_string()],
        ],
    );
    println!("Events: {}", event_names().join(", "));
}

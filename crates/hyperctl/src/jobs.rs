//! `hyperctl jobs`.

use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use hypersdk_core::model::Job;
use hypersdk_core::{ApiError, Core, CoreError};

use crate::output;

/// How long `cancel` waits to report the outcome of a job another process runs.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first.
    #[command(alias = "ls")]
    List {
        /// Only jobs in this state (queued, running, succeeded, failed, cancelled, interrupted).
        #[arg(long)]
        state: Option<String>,
    },
    /// Show one job and its event log.
    Show {
        /// Job id, or a unique prefix of it.
        id: String,
    },
    /// Cancel a queued or running job, wherever it runs.
    Cancel {
        /// Job id, or a unique prefix of it.
        id: String,
    },
    /// Run a failed, cancelled or interrupted export again (in this process, with progress);
    /// it continues from the checkpoint its destination holds where the source allows.
    Retry {
        /// Job id, or a unique prefix of it.
        id: String,
    },
}

pub async fn run(core: &Arc<Core>, cmd: JobsCommand, json: bool) -> Result<(), ApiError> {
    match cmd {
        JobsCommand::List { state } => {
            let mut jobs = core.list_jobs().await?;
            if jobs.len() >= hypersdk_core::JOB_LIST_LIMIT as usize {
                // stderr, so a script reading the list (or its JSON) is not disturbed.
                eprintln!(
                    "note: only the newest {} jobs are listed; older ones are kept but not listed",
                    hypersdk_core::JOB_LIST_LIMIT
                );
            }
            if let Some(state) = state {
                let want = hypersdk_core::model::JobState::parse(&state.to_lowercase()).ok_or_else(|| {
                    ApiError::from(CoreError::invalid(
                        "state",
                        format!(
                            "unknown state \"{state}\" (expected queued, running, succeeded, failed, cancelled or interrupted)"
                        ),
                    ))
                })?;
                jobs.retain(|j| j.state == want);
            }
            if json {
                return output::json(&jobs);
            }
            if jobs.is_empty() {
                println!("No jobs.");
                return Ok(());
            }
            let rows: Vec<Vec<String>> = jobs.iter().map(row).collect();
            output::table(
                &["ID", "NAME", "KIND", "STATE", "PROGRESS", "CREATED"],
                &rows,
            );
            Ok(())
        }
        JobsCommand::Show { id } => {
            let id = resolve(core, &id).await?;
            let detail = core.job(&id).await?;
            if json {
                return output::json(&detail);
            }
            let j = &detail.job;
            println!("ID:       {}", j.id);
            println!("Name:     {}", j.name);
            println!("Kind:     {}", j.kind.as_str());
            println!("State:    {}", j.state);
            println!("Progress: {}", progress(j));
            if let Some(e) = &j.error {
                println!("Error:    {} [{}]", e.message, e.code);
            }
            println!("Events:");
            for e in &detail.events {
                println!(
                    "  {}  {:<11}  {}",
                    e.at.format("%Y-%m-%d %H:%M:%S"),
                    e.state.as_str(),
                    e.message
                );
            }
            Ok(())
        }
        JobsCommand::Retry { id } => {
            let id = resolve(core, &id).await?;
            let cleanup = crate::export::spawn_cleanup(core);
            let events = core.events().subscribe();
            core.start_metrics(false);
            let job = core.retry_job(&id).await?;
            let outcome = crate::export::watch(core, vec![job], events, json).await;
            crate::export::finish_cleanup(cleanup).await;
            outcome
        }
        JobsCommand::Cancel { id } => {
            let id = resolve(core, &id).await?;
            core.cancel_job(&id).await?;
            // Another process may own the job: report its final state once
            // it has one, rather than a vague "requested".
            let deadline = tokio::time::Instant::now() + CANCEL_WAIT;
            let job = loop {
                let job = core.job(&id).await?.job;
                if job.state.is_terminal() || tokio::time::Instant::now() >= deadline {
                    break job;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            };
            if json {
                return output::json(&job);
            }
            if job.state.is_terminal() {
                println!("Job {} is {}.", job.id, job.state);
            } else {
                println!(
                    "Cancellation of job {} requested; it is still {}.",
                    job.id, job.state
                );
            }
            Ok(())
        }
    }
}

/// Accepts a full id or an unambiguous prefix, as people copy short ids
/// from the table.
async fn resolve(core: &Core, id: &str) -> Result<String, ApiError> {
    let jobs = core.list_jobs().await?;
    if jobs.iter().any(|j| j.id == id) {
        return Ok(id.to_owned());
    }
    let matches: Vec<&Job> = jobs.iter().filter(|j| j.id.starts_with(id)).collect();
    match matches.as_slice() {
        [one] => Ok(one.id.clone()),
        [] => Err(CoreError::NotFound {
            what: "job",
            id: id.to_owned(),
        }
        .into()),
        many => Err(CoreError::invalid(
            "id",
            format!("\"{id}\" matches {} jobs; give more of the id", many.len()),
        )
        .into()),
    }
}

fn row(j: &Job) -> Vec<String> {
    vec![
        j.id.chars().take(8).collect(),
        j.name.clone(),
        j.kind.as_str().to_owned(),
        j.state.to_string(),
        progress(j),
        j.created_at.format("%Y-%m-%d %H:%M").to_string(),
    ]
}

fn progress(j: &Job) -> String {
    match &j.progress {
        None => "-".into(),
        Some(p) => match p.bytes_total {
            Some(total) if total > 0 => format!(
                "{:.0}% of {}",
                p.bytes_done as f64 * 100.0 / total as f64,
                output::bytes(total)
            ),
            _ => output::bytes(p.bytes_done),
        },
    }
}

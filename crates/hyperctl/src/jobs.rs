//! `hyperctl jobs`.

use std::sync::Arc;
use std::time::Duration;

use clap::Subcommand;
use hypersdk_core::model::{Job, JobQuery, JobSortKey, JobState};
use hypersdk_core::{ApiError, Core, CoreError};

use crate::output;

/// How long `cancel` waits to report the outcome of a job another process runs.
const CANCEL_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first (one page; `--offset` for the next), with filters and sort.
    #[command(alias = "ls")]
    List {
        /// Only jobs in this state (queued, running, succeeded, failed, cancelled,
        /// interrupted); repeat or separate with commas for several.
        #[arg(long, value_delimiter = ',')]
        state: Vec<String>,
        /// Only jobs of this provider kind (vsphere, aws, …), or `none` for jobs without one.
        #[arg(long)]
        provider: Option<String>,
        /// Only jobs of this connection (name or id).
        #[arg(long)]
        connection: Option<String>,
        /// Only jobs whose name, id, connection name or error message contain every word
        /// (any case).
        #[arg(long)]
        search: Option<String>,
        /// Order by created (default), name, state, provider or connection.
        #[arg(long, default_value = "created")]
        sort: String,
        /// Ascending (oldest first for `created`); descending is the default for `created`.
        #[arg(long, conflicts_with = "desc")]
        asc: bool,
        /// Descending (the default for `created`, ascending for the others).
        #[arg(long)]
        desc: bool,
        /// How many jobs to show (at most 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Skip this many matching jobs (the next page: `--offset 100`).
        #[arg(long, default_value_t = 0)]
        offset: u32,
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
        JobsCommand::List {
            state,
            provider,
            connection,
            search,
            sort,
            asc,
            desc,
            limit,
            offset,
        } => {
            let states = state
                .iter()
                .map(|s| parse_state(s))
                .collect::<Result<Vec<_>, _>>()?;
            let sort = parse_sort(&sort)?;
            let connection_id = match connection {
                Some(c) => Some(core.connection(&c).await?.id),
                None => None,
            };
            let query = JobQuery {
                states,
                provider: provider.map(|p| p.to_lowercase()),
                connection_id,
                text: search.unwrap_or_default(),
                sort,
                desc: if asc || desc {
                    desc
                } else {
                    sort == JobSortKey::CreatedAt
                },
                offset,
                limit,
            };
            let page = core.query_jobs(query).await?;
            let shown = page.jobs.len() as u32;
            if shown < page.matched {
                // stderr, so a script reading the list (or its JSON) is not disturbed.
                let first = if shown == 0 { offset } else { offset + 1 };
                eprintln!(
                    "jobs {first}–{} of {} matching ({} in all); --offset {} for more",
                    offset + shown,
                    page.matched,
                    page.total,
                    offset + shown
                );
            }
            if json {
                return output::json(&page.jobs);
            }
            if page.jobs.is_empty() {
                println!(
                    "{}",
                    if page.total == 0 {
                        "No jobs."
                    } else {
                        "No job matches."
                    }
                );
                return Ok(());
            }
            let rows: Vec<Vec<String>> = page.jobs.iter().map(row).collect();
            output::table(
                &["ID", "NAME", "KIND", "STATE", "PROGRESS", "CREATED"],
                &rows,
            );
            Ok(())
        }
        JobsCommand::Show { id } => {
            let id = core.resolve_job_id(&id).await?;
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
            let id = core.resolve_job_id(&id).await?;
            let cleanup = crate::export::spawn_cleanup(core);
            let events = core.events().subscribe();
            core.start_metrics(false);
            let job = core.retry_job(&id).await?;
            let outcome = crate::export::watch(core, vec![job], events, json).await;
            crate::export::finish_cleanup(cleanup).await;
            outcome
        }
        JobsCommand::Cancel { id } => {
            let id = core.resolve_job_id(&id).await?;
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

fn parse_state(state: &str) -> Result<JobState, ApiError> {
    JobState::parse(&state.trim().to_lowercase()).ok_or_else(|| {
        CoreError::invalid(
            "state",
            format!(
                "unknown state \"{state}\" (expected queued, running, succeeded, failed, cancelled or interrupted)"
            ),
        )
        .into()
    })
}

fn parse_sort(sort: &str) -> Result<JobSortKey, ApiError> {
    Ok(match sort.trim().to_lowercase().as_str() {
        "created" | "created_at" | "time" => JobSortKey::CreatedAt,
        "name" => JobSortKey::Name,
        "state" => JobSortKey::State,
        "provider" => JobSortKey::Provider,
        "connection" => JobSortKey::Connection,
        _ => {
            return Err(CoreError::invalid(
                "sort",
                format!(
                    "unknown sort \"{sort}\" (expected created, name, state, provider or connection)"
                ),
            )
            .into());
        }
    })
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

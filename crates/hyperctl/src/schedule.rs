//! `hyperctl schedule …` (scheduled backups) and `hyperctl scheduler` (the
//! scheduler, headless, for servers without the app).

use std::path::PathBuf;
use std::sync::Arc;

use clap::{ArgGroup, Args, Subcommand, ValueEnum};
use hypersdk_core::cron_schedule::parse_zone;
use hypersdk_core::model::Timestamp;
use hypersdk_core::schedules::{
    ExecutionStatus, MissedRunPolicy, Retention, Schedule, ScheduleExecution, ScheduleInput,
    ScheduleTemplate, VmSelection,
};
use hypersdk_core::{ApiError, Core, CoreError, CoreEvent};
use tokio::sync::broadcast::error::RecvError;

use crate::export::ExportFormatArgs;
use crate::output;

#[derive(Debug, Subcommand)]
pub enum ScheduleCommand {
    /// Add a schedule: which VMs, when, where, in what format, how many copies to keep.
    Add(Box<AddArgs>),
    /// List schedules with their next run (`--json`: `next_run` in RFC 3339).
    #[command(alias = "ls")]
    List,
    /// Show one schedule and its next run times.
    Show {
        /// Schedule name or id.
        schedule: String,
    },
    /// Run a schedule now, in the foreground, and wait for it to finish.
    /// Exits non-zero unless the run succeeded.
    Run {
        /// Schedule name or id.
        schedule: String,
    },
    /// Enable a schedule; it next fires at its next time from now.
    Enable {
        /// Schedule name or id.
        schedule: String,
    },
    /// Disable a schedule; times passing while disabled are not caught up.
    Disable {
        /// Schedule name or id.
        schedule: String,
    },
    /// Remove a schedule and its history (its backups stay on disk).
    #[command(alias = "rm")]
    Remove {
        /// Schedule name or id.
        schedule: String,
    },
    /// Show a schedule's runs, newest first, including skipped ones.
    History {
        /// Schedule name or id.
        schedule: String,
        /// At most this many runs.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Pause every schedule (persisted); due times are recorded as skipped.
    Pause,
    /// Resume schedules after `pause`.
    Resume,
    /// Show which files retention would delete now. Deletes nothing.
    PreviewRetention {
        /// Schedule name or id.
        schedule: String,
    },
    /// Say what a cron expression means and when it would fire next, without saving anything
    /// (what the schedule form shows while it is typed).
    PreviewCron {
        /// 5-field cron (`0 2 * * *`) or a preset (`@daily`, …).
        cron: String,
        /// IANA time zone the expression is read in.
        #[arg(long, default_value = "local")]
        tz: String,
    },
}

/// What to do about a run missed while no scheduler was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MissedArg {
    /// Run once as soon as possible (however many times were missed).
    RunOnce,
    /// Record it as skipped and wait for the next time.
    Skip,
}

#[derive(Debug, Args)]
#[command(group(
    ArgGroup::new("selection")
        .required(true)
        .multiple(true)
        .args(["vms", "pattern", "folder"])
))]
pub struct AddArgs {
    /// A unique name; also the name of the folder runs are written to.
    #[arg(long)]
    name: String,
    /// When to run: 5-field cron (`0 2 * * *`) or a preset (`@daily`, `@weekly`, …).
    #[arg(long)]
    cron: String,
    /// IANA time zone the cron expression is read in (e.g. Europe/Paris).
    #[arg(long, default_value = "local")]
    tz: String,
    /// Connection name or id.
    #[arg(long)]
    connection: String,
    /// A VM to back up, by inventory path or id (repeat for several).
    #[arg(long = "vm", value_name = "PATH", num_args = 1.., conflicts_with_all = ["pattern", "folder"])]
    vms: Vec<String>,
    /// Back up every VM whose name matches this glob (`*`, `?`; case-insensitive) when the run starts.
    #[arg(long = "match", value_name = "PATTERN")]
    pattern: Option<String>,
    /// Back up every VM under this inventory folder (with --match: both must match).
    #[arg(long, value_name = "FOLDER")]
    folder: Option<String>,
    /// Existing folder; each run writes DIR/NAME/YYYYMMDD-HHMMSS/.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    output: PathBuf,
    #[command(flatten)]
    format: ExportFormatArgs,
    /// Keep the newest N succeeded runs; delete older runs' files.
    #[arg(long, value_name = "N", conflicts_with_all = ["keep_daily", "keep_weekly", "keep_monthly"])]
    keep_last: Option<u32>,
    /// Keep the newest succeeded run of each of the last D days.
    #[arg(long, value_name = "D")]
    keep_daily: Option<u32>,
    /// Keep the newest succeeded run of each of the last W ISO weeks.
    #[arg(long, value_name = "W")]
    keep_weekly: Option<u32>,
    /// Keep the newest succeeded run of each of the last M months.
    #[arg(long, value_name = "M")]
    keep_monthly: Option<u32>,
    /// What to do about runs missed while no scheduler was running.
    #[arg(long, value_enum, default_value_t = MissedArg::RunOnce)]
    missed: MissedArg,
    /// Save the schedule disabled.
    #[arg(long)]
    disabled: bool,
}

fn input_of(a: AddArgs) -> Result<ScheduleInput, ApiError> {
    let retention = match (a.keep_last, a.keep_daily, a.keep_weekly, a.keep_monthly) {
        (Some(count), ..) => Retention::KeepLast { count },
        (None, None, None, None) => Retention::KeepAll,
        (None, d, w, m) => Retention::Gfs {
            daily: d.unwrap_or(0),
            weekly: w.unwrap_or(0),
            monthly: m.unwrap_or(0),
        },
    };
    let selection = if a.vms.is_empty() {
        VmSelection::Rule {
            name_pattern: a.pattern.clone(),
            folder: a.folder.clone(),
        }
    } else {
        VmSelection::Fixed { vms: a.vms.clone() }
    };
    // The core wants an absolute path; a terminal user means the one they
    // typed, relative to where they are.
    let output = if a.output.is_absolute() {
        a.output.clone()
    } else {
        std::env::current_dir()
            .map_err(|e| ApiError::from(CoreError::io("cannot read the current directory", e)))?
            .join(&a.output)
    };
    Ok(ScheduleInput {
        name: a.name.clone(),
        cron: a.cron.clone(),
        time_zone: Some(a.tz.clone()),
        template: ScheduleTemplate {
            connection_id: a.connection.clone(),
            selection,
            destination_dir: output.display().to_string(),
            format: a.format.to_format(),
        },
        retention,
        missed_run_policy: match a.missed {
            MissedArg::RunOnce => MissedRunPolicy::RunOnce,
            MissedArg::Skip => MissedRunPolicy::Skip,
        },
        enabled: !a.disabled,
    })
}

pub async fn run(core: &Arc<Core>, cmd: ScheduleCommand, json: bool) -> Result<(), ApiError> {
    match cmd {
        ScheduleCommand::Add(args) => {
            let schedule = core.add_schedule(input_of(*args)?).await?;
            if json {
                return output::json(&schedule);
            }
            println!(
                "Schedule \"{}\" added: {} ({}).",
                schedule.name, schedule.description, schedule.time_zone
            );
            println!("Next run: {}", when(schedule.next_run, &schedule.time_zone));
            Ok(())
        }
        ScheduleCommand::List => {
            let schedules = core.list_schedules().await?;
            if json {
                return output::json(&schedules);
            }
            print_list(&schedules);
            Ok(())
        }
        ScheduleCommand::Show { schedule } => {
            let detail = core.schedule(&schedule).await?;
            if json {
                return output::json(&detail);
            }
            let connection = core
                .connection(&detail.schedule.template.connection_id)
                .await
                .map(|c| c.name)
                .unwrap_or_else(|_| "(removed)".into());
            print_schedule(&detail.schedule, &connection);
            println!("Upcoming:");
            for t in &detail.upcoming {
                println!("  {}", when(Some(*t), &detail.schedule.time_zone));
            }
            Ok(())
        }
        ScheduleCommand::Run { schedule } => {
            let run = core.run_schedule_now(&schedule).await?;
            if json {
                output::json(&run)?;
            } else {
                print_run(&run);
            }
            outcome(&run)
        }
        ScheduleCommand::Enable { schedule } => set_enabled(core, &schedule, true, json).await,
        ScheduleCommand::Disable { schedule } => set_enabled(core, &schedule, false, json).await,
        ScheduleCommand::Remove { schedule } => {
            core.remove_schedule(&schedule).await?;
            if json {
                return output::json(&serde_json::json!({ "removed": schedule }));
            }
            println!("Schedule \"{schedule}\" removed; its backups stay on disk.");
            Ok(())
        }
        ScheduleCommand::History { schedule, limit } => {
            let runs = core.schedule_history(&schedule, Some(limit)).await?;
            if json {
                return output::json(&runs);
            }
            print_history(&runs);
            Ok(())
        }
        ScheduleCommand::Pause => {
            let status = core.pause_schedules().await?;
            if json {
                return output::json(&status);
            }
            println!(
                "Schedules paused: due times are recorded as skipped until `hyperctl schedule resume`."
            );
            Ok(())
        }
        ScheduleCommand::Resume => {
            let status = core.resume_schedules().await?;
            if json {
                return output::json(&status);
            }
            match &status.next {
                Some(next) => println!(
                    "Schedules resumed; next: \"{}\" at {}.",
                    next.schedule_name,
                    utc(next.at)
                ),
                None => println!("Schedules resumed; none is enabled."),
            }
            Ok(())
        }
        ScheduleCommand::PreviewCron { cron, tz } => {
            let preview = core.preview_cron(&cron, &tz)?;
            if json {
                return output::json(&preview);
            }
            println!("{}", preview.description);
            println!("Next runs:");
            for t in &preview.upcoming {
                println!("  {}", when(Some(*t), &tz));
            }
            Ok(())
        }
        ScheduleCommand::PreviewRetention { schedule } => {
            let items = core.retention_preview(&schedule).await?;
            if json {
                return output::json(&items);
            }
            if items.is_empty() {
                println!("Retention would delete nothing now.");
                return Ok(());
            }
            println!(
                "Retention would delete the files of {} run(s):",
                items.len()
            );
            for item in &items {
                println!(
                    "  run #{} ({}, {}):",
                    item.execution_id,
                    item.scheduled_for.format("%Y-%m-%d %H:%M UTC"),
                    item.status
                );
                for p in &item.paths {
                    println!("    {p}");
                }
            }
            Ok(())
        }
    }
}

async fn set_enabled(
    core: &Core,
    schedule: &str,
    enabled: bool,
    json: bool,
) -> Result<(), ApiError> {
    let s = core.set_schedule_enabled(schedule, enabled).await?;
    if json {
        return output::json(&s);
    }
    if s.enabled {
        println!(
            "Schedule \"{}\" enabled; next run: {}.",
            s.name,
            when(s.next_run, &s.time_zone)
        );
    } else {
        println!("Schedule \"{}\" disabled.", s.name);
    }
    Ok(())
}

/// A run that did not succeed is a failed command, so scripts and cron
/// notice.
fn outcome(run: &ScheduleExecution) -> Result<(), ApiError> {
    if run.status == ExecutionStatus::Succeeded {
        return Ok(());
    }
    Err(ApiError {
        code: format!("run_{}", run.status),
        message: format!(
            "run #{} of \"{}\" {}: {}",
            run.id,
            run.schedule_name,
            run.status,
            run.reason.as_deref().unwrap_or("no reason recorded")
        ),
        retryable: run.status == ExecutionStatus::Skipped,
    })
}

fn utc(t: Timestamp) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// A time in the schedule's own zone, as its cron expression reads.
fn when(t: Option<Timestamp>, zone: &str) -> String {
    match t {
        None => "-".into(),
        Some(t) => match parse_zone(zone) {
            Ok(tz) => t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z").to_string(),
            Err(_) => utc(t),
        },
    }
}

fn retention_text(r: &Retention) -> String {
    match r {
        Retention::KeepAll => "keep every run".into(),
        Retention::KeepLast { count } => format!("keep the last {count} succeeded runs"),
        Retention::Gfs {
            daily,
            weekly,
            monthly,
        } => format!("keep {daily} daily, {weekly} weekly, {monthly} monthly"),
    }
}

fn selection_text(s: &VmSelection) -> String {
    match s {
        VmSelection::Fixed { vms } => vms.join(", "),
        VmSelection::Rule {
            name_pattern,
            folder,
        } => {
            let mut parts = Vec::new();
            if let Some(p) = name_pattern {
                parts.push(format!("names matching {p}"));
            }
            if let Some(f) = folder {
                parts.push(format!("under {f}"));
            }
            format!("VMs {} (at run time)", parts.join(" and "))
        }
    }
}

fn print_list(schedules: &[Schedule]) {
    if schedules.is_empty() {
        println!("No schedules.");
        return;
    }
    let rows: Vec<Vec<String>> = schedules
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                if s.enabled { "yes" } else { "no" }.into(),
                s.description.clone(),
                s.time_zone.clone(),
                when(s.next_run, &s.time_zone),
                s.last_status
                    .map(|st| st.to_string())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    output::table(
        &["NAME", "ENABLED", "WHEN", "ZONE", "NEXT RUN", "LAST"],
        &rows,
    );
    for s in schedules {
        if let Some(p) = &s.problem {
            println!("! {}: {p}", s.name);
        }
    }
}

fn print_schedule(s: &Schedule, connection: &str) {
    println!("ID:          {}", s.id);
    println!("Name:        {}", s.name);
    println!("Enabled:     {}", if s.enabled { "yes" } else { "no" });
    println!(
        "When:        {} ({}; cron \"{}\")",
        s.description, s.time_zone, s.cron
    );
    println!("Next run:    {}", when(s.next_run, &s.time_zone));
    println!("Last run:    {}", when(s.last_run, &s.time_zone));
    if let Some(st) = s.last_status {
        println!("Last status: {st}");
    }
    println!("Connection:  {connection}");
    println!("VMs:         {}", selection_text(&s.template.selection));
    println!("Destination: {}", s.template.destination_dir);
    let f = &s.template.format;
    println!(
        "Format:      {:?}, compression {:?}{}, manifest {:?}{}",
        f.package,
        f.compression,
        f.compression_level
            .map(|l| format!(" level {l}"))
            .unwrap_or_default(),
        f.manifest,
        f.disk_format
            .map(|d| format!(", disks {d:?}"))
            .unwrap_or_default()
    );
    println!("Retention:   {}", retention_text(&s.retention));
    println!(
        "Missed runs: {}",
        match s.missed_run_policy {
            MissedRunPolicy::RunOnce => "run once at start-up",
            MissedRunPolicy::Skip => "skip",
        }
    );
    if let Some(p) = &s.problem {
        println!("Problem:     {p}");
    }
}

fn print_run(run: &ScheduleExecution) {
    println!(
        "Run #{} of \"{}\" ({}): {}",
        run.id,
        run.schedule_name,
        run.trigger.as_str(),
        run.status
    );
    if let Some(r) = &run.reason {
        println!("  {r}");
    }
    for a in &run.artefacts {
        println!("  wrote {a}");
    }
}

fn print_history(runs: &[ScheduleExecution]) {
    if runs.is_empty() {
        println!("No runs yet.");
        return;
    }
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let detail = match (&r.reason, r.artefacts.len()) {
                (Some(reason), _) => reason.clone(),
                (None, n) => format!("{n} artefact(s)"),
            };
            vec![
                r.id.to_string(),
                r.trigger.as_str().to_owned(),
                utc(r.scheduled_for),
                r.status.to_string(),
                if r.pruned_at.is_some() { "pruned" } else { "" }.to_owned(),
                detail,
            ]
        })
        .collect();
    output::table(
        &[
            "RUN",
            "TRIGGER",
            "SCHEDULED FOR",
            "STATUS",
            "FILES",
            "DETAIL",
        ],
        &rows,
    );
}

/// `hyperctl scheduler`: fire schedules until Ctrl-C / SIGTERM, printing
/// each run as it starts and ends (one line each; JSON lines with --json).
/// With `once`: catch up and fire what is due, wait, and exit.
pub async fn scheduler(core: Arc<Core>, once: bool, json: bool) -> Result<(), ApiError> {
    if once {
        let runs = core.run_scheduler_once().await?;
        if json {
            return output::json(&runs);
        }
        if runs.is_empty() {
            println!("Nothing was due.");
        }
        for run in &runs {
            print_run(run);
        }
        return Ok(());
    }
    let mut events = core.events().subscribe();
    tokio::spawn(Arc::clone(&core).run_background());
    let scheduler = tokio::spawn(Arc::clone(&core).run_scheduler());
    let printer = async {
        let mut announced = false;
        loop {
            match events.recv().await {
                Ok(CoreEvent::ScheduleRun { run }) => {
                    if json {
                        let _ = output::json_line(&run);
                    } else {
                        println!(
                            "{}  run #{} of \"{}\" ({}): {}{}",
                            utc(core.now()),
                            run.id,
                            run.schedule_name,
                            run.trigger.as_str(),
                            run.status,
                            run.reason
                                .as_deref()
                                .map(|r| format!(" — {r}"))
                                .unwrap_or_default()
                        );
                    }
                }
                Ok(CoreEvent::ScheduleChanged { schedule_id: None }) if !announced => {
                    if let Ok(status) = core.scheduler_status().await
                        && status.active_here
                    {
                        announced = true;
                        let next = status
                            .next
                            .map(|n| format!("next: \"{}\" at {}", n.schedule_name, utc(n.at)))
                            .unwrap_or_else(|| "no schedule is enabled".into());
                        let paused = if status.paused { " (paused)" } else { "" };
                        if json {
                            let _ = output::json_line(&serde_json::json!({
                                "scheduler": "running", "paused": status.paused
                            }));
                        } else {
                            println!("Scheduler running{paused}; {next}. Stop with Ctrl-C.");
                        }
                    }
                }
                Ok(_) | Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            }
        }
    };
    tokio::select! {
        () = printer => {}
        r = scheduler => {
            if let Err(e) = r {
                return Err(CoreError::Internal(format!("the scheduler stopped: {e}")).into());
            }
        }
        () = shutdown_signal() => {
            // Runs in progress end with the process; the next start records
            // them as interrupted and their jobs can be retried.
            eprintln!("hyperctl: scheduler stopping");
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

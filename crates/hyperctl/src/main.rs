//! `hyperctl`: every capability of the HyperSDK window, from a terminal, on
//! the same core and the same database (safe to use while the app runs).

mod connection;
mod db;
mod export;
mod jobs;
mod metrics;
mod output;
mod ova;
mod schedule;
mod settings;
mod vms;
mod webhook;

use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use hypersdk_core::providers::ProviderRegistry;
use hypersdk_core::{ApiError, Core, CoreError, Paths, logging};

#[derive(Debug, Parser)]
#[command(
    name = "hyperctl",
    version,
    about = "Discover, export and back up virtual machines from the command line",
    long_about = "Discover, export and back up virtual machines from the command line.\n\n\
                  hyperctl shares its database and keyring entries with HyperSDK Desktop: what \
                  you do here shows up in the window, and the other way round.\n\
                  State lives in $HYPERSDK_DATA_DIR (default: the platform's app-data directory)."
)]
struct Cli {
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    #[command(flatten)]
    Stateful(StatefulCommand),
    /// Package local disk images into OVA/OVF, and verify or inspect packages.
    #[command(subcommand)]
    Ova(ova::OvaCommand),
    /// Check the shared database file for damage.
    #[command(subcommand)]
    Db(db::DbCommand),
}

/// The commands that work on the shared database and keyring.
#[derive(Debug, Subcommand)]
enum StatefulCommand {
    /// Manage connections to vSphere, AWS, Azure, GCP, Hyper-V and Proxmox.
    #[command(subcommand, alias = "connections")]
    Connection(connection::ConnectionCommand),
    /// List, inspect and cancel jobs (including those the app runs).
    #[command(subcommand, alias = "job")]
    Jobs(jobs::JobsCommand),
    /// Show or change settings such as concurrency limits.
    #[command(subcommand)]
    Settings(settings::SettingsCommand),
    /// Browse the virtual machines of a connection.
    #[command(subcommand, alias = "vm")]
    Vms(vms::VmsCommand),
    /// Export VMs of a connection into a folder as OVA/OVF (one job per VM), with progress.
    Export(export::ExportArgs),
    /// Send job and schedule events to HTTP receivers (signed, retried, in order).
    #[command(subcommand, alias = "webhooks")]
    Webhook(webhook::WebhookCommand),
    /// Scheduled backups: add, list, run, pause, history, retention preview.
    #[command(subcommand, alias = "schedules")]
    Schedule(schedule::ScheduleCommand),
    /// Run the schedules headless until Ctrl-C, for servers without the app
    /// (only one process fires schedules at a time; others stand by).
    Scheduler {
        /// Catch up and fire what is due now, wait for those runs, then exit
        /// (for a system cron job or a systemd timer).
        #[arg(long)]
        once: bool,
    },
    /// Job statistics and metric history (what the dashboard shows), or serve Prometheus metrics.
    Metrics(metrics::MetricsArgs),
}

/// The providers this build can browse and export, as in the app.
fn providers() -> ProviderRegistry {
    let mut registry = ProviderRegistry::default();
    registry.register(Arc::new(hypersdk_vsphere::VsphereFactory::default()));
    registry.register(Arc::new(hypersdk_proxmox::ProxmoxFactory::default()));
    registry.register(Arc::new(hypersdk_aws::AwsFactory::default()));
    registry
}

/// Opens the shared state the way the app does.
fn open_core() -> Result<(Arc<Core>, Option<hypersdk_core::logging::Guard>), CoreError> {
    let paths = Paths::resolve()?;
    paths.create_dirs()?;
    // The file log keeps what the terminal does not show; a terminal only
    // sees warnings and the one-line error.
    let guard = logging::init(&paths.log_dir, "hyperctl", "warn").ok();
    let core = Core::open(paths, providers())?;
    Ok((Arc::new(core), guard))
}

async fn run(cli: Cli) -> Result<(), ApiError> {
    let json = cli.json;
    let cmd = match cli.command {
        // Packaging works on local files only: no database or keyring needed.
        Command::Ova(cmd) => {
            return ova::run(cmd, json).await.map_err(|e| ApiError {
                code: e.code().to_owned(),
                message: e.to_string(),
                retryable: e.retryable(),
            });
        }
        Command::Db(cmd) => return db::run(cmd, json).await,
        Command::Stateful(cmd) => cmd,
    };
    // The file name matters here, so the full message is shown.
    let (core, _guard) = open_core().map_err(|e| ApiError::verbatim(&e))?;
    let outcome = match cmd {
        StatefulCommand::Connection(cmd) => connection::run(&core, cmd, json).await,
        StatefulCommand::Jobs(cmd) => jobs::run(&core, cmd, json).await,
        StatefulCommand::Settings(cmd) => settings::run(&core, cmd, json).await,
        StatefulCommand::Vms(cmd) => vms::run(&core, cmd, json).await,
        StatefulCommand::Export(args) => export::run(Arc::clone(&core), args, json).await,
        StatefulCommand::Webhook(cmd) => webhook::run(&core, cmd, json).await,
        StatefulCommand::Schedule(cmd) => schedule::run(&core, cmd, json).await,
        StatefulCommand::Scheduler { once } => {
            schedule::scheduler(Arc::clone(&core), once, json).await
        }
        StatefulCommand::Metrics(args) => metrics::run(&core, args, json).await,
    };
    // Jobs this process ran keep their last second of throughput.
    core.flush_metrics().await;
    // Sign out of provider sessions (logging their counters), bounded so a dead server cannot
    // hold the exit up.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), core.shutdown()).await;
    outcome
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                // Scripts get the code on stdout as well as the line on stderr.
                let _ = output::json(&serde_json::json!({ "error": e }));
            }
            eprintln!(
                "hyperctl: error: {} [{}]",
                e.message.replace('\n', " "),
                e.code
            );
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        super::Cli::command().debug_assert();
    }
}

//! `hyperctl settings`.

use clap::Subcommand;
use hypersdk_core::model::{DesktopSettings, NotifyRuns, Settings};
use hypersdk_core::{ApiError, Core};

use crate::output;

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// Show the current settings.
    Show,
    /// Change settings; unspecified ones keep their value.
    Set {
        /// Jobs that may run at once overall (1-32).
        #[arg(long)]
        max_concurrent_jobs: Option<u32>,
        /// Jobs that may run at once against one connection (1-16).
        #[arg(long)]
        max_jobs_per_connection: Option<u32>,
        /// Disks one export downloads at once (1-16; 1 writes every disk of an OVA once).
        #[arg(long)]
        disks_per_export: Option<u32>,
        /// When the desktop app notifies after a scheduled run.
        #[arg(long, value_enum)]
        notify_runs: Option<NotifyArg>,
        /// Serve Prometheus metrics from the app (true/false).
        #[arg(long)]
        metrics_enabled: Option<bool>,
        /// Where the app serves them: IP address and port (default 127.0.0.1:9464).
        #[arg(long)]
        metrics_listen: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum NotifyArg {
    Never,
    FailuresOnly,
    Always,
}

/// Both groups, as `--json` prints them.
#[derive(serde::Serialize)]
struct AllSettings {
    #[serde(flatten)]
    jobs: Settings,
    #[serde(flatten)]
    desktop: DesktopSettings,
}

pub async fn run(core: &Core, cmd: SettingsCommand, json: bool) -> Result<(), ApiError> {
    let (settings, desktop) = match cmd {
        SettingsCommand::Show => (core.settings().await?, core.desktop_settings().await?),
        SettingsCommand::Set {
            max_concurrent_jobs,
            max_jobs_per_connection,
            disks_per_export,
            notify_runs,
            metrics_enabled,
            metrics_listen,
        } => {
            let mut s = core.settings().await?;
            if let Some(n) = max_concurrent_jobs {
                s.max_concurrent_jobs = n;
            }
            if let Some(n) = max_jobs_per_connection {
                s.max_jobs_per_connection = n;
            }
            if let Some(n) = disks_per_export {
                s.disks_per_export = n;
            }
            if let Some(on) = metrics_enabled {
                s.metrics_enabled = on;
            }
            if let Some(listen) = metrics_listen {
                s.metrics_listen = listen;
            }
            let s = core.update_settings(s).await?;
            let mut d = core.desktop_settings().await?;
            if let Some(n) = notify_runs {
                d.notify_runs = match n {
                    NotifyArg::Never => NotifyRuns::Never,
                    NotifyArg::FailuresOnly => NotifyRuns::FailuresOnly,
                    NotifyArg::Always => NotifyRuns::Always,
                };
                d = core.update_desktop_settings(d).await?;
            }
            (s, d)
        }
    };
    if json {
        return output::json(&AllSettings {
            jobs: settings,
            desktop,
        });
    }
    output::table(
        &["SETTING", "VALUE"],
        &[
            vec![
                "max_concurrent_jobs".into(),
                settings.max_concurrent_jobs.to_string(),
            ],
            vec![
                "max_jobs_per_connection".into(),
                settings.max_jobs_per_connection.to_string(),
            ],
            vec![
                "disks_per_export".into(),
                settings.disks_per_export.to_string(),
            ],
            vec![
                "notify_runs".into(),
                match desktop.notify_runs {
                    NotifyRuns::Never => "never",
                    NotifyRuns::FailuresOnly => "failures-only",
                    NotifyRuns::Always => "always",
                }
                .into(),
            ],
            vec![
                "metrics_enabled".into(),
                settings.metrics_enabled.to_string(),
            ],
            vec!["metrics_listen".into(), settings.metrics_listen.clone()],
        ],
    );
    Ok(())
}

//! `hyperctl settings`.

use clap::Subcommand;
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
        /// Serve Prometheus metrics from the app (true/false).
        #[arg(long)]
        metrics_enabled: Option<bool>,
        /// Where the app serves them: IP address and port (default 127.0.0.1:9464).
        #[arg(long)]
        metrics_listen: Option<String>,
    },
}

pub async fn run(core: &Core, cmd: SettingsCommand, json: bool) -> Result<(), ApiError> {
    let settings = match cmd {
        SettingsCommand::Show => core.settings().await?,
        SettingsCommand::Set {
            max_concurrent_jobs,
            max_jobs_per_connection,
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
            if let Some(on) = metrics_enabled {
                s.metrics_enabled = on;
            }
            if let Some(listen) = metrics_listen {
                s.metrics_listen = listen;
            }
            core.update_settings(s).await?
        }
    };
    if json {
        return output::json(&settings);
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
                "metrics_enabled".into(),
                settings.metrics_enabled.to_string(),
            ],
            vec!["metrics_listen".into(), settings.metrics_listen.clone()],
        ],
    );
    Ok(())
}

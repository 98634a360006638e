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
    },
}

pub async fn run(core: &Core, cmd: SettingsCommand, json: bool) -> Result<(), ApiError> {
    let settings = match cmd {
        SettingsCommand::Show => core.settings().await?,
        SettingsCommand::Set {
            max_concurrent_jobs,
            max_jobs_per_connection,
        } => {
            let mut s = core.settings().await?;
            if let Some(n) = max_concurrent_jobs {
                s.max_concurrent_jobs = n;
            }
            if let Some(n) = max_jobs_per_connection {
                s.max_jobs_per_connection = n;
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
        ],
    );
    Ok(())
}

//! `hyperctl db`: the database file itself.
//!
//! Needs no open core: opening migrates and writes, and a damaged file may
//! fail to open at all, while a check must read the file as it is.

use clap::Subcommand;
use hypersdk_core::store::check_integrity;
use hypersdk_core::{ApiError, CoreError, Paths};

use crate::output;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Read every page of the database and report damage (SQLite's quick_check);
    /// read-only, safe while the app runs. Exits non-zero when damage is found.
    Check,
}

pub async fn run(cmd: DbCommand, json: bool) -> Result<(), ApiError> {
    match cmd {
        DbCommand::Check => {
            let paths = Paths::resolve().map_err(|e| ApiError::verbatim(&e))?;
            let report = tokio::task::spawn_blocking(move || check_integrity(&paths.database))
                .await
                .map_err(|e| {
                    ApiError::verbatim(&CoreError::Internal(format!("the check stopped: {e}")))
                })?
                .map_err(|e| ApiError::verbatim(&e))?;
            if !report.ok && !json {
                for problem in &report.problems {
                    println!("{problem}");
                }
            }
            let report = report.into_result().map_err(|e| ApiError::verbatim(&e))?;
            if json {
                return output::json(&report);
            }
            let size = std::fs::metadata(&report.path)
                .map(|m| output::bytes(m.len()))
                .unwrap_or_else(|_| "size unknown".into());
            println!(
                "ok: {} ({size}, every page read in {} ms)",
                report.path.display(),
                report.elapsed_ms
            );
            Ok(())
        }
    }
}

//! Where HyperSDK keeps its state on disk.

use std::path::{Path, PathBuf};

use crate::error::{CoreError, Result};

/// Overrides the data directory (tests, portable installs, several profiles).
pub const DATA_DIR_ENV: &str = "HYPERSDK_DATA_DIR";
const APP_DIR_NAME: &str = "hypersdk-desktop";
const DATABASE_FILE: &str = "hypersdk.db";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
    pub database: PathBuf,
}

impl Paths {
    /// `$HYPERSDK_DATA_DIR`, else the platform's app-data dir
    /// (`~/.local/share/hypersdk-desktop` on Linux).
    pub fn resolve() -> Result<Paths> {
        let data_dir = match std::env::var_os(DATA_DIR_ENV) {
            Some(dir) if !dir.is_empty() => PathBuf::from(dir),
            _ => dirs::data_dir()
                .ok_or_else(|| {
                    CoreError::Internal(
                        "cannot find the user's data directory (is HOME set?); set HYPERSDK_DATA_DIR"
                            .into(),
                    )
                })?
                .join(APP_DIR_NAME),
        };
        Ok(Paths::in_dir(&data_dir))
    }

    pub fn in_dir(data_dir: &Path) -> Paths {
        Paths {
            data_dir: data_dir.to_path_buf(),
            log_dir: data_dir.join("logs"),
            database: data_dir.join(DATABASE_FILE),
        }
    }

    pub fn runners_dir(&self) -> PathBuf {
        self.data_dir.join("runners")
    }

    pub fn create_dirs(&self) -> Result<()> {
        for dir in [&self.data_dir, &self.log_dir, &self.runners_dir()] {
            std::fs::create_dir_all(dir)
                .map_err(|e| CoreError::io(format!("cannot create {}", dir.display()), e))?;
        }
        Ok(())
    }
}

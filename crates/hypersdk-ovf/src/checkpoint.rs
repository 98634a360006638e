//! Resume checkpoints: per disk, the bytes durably written, tied to one export plan.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::fsutil::write_atomic;
use crate::{Error, Result};

/// Format version of the checkpoint file.
const VERSION: u32 = 1;

/// Checkpoint of one disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskCheckpoint {
    /// Package file name of the disk.
    pub file: String,
    /// Bytes of the disk that were fsynced before this checkpoint was written.
    pub bytes_durable: u64,
    /// The disk was written completely and synced.
    pub complete: bool,
}

/// The checkpoint file (`DEST.part.d/checkpoint.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// File format version.
    pub version: u32,
    /// Digest of the export plan (VM spec, disk names/sizes/formats, package kind, compression):
    /// a checkpoint is only used for the plan that wrote it.
    pub plan: String,
    /// One entry per disk, in request order.
    pub disks: Vec<DiskCheckpoint>,
}

impl Checkpoint {
    /// A fresh checkpoint for a plan with the given disk file names.
    pub fn new(plan: String, files: &[String]) -> Self {
        Checkpoint {
            version: VERSION,
            plan,
            disks: files
                .iter()
                .map(|f| DiskCheckpoint {
                    file: f.clone(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    /// Loads a checkpoint if one exists and belongs to `plan`; `Ok(None)` if absent or stale.
    pub fn load(path: &Path, plan: &str) -> Result<Option<Checkpoint>> {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::io(
                    format!("reading checkpoint {}", path.display()),
                    e,
                ));
            }
        };
        let cp: Checkpoint = match serde_json::from_slice(&data) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "ignoring unreadable checkpoint");
                return Ok(None);
            }
        };
        if cp.version != VERSION || cp.plan != plan {
            tracing::info!(path = %path.display(), "checkpoint belongs to another plan; starting over");
            return Ok(None);
        }
        Ok(Some(cp))
    }

    /// Writes the checkpoint durably (temp file, fsync, rename, fsync directory).
    pub fn save(&self, path: &Path) -> Result<()> {
        let data = serde_json::to_vec_pretty(self)
            .map_err(|e| Error::Checkpoint(format!("serialising: {e}")))?;
        write_atomic(path, &data)
    }
}

/// A checkpoint shared between the orchestrator and a writer thread.
#[derive(Clone)]
pub(crate) struct SharedCheckpoint {
    pub path: PathBuf,
    pub inner: std::sync::Arc<std::sync::Mutex<Checkpoint>>,
}

impl SharedCheckpoint {
    pub fn update(&self, disk: usize, bytes: u64, complete: bool) -> Result<()> {
        let mut cp = self
            .inner
            .lock()
            .map_err(|_| Error::Internal("checkpoint lock poisoned".into()))?;
        if let Some(d) = cp.disks.get_mut(disk) {
            d.bytes_durable = bytes;
            d.complete = complete;
        }
        cp.save(&self.path)
    }

    pub fn get(&self, disk: usize) -> DiskCheckpoint {
        self.inner
            .lock()
            .ok()
            .and_then(|cp| cp.disks.get(disk).cloned())
            .unwrap_or_default()
    }
}

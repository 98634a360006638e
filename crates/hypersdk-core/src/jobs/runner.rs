//! Which process owns a job.
//!
//! The app and `hyperctl` share one database and both may run jobs, so "at
//! start-up every running job is interrupted" must only touch jobs whose
//! process is really gone. Each process holds an exclusive lock on its own
//! file in `runners/` for its lifetime; the OS drops the lock when the process
//! dies, however it dies, so a lock that can be taken means a dead owner.

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

use crate::error::{CoreError, Result};

#[derive(Debug)]
pub struct Runner {
    id: String,
    path: PathBuf,
    // Held, never read: the lock lives as long as this handle.
    _lock: File,
}

impl Runner {
    pub fn register(dir: &Path) -> Result<Runner> {
        let id = uuid::Uuid::new_v4().to_string();
        let path = lock_path(dir, &id);
        let file = File::create(&path)
            .map_err(|e| CoreError::io(format!("cannot create {}", path.display()), e))?;
        file.try_lock().map_err(|e| {
            CoreError::Internal(format!(
                "cannot lock fresh runner file {}: {e}",
                path.display()
            ))
        })?;
        Ok(Runner {
            id,
            path,
            _lock: file,
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn lock_path(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.lock"))
}

/// Whether the process registered as `id` is still running. Errors other
/// than "not locked" count as alive: wrongly interrupting a live job is worse
/// than leaving a dead one for the next start-up.
pub fn is_alive(dir: &Path, id: &str) -> bool {
    let Ok(file) = File::open(lock_path(dir, id)) else {
        return false;
    };
    match file.try_lock_shared() {
        Ok(()) => false,
        Err(TryLockError::WouldBlock) => true,
        Err(TryLockError::Error(_)) => true,
    }
}

/// Removes lock files left by processes that died without cleaning up.
pub fn sweep(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(id) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".lock"))
        else {
            continue;
        };
        if !is_alive(dir, id) {
            let _ = std::fs::remove_file(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registered_runner_is_alive_until_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let runner = Runner::register(dir.path()).expect("register");
        let id = runner.id().to_owned();
        assert!(is_alive(dir.path(), &id));
        drop(runner);
        assert!(!is_alive(dir.path(), &id));
        assert!(!is_alive(dir.path(), "never-registered"));
    }

    #[test]
    fn sweep_removes_only_dead_runners() {
        let dir = tempfile::tempdir().expect("tempdir");
        let live = Runner::register(dir.path()).expect("register");
        std::fs::write(lock_path(dir.path(), "dead"), b"").expect("write");
        sweep(dir.path());
        assert!(lock_path(dir.path(), live.id()).exists());
        assert!(!lock_path(dir.path(), "dead").exists());
    }
}

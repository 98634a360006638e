//! Durable file-system helpers: fsync of files and directories, atomic rename, part names.

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::Result;
use crate::error::IoContext;

/// `path` with `suffix` appended to its file name (`x.ova` → `x.ova.part`).
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// fsyncs a directory so that entries created/renamed in it are durable.
#[cfg(unix)]
pub fn sync_dir(dir: &Path) -> Result<()> {
    let d = File::open(dir).ctx(|| format!("opening directory {} to sync it", dir.display()))?;
    d.sync_all()
        .ctx(|| format!("syncing directory {}", dir.display()))
}

/// Directories cannot be opened for fsync on Windows; NTFS journals renames itself.
#[cfg(not(unix))]
pub fn sync_dir(_dir: &Path) -> Result<()> {
    Ok(())
}

/// The directory containing `path` (`.` for a bare name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Renames `from` to `to` without replacing an existing `to`, then fsyncs the parent directory.
/// (`rename` itself replaces; the existence check narrows that window to the caller's own race.)
pub fn publish(from: &Path, to: &Path) -> Result<()> {
    if std::fs::symlink_metadata(to).is_ok() {
        return Err(crate::Error::DestinationExists(to.to_path_buf()));
    }
    std::fs::rename(from, to).ctx(|| format!("renaming {} to {}", from.display(), to.display()))?;
    sync_dir(&parent_dir(to))
}

/// Writes a small file durably: `path.tmp`, fsync, rename over `path`, fsync the directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    use std::io::Write;
    let tmp = with_suffix(path, ".tmp");
    {
        let mut f = File::create(&tmp).ctx(|| format!("creating {}", tmp.display()))?;
        f.write_all(data)
            .ctx(|| format!("writing {}", tmp.display()))?;
        f.sync_all().ctx(|| format!("syncing {}", tmp.display()))?;
    }
    std::fs::rename(&tmp, path).ctx(|| format!("renaming {} into place", tmp.display()))?;
    sync_dir(&parent_dir(path))
}

/// Removes a file or directory tree if present.
pub fn remove_if_exists(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            std::fs::remove_dir_all(path).ctx(|| format!("removing {}", path.display()))
        }
        Ok(_) => std::fs::remove_file(path).ctx(|| format!("removing {}", path.display())),
        Err(_) => Ok(()),
    }
}

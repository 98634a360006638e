//! The way round `vzdump --stdout` when the SSH user may not run it (PVE's
//! CLI answers "please run as root" to anyone else): a backup through the
//! API into one of the node's storages (`POST /nodes/{node}/vzdump`, which
//! needs `VM.Backup` and `Datastore.AllocateSpace`, not root), followed
//! through the task's status and log; the archive's path comes from the
//! log's "creating vzdump archive '…'" line, the file is then read over SFTP
//! by the caller and (by option) removed from the storage again.

use std::time::Duration;

use serde::Deserialize;
use tokio_util::sync::CancellationToken;

use crate::api::ApiClient;
use crate::error::{ProxmoxError, Result};
use crate::export::BackupMode;
use crate::inventory::path_segment;

/// How often the task is asked how it is doing.
const POLL: Duration = Duration::from_secs(1);

/// One backup into a storage, and what it made.
pub struct StorageBackup<'a> {
    pub api: &'a ApiClient,
    pub node: &'a str,
    pub vmid: u32,
    pub storage: &'a str,
    pub mode: BackupMode,
}

/// The archive a finished backup left on the storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredArchive {
    /// Its path on the node (what SFTP reads).
    pub path: String,
    /// `STORAGE:backup/FILE` (what the API removes).
    pub volid: String,
}

#[derive(Debug, Deserialize)]
struct TaskStatus {
    status: String,
    #[serde(default)]
    exitstatus: Option<String>,
}

#[derive(Debug, Deserialize)]
struct LogLine {
    n: u64,
    t: String,
}

impl StorageBackup<'_> {
    fn node_path(&self) -> Result<String> {
        Ok(format!("/nodes/{}", path_segment(self.node)?))
    }

    /// Starts the backup and waits for it, telling `percent` what vzdump's
    /// progress lines say. A cancel stops the task on the node.
    pub async fn run(
        &self,
        cancel: &CancellationToken,
        mut percent: impl FnMut(u8) + Send,
    ) -> Result<StoredArchive> {
        let node = self.node_path()?;
        let vmid = self.vmid.to_string();
        let upid: String = self
            .api
            .post(
                &format!("{node}/vzdump"),
                &[
                    ("vmid", vmid.as_str()),
                    ("storage", self.storage),
                    ("mode", self.mode.as_str()),
                    ("compress", "zstd"),
                ],
            )
            .await?;
        tracing::info!(vmid = self.vmid, node = self.node, storage = self.storage, %upid, "vzdump task started through the API");
        let task = format!("{node}/tasks/{}", encode_segment(&upid));
        let mut log = Vec::new();
        loop {
            let read = async {
                let status: TaskStatus = self.api.get(&format!("{task}/status")).await?;
                let start = log.len();
                let more: Vec<LogLine> = self
                    .api
                    .get(&format!("{task}/log?start={start}&limit=1000"))
                    .await?;
                Ok::<_, ProxmoxError>((status, more))
            };
            let (status, more) = tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    self.stop(&task).await;
                    return Err(ProxmoxError::Cancelled);
                }
                r = read => r?,
            };
            for line in more {
                if line.n as usize > log.len() {
                    if let Some(p) = progress_percent(&line.t) {
                        percent(p);
                    }
                    log.push(line.t);
                }
            }
            if status.status == "stopped" {
                let exit = status.exitstatus.unwrap_or_default();
                if exit != "OK" {
                    return Err(self.failed(&log, &exit));
                }
                let path = archive_path(&log).ok_or_else(|| {
                    ProxmoxError::Protocol(format!(
                        "the backup of VM {} finished, but its log names no archive",
                        self.vmid
                    ))
                })?;
                let file = path.rsplit('/').next().unwrap_or_default();
                return Ok(StoredArchive {
                    volid: format!("{}:backup/{file}", self.storage),
                    path,
                });
            }
            tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    self.stop(&task).await;
                    return Err(ProxmoxError::Cancelled);
                }
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Removes the archive from the storage.
    pub async fn remove(&self, archive: &StoredArchive) -> Result<()> {
        let path = format!(
            "{}/storage/{}/content/{}",
            self.node_path()?,
            encode_segment(self.storage),
            encode_segment(&archive.volid)
        );
        let _: serde_json::Value = self.api.delete(&path).await?;
        Ok(())
    }

    /// Stops the task (a cancelled export must not leave vzdump running).
    async fn stop(&self, task: &str) {
        if let Err(e) = self.api.delete::<serde_json::Value>(task).await {
            tracing::warn!(vmid = self.vmid, error = %e, "cannot stop the vzdump task");
        }
    }

    fn failed(&self, log: &[String], exit: &str) -> ProxmoxError {
        let detail = log
            .iter()
            .rev()
            .find(|l| l.trim_start().starts_with("ERROR:"))
            .map(|l| l.trim().to_owned())
            .unwrap_or_else(|| exit.to_owned());
        ProxmoxError::Vzdump {
            vmid: self.vmid,
            node: self.node.to_owned(),
            detail,
        }
    }
}

/// The archive vzdump names in its log (`INFO: creating vzdump archive
/// '/var/lib/vz/dump/vzdump-qemu-100-….vma.zst'`, pve-manager PVE/VZDump.pm).
pub fn archive_path(log: &[String]) -> Option<String> {
    log.iter().find_map(|line| {
        let rest = line.split_once("creating vzdump archive '")?.1;
        let path = rest.strip_suffix('\'')?;
        (path.starts_with('/') && !path.contains('\n')).then(|| path.to_owned())
    })
}

/// The percentage of a vzdump progress line (`INFO:  42% (1.7 GiB of 4.0
/// GiB) in 3s, …`).
pub fn progress_percent(line: &str) -> Option<u8> {
    let rest = line.trim_start().strip_prefix("INFO:")?.trim_start();
    let (number, after) = rest.split_once('%')?;
    if !after.trim_start().starts_with('(') {
        return None;
    }
    number.trim().parse::<u8>().ok().filter(|p| *p <= 100)
}

/// A path segment with everything but unreserved characters percent-encoded
/// (a UPID holds `:` and `@`, a volid `:` and `/`).
fn encode_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_archive_and_the_progress_come_from_vzdumps_own_lines() {
        let log: Vec<String> = [
            "INFO: starting new backup job: vzdump 100 --storage local --mode snapshot --compress zstd",
            "INFO: creating vzdump archive '/var/lib/vz/dump/vzdump-qemu-100-2026_12_07-12_00_00.vma.zst'",
            "INFO:  42% (1.7 GiB of 4.0 GiB) in 3s, read: 580.0 MiB/s, write: 12.0 MiB/s",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            archive_path(&log).as_deref(),
            Some("/var/lib/vz/dump/vzdump-qemu-100-2026_12_07-12_00_00.vma.zst")
        );
        assert_eq!(progress_percent(&log[2]), Some(42));
        assert_eq!(
            progress_percent("INFO: 100% (4.0 GiB of 4.0 GiB) in 6s"),
            Some(100)
        );
        assert_eq!(progress_percent(&log[0]), None);
        assert_eq!(
            progress_percent("INFO: backup is sparse: 3.10 GiB (77%) total zero data"),
            None
        );
        assert_eq!(archive_path(&log[..1]), None);
        assert_eq!(
            archive_path(&["INFO: creating vzdump archive 'relative'".into()]),
            None
        );
    }

    #[test]
    fn upids_and_volids_stay_one_path_segment() {
        assert_eq!(
            encode_segment("UPID:pve1:0000:vzdump::root@pam:"),
            "UPID%3Apve1%3A0000%3Avzdump%3A%3Aroot%40pam%3A"
        );
        assert_eq!(
            encode_segment("local:backup/x.vma.zst"),
            "local%3Abackup%2Fx.vma.zst"
        );
    }
}

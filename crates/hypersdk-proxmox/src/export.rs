//! Export of one QEMU VM: `vzdump VMID --stdout --compress zstd` on the VM's
//! node over SSH, decoded as it arrives and unpacked by the VMA reader into
//! one sparse raw file per disk, which the core's engine then packages; or
//! the compressed archive kept as it came, once the same reader has checked
//! it through (`PackageKind::Native`: `qmrestore` restores it).
//!
//! vzdump takes the VM's `lock: backup` for the run and drops it when it
//! ends, also when the channel closes under it (it cancels the QEMU backup
//! job on SIGPIPE/SIGTERM). Whatever the outcome, the session checks over
//! the API that the lock is gone, and says so when it is not.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hypersdk_core::providers::{ExportSession, Unpack, UnpackProgress, Unpacked};
use hypersdk_core::{CoreError, Result as CoreResult};
use hypersdk_ovf::{
    Controller, DiskFormat, DiskSource, ExportDisk, Firmware, NetworkSpec, OsInfo, VmSpec,
};
use tokio_util::io::SyncIoBridge;
use tokio_util::sync::CancellationToken;

use crate::api::ApiClient;
use crate::config::{Bus, GuestConfig, cim_os_id, os_name};
use crate::error::{ProxmoxError, Result};
use crate::inventory::path_segment;
use crate::ssh::{self, SshAuth, SshError, SshSession, SshTarget};
use crate::storage_backup::{StorageBackup, progress_percent};
use crate::vma::{DeviceSink, Discard, SparseFiles, VmaDevice, VmaError, VmaHeader, VmaReader};

/// How vzdump keeps the guest consistent (`--mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BackupMode {
    /// The VM keeps running; QEMU copies blocks before the guest overwrites them.
    #[default]
    Snapshot,
    Suspend,
    Stop,
}

impl BackupMode {
    pub fn parse(text: &str) -> Result<BackupMode> {
        match text.trim() {
            "" | "snapshot" => Ok(BackupMode::Snapshot),
            "suspend" => Ok(BackupMode::Suspend),
            "stop" => Ok(BackupMode::Stop),
            other => Err(ProxmoxError::InvalidOption {
                key: "mode",
                message: format!("\"{other}\" is not a vzdump mode: use snapshot, suspend or stop"),
            }),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            BackupMode::Snapshot => "snapshot",
            BackupMode::Suspend => "suspend",
            BackupMode::Stop => "stop",
        }
    }
}

/// The data path of a connection, from its options and secret options.
#[derive(Debug, Clone)]
pub struct SshSettings {
    /// `ssh_host`; `None`: the VM's node at its cluster address.
    pub host: Option<String>,
    pub port: u16,
    pub user: String,
    /// `None` when neither a key nor a password is saved.
    pub auth: Option<SshAuth>,
    /// `ssh_host_keys`: the fingerprints the user pinned (one per node).
    pub host_keys: Vec<String>,
    /// `backup_storage`: where a backup through the API goes when the SSH
    /// user may not run `vzdump --stdout` (default `local`).
    pub backup_storage: String,
    /// `backup_remove`: whether that backup is removed once read (default yes).
    pub remove_backup: bool,
}

impl SshSettings {
    pub fn from_connection(
        options: &BTreeMap<String, String>,
        secrets: &hypersdk_core::model::Secrets,
    ) -> Result<SshSettings> {
        let opt = |k: &str| {
            options
                .get(k)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let port = match opt("ssh_port") {
            None => 22,
            Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                ProxmoxError::InvalidOption {
                    key: "ssh_port",
                    message: format!("SSH port \"{p}\" is not a port number (1–65535)"),
                }
            })?,
        };
        let mut host_keys = Vec::new();
        for key in opt("ssh_host_keys")
            .unwrap_or_default()
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            ssh::parse_fingerprint(key).map_err(|e| ProxmoxError::InvalidOption {
                key: "ssh_host_keys",
                message: e.to_string(),
            })?;
            host_keys.push(key.to_owned());
        }
        let auth = match (secrets.option("ssh_key"), secrets.option("ssh_password")) {
            (Some(key), _) => Some(SshAuth::Key {
                pem: key.expose().to_owned(),
                passphrase: secrets
                    .option("ssh_key_passphrase")
                    .map(|p| p.expose().to_owned()),
            }),
            (None, Some(pw)) => Some(SshAuth::Password(pw.expose().to_owned())),
            (None, None) => None,
        };
        let backup_storage = opt("backup_storage").unwrap_or_else(|| "local".to_owned());
        path_segment(&backup_storage).map_err(|_| ProxmoxError::InvalidOption {
            key: "backup_storage",
            message: format!("\"{backup_storage}\" is not a Proxmox storage name"),
        })?;
        let remove_backup = match opt("backup_remove").as_deref().map(str::to_ascii_lowercase) {
            None => true,
            Some(v) if matches!(v.as_str(), "yes" | "true" | "1") => true,
            Some(v) if matches!(v.as_str(), "no" | "false" | "0") => false,
            Some(v) => {
                return Err(ProxmoxError::InvalidOption {
                    key: "backup_remove",
                    message: format!("\"{v}\" is not yes or no"),
                });
            }
        };
        Ok(SshSettings {
            host: opt("ssh_host"),
            port,
            user: opt("ssh_user").unwrap_or_else(|| "root".to_owned()),
            auth,
            host_keys,
            backup_storage,
            remove_backup,
        })
    }

    /// Where vzdump for a guest on `node` runs.
    pub fn host_for(
        &self,
        node: &str,
        addresses: &BTreeMap<String, String>,
        api_host: &str,
    ) -> String {
        self.host
            .clone()
            .or_else(|| addresses.get(node).cloned())
            .unwrap_or_else(|| api_host.to_owned())
    }

    /// Connects to `host`, accepting any of the pinned host keys (a cluster
    /// has one per node; SSH checks one pin at a time).
    pub async fn connect(&self, host: &str, cancel: &CancellationToken) -> Result<SshSession> {
        let auth = self
            .auth
            .clone()
            .ok_or_else(|| ProxmoxError::InvalidOption {
                key: "ssh_key",
                message: "no SSH private key or password is saved for this connection; the data \
                      path (vzdump over SSH) needs one: edit the connection"
                    .into(),
            })?;
        let base = SshTarget::new(host, &self.user, auth).with_port(self.port);
        let first = match self.host_keys.first() {
            Some(pin) => base.clone().with_host_key(pin.clone()),
            None => base.clone(),
        };
        match ssh::connect(&first, cancel).await {
            Err(SshError::HostKeyChanged { presented, .. })
                if self
                    .host_keys
                    .iter()
                    .any(|k| same_fingerprint(k, &presented)) =>
            {
                Ok(ssh::connect(&base.with_host_key(presented), cancel).await?)
            }
            other => Ok(other?),
        }
    }
}

fn same_fingerprint(a: &str, b: &str) -> bool {
    matches!((ssh::parse_fingerprint(a), ssh::parse_fingerprint(b)), (Ok(x), Ok(y)) if x == y)
}

/// The hardware a guest config describes, as the OVF descriptor will say it.
/// `disks` is left empty: the engine rebuilds it from the exported disks.
pub fn vm_spec(name: &str, config: &GuestConfig) -> VmSpec {
    let mut spec = VmSpec::new(
        config.name.clone().unwrap_or_else(|| name.to_owned()),
        config.cpus(),
        config.memory_mib.max(1),
    );
    spec.firmware = if config.uefi {
        Firmware::Efi
    } else {
        Firmware::Bios
    };
    spec.os = Some(OsInfo {
        id: cim_os_id(config.ostype.as_deref()),
        description: config.ostype.as_deref().map(os_name),
    });
    spec.networks = config
        .nics
        .iter()
        .map(|n| NetworkSpec {
            name: n.bridge.clone().unwrap_or_else(|| n.key.clone()),
            adapter: Some(
                match n.model.as_str() {
                    // OVF consumers know VMware's adapter names; virtio has
                    // no OVF name, vmxnet3 is what importers map it to.
                    "e1000" | "e1000e" => "E1000",
                    "rtl8139" => "PCNet32",
                    _ => "VmxNet3",
                }
                .to_owned(),
            ),
        })
        .collect();
    spec
}

/// The OVF controller for a Proxmox bus. Virtio-blk has no OVF
/// counterpart; SATA is what every importer attaches without drivers.
fn controller(bus: Bus, scsihw: Option<&str>) -> Controller {
    match bus {
        Bus::Ide => Controller::Ide,
        Bus::Sata | Bus::Virtio => Controller::Sata,
        Bus::Scsi => Controller::Scsi {
            subtype: match scsihw.unwrap_or("") {
                "pvscsi" => "VirtualSCSI",
                "megasas" => "lsilogicsas",
                _ => "lsilogic",
            }
            .to_owned(),
        },
    }
}

/// The file a device is unpacked to: its drive key (`drive-scsi0` →
/// `scsi0.raw`) when that is a plain name, else `disk-<id>.raw`. Device
/// names come from the stream, so nothing else of them reaches a path.
fn device_file(dev: &VmaDevice) -> String {
    let key = dev.name.strip_prefix("drive-").unwrap_or(&dev.name);
    if !key.is_empty() && key.len() <= 32 && key.chars().all(|c| c.is_ascii_alphanumeric()) {
        format!("{key}.raw")
    } else {
        format!("disk-{}.raw", dev.id)
    }
}

/// One export in progress: what to run where.
pub struct VzdumpUnpack {
    /// For the backup through a storage when `--stdout` is refused.
    pub api: Arc<ApiClient>,
    pub vmid: u32,
    pub node: String,
    pub vm_name: String,
    pub host: String,
    /// The export's `mode` option.
    pub mode: BackupMode,
    pub settings: SshSettings,
    /// The config the API gave: disk names and sizes for progress before the
    /// stream tells them, and the fallback description.
    pub config: GuestConfig,
}

#[async_trait]
impl Unpack for VzdumpUnpack {
    fn disks(&self) -> Vec<(String, Option<u64>)> {
        self.config
            .drives
            .iter()
            .filter(|d| d.backup)
            .map(|d| (d.key.clone(), d.size_bytes))
            .collect()
    }

    async fn run(
        self: Box<Self>,
        dir: &Path,
        progress: UnpackProgress,
        cancel: &CancellationToken,
    ) -> CoreResult<Unpacked> {
        let progress = high_water(progress);
        let target = || Target::Unpack(dir.to_path_buf());
        let result = match self.stream(target(), &progress, cancel).await {
            Err(e) if stdout_refused(&e) => self.through_storage(target(), &progress, cancel).await,
            other => other,
        }
        .and_then(|stream| self.describe(stream, &progress));
        result.map_err(|e| {
            tracing::info!(vmid = self.vmid, code = e.code(), error = %e, "vzdump export failed");
            CoreError::from(e)
        })
    }

    async fn keep(
        self: Box<Self>,
        out: &Path,
        progress: UnpackProgress,
        cancel: &CancellationToken,
    ) -> CoreResult<u64> {
        let progress = high_water(progress);
        let target = || Target::Keep(out.to_path_buf());
        let result = match self.stream(target(), &progress, cancel).await {
            Err(e) if stdout_refused(&e) => self.through_storage(target(), &progress, cancel).await,
            other => other,
        };
        result.map(|s| s.kept_bytes).map_err(|e| {
            tracing::info!(vmid = self.vmid, code = e.code(), error = %e, "vzdump backup failed");
            CoreError::from(e)
        })
    }
}

/// Where vzdump's overall percentage puts each disk: QEMU's backup job reads
/// the drives one after another, in the order the config lists them.
fn share_of_progress(sizes: &[u64], percent: u8) -> Vec<(usize, u64)> {
    let total: u64 = sizes.iter().sum();
    let mut left = total / 100 * u64::from(percent) + total % 100 * u64::from(percent) / 100;
    sizes
        .iter()
        .enumerate()
        .map(|(disk, &size)| {
            let done = left.min(size);
            left -= done;
            (disk, done)
        })
        .collect()
}

/// PVE's CLI lets only root run vzdump (`PVE::RESTEnvironment`'s "please
/// run as root"), so another SSH user goes through a storage instead.
fn stdout_refused(e: &ProxmoxError) -> bool {
    matches!(e, ProxmoxError::Vzdump { detail, .. } if detail.contains("please run as root"))
}

/// Progress that only moves forward: the phases of a backup through a
/// storage estimate it differently (vzdump's percentage, then the reader's
/// offsets), and a bar must not jump back between them.
fn high_water(progress: UnpackProgress) -> UnpackProgress {
    let highest = std::sync::Mutex::new(Vec::<u64>::new());
    Arc::new(move |disk, bytes| {
        let Ok(mut highest) = highest.lock() else {
            return;
        };
        if highest.len() <= disk {
            highest.resize(disk + 1, 0);
        }
        if bytes > highest[disk] {
            highest[disk] = bytes;
            drop(highest);
            progress(disk, bytes);
        }
    })
}

/// What becomes of the stream: unpacked into one sparse file per disk in a
/// folder, or kept as it came (zstd-compressed VMA) in a file while it is
/// read through into nothing, which checks every checksum all the same.
enum Target {
    Unpack(PathBuf),
    Keep(PathBuf),
}

/// Copies every byte read from `inner` into `copy` (the kept archive). A
/// failed write is remembered, so the error names the file (a full disk),
/// not the stream it interrupted.
struct Tee<R> {
    inner: R,
    copy: Option<std::fs::File>,
    /// Bytes read (and, with `copy`, written).
    bytes: u64,
    write_error: Option<io::Error>,
}

impl<R: io::Read> io::Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(file) = &mut self.copy
            && n > 0
            && let Err(e) = io::Write::write_all(file, &buf[..n])
        {
            self.write_error = Some(e);
            return Err(io::Error::other("the archive could not be written"));
        }
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Reports a device's progress as the highest byte written so far: vzdump
/// sends clusters roughly in disk order, and all-zero clusters carry no data
/// to write, so the offset (not the bytes) is what tracks the stream.
struct ProgressSink<S> {
    inner: S,
    /// Device id → (disk index, highest end written, last reported).
    disks: Vec<Option<(usize, u64, u64)>>,
    progress: UnpackProgress,
}

/// Report at most every this many bytes per disk (the reporter throttles
/// events, but is called from the data path).
const PROGRESS_STEP: u64 = 8 << 20;

impl<S: DeviceSink> DeviceSink for ProgressSink<S> {
    fn write_at(&mut self, dev: u8, offset: u64, data: &[u8]) -> io::Result<()> {
        self.inner.write_at(dev, offset, data)?;
        if let Some(Some((index, high, reported))) = self.disks.get_mut(usize::from(dev)) {
            *high = (*high).max(offset + data.len() as u64);
            if *high >= *reported + PROGRESS_STEP {
                *reported = *high;
                (self.progress)(*index, *high);
            }
        }
        Ok(())
    }

    fn finish(&mut self) -> io::Result<()> {
        self.inner.finish()
    }
}

struct Stream {
    header: VmaHeader,
    /// The unpacked disk files (none when the archive was kept).
    paths: Vec<(u8, PathBuf)>,
    /// Bytes of the kept archive (0 when it was unpacked).
    kept_bytes: u64,
}

impl VzdumpUnpack {
    fn command(&self) -> String {
        // Every part is a number or a fixed word: nothing from a name reaches the shell.
        format!(
            "vzdump {} --stdout --mode {} --compress zstd",
            self.vmid,
            self.mode.as_str()
        )
    }

    /// Runs vzdump and reads its stream into `target`, checking it through;
    /// fails unless both the stream and vzdump's exit status are good.
    async fn stream(
        &self,
        target: Target,
        progress: &UnpackProgress,
        cancel: &CancellationToken,
    ) -> Result<Stream> {
        let session = self.settings.connect(&self.host, cancel).await?;
        let command = self.command();
        let mut exec = session.exec(&command).await?;
        tracing::info!(vmid = self.vmid, node = %self.node, host = %session.endpoint(), "vzdump started");

        // vzdump's stderr goes to the log; the SSH layer keeps its tail for
        // the error message (ExitInfo::stderr_tail).
        // Its `INFO:  42% (…)` lines count the zeros the stream leaves out
        // too, so they move the bar where the written offsets cannot.
        let stderr_task = exec.take_stderr().map(|mut rx| {
            let vmid = self.vmid;
            let sizes: Vec<u64> = self.disks().iter().map(|(_, s)| s.unwrap_or(0)).collect();
            let progress = Arc::clone(progress);
            tokio::spawn(async move {
                while let Some(line) = rx.recv().await {
                    tracing::debug!(vmid, "vzdump: {line}");
                    if let Some(percent) = progress_percent(&line) {
                        for (disk, done) in share_of_progress(&sizes, percent) {
                            progress(disk, done);
                        }
                    }
                }
            })
        });

        // The reader is synchronous (it checks MD5s and writes files): it
        // runs on a blocking thread, reading the channel through a bridge.
        let disk_order: Vec<String> = self.disks().into_iter().map(|(k, _)| k).collect();
        let token = cancel.clone();
        let reader_progress = Arc::clone(progress);
        let runtime = tokio::runtime::Handle::current();
        let vmid = self.vmid;
        let copy = match &target {
            Target::Unpack(_) => None,
            Target::Keep(path) => {
                Some(std::fs::File::create(path).map_err(|e| ProxmoxError::Io {
                    context: format!("cannot create {}", path.display()),
                    source: e,
                })?)
            }
        };
        let joined = tokio::task::spawn_blocking(move || {
            let dir = match target {
                Target::Unpack(dir) => Some(dir),
                Target::Keep(_) => None,
            };
            let tee = Tee {
                inner: SyncIoBridge::new_with_handle(exec, runtime),
                copy,
                bytes: 0,
                write_error: None,
            };
            let mut decoder = match zstd::stream::read::Decoder::new(tee) {
                Ok(d) => d,
                Err(e) => {
                    return (
                        Err(ProxmoxError::Io {
                            context: "cannot start the zstd decoder".into(),
                            source: e,
                        }),
                        None,
                        0,
                    );
                }
            };
            let mut result = read_stream(
                &mut decoder,
                vmid,
                dir.as_deref(),
                &disk_order,
                reader_progress,
                move || token.is_cancelled(),
            );
            let mut rest = decoder.finish();
            let kept = rest.get_ref().copy.is_some();
            if result.is_ok() && kept {
                // The kept file must hold every byte vzdump sent, also what
                // follows the last cluster the reader needed (zstd's epilogue).
                if let Err(e) = io::copy(&mut rest, &mut io::sink()) {
                    result = Err(ProxmoxError::Io {
                        context: "the end of the stream could not be read".into(),
                        source: e,
                    });
                }
            }
            let mut tee = rest.into_inner();
            if let Some(e) = tee.write_error.take() {
                result = Err(ProxmoxError::Io {
                    context: "cannot write the backup archive".into(),
                    source: e,
                });
            }
            if let Ok(stream) = &mut result
                && kept
            {
                stream.kept_bytes = tee.bytes;
            }
            (result, Some(tee.inner.into_inner()), tee.bytes)
        })
        .await;
        let (result, exec, received) =
            joined.map_err(|e| ProxmoxError::Protocol(format!("the backup reader failed: {e}")))?;

        let stream = match result {
            Ok(stream) => stream,
            Err(e) => {
                if cancel.is_cancelled() {
                    return Err(ProxmoxError::Cancelled);
                }
                // A stream that stopped early most often means vzdump
                // failed: its own words beat "truncated". Wait briefly for
                // its exit status; dropping the stream stops it otherwise.
                // A local write error (a full disk) is ours to report.
                if let Some(exec) = exec.filter(|_| !matches!(e, ProxmoxError::Io { .. }))
                    && let Ok(Ok(exit)) =
                        tokio::time::timeout(Duration::from_secs(10), exec.wait()).await
                {
                    if !exit.success() {
                        return Err(self.vzdump_error(exit.stderr_tail));
                    }
                    if received == 0 {
                        // vzdump skips, without a word, VMs that run on another node.
                        return Err(ProxmoxError::Vzdump {
                            vmid: self.vmid,
                            node: self.node.clone(),
                            detail: format!(
                                "it sent nothing and said nothing, which is what it does for a VM \
                                 of another node: VM {} runs on {}, so the SSH host ({}) must be \
                                 that node",
                                self.vmid, self.node, self.host
                            ),
                        });
                    }
                }
                return Err(e);
            }
        };
        let exit = match exec {
            Some(exec) => exec.wait().await?,
            None => return Err(ProxmoxError::Protocol("the SSH stream was lost".into())),
        };
        if let Some(task) = stderr_task {
            let _ = tokio::time::timeout(Duration::from_secs(2), task).await;
        }
        if !exit.success() {
            // The archive parsed, yet vzdump says it failed: do not trust it.
            return Err(self.vzdump_error(exit.stderr_tail));
        }
        drop(session);
        Ok(stream)
    }

    /// The backup through a storage (see `storage_backup`): vzdump through
    /// the API, the archive read over SFTP (resumed after a dropped
    /// connection) and checked through into `target`, then removed from the
    /// storage unless the connection keeps it — also when anything failed.
    async fn through_storage(
        &self,
        target: Target,
        progress: &UnpackProgress,
        cancel: &CancellationToken,
    ) -> Result<Stream> {
        tracing::info!(vmid = self.vmid, user = %self.settings.user, storage = %self.settings.backup_storage,
            "vzdump --stdout is root's only: backing up through a storage");
        let backup = StorageBackup {
            api: &self.api,
            node: &self.node,
            vmid: self.vmid,
            storage: &self.settings.backup_storage,
            mode: self.mode,
        };
        let sizes: Vec<u64> = self.disks().iter().map(|(_, s)| s.unwrap_or(0)).collect();
        // The backup itself is the first half of the bar; reading the archive the second.
        let archive = backup
            .run(cancel, |percent| {
                for (disk, size) in sizes.iter().enumerate() {
                    progress(disk, size * u64::from(percent) / 200);
                }
            })
            .await
            .map_err(|e| match e {
                ProxmoxError::PermissionDenied { .. } | ProxmoxError::Vzdump { .. } => {
                    ProxmoxError::StorageBackup {
                        user: self.settings.user.clone(),
                        storage: self.settings.backup_storage.clone(),
                        source: Box::new(e),
                    }
                }
                e => e,
            })?;
        let result = self
            .read_stored(&archive.path, target, progress, cancel)
            .await;
        if self.settings.remove_backup {
            match backup.remove(&archive).await {
                Ok(()) => {
                    tracing::info!(vmid = self.vmid, volid = %archive.volid, "backup removed from the storage")
                }
                Err(e) => tracing::warn!(vmid = self.vmid, volid = %archive.volid, error = %e,
                    "cannot remove the backup from the storage; remove it by hand"),
            }
        }
        result
    }

    /// Downloads the stored archive and reads it through into `target`.
    async fn read_stored(
        &self,
        remote: &str,
        target: Target,
        progress: &UnpackProgress,
        cancel: &CancellationToken,
    ) -> Result<Stream> {
        let (local, dir) = match target {
            // Beside the disks it unpacks into, and removed once read.
            Target::Unpack(dir) => (dir.join(".vzdump.vma.zst"), Some(dir)),
            Target::Keep(path) => (path, None),
        };
        let mut attempt = 0;
        loop {
            let fetch = async {
                let session = self.settings.connect(&self.host, cancel).await?;
                session
                    .download(remote, &local, attempt > 0, |_| {})
                    .await
                    .map_err(ProxmoxError::from)
            };
            let fetched = tokio::select! {
                biased;
                () = cancel.cancelled() => return Err(ProxmoxError::Cancelled),
                r = fetch => r,
            };
            match fetched {
                Ok(_) => break,
                Err(ProxmoxError::Ssh(e)) if e.is_retryable() && attempt < 2 => {
                    attempt += 1;
                    tracing::warn!(vmid = self.vmid, attempt, error = %e, "the archive download stopped; resuming");
                }
                Err(e) => return Err(e),
            }
        }
        let disk_order: Vec<String> = self.disks().into_iter().map(|(k, _)| k).collect();
        let (vmid, token, reader_progress) = (self.vmid, cancel.clone(), Arc::clone(progress));
        let local2 = local.clone();
        let unpacking = dir.is_some();
        let read = tokio::task::spawn_blocking(move || {
            let file = std::fs::File::open(&local2).map_err(|e| ProxmoxError::Io {
                context: format!("cannot open {}", local2.display()),
                source: e,
            })?;
            let bytes = file.metadata().map(|m| m.len()).unwrap_or(0);
            let decoder = zstd::stream::read::Decoder::new(file).map_err(|e| ProxmoxError::Io {
                context: "cannot start the zstd decoder".into(),
                source: e,
            })?;
            let mut stream = read_stream(
                decoder,
                vmid,
                dir.as_deref(),
                &disk_order,
                reader_progress,
                move || token.is_cancelled(),
            )?;
            stream.kept_bytes = bytes;
            Ok::<_, ProxmoxError>(stream)
        })
        .await
        .map_err(|e| ProxmoxError::Protocol(format!("the backup reader failed: {e}")))?;
        if unpacking {
            let _ = tokio::fs::remove_file(&local).await;
        }
        if cancel.is_cancelled() {
            return Err(ProxmoxError::Cancelled);
        }
        read
    }

    fn vzdump_error(&self, tail: Vec<String>) -> ProxmoxError {
        let detail = tail
            .iter()
            .rev()
            .find(|l| l.trim_start().starts_with("ERROR:"))
            .or_else(|| tail.iter().rev().find(|l| !l.trim().is_empty()))
            .map(|l| l.trim().to_owned())
            .unwrap_or_else(|| "it exited without saying why".to_owned());
        ProxmoxError::Vzdump {
            vmid: self.vmid,
            node: self.node.clone(),
            detail,
        }
    }

    /// The VM as the archive describes it, and its disks as local files.
    fn describe(&self, stream: Stream, progress: &UnpackProgress) -> Result<Unpacked> {
        let archived = stream
            .header
            .config("qemu-server.conf")
            .map(|c| GuestConfig::from_conf(&String::from_utf8_lossy(c)));
        let config = archived.as_ref().unwrap_or(&self.config);
        // `#qmdump#map:<drive key>:<device>:…` names each device's drive.
        let drive_of = |device: &str| {
            config
                .archive_map
                .iter()
                .find(|(_, dev)| dev.as_str() == device)
                .map(|(key, _)| key.clone())
                .or_else(|| device.strip_prefix("drive-").map(str::to_owned))
        };
        let mut disks = Vec::new();
        for (index, dev) in stream.header.devices.iter().enumerate() {
            let Some((_, path)) = stream.paths.iter().find(|(id, _)| *id == dev.id) else {
                continue;
            };
            let key = drive_of(&dev.name).unwrap_or_else(|| format!("disk{}", dev.id));
            let bus = config.drives.iter().find(|d| d.key == key).map(|d| d.bus);
            progress(index, dev.size);
            disks.push(ExportDisk {
                name: format!("{}-{key}", self.vm_name),
                source: DiskSource::Staged(path.clone()),
                format: Some(DiskFormat::Raw),
                capacity_bytes: Some(dev.size),
                controller: controller(bus.unwrap_or(Bus::Sata), config.scsihw.as_deref()),
                // What OVF consumers (vSphere, virt-v2v, VirtualBox) expect in an OVA.
                convert_to: Some(DiskFormat::VmdkStreamOptimized),
            });
        }
        Ok(Unpacked {
            vm: Some(vm_spec(&self.vm_name, config)),
            disks,
        })
    }
}

/// Reads a VMA stream into sparse files in `dir`, or (no `dir`) into
/// nothing: the reader checks every checksum either way.
fn read_stream(
    input: impl io::Read,
    vmid: u32,
    dir: Option<&Path>,
    disk_order: &[String],
    progress: UnpackProgress,
    cancelled: impl Fn() -> bool + Send + 'static,
) -> Result<Stream> {
    let vma = |source: VmaError| match source {
        VmaError::Cancelled => ProxmoxError::Cancelled,
        // Our side failed (a full disk), not the stream.
        VmaError::Sink { context, source } => ProxmoxError::Io {
            context: format!("cannot write {context} of the unpacked disks"),
            source,
        },
        source => ProxmoxError::Vma { vmid, source },
    };
    let reader = VmaReader::new(input).map_err(vma)?.with_cancel(cancelled);
    let header = reader.header().clone();
    let mut disks: Vec<Option<(usize, u64, u64)>> = vec![None; 256];
    for (i, dev) in header.devices.iter().enumerate() {
        // Progress goes to the disk the engine announced under that drive
        // key, else by position.
        let key = dev.name.strip_prefix("drive-").unwrap_or(&dev.name);
        let index = disk_order.iter().position(|k| k == key).unwrap_or(i);
        disks[usize::from(dev.id)] = Some((index, 0, 0));
    }
    let Some(dir) = dir else {
        reader
            .read_to(ProgressSink {
                inner: Discard,
                disks,
                progress,
            })
            .map_err(vma)?;
        return Ok(Stream {
            header,
            paths: Vec::new(),
            kept_bytes: 0,
        });
    };
    let files = SparseFiles::create_with(dir, &header.devices, device_file).map_err(|e| {
        ProxmoxError::Io {
            context: format!("cannot create the disk files in {}", dir.display()),
            source: e,
        }
    })?;
    let paths = files.paths();
    reader
        .read_to(ProgressSink {
            inner: files,
            disks,
            progress,
        })
        .map_err(vma)?;
    Ok(Stream {
        header,
        paths,
        kept_bytes: 0,
    })
}

/// The server side: nothing to keep alive (vzdump runs as long as the
/// channel is open); at the end, the VM must hold no backup lock.
pub struct LockCheck {
    pub api: Arc<ApiClient>,
    pub node: String,
    pub vmid: u32,
}

impl LockCheck {
    /// Waits (up to 30 s: vzdump cleans up after its QEMU job stops) until
    /// the VM's config has no `lock`.
    async fn ensure_unlocked(&self) -> Result<()> {
        let path = format!(
            "/nodes/{}/qemu/{}/config",
            path_segment(&self.node)?,
            self.vmid
        );
        let started = Instant::now();
        loop {
            let config: serde_json::Map<String, serde_json::Value> = self.api.get(&path).await?;
            match config.get("lock").and_then(|l| l.as_str()) {
                None => return Ok(()),
                Some(lock) if started.elapsed() >= Duration::from_secs(30) => {
                    return Err(ProxmoxError::Locked {
                        vmid: self.vmid,
                        lock: lock.to_owned(),
                    });
                }
                Some(_) => tokio::time::sleep(Duration::from_secs(1)).await,
            }
        }
    }
}

#[async_trait]
impl ExportSession for LockCheck {
    fn keep_alive_interval(&self) -> Duration {
        Duration::from_secs(3600)
    }

    async fn keep_alive(&self, _percent: u8) -> CoreResult<()> {
        Ok(())
    }

    fn released_step(&self) -> String {
        format!("the backup left VM {} unlocked", self.vmid)
    }

    async fn complete(self: Box<Self>) -> CoreResult<()> {
        self.ensure_unlocked().await.map_err(CoreError::from)
    }

    async fn abort(self: Box<Self>, reason: &str) -> CoreResult<()> {
        tracing::info!(
            vmid = self.vmid,
            reason,
            "checking that the aborted backup left no lock"
        );
        self.ensure_unlocked().await.map_err(CoreError::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vzdumps_percentage_fills_the_disks_in_order() {
        let sizes = [300, 100];
        assert_eq!(share_of_progress(&sizes, 0), [(0, 0), (1, 0)]);
        assert_eq!(share_of_progress(&sizes, 50), [(0, 200), (1, 0)]);
        assert_eq!(share_of_progress(&sizes, 90), [(0, 300), (1, 60)]);
        assert_eq!(share_of_progress(&sizes, 100), [(0, 300), (1, 100)]);
        // No overflow for the largest disks PVE allows.
        let huge = [u64::MAX / 4, u64::MAX / 4];
        assert_eq!(share_of_progress(&huge, 100)[1].1, u64::MAX / 4);
    }
    use hypersdk_core::model::{Secret, Secrets};

    #[test]
    fn settings_come_from_options_and_secrets() {
        let options = BTreeMap::from([
            ("ssh_port".to_owned(), "2222".to_owned()),
            (
                "ssh_host_keys".to_owned(),
                format!("SHA256:{}, {}", "A".repeat(43), "ab".repeat(32)),
            ),
        ]);
        let mut secrets = Secrets::default();
        secrets
            .options
            .insert("ssh_password".into(), Secret::new("pw"));
        let s = SshSettings::from_connection(&options, &secrets).expect("settings");
        assert_eq!(
            (
                s.port,
                s.user.as_str(),
                s.backup_storage.as_str(),
                s.remove_backup
            ),
            (2222, "root", "local", true)
        );
        assert_eq!(s.host_keys.len(), 2);
        assert!(matches!(s.auth, Some(SshAuth::Password(_))));
        // A key wins over a password.
        secrets.options.insert("ssh_key".into(), Secret::new("PEM"));
        let s = SshSettings::from_connection(&options, &secrets).expect("settings");
        assert!(matches!(s.auth, Some(SshAuth::Key { .. })));

        for (key, value) in [
            ("ssh_port", "0"),
            ("ssh_port", "ssh"),
            ("ssh_host_keys", "not-a-key"),
            ("backup_storage", "../etc"),
            ("backup_remove", "maybe"),
        ] {
            let bad = BTreeMap::from([(key.to_owned(), value.to_owned())]);
            let err = SshSettings::from_connection(&bad, &secrets).expect_err(value);
            assert!(
                matches!(err, ProxmoxError::InvalidOption { key: k, .. } if k == key),
                "{err}"
            );
        }
    }

    #[test]
    fn the_backup_mode_is_one_of_vzdumps() {
        assert_eq!(BackupMode::parse("").ok(), Some(BackupMode::Snapshot));
        assert_eq!(BackupMode::parse("stop").ok(), Some(BackupMode::Stop));
        let err = BackupMode::parse("snapshot; reboot").expect_err("not a mode");
        assert!(
            matches!(err, ProxmoxError::InvalidOption { key: "mode", .. }),
            "{err}"
        );
    }

    #[test]
    fn device_files_never_escape_the_folder() {
        let dev = |id, name: &str| VmaDevice {
            id,
            name: name.into(),
            size: 1,
        };
        assert_eq!(device_file(&dev(1, "drive-scsi0")), "scsi0.raw");
        assert_eq!(device_file(&dev(2, "drive-../../x")), "disk-2.raw");
        assert_eq!(device_file(&dev(3, "")), "disk-3.raw");
    }

    #[test]
    fn the_descriptor_follows_the_config() {
        let c = GuestConfig::from_conf(
            "cores: 2\nsockets: 2\nmemory: 2048\nbios: ovmf\nostype: win11\nnet0: e1000=BC:24:11:00:00:01,bridge=vmbr1\nscsi0: local:vm-1-disk-0,size=1G\n",
        );
        let spec = vm_spec("fallback", &c);
        assert_eq!(
            (spec.cpus, spec.memory_mib, spec.firmware),
            (4, 2048, Firmware::Efi)
        );
        assert_eq!(spec.os.map(|o| o.id), Some(103));
        assert_eq!(spec.networks[0].name, "vmbr1");
        assert_eq!(spec.networks[0].adapter.as_deref(), Some("E1000"));
        assert_eq!(
            controller(Bus::Scsi, Some("virtio-scsi-single")),
            Controller::Scsi {
                subtype: "lsilogic".into()
            }
        );
    }
}

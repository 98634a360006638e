//! Export orchestration: disks in, a complete OVF folder or OVA (optionally `.gz` / `.zst`) out.
//!
//! # Crash safety
//! Everything is written under a `.part` name (`OUT.ova.part`, or the folder `OUT.part/`), with
//! side data (checkpoint, staged/converted disks) in `OUT.part.d/`. Only after every byte is
//! written and fsynced (file, then directory) — and, unless disabled, the part has passed
//! [`crate::verify()`] — is it renamed to the final name and the parent directory fsynced. So the
//! final name only ever holds a complete, verified artefact. After an error or cancellation the
//! `.part` files stay for a resume; `resume: false` clears them first.
//!
//! # OVA layout
//! Members: the descriptor first, then the disks in References order, then the manifest last.
//! DSP0243 (OVF 1.1) §5.3 requires the descriptor first and the remaining files in References
//! order, and allows the manifest and certificate either right after the descriptor or at the end
//! of the archive ("they shall either both be placed after the OVF descriptor file, or both be
//! placed at the end of the archive"). We put the manifest at the end because the disk digests are
//! only known once the disks have streamed through; this keeps the export single-pass.
//!
//! A plain OVA is written in one pass: a disk whose length is not known in advance (a vSphere NFC
//! stream) streams into the archive behind a provisional ustar header that is rewritten once the
//! disk ends, and the descriptor — the first member, written before any disk — is given room
//! (trailing whitespace after its root element) to be rewritten in place with every `ovf:size`.
//! Only the later disks of unknown length that download *alongside* it are staged in
//! `OUT.part.d/`, then packed by the kernel (`copy_file_range`) with the digest their download
//! computed. A compressed OVA cannot be patched, so there every disk of unknown length is staged.
//!
//! # Resume
//! For uncompressed outputs a checkpoint (`OUT.part.d/checkpoint.json`) records, per disk, the
//! bytes fsynced so far, tied to a digest of the whole plan. A resumed export re-hashes those bytes
//! from the part file and continues the source at that offset (file seek / HTTP Range); when the
//! source cannot seek (a one-shot stream, or a server that ignores Range), that disk restarts. A
//! compressed archive cannot be continued mid-stream and restarts as a whole.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use futures_util::stream::{self, StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::checkpoint::{Checkpoint, SharedCheckpoint};
use crate::error::IoContext;
use crate::fsutil::{publish, remove_if_exists, sync_dir, with_suffix};
use crate::manifest::{DigestAlgorithm, Hasher, Manifest};
use crate::model::{Controller, DiskFormat, DiskSpec, VmSpec};
use crate::names::{NameSet, join_inside, sanitize_component};
use crate::pipeline::{CopyJob, ProgressFn, copy, join_err};
use crate::qemu::{QemuImg, VhdKind};
use crate::source::DiskSource;
use crate::tarfmt;
use crate::verify::VerifyReport;
use crate::{Error, Result};

/// Package layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum PackageFormat {
    /// A single ustar archive.
    #[default]
    Ova,
    /// A directory holding the descriptor, the disks and the manifest.
    Ovf,
}

/// Whole-archive compression (OVA only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Compression {
    /// Plain `.ova`.
    #[default]
    None,
    /// `.ova.gz` (single-threaded deflate; level 0–9).
    Gzip {
        /// 0–9.
        level: u32,
    },
    /// `.ova.zst` (level 1–22; `threads` 0 = all cores).
    Zstd {
        /// 1–22 (3 is zstd's default).
        level: i32,
        /// Compression worker threads; 0 uses every core.
        threads: u32,
    },
}

/// One disk to export.
#[derive(Debug)]
pub struct ExportDisk {
    /// Name hint for the disk's file (sanitised; defaults to `VM-diskN`).
    pub name: String,
    /// Where its bytes come from.
    pub source: DiskSource,
    /// Format of the source bytes. `None`: detected with `qemu-img info` (local files only).
    pub format: Option<DiskFormat>,
    /// Guest-visible capacity. `None`: the length for raw sources, else `qemu-img info`.
    pub capacity_bytes: Option<u64>,
    /// Controller to attach it to.
    pub controller: Controller,
    /// Convert to this format with `qemu-img` (skipped when the source already is in it).
    pub convert_to: Option<DiskFormat>,
}

impl ExportDisk {
    /// A local image file, format and capacity detected, on a SATA controller.
    pub fn local(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        ExportDisk {
            name,
            source: DiskSource::File(path),
            format: None,
            capacity_bytes: None,
            controller: Controller::Sata,
            convert_to: None,
        }
    }
}

impl ExportDisk {
    /// The source's length when it is known without asking it (a local file's size, or the
    /// length a provider announced).
    pub fn source_len(&self) -> Option<u64> {
        match &self.source {
            DiskSource::File(p) | DiskSource::Staged(p) => {
                std::fs::metadata(p).ok().map(|m| m.len())
            }
            DiskSource::Http { length, .. } | DiskSource::Reader { length, .. } => *length,
        }
    }
}

/// Knobs that are not about what is exported.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Continue from a checkpoint left by an interrupted run of the same plan (otherwise stale
    /// `.part` data is removed first).
    pub resume: bool,
    /// Verify the finished part (re-reading it) before the final rename.
    pub verify: bool,
    /// `qemu-img` to use for detection and conversion.
    pub qemu_img: QemuImg,
    /// VHD subformat when converting to VHD.
    pub vhd: VhdKind,
    /// Bytes between durability points (fsync + checkpoint) while a disk streams; a point is
    /// also made every 5 seconds.
    pub checkpoint_bytes: u64,
    /// How many disks are fetched at once: staged (sources of unknown length into an OVA) and
    /// written into an OVF folder side by side. A remote export is usually limited per stream,
    /// not by the disk, so disks in parallel finish sooner.
    pub parallel_disks: usize,
}

impl Default for ExportOptions {
    fn default() -> Self {
        ExportOptions {
            resume: true,
            verify: true,
            qemu_img: QemuImg::default(),
            vhd: VhdKind::Dynamic,
            checkpoint_bytes: crate::pipeline::DEFAULT_CHECKPOINT_BYTES,
            parallel_disks: 4,
        }
    }
}

/// What to export and where.
#[derive(Debug)]
pub struct ExportRequest {
    /// VM hardware; its `disks` are ignored and rebuilt from [`ExportRequest::disks`].
    pub vm: VmSpec,
    /// The disks, in controller order.
    pub disks: Vec<ExportDisk>,
    /// Final path: the `.ova` / `.ova.gz` / `.ova.zst` file, or the OVF folder. Must not exist.
    pub destination: PathBuf,
    /// OVA or folder.
    pub package: PackageFormat,
    /// Whole-archive compression (OVA only).
    pub compression: Compression,
    /// Manifest digest algorithm.
    pub manifest: DigestAlgorithm,
    /// Resume/verify/qemu-img settings.
    pub options: ExportOptions,
}

/// A finished export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportOutcome {
    /// The final path.
    pub path: PathBuf,
    /// The descriptor's VM as written.
    pub vm: VmSpec,
    /// Descriptor file name inside the package.
    pub descriptor_name: String,
    /// The manifest as written.
    pub manifest: Manifest,
    /// Bytes of the final artefact (sum of files for a folder).
    pub bytes: u64,
    /// What verification checked (`None` when [`ExportOptions::verify`] was off).
    pub verification: Option<VerifyReport>,
}

/// Removes what an unfinished export to `destination` left behind (`DEST.part` and `DEST.part.d/`,
/// kept by a failure or a cancel for a resume), unless an export is writing there now
/// ([`Error::DestinationBusy`]). Returns whether there was anything to remove.
///
/// For callers whose retry cannot resume: an export from a new snapshot has a new plan, so its
/// `.part` would only be discarded by the next run, and until then it clutters the destination.
pub fn discard_partial(destination: &Path) -> Result<bool> {
    let part = with_suffix(destination, ".part");
    let work = with_suffix(destination, ".part.d");
    let exists = |p: &Path| std::fs::symlink_metadata(p).is_ok();
    if !exists(&part) && !exists(&work) {
        return Ok(false);
    }
    // Holding the writers' lock proves nobody is writing there (and keeps a new writer out).
    let lock_path = work.join("lock");
    let lock = match File::open(&lock_path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::io(format!("opening {}", lock_path.display()), e)),
    };
    if let Some(l) = &lock {
        match l.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(Error::DestinationBusy(destination.to_path_buf()));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(Error::io(format!("locking {}", lock_path.display()), e));
            }
        }
    }
    remove_if_exists(&part)?;
    remove_if_exists(&work)?;
    drop(lock);
    Ok(true)
}

/// A disk after preparation: a source with known format/capacity and, for OVAs, known length.
struct Prepared {
    href: String,
    source: DiskSource,
    format: DiskFormat,
    capacity: u64,
    length: Option<u64>,
    controller: Controller,
}

enum ArchiveOut {
    Plain(File),
    Gz(flate2::write::GzEncoder<File>),
    Zst(zstd::stream::write::Encoder<'static, File>),
}

impl Write for ArchiveOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            ArchiveOut::Plain(f) => f.write(buf),
            ArchiveOut::Gz(g) => g.write(buf),
            ArchiveOut::Zst(z) => z.write(buf),
        }
    }
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self {
            ArchiveOut::Plain(f) => f.write_all(buf),
            ArchiveOut::Gz(g) => g.write_all(buf),
            ArchiveOut::Zst(z) => z.write_all(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            ArchiveOut::Plain(f) => f.flush(),
            ArchiveOut::Gz(g) => g.flush(),
            ArchiveOut::Zst(z) => z.flush(),
        }
    }
}

impl ArchiveOut {
    fn new(file: File, c: Compression) -> Result<Self> {
        Ok(match c {
            Compression::None => ArchiveOut::Plain(file),
            Compression::Gzip { level } => ArchiveOut::Gz(flate2::write::GzEncoder::new(
                file,
                flate2::Compression::new(level.min(9)),
            )),
            Compression::Zstd { level, threads } => {
                let mut enc = zstd::stream::write::Encoder::new(file, level.clamp(1, 22))
                    .ctx(|| "creating zstd encoder".to_string())?;
                let n = if threads == 0 {
                    std::thread::available_parallelism()
                        .map(|n| n.get() as u32)
                        .unwrap_or(1)
                } else {
                    threads
                };
                if n > 1 {
                    enc.multithread(n)
                        .ctx(|| "enabling zstd worker threads".to_string())?;
                }
                // Smaller jobs than zstd's default (4 × window) keep the worker buffers, and so the
                // exporter's peak RSS, bounded (~16 MiB per worker) at a negligible ratio cost.
                enc.set_parameter(zstd::stream::raw::CParameter::JobSize(2 << 20))
                    .ctx(|| "setting zstd job size".to_string())?;
                enc.include_checksum(true)
                    .ctx(|| "enabling zstd checksum".to_string())?;
                ArchiveOut::Zst(enc)
            }
        })
    }
    fn seek_plain(&mut self, pos: u64) -> std::io::Result<()> {
        if let ArchiveOut::Plain(f) = self {
            f.seek(SeekFrom::Start(pos))?;
        }
        Ok(())
    }
    fn finish(self) -> std::io::Result<File> {
        match self {
            ArchiveOut::Plain(f) => Ok(f),
            ArchiveOut::Gz(g) => g.finish(),
            ArchiveOut::Zst(z) => z.finish(),
        }
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("blocking task failed: {e}")))?
}

/// Runs a future unless (or until) the token is cancelled.
async fn cancellable<T>(
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(Error::Cancelled),
        r = fut => r,
    }
}

fn check_cancel(cancel: &CancellationToken) -> Result<()> {
    if cancel.is_cancelled() {
        Err(Error::Cancelled)
    } else {
        Ok(())
    }
}

/// How often hashing a staged disk in place reports progress.
const PROGRESS_BYTES: u64 = 64 << 20;

/// Hashes the first `len` bytes at `offset` of `path` (resume: re-hash what is already written).
fn rehash(
    path: &Path,
    offset: u64,
    len: u64,
    alg: DigestAlgorithm,
    cancel: &CancellationToken,
) -> Result<(Hasher, u64)> {
    rehash_with(path, offset, len, alg, cancel, &|_| {})
}

/// [`rehash`], telling `report` the bytes hashed so far every [`PROGRESS_BYTES`].
fn rehash_with(
    path: &Path,
    offset: u64,
    len: u64,
    alg: DigestAlgorithm,
    cancel: &CancellationToken,
    report: &dyn Fn(u64),
) -> Result<(Hasher, u64)> {
    let mut h = alg.hasher();
    let mut f = File::open(path).ctx(|| format!("opening {} to re-hash", path.display()))?;
    f.seek(SeekFrom::Start(offset))
        .ctx(|| format!("seeking in {}", path.display()))?;
    let mut buf = vec![0u8; crate::pipeline::CHUNK];
    let mut left = len;
    let mut done = 0u64;
    while left > 0 {
        if cancel.is_cancelled() {
            return Err(Error::Cancelled);
        }
        let want = left.min(buf.len() as u64) as usize;
        let n = f
            .read(&mut buf[..want])
            .ctx(|| format!("re-reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        left -= n as u64;
        done += n as u64;
        if done % PROGRESS_BYTES < n as u64 {
            report(done);
        }
    }
    Ok((h, done))
}

/// Exports a VM. See the module docs for the durability and resume rules.
pub async fn export(
    req: ExportRequest,
    progress: Option<ProgressFn>,
    cancel: CancellationToken,
) -> Result<ExportOutcome> {
    let ExportRequest {
        vm,
        disks,
        destination,
        package,
        compression,
        manifest: alg,
        options,
    } = req;
    // What the descriptor can carry verbatim, so that the outcome equals what `inspect` reads.
    let mut vm = vm;
    vm.name = crate::ovf_write::xml_safe_text(&vm.name);
    for n in &mut vm.networks {
        n.name = crate::ovf_write::xml_safe_text(&n.name);
        n.adapter = n
            .adapter
            .as_deref()
            .map(crate::ovf_write::xml_safe_text)
            .filter(|a| !a.is_empty());
    }
    if let Some(os) = &mut vm.os {
        os.description = os
            .description
            .as_deref()
            .map(crate::ovf_write::xml_safe_text)
            .filter(|d| !d.is_empty());
    }
    vm.system_type = vm
        .system_type
        .as_deref()
        .map(crate::ovf_write::xml_safe_text)
        .filter(|d| !d.is_empty());
    let mut vm_check = vm.clone();
    vm_check.disks.clear();
    vm_check.validate()?;
    if package == PackageFormat::Ovf && compression != Compression::None {
        return Err(Error::Unsupported(
            "compression applies to OVA archives only".into(),
        ));
    }
    if std::fs::symlink_metadata(&destination).is_ok() {
        return Err(Error::DestinationExists(destination));
    }
    let parent = crate::fsutil::parent_dir(&destination);
    if !parent.is_dir() {
        return Err(Error::InvalidSpec(format!(
            "destination directory {} does not exist",
            parent.display()
        )));
    }
    let part = with_suffix(&destination, ".part");
    let work = with_suffix(&destination, ".part.d");
    std::fs::create_dir_all(&work).ctx(|| format!("creating {}", work.display()))?;
    // One writer per destination: an advisory lock in the work directory, released by the OS
    // when this process ends (so a crash never leaves a stale lock behind).
    let lock_path = work.join("lock");
    let lock = File::create(&lock_path).ctx(|| format!("creating {}", lock_path.display()))?;
    match lock.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => return Err(Error::DestinationBusy(destination)),
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(Error::io(format!("locking {}", lock_path.display()), e));
        }
    }
    if !options.resume {
        remove_if_exists(&part)?;
        let entries = std::fs::read_dir(&work).ctx(|| format!("listing {}", work.display()))?;
        for e in entries.flatten() {
            if e.file_name() != "lock" {
                remove_if_exists(&e.path())?;
            }
        }
    }

    // Names: the descriptor and manifest share a stem; disk names are unique within the package.
    let max_name = if package == PackageFormat::Ova {
        100
    } else {
        crate::names::MAX_NAME_BYTES
    };
    let mut names = NameSet::with_max_bytes(max_name);
    let stem = sanitize_component(&vm.name, "vm", max_name - 5);
    let descriptor_name = format!("{stem}.ovf");
    let manifest_name = format!("{stem}.mf");
    names.reserve(&descriptor_name);
    names.reserve(&manifest_name);
    names.reserve(&format!("{stem}.cert"));

    // Prepare: detect formats, convert — several disks at once; `buffered` keeps them in request
    // order.
    let parallel = options.parallel_disks.max(1);
    let (work_ref, options_ref, cancel_ref, vm_name) = (&work, &options, &cancel, &vm.name);
    let prepared_raw: Vec<(String, Prepared)> =
        stream::iter(disks.into_iter().enumerate().map(|(i, d)| {
            let progress = progress.clone();
            async move {
                check_cancel(cancel_ref)?;
                let hint = if d.name.trim().is_empty() {
                    format!("{vm_name}-disk{}", i + 1)
                } else {
                    d.name.clone()
                };
                let p =
                    prepare_disk(i, d, &hint, work_ref, options_ref, progress, cancel_ref).await?;
                Ok::<_, Error>((hint, p))
            }
        }))
        .buffered(parallel)
        .try_collect()
        .await?;
    let mut prepared: Vec<Prepared> = Vec::with_capacity(prepared_raw.len());
    for (i, (hint, p)) in prepared_raw.into_iter().enumerate() {
        let href = names.allocate(&hint, p.format.extension(), &format!("disk{}", i + 1));
        prepared.push(Prepared { href, ..p });
    }

    let mut spec = vm.clone();
    spec.disks = prepared
        .iter()
        .enumerate()
        .map(|(i, p)| DiskSpec {
            disk_id: format!("vmdisk{}", i + 1),
            file_id: format!("file{}", i + 1),
            href: p.href.clone(),
            file_size: p.length,
            capacity_bytes: p.capacity,
            format: p.format.clone(),
            controller: p.controller.clone(),
        })
        .collect();

    let plan_digest = {
        let sources: Vec<String> = prepared.iter().map(|p| p.source.identity()).collect();
        let plan = serde_json::json!({
            "vm": spec, "package": package, "compression": compression, "manifest": alg,
            "descriptor": descriptor_name, "sources": sources,
        });
        DigestAlgorithm::Sha256.digest_hex(plan.to_string().as_bytes())
    };
    let cp_path = work.join("checkpoint.json");
    let files: Vec<String> = prepared.iter().map(|p| p.href.clone()).collect();
    let resumable = compression == Compression::None;
    let existing = if options.resume && resumable && std::fs::symlink_metadata(&part).is_ok() {
        Checkpoint::load(&cp_path, &plan_digest)?
    } else {
        None
    };
    let resuming = existing.is_some();
    if !resuming {
        remove_if_exists(&part)?;
    }
    let checkpoint = SharedCheckpoint {
        path: cp_path,
        inner: std::sync::Arc::new(std::sync::Mutex::new(
            existing.unwrap_or_else(|| Checkpoint::new(plan_digest.clone(), &files)),
        )),
    };
    {
        let cp = checkpoint.clone();
        blocking(move || {
            let snapshot = cp
                .inner
                .lock()
                .map_err(|_| Error::Internal("checkpoint lock poisoned".into()))?
                .clone();
            snapshot.save(&cp.path)
        })
        .await?;
    }

    let ctx = WriteCtx {
        alg,
        work: work.clone(),
        checkpoint_bytes: options.checkpoint_bytes.max(1),
        part: part.clone(),
        resuming,
        checkpoint,
        progress,
        cancel: cancel.clone(),
        parallel,
    };
    let (written_spec, manifest, bytes) = match package {
        PackageFormat::Ova => {
            write_ova(
                &ctx,
                spec,
                prepared,
                &descriptor_name,
                &manifest_name,
                compression,
            )
            .await?
        }
        PackageFormat::Ovf => {
            write_folder(&ctx, spec, prepared, &descriptor_name, &manifest_name).await?
        }
    };

    let verification = if options.verify {
        check_cancel(&cancel)?;
        Some(crate::verify::verify_path_with(&part, Some(&cancel), &options.qemu_img).await?)
    } else {
        None
    };
    check_cancel(&cancel)?;
    let (p, d) = (part.clone(), destination.clone());
    blocking(move || publish(&p, &d)).await?;
    drop(lock);
    if let Err(e) = remove_if_exists(&work) {
        tracing::warn!(error = %e, "could not remove the work directory after a successful export");
    }
    Ok(ExportOutcome {
        path: destination,
        vm: written_spec,
        descriptor_name,
        manifest,
        bytes,
        verification,
    })
}

struct WriteCtx {
    alg: DigestAlgorithm,
    /// The work directory (`OUT.part.d/`): checkpoint and staged disks.
    work: PathBuf,
    checkpoint_bytes: u64,
    part: PathBuf,
    resuming: bool,
    checkpoint: SharedCheckpoint,
    progress: Option<ProgressFn>,
    cancel: CancellationToken,
    /// Disks written at once into an OVF folder.
    parallel: usize,
}

async fn prepare_disk(
    i: usize,
    d: ExportDisk,
    label: &str,
    work: &Path,
    options: &ExportOptions,
    progress: Option<ProgressFn>,
    cancel: &CancellationToken,
) -> Result<Prepared> {
    let ExportDisk {
        mut source,
        format,
        capacity_bytes,
        controller,
        convert_to,
        ..
    } = d;
    let q = &options.qemu_img;

    if let Some(target) = convert_to {
        if target.qemu_name().is_none() {
            return Err(Error::Unsupported(format!(
                "cannot convert to {}",
                target.uri()
            )));
        }
        // qemu-img needs a local path: stage a non-file source first.
        let (input, input_staged) = match source {
            DiskSource::File(p) => (p, false),
            DiskSource::Staged(p) => (p, true),
            other => {
                let alg = DigestAlgorithm::Sha256;
                let staged = stage(i, other, label, work, alg, progress.clone(), cancel).await?;
                (staged.path, true)
            }
        };
        let info = q
            .info(&input, format.as_ref().and_then(|f| f.qemu_name()), cancel)
            .await?;
        let capacity = capacity_bytes.unwrap_or(info.virtual_size);
        let already = info.disk_format() == target
            && !(target == DiskFormat::Vhd && options.vhd == VhdKind::Fixed);
        let (path, staged) = if already {
            (input, input_staged)
        } else {
            let out = work.join(format!("conv-{i}.{}", target.extension()));
            if !out.is_file() {
                let tmp = with_suffix(&out, ".part");
                remove_if_exists(&tmp)?;
                q.convert(&input, &info.format, &tmp, &target, options.vhd, cancel)
                    .await?;
                let (t2, o2) = (tmp.clone(), out.clone());
                blocking(move || {
                    File::open(&t2)
                        .and_then(|f| f.sync_all())
                        .ctx(|| format!("syncing {}", t2.display()))?;
                    std::fs::rename(&t2, &o2).ctx(|| format!("renaming {}", t2.display()))?;
                    sync_dir(&crate::fsutil::parent_dir(&o2))
                })
                .await?;
            }
            (out, true)
        };
        let length = Some(
            std::fs::metadata(&path)
                .ctx(|| format!("reading size of {}", path.display()))?
                .len(),
        );
        return Ok(Prepared {
            href: String::new(),
            // A conversion's output is this export's own file.
            source: if staged {
                DiskSource::Staged(path)
            } else {
                DiskSource::File(path)
            },
            format: target,
            capacity,
            length,
            controller,
        });
    }

    let length = cancellable(cancel, source.probe_len(label)).await?;
    // Owned pieces only: no borrow of the (not necessarily Sync) source may live across an await.
    let file_path = match &source {
        DiskSource::File(p) | DiskSource::Staged(p) => Some(p.clone()),
        _ => None,
    };
    let (format, capacity) = match (file_path, format, capacity_bytes) {
        (_, Some(f), Some(c)) => (f, c),
        (_, Some(DiskFormat::Raw), None) if length.is_some() => {
            (DiskFormat::Raw, length.unwrap_or(0))
        }
        (Some(p), f, c) => {
            let info = q
                .info(&p, f.as_ref().and_then(|f| f.qemu_name()), cancel)
                .await?;
            (
                f.unwrap_or_else(|| info.disk_format()),
                c.unwrap_or(info.virtual_size),
            )
        }
        _ => {
            return Err(Error::InvalidSpec(format!(
                "disk {label:?}: format and capacity must be given for a non-file source"
            )));
        }
    };
    Ok(Prepared {
        href: String::new(),
        source,
        format,
        capacity,
        length,
        controller,
    })
}

/// Opens a disk's source at `done`; a disk the checkpoint marks complete is not re-read at all
/// (an HTTP `Range` at the very end would be answered 416).
async fn open_at(
    ctx: &WriteCtx,
    i: usize,
    source: &mut DiskSource,
    done: u64,
    known_len: Option<u64>,
    label: &str,
) -> Result<crate::source::Opened> {
    let cp = ctx.checkpoint.get(i);
    if ctx.resuming
        && cp.complete
        && done > 0
        && done == cp.bytes_durable
        && known_len.is_none_or(|l| l == done)
    {
        return Ok(crate::source::Opened {
            reader: Box::pin(tokio::io::empty()),
            offset: done,
            total_len: Some(done),
        });
    }
    cancellable(&ctx.cancel, source.open(done, label)).await
}

/// Resume position for disk `i` whose data starts at `data_off` in `path`; re-hashes the kept bytes.
async fn resume_point(
    ctx: &WriteCtx,
    i: usize,
    path: &Path,
    data_off: u64,
    size: Option<u64>,
) -> Result<(u64, Hasher)> {
    if !ctx.resuming {
        return Ok((0, ctx.alg.hasher()));
    }
    let cp = ctx.checkpoint.get(i);
    let flen = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
    let mut done = cp.bytes_durable.min(flen.saturating_sub(data_off));
    if let Some(s) = size {
        done = done.min(s);
    }
    if done == 0 {
        return Ok((0, ctx.alg.hasher()));
    }
    let (p, alg, cancel) = (path.to_path_buf(), ctx.alg, ctx.cancel.clone());
    let (h, got) = blocking(move || rehash(&p, data_off, done, alg, &cancel)).await?;
    if got != done {
        return Ok((0, ctx.alg.hasher()));
    }
    tracing::info!(disk = i, bytes = done, "resuming disk from checkpoint");
    Ok((done, h))
}

/// A source copied into the work directory: its file, length and digest (the manifest's
/// algorithm, so that packing it into the archive needs no second hashing pass).
struct Staged {
    path: PathBuf,
    len: u64,
    digest: String,
}

/// Copies a non-file source into `work/stage-N` (written as `.part`, fsynced, renamed).
async fn stage(
    i: usize,
    mut source: DiskSource,
    label: &str,
    work: &Path,
    alg: DigestAlgorithm,
    progress: Option<ProgressFn>,
    cancel: &CancellationToken,
) -> Result<Staged> {
    let staged = work.join(format!("stage-{i}"));
    let tmp = with_suffix(&staged, ".part");
    let opened = cancellable(cancel, source.open(0, label)).await?;
    let t2 = tmp.clone();
    let file =
        blocking(move || File::create(&t2).ctx(|| format!("creating {}", t2.display()))).await?;
    let done = copy(
        CopyJob {
            disk_index: i,
            file: label.to_string(),
            reader: opened.reader,
            remaining: opened.total_len,
            already: 0,
            total: opened.total_len,
            hasher: Some(alg.hasher()),
            out: file,
            sync_file: None,
            on_durable: None,
            sync_every: u64::MAX,
            progress,
        },
        cancel,
    )
    .await?;
    let digest = done
        .digest
        .ok_or_else(|| Error::Internal("staged copy without a digest".into()))?;
    let (t3, s3, out) = (tmp.clone(), staged.clone(), done.out);
    blocking(move || {
        out.sync_all().ctx(|| format!("syncing {}", t3.display()))?;
        std::fs::rename(&t3, &s3).ctx(|| format!("renaming {}", t3.display()))
    })
    .await?;
    Ok(Staged {
        path: staged,
        len: done.bytes,
        digest,
    })
}

/// Copy chunk for packing a staged disk: the cancellation token is checked between chunks.
const PACK_CHUNK: u64 = 64 << 20;

/// Appends a staged file at the current position of a plain archive. `std::io::copy` between two
/// files is `copy_file_range` on Linux: the bytes are copied inside the kernel, not through
/// user space.
fn append_staged(
    out: &mut File,
    staged: &Path,
    len: u64,
    cancel: &CancellationToken,
) -> Result<()> {
    let mut src = File::open(staged).ctx(|| format!("opening {}", staged.display()))?;
    let mut left = len;
    while left > 0 {
        check_cancel(cancel)?;
        let n = std::io::copy(&mut (&mut src).take(left.min(PACK_CHUNK)), out)
            .ctx(|| format!("packing {}", staged.display()))?;
        if n == 0 {
            return Err(Error::Internal(format!(
                "{} ended {left} bytes early",
                staged.display()
            )));
        }
        left -= n;
    }
    Ok(())
}

/// Room left after the descriptor for the `ovf:size` attributes of disks whose length is learnt
/// only while they stream (` ovf:size="18446744073709551615"` is 32 bytes).
const SIZE_ATTR_RESERVE: usize = 32;

/// The descriptor as the archive's first member: `reserve` bytes longer than its text, the
/// room filled with whitespace after the root element (allowed by XML), so that the same member
/// can later be rewritten in place with every disk's size.
fn padded_descriptor(spec: &VmSpec, member_len: Option<usize>, reserve: usize) -> Result<Vec<u8>> {
    let mut d = crate::ovf_write::write_descriptor(spec)?.into_bytes();
    let want = member_len.unwrap_or(d.len() + reserve);
    if d.len() > want {
        return Err(Error::Internal(format!(
            "descriptor grew past its reserved {want} bytes"
        )));
    }
    if want > d.len() {
        d.resize(want - 1, b' ');
        d.push(b'\n');
    }
    Ok(d)
}

async fn write_ova(
    ctx: &WriteCtx,
    mut spec: VmSpec,
    mut prepared: Vec<Prepared>,
    descriptor_name: &str,
    manifest_name: &str,
    compression: Compression,
) -> Result<(VmSpec, Manifest, u64)> {
    let plain = compression == Compression::None;
    let n = prepared.len();

    // Disks of unknown length (e.g. a vSphere NFC stream) cannot have their ustar header written
    // before their data inside a compressed stream: those are all staged first, side by side. A
    // plain archive is seekable: the first such disk streams straight into it and its header (and
    // the descriptor's ovf:size) is patched afterwards; the later ones are staged *while* it
    // streams, so the disks still download in parallel, and are then packed in the kernel with the
    // digest their staging computed. With `parallel_disks` 1 every disk streams straight into the
    // archive, one after another, and nothing is written twice.
    let stop_staging = ctx.cancel.child_token();
    let _stop_on_drop = stop_staging.clone().drop_guard();
    let mut staging: Vec<Option<tokio::task::JoinHandle<Result<Staged>>>> =
        (0..n).map(|_| None).collect();
    let slots = if plain {
        ctx.parallel - 1
    } else {
        ctx.parallel
    };
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(slots.max(1)));
    let mut direct_unknown = false;
    for (i, p) in prepared.iter_mut().enumerate() {
        if p.length.is_some() || (plain && ctx.resuming && ctx.checkpoint.get(i).complete) {
            continue;
        }
        if plain && (!direct_unknown || slots == 0) {
            direct_unknown = true;
            continue;
        }
        let source = std::mem::replace(&mut p.source, DiskSource::reader(tokio::io::empty(), None));
        let (label, work) = (p.href.clone(), ctx.work.clone());
        let (alg, progress, cancel) = (ctx.alg, ctx.progress.clone(), stop_staging.clone());
        let permits = permits.clone();
        staging[i] = Some(tokio::spawn(async move {
            // Fair semaphore: disks are fetched in request order, `slots` at a time.
            let _permit = permits
                .acquire_owned()
                .await
                .map_err(|_| Error::Cancelled)?;
            stage(i, source, &label, &work, alg, progress, &cancel).await
        }));
    }
    let result = write_ova_members(
        ctx,
        &mut spec,
        &mut prepared,
        &mut staging,
        descriptor_name,
        compression,
    )
    .await;
    // Nothing may still write into the work directory once this returns.
    if result.is_err() {
        stop_staging.cancel();
    }
    for h in staging.into_iter().flatten() {
        let _ = h.await;
    }
    let (out, sync_handle, manifest, offset, mtime) = result?;

    let mf = manifest.to_text().into_bytes();
    let hdr = tarfmt::header(manifest_name, mf.len() as u64, mtime)?;
    let end = offset + tarfmt::member_len(mf.len() as u64) + 2 * tarfmt::BLOCK;
    let what = format!("writing {}", ctx.part.display());
    let mut out = out;
    let total = blocking(move || {
        out.seek_plain(offset).ctx(|| what.clone())?;
        out.write_all(&hdr).ctx(|| what.clone())?;
        out.write_all(&mf).ctx(|| what.clone())?;
        out.write_all(&vec![
            0u8;
            tarfmt::padding(mf.len() as u64) as usize
                + 2 * tarfmt::BLOCK as usize
        ])
        .ctx(|| what.clone())?;
        let file = out.finish().ctx(|| what.clone())?;
        if plain {
            file.set_len(end).ctx(|| what.clone())?;
        }
        file.sync_all().ctx(|| what.clone())?;
        Ok(file.metadata().ctx(|| what)?.len())
    })
    .await?;
    drop(sync_handle);
    Ok((spec, manifest, total))
}

/// What [`write_ova_members`] leaves for the manifest: the archive writer, a handle for syncs,
/// the manifest so far, the manifest's offset and the members' mtime.
type Members = (ArchiveOut, File, Manifest, u64, u64);

/// Writes the descriptor and every disk of an OVA (see [`write_ova`]).
async fn write_ova_members(
    ctx: &WriteCtx,
    spec: &mut VmSpec,
    prepared: &mut [Prepared],
    staging: &mut [Option<tokio::task::JoinHandle<Result<Staged>>>],
    descriptor_name: &str,
    compression: Compression,
) -> Result<Members> {
    let plain = compression == Compression::None;
    let mut known_digest: Vec<Option<String>> = prepared.iter().map(|_| None).collect();
    if !plain {
        // Every header precedes its data in the stream: wait for every staged disk first.
        for (i, slot) in staging.iter_mut().enumerate() {
            if let Some(h) = slot.take() {
                let s = h.await.map_err(join_err)??;
                prepared[i].length = Some(s.len);
                prepared[i].source = DiskSource::File(s.path);
                known_digest[i] = Some(s.digest);
            }
        }
    }
    for (d, p) in spec.disks.iter_mut().zip(prepared.iter()) {
        d.file_size = p.length;
    }
    let unknown = prepared.iter().filter(|p| p.length.is_none()).count();
    let descriptor = padded_descriptor(spec, None, unknown * SIZE_ATTR_RESERVE)?;
    let desc_len = descriptor.len();
    let mut disk_digests = Vec::with_capacity(prepared.len());
    let mtime = tarfmt::now_secs();

    let (p, resuming) = (ctx.part.clone(), ctx.resuming);
    let file = blocking(move || {
        let mut oo = OpenOptions::new();
        oo.write(true).create(true);
        if !resuming {
            oo.truncate(true);
        }
        oo.open(&p).ctx(|| format!("creating {}", p.display()))
    })
    .await?;
    let sync_handle = file.try_clone().ctx(|| "cloning file handle".to_string())?;
    let mut out = ArchiveOut::new(file, compression)?;
    let hdr = tarfmt::header(descriptor_name, desc_len as u64, mtime)?;
    let what = format!("writing {}", ctx.part.display());
    let w2 = what.clone();
    let first = descriptor.clone();
    out = blocking(move || {
        out.seek_plain(0).ctx(|| w2.clone())?;
        out.write_all(&hdr).ctx(|| w2.clone())?;
        out.write_all(&first).ctx(|| w2.clone())?;
        out.write_all(&vec![0u8; tarfmt::padding(desc_len as u64) as usize])
            .ctx(|| w2)?;
        Ok(out)
    })
    .await?;
    let mut offset = tarfmt::member_len(desc_len as u64);

    for i in 0..prepared.len() {
        check_cancel(&ctx.cancel)?;
        let href = prepared[i].href.clone();
        let data_off = offset + tarfmt::BLOCK;
        let (size, digest) = if let Some(h) = staging[i].take() {
            // Fetched alongside the disks before it; packed without hashing again.
            let s = h.await.map_err(join_err)??;
            let hdr = tarfmt::header(&href, s.len, mtime)?;
            let (w2, cancel) = (what.clone(), ctx.cancel.clone());
            let staged_path = s.path.clone();
            let len = s.len;
            out = blocking(move || {
                let ArchiveOut::Plain(f) = &mut out else {
                    return Err(Error::Internal(
                        "packing a staged disk into a stream".into(),
                    ));
                };
                f.seek(SeekFrom::Start(offset)).ctx(|| w2.clone())?;
                f.write_all(&hdr).ctx(|| w2.clone())?;
                append_staged(f, &staged_path, len, &cancel)?;
                f.write_all(&vec![0u8; tarfmt::padding(len) as usize])
                    .ctx(|| w2.clone())?;
                f.sync_data().ctx(|| w2)?;
                Ok(out)
            })
            .await?;
            ctx.checkpoint.update(i, s.len, true)?;
            remove_if_exists(&s.path)?;
            (s.len, s.digest)
        } else {
            let p = &mut prepared[i];
            let (mut done, mut hasher) = if plain {
                resume_point(ctx, i, &ctx.part, data_off, p.length).await?
            } else {
                (0, ctx.alg.hasher())
            };
            // A disk of unknown length that the checkpoint marks complete ends where it stopped.
            let cp = ctx.checkpoint.get(i);
            let known = p
                .length
                .or((cp.complete && done == cp.bytes_durable && done > 0).then_some(done));
            let opened = open_at(ctx, i, &mut p.source, done, known, &href).await?;
            if opened.offset != done {
                tracing::info!(
                    disk = i,
                    "source cannot continue at {done}; restarting this disk"
                );
                done = 0;
                hasher = ctx.alg.hasher();
            }
            let size = match (known, opened.total_len) {
                (Some(k), Some(t)) if k != t => {
                    return Err(Error::Source {
                        disk: href,
                        message: format!("source length changed from {k} to {t} bytes"),
                        retryable: false,
                    });
                }
                (k, t) => k.or(t),
            };
            // Unknown size: a provisional header (size 0), rewritten once the disk has ended.
            let hdr = tarfmt::header(&href, size.unwrap_or(0), mtime)?;
            let w2 = what.clone();
            out = blocking(move || {
                out.seek_plain(offset).ctx(|| w2.clone())?;
                out.write_all(&hdr).ctx(|| w2.clone())?;
                out.seek_plain(data_off + done).ctx(|| w2)?;
                Ok(out)
            })
            .await?;
            let cp = ctx.checkpoint.clone();
            let on_durable: Option<crate::pipeline::DurableFn> = if plain {
                Some(Box::new(move |n| cp.update(i, n, false)))
            } else {
                None
            };
            let precomputed = known_digest[i].take();
            let staged_file = match (&precomputed, &p.source) {
                (Some(_), DiskSource::File(path) | DiskSource::Staged(path)) => Some(path.clone()),
                _ => None,
            };
            let res = copy(
                CopyJob {
                    disk_index: i,
                    file: href.clone(),
                    reader: opened.reader,
                    remaining: size.map(|s| s.saturating_sub(done)),
                    already: done,
                    total: size,
                    hasher: if precomputed.is_some() {
                        None
                    } else {
                        Some(hasher)
                    },
                    out,
                    sync_file: if plain {
                        sync_handle.try_clone().ok()
                    } else {
                        None
                    },
                    on_durable,
                    sync_every: ctx.checkpoint_bytes,
                    progress: ctx.progress.clone(),
                },
                &ctx.cancel,
            )
            .await?;
            out = res.out;
            let len = res.bytes;
            let digest = precomputed
                .or(res.digest)
                .ok_or_else(|| Error::Internal("disk written without a digest".into()))?;
            let pad = tarfmt::padding(len) as usize;
            let final_hdr = (size.is_none())
                .then(|| tarfmt::header(&href, len, mtime))
                .transpose()?;
            let (w2, sh) = (
                what.clone(),
                sync_handle
                    .try_clone()
                    .ctx(|| "cloning file handle".to_string())?,
            );
            let cp = ctx.checkpoint.clone();
            out = blocking(move || {
                out.write_all(&vec![0u8; pad]).ctx(|| w2.clone())?;
                if let Some(h) = final_hdr {
                    out.seek_plain(offset).ctx(|| w2.clone())?;
                    out.write_all(&h).ctx(|| w2.clone())?;
                }
                if plain {
                    out.flush().ctx(|| w2.clone())?;
                    sh.sync_data().ctx(|| w2)?;
                    cp.update(i, len, true)?;
                }
                Ok(out)
            })
            .await?;
            if let Some(path) = staged_file {
                remove_if_exists(&path)?;
            }
            (len, digest)
        };
        disk_digests.push((href, digest));
        prepared[i].length = Some(size);
        if let Some(d) = spec.disks.get_mut(i) {
            d.file_size = Some(size);
        }
        offset += tarfmt::member_len(size);
    }

    // The descriptor now carries every size: rewritten in place, in its reserved room.
    let descriptor = if unknown > 0 {
        let d = padded_descriptor(spec, Some(desc_len), 0)?;
        let w2 = what.clone();
        let d2 = d.clone();
        out = blocking(move || {
            out.seek_plain(tarfmt::BLOCK).ctx(|| w2.clone())?;
            out.write_all(&d2).ctx(|| w2)?;
            Ok(out)
        })
        .await?;
        d
    } else {
        descriptor
    };
    let mut manifest = Manifest::new(ctx.alg);
    manifest.push(descriptor_name, ctx.alg.digest_hex(&descriptor));
    for (href, digest) in disk_digests {
        manifest.push(href, digest);
    }
    Ok((out, sync_handle, manifest, offset, mtime))
}

/// Streams one disk into its own file of an OVF folder; returns its digest and size.
async fn write_folder_disk(
    ctx: &WriteCtx,
    dir: &Path,
    i: usize,
    mut p: Prepared,
) -> Result<(String, u64)> {
    let href = p.href.clone();
    let path = join_inside(dir, &href)?;
    if let DiskSource::Staged(staged) = &p.source {
        return move_staged_disk(ctx, i, href, staged.clone(), path).await;
    }
    let (mut done, mut hasher) = resume_point(ctx, i, &path, 0, p.length).await?;
    let opened = open_at(ctx, i, &mut p.source, done, p.length, &href).await?;
    if opened.offset != done {
        done = 0;
        hasher = ctx.alg.hasher();
    }
    let path2 = path.clone();
    let file = blocking(move || {
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path2)
            .ctx(|| format!("creating {}", path2.display()))?;
        f.set_len(done)
            .ctx(|| format!("truncating {}", path2.display()))?;
        f.seek(SeekFrom::Start(done))
            .ctx(|| format!("seeking in {}", path2.display()))?;
        Ok(f)
    })
    .await?;
    let sync_file = file.try_clone().ok();
    let cp = ctx.checkpoint.clone();
    let remaining = p
        .length
        .or(opened.total_len)
        .map(|l| l.saturating_sub(done));
    let res = copy(
        CopyJob {
            disk_index: i,
            file: href.clone(),
            reader: opened.reader,
            remaining,
            already: done,
            total: p.length.or(opened.total_len),
            hasher: Some(hasher),
            out: file,
            sync_file,
            on_durable: Some(Box::new(move |n| cp.update(i, n, false))),
            sync_every: ctx.checkpoint_bytes,
            progress: ctx.progress.clone(),
        },
        &ctx.cancel,
    )
    .await?;
    let (cp, bytes, path2) = (ctx.checkpoint.clone(), res.bytes, path.clone());
    let f = res.out;
    blocking(move || {
        f.sync_all()
            .ctx(|| format!("syncing {}", path2.display()))?;
        cp.update(i, bytes, true)
    })
    .await?;
    let digest = res
        .digest
        .ok_or_else(|| Error::Internal("disk written without a digest".into()))?;
    Ok((digest, bytes))
}

/// Puts a [`DiskSource::Staged`] file into the folder by renaming it (the staging folders are
/// beside the destination, so on its file system): hashed where it lies, then moved, synced and
/// marked complete. Across file systems it is copied instead.
async fn move_staged_disk(
    ctx: &WriteCtx,
    i: usize,
    href: String,
    staged: PathBuf,
    path: PathBuf,
) -> Result<(String, u64)> {
    let (alg, cancel, progress, cp) = (
        ctx.alg,
        ctx.cancel.clone(),
        ctx.progress.clone(),
        ctx.checkpoint.clone(),
    );
    blocking(move || {
        let len = std::fs::metadata(&staged)
            .ctx(|| format!("reading size of {}", staged.display()))?
            .len();
        let report = |done: u64| {
            if let Some(p) = &progress {
                p(crate::pipeline::Progress {
                    disk_index: i,
                    file: href.clone(),
                    bytes_done: done,
                    bytes_total: Some(len),
                });
            }
        };
        report(0);
        let (hasher, hashed) = rehash_with(&staged, 0, len, alg, &cancel, &report)?;
        if hashed != len {
            return Err(Error::Internal(format!(
                "{} changed while it was hashed",
                staged.display()
            )));
        }
        remove_if_exists(&path)?;
        if let Err(e) = std::fs::rename(&staged, &path) {
            if e.kind() != std::io::ErrorKind::CrossesDevices {
                return Err(Error::io(
                    format!("moving {} into the package", staged.display()),
                    e,
                ));
            }
            std::fs::copy(&staged, &path).ctx(|| format!("copying {}", staged.display()))?;
            std::fs::remove_file(&staged).ctx(|| format!("removing {}", staged.display()))?;
        }
        File::open(&path)
            .and_then(|f| f.sync_all())
            .ctx(|| format!("syncing {}", path.display()))?;
        sync_dir(&crate::fsutil::parent_dir(&path))?;
        cp.update(i, len, true)?;
        report(len);
        Ok((hasher.finish_hex(), len))
    })
    .await
}

async fn write_folder(
    ctx: &WriteCtx,
    mut spec: VmSpec,
    prepared: Vec<Prepared>,
    descriptor_name: &str,
    manifest_name: &str,
) -> Result<(VmSpec, Manifest, u64)> {
    let dir = ctx.part.clone();
    if !ctx.resuming {
        remove_if_exists(&dir)?;
    }
    std::fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
    let mut manifest = Manifest::new(ctx.alg);
    let dir_ref = &dir;
    // Disks side by side (each its own file and checkpoint entry); `buffered` keeps the order.
    let written: Vec<(usize, String, String, u64)> =
        stream::iter(prepared.into_iter().enumerate().map(|(i, p)| async move {
            check_cancel(&ctx.cancel)?;
            let href = p.href.clone();
            let (digest, bytes) = write_folder_disk(ctx, dir_ref, i, p).await?;
            Ok::<_, Error>((i, href, digest, bytes))
        }))
        .buffered(ctx.parallel.max(1))
        .try_collect()
        .await?;
    let mut digests = Vec::new();
    let mut total = 0u64;
    for (i, href, digest, bytes) in written {
        if let Some(d) = spec.disks.get_mut(i) {
            d.file_size = Some(bytes);
        }
        total += bytes;
        digests.push((href, digest));
    }
    let descriptor = crate::ovf_write::write_descriptor(&spec)?.into_bytes();
    manifest.push(descriptor_name, ctx.alg.digest_hex(&descriptor));
    for (h, d) in digests {
        manifest.push(h, d);
    }
    let mf = manifest.to_text().into_bytes();
    total += (descriptor.len() + mf.len()) as u64;
    let (dp, mp) = (
        join_inside(&dir, descriptor_name)?,
        join_inside(&dir, manifest_name)?,
    );
    let dir2 = dir.clone();
    blocking(move || {
        for (path, data) in [(dp, descriptor), (mp, mf)] {
            let mut f = File::create(&path).ctx(|| format!("creating {}", path.display()))?;
            f.write_all(&data)
                .ctx(|| format!("writing {}", path.display()))?;
            f.sync_all().ctx(|| format!("syncing {}", path.display()))?;
        }
        sync_dir(&dir2)
    })
    .await?;
    Ok((spec, manifest, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    /// The job engine spawns exports on a multi-threaded runtime: the future must be `Send`.
    #[test]
    fn export_future_is_send() {
        let req = ExportRequest {
            vm: VmSpec::new("x", 1, 1),
            disks: vec![ExportDisk {
                name: "d".into(),
                source: DiskSource::reader(tokio::io::empty(), Some(0)),
                format: Some(DiskFormat::Raw),
                capacity_bytes: Some(0),
                controller: Controller::Sata,
                convert_to: None,
            }],
            destination: PathBuf::from("/nonexistent/x.ova"),
            package: PackageFormat::Ova,
            compression: Compression::None,
            manifest: DigestAlgorithm::Sha256,
            options: ExportOptions::default(),
        };
        let fut = export(req, None, CancellationToken::new());
        assert_send(&fut);
    }
}

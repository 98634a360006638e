//! Verification and inspection of OVA (plain, `.gz`, `.zst`) and OVF folder packages.
//!
//! Checks, in this order, stopping at the first failure (which is what the error names):
//! 1. an OVA's first member is the `.ovf` descriptor (DSP0243 §5.3);
//! 2. the descriptor parses;
//! 3. a manifest exists and parses;
//! 4. every `References/File` is present, with the `ovf:size` it declares;
//! 5. every manifest entry names a file that is present;
//! 6. every file in the package (except the manifest and a certificate) is in the manifest;
//! 7. every file's digest equals its manifest entry (in package order);
//! 8. every disk is a usable image of its declared format and capacity ([`crate::disk_image`]).
//!
//! Archives are read twice: a scan for names, sizes, descriptor and manifest (seeking over data
//! for plain OVAs), then a hashing pass with the manifest's algorithm — for plain OVAs and
//! folders several files at once (each is its own byte range), for compressed archives in one
//! stream, which is therefore decompressed twice.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::disk_image::{Capture, CaptureReader, DiskBytes, DiskReport, QemuTarget, check_disk};
use crate::error::IoContext;
use crate::manifest::{DigestAlgorithm, Manifest};
use crate::model::VmSpec;
use crate::ovf_read::{Descriptor, FileRef, MAX_DESCRIPTOR_BYTES, parse_descriptor};
use crate::qemu::QemuImg;
use crate::{Error, Result};

const MAX_MANIFEST_BYTES: u64 = 4 << 20;

/// What kind of package a path holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PackageKind {
    /// Plain ustar `.ova`.
    Ova,
    /// gzip-compressed OVA.
    OvaGzip,
    /// zstd-compressed OVA.
    OvaZstd,
    /// A directory with a `.ovf`.
    OvfFolder,
}

/// Result of [`inspect`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inspection {
    /// Package kind.
    pub kind: PackageKind,
    /// The descriptor's file name.
    pub descriptor: String,
    /// The VM as described.
    pub vm: VmSpec,
    /// All referenced files.
    pub files: Vec<FileRef>,
    /// Manifest name and algorithm, if there is a manifest.
    pub manifest: Option<(String, DigestAlgorithm)>,
}

/// Result of a successful [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// Package kind.
    pub kind: PackageKind,
    /// Descriptor file name.
    pub descriptor: String,
    /// Manifest algorithm.
    pub algorithm: DigestAlgorithm,
    /// Every checked file with its size, in package order.
    pub files: Vec<(String, u64)>,
    /// Every disk read as an image: which checks ran and which could not.
    pub disks: Vec<DiskReport>,
}

fn detect(path: &Path) -> Result<PackageKind> {
    let meta = std::fs::metadata(path).ctx(|| format!("reading {}", path.display()))?;
    if meta.is_dir() {
        return Ok(PackageKind::OvfFolder);
    }
    let mut magic = [0u8; 4];
    let mut f = File::open(path).ctx(|| format!("opening {}", path.display()))?;
    let n = f
        .read(&mut magic)
        .ctx(|| format!("reading {}", path.display()))?;
    Ok(match &magic[..n] {
        [0x1f, 0x8b, ..] => PackageKind::OvaGzip,
        [0x28, 0xb5, 0x2f, 0xfd] => PackageKind::OvaZstd,
        _ => PackageKind::Ova,
    })
}

fn open_stream(path: &Path, kind: PackageKind) -> Result<Box<dyn Read>> {
    let f = BufReader::with_capacity(
        1 << 20,
        File::open(path).ctx(|| format!("opening {}", path.display()))?,
    );
    Ok(match kind {
        PackageKind::OvaGzip => Box::new(flate2::read::MultiGzDecoder::new(f)),
        PackageKind::OvaZstd => Box::new(
            zstd::stream::read::Decoder::with_buffer(f)
                .ctx(|| format!("opening zstd stream {}", path.display()))?,
        ),
        _ => Box::new(f),
    })
}

fn archive_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::ArchiveMalformed(format!("{}: {e}", path.display()))
}

/// An error from [`hash_reader`]: `Interrupted` is its cancellation.
fn read_err(path: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::Interrupted {
        Error::Cancelled
    } else {
        archive_err(path, e)
    }
}

fn member_name(raw: &[u8]) -> String {
    let s = String::from_utf8_lossy(raw);
    s.strip_prefix("./").unwrap_or(&s).to_string()
}

/// What the first pass learns.
struct Scan {
    kind: PackageKind,
    members: Vec<(String, u64)>,
    /// For a plain OVA, where each member's data starts (same order as `members`).
    data_offsets: Vec<u64>,
    descriptor: (String, Vec<u8>),
    manifest: Option<(String, Vec<u8>)>,
}

fn read_limited(r: &mut dyn Read, size: u64, limit: u64, what: &str) -> Result<Vec<u8>> {
    if size > limit {
        return Err(Error::ArchiveMalformed(format!(
            "{what} is {size} bytes, over the {limit}-byte limit"
        )));
    }
    let mut v = Vec::with_capacity(size as usize);
    r.take(limit)
        .read_to_end(&mut v)
        .map_err(|e| Error::ArchiveMalformed(format!("reading {what}: {e}")))?;
    Ok(v)
}

fn scan_archive(
    path: &Path,
    kind: PackageKind,
    cancel: Option<&CancellationToken>,
) -> Result<Scan> {
    let mut members = Vec::new();
    let mut data_offsets = Vec::new();
    let mut descriptor = None;
    let mut manifest = None;
    let mut visit = |name: String, size: u64, r: &mut dyn Read| -> Result<()> {
        if cancel.is_some_and(|c| c.is_cancelled()) {
            return Err(Error::Cancelled);
        }
        if members.is_empty() {
            if !name.to_ascii_lowercase().ends_with(".ovf") {
                return Err(Error::DescriptorNotFirst(name));
            }
            descriptor = Some((
                name.clone(),
                read_limited(r, size, MAX_DESCRIPTOR_BYTES as u64, "descriptor")?,
            ));
        } else if name.to_ascii_lowercase().ends_with(".mf") {
            if manifest.is_some() {
                return Err(Error::ArchiveMalformed("more than one manifest".into()));
            }
            manifest = Some((
                name.clone(),
                read_limited(r, size, MAX_MANIFEST_BYTES, "manifest")?,
            ));
        } else if name.to_ascii_lowercase().ends_with(".ovf") {
            return Err(Error::ArchiveMalformed(format!(
                "second descriptor {name:?}"
            )));
        }
        if members.iter().any(|(n, _)| n == &name) {
            return Err(Error::ArchiveMalformed(format!(
                "member {name:?} appears twice"
            )));
        }
        members.push((name, size));
        Ok(())
    };
    if kind == PackageKind::Ova {
        let f = File::open(path).ctx(|| format!("opening {}", path.display()))?;
        let mut ar = tar::Archive::new(f);
        for e in ar.entries_with_seek().map_err(|e| archive_err(path, e))? {
            let mut e = e.map_err(|e| archive_err(path, e))?;
            if !e.header().entry_type().is_file() {
                continue;
            }
            let name = member_name(&e.path_bytes());
            let size = e.size();
            let offset = e.raw_file_position();
            visit(name, size, &mut e)?;
            data_offsets.push(offset);
        }
    } else {
        let mut ar = tar::Archive::new(open_stream(path, kind)?);
        for e in ar.entries().map_err(|e| archive_err(path, e))? {
            let mut e = e.map_err(|e| archive_err(path, e))?;
            if !e.header().entry_type().is_file() {
                continue;
            }
            let name = member_name(&e.path_bytes());
            let size = e.size();
            visit(name, size, &mut e)?;
        }
    }
    let descriptor =
        descriptor.ok_or_else(|| Error::ArchiveMalformed("archive has no members".into()))?;
    Ok(Scan {
        kind,
        members,
        data_offsets,
        descriptor,
        manifest,
    })
}

fn scan_folder(dir: &Path) -> Result<Scan> {
    let mut members = Vec::new();
    let mut ovfs = Vec::new();
    let rd = std::fs::read_dir(dir).ctx(|| format!("listing {}", dir.display()))?;
    for e in rd {
        let e = e.ctx(|| format!("listing {}", dir.display()))?;
        let ft = e.file_type().ctx(|| format!("reading {}", dir.display()))?;
        if !ft.is_file() {
            continue;
        }
        let name = e.file_name().to_string_lossy().into_owned();
        let size = e.metadata().ctx(|| format!("reading {name}"))?.len();
        if name.to_ascii_lowercase().ends_with(".ovf") {
            ovfs.push(name.clone());
        }
        members.push((name, size));
    }
    members.sort();
    let ovf = match ovfs.as_slice() {
        [one] => one.clone(),
        [] => return Err(Error::MissingFile("*.ovf".into())),
        _ => {
            return Err(Error::ArchiveMalformed(format!(
                "several descriptors in {}: {ovfs:?}",
                dir.display()
            )));
        }
    };
    let read = |name: &str, limit: u64| -> Result<Vec<u8>> {
        let p = dir.join(name);
        let mut f = File::open(&p).ctx(|| format!("opening {}", p.display()))?;
        let size = f
            .metadata()
            .ctx(|| format!("reading {}", p.display()))?
            .len();
        read_limited(&mut f, size, limit, name)
    };
    let descriptor = (ovf.clone(), read(&ovf, MAX_DESCRIPTOR_BYTES as u64)?);
    let stem = ovf[..ovf.len() - 4].to_string();
    let mfs: Vec<&String> = members
        .iter()
        .map(|(n, _)| n)
        .filter(|n| n.to_ascii_lowercase().ends_with(".mf"))
        .collect();
    let mf_name = mfs
        .iter()
        .find(|n| n[..n.len() - 3] == stem)
        .or_else(|| if mfs.len() == 1 { mfs.first() } else { None })
        .map(|s| s.to_string());
    let manifest = match mf_name {
        Some(n) => Some((n.clone(), read(&n, MAX_MANIFEST_BYTES)?)),
        None => None,
    };
    // Descriptor first in the member order so reports read naturally.
    members.sort_by_key(|(n, _)| n != &ovf);
    Ok(Scan {
        kind: PackageKind::OvfFolder,
        members,
        data_offsets: Vec::new(),
        descriptor,
        manifest,
    })
}

fn scan(path: &Path, cancel: Option<&CancellationToken>) -> Result<Scan> {
    let kind = detect(path)?;
    if kind == PackageKind::OvfFolder {
        scan_folder(path)
    } else {
        scan_archive(path, kind, cancel)
    }
}

fn hash_reader(
    r: &mut dyn Read,
    alg: DigestAlgorithm,
    cancel: Option<&CancellationToken>,
) -> std::io::Result<(String, u64)> {
    let mut h = alg.hasher();
    let mut buf = vec![0u8; 1 << 20];
    let mut n_total = 0u64;
    loop {
        if cancel.is_some_and(|c| c.is_cancelled()) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::Interrupted,
                "cancelled",
            ));
        }
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    Ok((h.finish_hex(), n_total))
}

/// One file's bytes to hash: `len` bytes at `offset` of `file`.
struct RangeJob<'a> {
    name: &'a str,
    expected: &'a str,
    file: PathBuf,
    offset: u64,
    len: u64,
}

/// Hashes every range, as many at once as there are cores; results in job order.
fn hash_ranges(
    jobs: &[RangeJob<'_>],
    alg: DigestAlgorithm,
    cancel: Option<&CancellationToken>,
) -> Vec<Result<String>> {
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .min(jobs.len())
        .max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: Vec<std::sync::Mutex<Option<Result<String>>>> =
        jobs.iter().map(|_| std::sync::Mutex::new(None)).collect();
    let one = |job: &RangeJob<'_>| -> Result<String> {
        let mut f = File::open(&job.file).ctx(|| format!("opening {}", job.file.display()))?;
        f.seek(SeekFrom::Start(job.offset))
            .ctx(|| format!("seeking in {}", job.file.display()))?;
        let (digest, n) =
            hash_reader(&mut f.take(job.len), alg, cancel).map_err(|e| read_err(&job.file, e))?;
        if n != job.len {
            return Err(archive_err(
                &job.file,
                format!("{} ends after {n} of {} bytes", job.name, job.len),
            ));
        }
        Ok(digest)
    };
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let k = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(job) = jobs.get(k) else { break };
                    let r = one(job);
                    if let Ok(mut slot) = results[k].lock() {
                        *slot = Some(r);
                    }
                }
            });
        }
    });
    results
        .into_iter()
        .map(|m| {
            m.into_inner()
                .ok()
                .flatten()
                .unwrap_or_else(|| Err(Error::Internal("hashing worker failed".into())))
        })
        .collect()
}

fn is_side_file(name: &str) -> bool {
    let l = name.to_ascii_lowercase();
    l.ends_with(".mf") || l.ends_with(".cert")
}

/// Blocking verification; see the module docs. `cancel` is checked between chunks.
pub fn verify_blocking(path: &Path, cancel: Option<&CancellationToken>) -> Result<VerifyReport> {
    verify_with(path, cancel, &QemuImg::default())
}

/// [`verify_blocking`] running `qemu-img check` through `qemu`.
fn verify_with(
    path: &Path,
    cancel: Option<&CancellationToken>,
    qemu: &QemuImg,
) -> Result<VerifyReport> {
    let s = scan(path, cancel)?;
    let Descriptor { files, vm } = parse_descriptor(&s.descriptor.1)?;
    let (_, mf_bytes) = s.manifest.as_ref().ok_or(Error::ManifestMissing)?;
    let mf_text =
        std::str::from_utf8(mf_bytes).map_err(|_| Error::ManifestMalformed("not UTF-8".into()))?;
    let manifest = Manifest::parse(mf_text)?;
    let sizes: HashMap<&str, u64> = s.members.iter().map(|(n, sz)| (n.as_str(), *sz)).collect();
    for f in &files {
        let actual = *sizes
            .get(f.href.as_str())
            .ok_or_else(|| Error::MissingFile(f.href.clone()))?;
        if let Some(expected) = f.size
            && expected != actual
        {
            return Err(Error::SizeMismatch {
                file: f.href.clone(),
                expected,
                actual,
            });
        }
    }
    for e in &manifest.entries {
        if !sizes.contains_key(e.file.as_str()) {
            return Err(Error::MissingFile(e.file.clone()));
        }
    }
    for (name, _) in &s.members {
        if !is_side_file(name) && manifest.get(name).is_none() {
            return Err(Error::UnlistedFile(name.clone()));
        }
    }
    let alg = manifest.algorithm;
    let check = |name: &str, r: &mut dyn Read| -> Result<()> {
        let Some(expected) = manifest.get(name) else {
            return Ok(());
        };
        let (actual, _) = hash_reader(r, alg, cancel).map_err(|e| read_err(path, e))?;
        if actual != expected {
            return Err(Error::DigestMismatch {
                file: name.to_string(),
                expected: expected.to_string(),
                actual,
            });
        }
        Ok(())
    };
    match s.kind {
        PackageKind::OvfFolder | PackageKind::Ova => {
            // Files are independent byte ranges: hash them side by side.
            let mut jobs = Vec::new();
            for (k, (name, size)) in s.members.iter().enumerate() {
                let Some(expected) = manifest.get(name) else {
                    continue;
                };
                let (file, offset) = if s.kind == PackageKind::OvfFolder {
                    (crate::names::join_inside(path, name)?, 0)
                } else {
                    (
                        path.to_path_buf(),
                        s.data_offsets.get(k).copied().unwrap_or(0),
                    )
                };
                jobs.push(RangeJob {
                    name,
                    expected,
                    file,
                    offset,
                    len: *size,
                });
            }
            for (job, actual) in jobs.iter().zip(hash_ranges(&jobs, alg, cancel)) {
                let actual = actual?;
                if actual != job.expected {
                    return Err(Error::DigestMismatch {
                        file: job.name.to_string(),
                        expected: job.expected.to_string(),
                        actual,
                    });
                }
            }
        }
        kind => {
            // One pass only: keep the head and tail of each disk for its image checks.
            let mut captures: HashMap<String, Capture> = HashMap::new();
            let mut ar = tar::Archive::new(open_stream(path, kind)?);
            for e in ar.entries().map_err(|e| archive_err(path, e))? {
                let mut e = e.map_err(|e| archive_err(path, e))?;
                if !e.header().entry_type().is_file() {
                    continue;
                }
                let name = member_name(&e.path_bytes());
                if vm.disks.iter().any(|d| d.href == name) {
                    let mut capture = Capture::new(e.size());
                    check(&name, &mut CaptureReader::new(&mut e, &mut capture))?;
                    captures.insert(name, capture);
                } else {
                    check(&name, &mut e)?;
                }
            }
            let mut disks = Vec::new();
            for d in &vm.disks {
                let capture = captures
                    .remove(&d.href)
                    .ok_or_else(|| Error::MissingFile(d.href.clone()))?;
                disks.push(check_disk(
                    d,
                    &DiskBytes::Captured(capture),
                    qemu,
                    QemuTarget::Unavailable(
                        "the package is compressed: qemu-img cannot read a disk inside it",
                    ),
                    cancel,
                )?);
            }
            return Ok(report(s, alg, disks));
        }
    }
    let mut disks = Vec::new();
    for d in &vm.disks {
        let (k, (_, size)) = s
            .members
            .iter()
            .enumerate()
            .find(|(_, (n, _))| *n == d.href)
            .ok_or_else(|| Error::MissingFile(d.href.clone()))?;
        disks.push(if s.kind == PackageKind::OvfFolder {
            let file = crate::names::join_inside(path, &d.href)?;
            let bytes = DiskBytes::file(&file, 0, *size)?;
            check_disk(d, &bytes, qemu, QemuTarget::File(&file), cancel)?
        } else {
            let offset = s.data_offsets.get(k).copied().unwrap_or(0);
            let bytes = DiskBytes::file(path, offset, *size)?;
            let target = QemuTarget::Range {
                path,
                offset,
                len: *size,
            };
            check_disk(d, &bytes, qemu, target, cancel)?
        });
    }
    Ok(report(s, alg, disks))
}

fn report(s: Scan, algorithm: DigestAlgorithm, disks: Vec<DiskReport>) -> VerifyReport {
    VerifyReport {
        kind: s.kind,
        descriptor: s.descriptor.0,
        algorithm,
        files: s.members,
        disks,
    }
}

/// Verifies a package (OVA, `.ova.gz`, `.ova.zst` or OVF folder). `Err` names the first mismatch.
pub async fn verify(path: impl AsRef<Path>) -> Result<VerifyReport> {
    verify_path(path.as_ref(), None).await
}

/// [`verify`] with cancellation.
pub async fn verify_path(path: &Path, cancel: Option<&CancellationToken>) -> Result<VerifyReport> {
    verify_path_with(path, cancel, &QemuImg::default()).await
}

/// [`verify_path`] running `qemu-img check` through `qemu`.
pub(crate) async fn verify_path_with(
    path: &Path,
    cancel: Option<&CancellationToken>,
    qemu: &QemuImg,
) -> Result<VerifyReport> {
    let p: PathBuf = path.to_path_buf();
    let c = cancel.cloned();
    let q = qemu.clone();
    tokio::task::spawn_blocking(move || verify_with(&p, c.as_ref(), &q))
        .await
        .map_err(|e| Error::Internal(format!("verify task failed: {e}")))?
}

/// Blocking inspection: the descriptor's model plus the manifest algorithm. Does not hash.
pub fn inspect_blocking(path: &Path) -> Result<Inspection> {
    let s = scan(path, None)?;
    let d = parse_descriptor(&s.descriptor.1)?;
    let manifest = match &s.manifest {
        Some((name, bytes)) => {
            let text = std::str::from_utf8(bytes)
                .map_err(|_| Error::ManifestMalformed("not UTF-8".into()))?;
            Some((name.clone(), Manifest::parse(text)?.algorithm))
        }
        None => None,
    };
    Ok(Inspection {
        kind: s.kind,
        descriptor: s.descriptor.0,
        vm: d.vm,
        files: d.files,
        manifest,
    })
}

/// Reads a package's descriptor and manifest algorithm (OVA, `.ova.gz`, `.ova.zst`, OVF folder,
/// or a bare `.ovf` file).
pub async fn inspect(path: impl AsRef<Path>) -> Result<Inspection> {
    let p = path.as_ref().to_path_buf();
    tokio::task::spawn_blocking(move || {
        if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("ovf")) && p.is_file() {
            let bytes = std::fs::read(&p).ctx(|| format!("reading {}", p.display()))?;
            let d = parse_descriptor(&bytes)?;
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            return Ok(Inspection {
                kind: PackageKind::OvfFolder,
                descriptor: name,
                vm: d.vm,
                files: d.files,
                manifest: None,
            });
        }
        inspect_blocking(&p)
    })
    .await
    .map_err(|e| Error::Internal(format!("inspect task failed: {e}")))?
}

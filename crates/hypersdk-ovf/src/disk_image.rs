//! Checks that every disk of a package is a usable image, not only bytes that match the manifest.
//!
//! A manifest only proves that the package holds what the exporter wrote. If the source sent
//! something that is not a disk (a VMDK's 200-byte text descriptor instead of its data, a body
//! cut short by a proxy), the digests still match and the backup cannot be restored. So each disk
//! is also read *as an image* of the format its descriptor declares:
//!
//! - the format's header parses and is the declared format (not another one, not text);
//! - its virtual size equals the descriptor's capacity;
//! - its allocation tables (VMDK grain directory and tables, qcow2 L1/L2, VHD/VHDX BAT, VDI
//!   block map) point inside the file, so no data was cut off; a VMDK stream also needs its
//!   grain markers and end-of-stream marker;
//! - `qemu-img check` passes, where qemu-img is installed and has a check for the format.
//!
//! Every check is reported as passed or skipped with its reason (a compressed package can only be
//! read once, as a stream: its disks' first and last [`CAPTURE_BYTES`] are kept for the header
//! and footer checks, and the checks that need the rest are skipped). The first failure is an
//! [`Error::DiskImage`] naming the disk and what is wrong with it.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::error::IoContext;
use crate::model::{DiskFormat, DiskSpec};
use crate::qemu::QemuImg;
use crate::{Error, Result};

/// How much of the start and of the end of a compressed package's disk is kept for the checks.
pub(crate) const CAPTURE_BYTES: u64 = 4 << 20;

const SECTOR: u64 = 512;

/// What the image checks found for one disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiskReport {
    /// Package-relative file name.
    pub file: String,
    /// Format as declared by the descriptor (short name: `vmdk`, `qcow2`, …).
    pub format: String,
    /// Virtual size read from the image, when the format was understood.
    pub virtual_size: Option<u64>,
    /// Every check, in the order it ran.
    pub checks: Vec<ImageCheck>,
}

/// One check of a disk image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageCheck {
    /// What was checked, in words (`format header`, `qemu-img check`, …).
    pub check: String,
    /// Whether it ran.
    #[serde(flatten)]
    pub outcome: CheckOutcome,
}

/// Whether a check ran. A check that ran and failed is an error, not an outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum CheckOutcome {
    /// It ran and the image passed.
    Passed,
    /// It could not run here.
    Skipped {
        /// Why not, in words.
        reason: String,
    },
}

impl DiskReport {
    /// The checks that ran.
    pub fn passed(&self) -> impl Iterator<Item = &ImageCheck> {
        self.checks
            .iter()
            .filter(|c| c.outcome == CheckOutcome::Passed)
    }

    /// The checks that did not run, with their reasons.
    pub fn skipped(&self) -> impl Iterator<Item = (&str, &str)> {
        self.checks.iter().filter_map(|c| match &c.outcome {
            CheckOutcome::Skipped { reason } => Some((c.check.as_str(), reason.as_str())),
            CheckOutcome::Passed => None,
        })
    }
}

/// Where a disk's bytes can be read.
pub(crate) enum DiskBytes {
    /// `len` bytes at `offset` of `path`: a folder's file, or a plain OVA's member.
    File {
        path: PathBuf,
        file: File,
        offset: u64,
        len: u64,
    },
    /// A compressed package's member: only its head and tail, kept while it was hashed.
    Captured(Capture),
}

impl DiskBytes {
    /// `len` bytes at `offset` of the file at `path`.
    pub(crate) fn file(path: &Path, offset: u64, len: u64) -> Result<Self> {
        let file = File::open(path).ctx(|| format!("opening {}", path.display()))?;
        Ok(DiskBytes::File {
            path: path.to_path_buf(),
            file,
            offset,
            len,
        })
    }

    fn len(&self) -> u64 {
        match self {
            DiskBytes::File { len, .. } => *len,
            DiskBytes::Captured(c) => c.len,
        }
    }

    /// `n` bytes at `off` (the caller has checked they are inside the image); `None` when they
    /// were not kept.
    fn read(&self, off: u64, n: usize) -> Result<Option<Vec<u8>>> {
        match self {
            DiskBytes::File {
                path, file, offset, ..
            } => {
                let mut buf = vec![0u8; n];
                file.read_exact_at(&mut buf, offset + off)
                    .ctx(|| format!("reading {}", path.display()))?;
                Ok(Some(buf))
            }
            DiskBytes::Captured(c) => Ok(c.get(off, n).map(<[u8]>::to_vec)),
        }
    }
}

/// The first and last [`CAPTURE_BYTES`] of a stream of known length, kept as it passes.
pub(crate) struct Capture {
    len: u64,
    /// How many bytes from the start are kept (a `Vec`'s capacity may be larger).
    head_len: u64,
    head: Vec<u8>,
    tail_start: u64,
    tail: Vec<u8>,
}

impl Capture {
    pub(crate) fn new(len: u64) -> Self {
        // A stream that fits in head + tail is kept whole, in the head, so no read straddles two.
        let head = if len <= 2 * CAPTURE_BYTES {
            len
        } else {
            CAPTURE_BYTES
        };
        let tail_start = len - (len - head).min(CAPTURE_BYTES);
        Capture {
            len,
            head_len: head,
            head: Vec::with_capacity(head as usize),
            tail_start,
            tail: Vec::with_capacity((len - tail_start) as usize),
        }
    }

    /// Keeps what of `chunk` (the stream's bytes from `pos` on) falls in the head or the tail.
    fn observe(&mut self, pos: u64, chunk: &[u8]) {
        let end = pos + chunk.len() as u64;
        if pos < self.head_len {
            let n = (self.head_len.min(end) - pos) as usize;
            self.head.extend_from_slice(&chunk[..n]);
        }
        if end > self.tail_start {
            let from = self.tail_start.saturating_sub(pos) as usize;
            self.tail.extend_from_slice(&chunk[from..]);
        }
    }

    fn get(&self, off: u64, n: usize) -> Option<&[u8]> {
        let end = off.checked_add(n as u64)?;
        if end <= self.head.len() as u64 {
            return Some(&self.head[off as usize..end as usize]);
        }
        if off >= self.tail_start && end <= self.tail_start + self.tail.len() as u64 {
            let from = (off - self.tail_start) as usize;
            return Some(&self.tail[from..from + n]);
        }
        None
    }
}

/// A reader that keeps a [`Capture`] of what passes through it.
pub(crate) struct CaptureReader<'a, R> {
    inner: R,
    pos: u64,
    capture: &'a mut Capture,
}

impl<'a, R: Read> CaptureReader<'a, R> {
    pub(crate) fn new(inner: R, capture: &'a mut Capture) -> Self {
        CaptureReader {
            inner,
            pos: 0,
            capture,
        }
    }
}

impl<R: Read> Read for CaptureReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.capture.observe(self.pos, &buf[..n]);
        self.pos += n as u64;
        Ok(n)
    }
}

/// How `qemu-img check` can open the disk.
pub(crate) enum QemuTarget<'a> {
    /// The whole file at this path.
    File(&'a Path),
    /// `len` bytes at `offset` of the file at this path (an OVA member).
    Range {
        path: &'a Path,
        offset: u64,
        len: u64,
    },
    /// It cannot: the reason.
    Unavailable(&'static str),
}

/// Runs every check on one disk; see the module docs.
pub(crate) fn check_disk(
    disk: &DiskSpec,
    bytes: &DiskBytes,
    qemu: &QemuImg,
    target: QemuTarget<'_>,
    cancel: Option<&CancellationToken>,
) -> Result<DiskReport> {
    let img = Image {
        file: &disk.href,
        bytes,
        checks: Vec::new(),
        cancel,
    };
    let mut report = img.run(disk)?;
    if report.virtual_size.is_some() {
        report
            .checks
            .push(qemu_check(qemu, &disk.format, target, cancel, &disk.href)?);
    }
    Ok(report)
}

struct Image<'a> {
    file: &'a str,
    bytes: &'a DiskBytes,
    checks: Vec<ImageCheck>,
    cancel: Option<&'a CancellationToken>,
}

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detected {
    SparseVmdk,
    VmdkDescriptor,
    Qcow2,
    Vhdx,
    Vdi,
    DynamicVhd,
    FixedVhd,
    /// A file compressed as a whole (`File/@ovf:compression="gzip"`).
    Gzip,
    Unknown,
}

impl Detected {
    fn name(self) -> &'static str {
        match self {
            Detected::SparseVmdk => "sparse VMDK",
            Detected::VmdkDescriptor => "VMDK text descriptor",
            Detected::Qcow2 => "qcow2",
            Detected::Vhdx => "VHDX",
            Detected::Vdi => "VDI",
            Detected::DynamicVhd => "dynamic VHD",
            Detected::FixedVhd => "fixed VHD",
            Detected::Gzip => "gzip-compressed",
            Detected::Unknown => "unknown",
        }
    }
}

fn be_u32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn be_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}
fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// A GUID as VHDX stores it (the first three fields little-endian), from its usual text form.
fn guid(text: &str) -> [u8; 16] {
    let hex: Vec<u8> = text
        .bytes()
        .filter(|c| *c != b'-')
        .collect::<Vec<_>>()
        .chunks(2)
        .map(|p| {
            let s = std::str::from_utf8(p).unwrap_or("00");
            u8::from_str_radix(s, 16).unwrap_or(0)
        })
        .collect();
    let mut g = [0u8; 16];
    if hex.len() == 16 {
        g[..4].copy_from_slice(&[hex[3], hex[2], hex[1], hex[0]]);
        g[4..6].copy_from_slice(&[hex[5], hex[4]]);
        g[6..8].copy_from_slice(&[hex[7], hex[6]]);
        g[8..].copy_from_slice(&hex[8..]);
    }
    g
}

const SKIP_COMPRESSED: &str =
    "the package is compressed: only the first and last 4 MiB of the disk were read";

impl Image<'_> {
    fn bad(&self, problem: impl Into<String>) -> Error {
        Error::DiskImage {
            file: self.file.to_string(),
            problem: problem.into(),
        }
    }

    fn passed(&mut self, check: &str) {
        self.checks.push(ImageCheck {
            check: check.to_string(),
            outcome: CheckOutcome::Passed,
        });
    }

    fn skipped(&mut self, check: &str, reason: &str) {
        self.checks.push(ImageCheck {
            check: check.to_string(),
            outcome: CheckOutcome::Skipped {
                reason: reason.to_string(),
            },
        });
    }

    fn cancelled(&self) -> Result<()> {
        if self.cancel.is_some_and(|c| c.is_cancelled()) {
            return Err(Error::Cancelled);
        }
        Ok(())
    }

    /// `n` bytes at `off`, or `None` when they were not kept; `what` lying past the end of the
    /// file is a truncated image.
    fn at(&self, off: u64, n: u64, what: &str) -> Result<Option<Vec<u8>>> {
        self.within(off, n, what)?;
        self.bytes.read(off, n as usize)
    }

    /// Like [`Image::at`] for what every format keeps at its start or end (always kept).
    fn need(&self, off: u64, n: u64, what: &str) -> Result<Vec<u8>> {
        self.at(off, n, what)?
            .ok_or_else(|| Error::Internal(format!("{what} of {} was not kept", self.file)))
    }

    /// `what` (`n` bytes at `off`) lying past the end of the file is a truncated image.
    fn within(&self, off: u64, n: u64, what: &str) -> Result<()> {
        if off.checked_add(n).is_none_or(|end| end > self.bytes.len()) {
            return Err(self.bad(format!(
                "its {what} (at byte {off}, {n} bytes) lies beyond the end of the file ({} \
                 bytes): the image is truncated",
                self.bytes.len()
            )));
        }
        Ok(())
    }

    fn detect(&self) -> Result<Detected> {
        let len = self.bytes.len();
        let head = self.need(0, len.min(SECTOR), "first sector")?;
        let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
        Ok(if head.starts_with(&[0x1f, 0x8b]) {
            Detected::Gzip
        } else if head.starts_with(b"KDMV") {
            Detected::SparseVmdk
        } else if text.trim_start().starts_with("# disk descriptorfile")
            || (text.contains("createtype") && text.contains("extent"))
        {
            Detected::VmdkDescriptor
        } else if head.starts_with(b"QFI\xfb") {
            Detected::Qcow2
        } else if head.starts_with(b"vhdxfile") {
            Detected::Vhdx
        } else if head.len() >= 68 && le_u32(&head, 64) == 0xbeda_107f {
            Detected::Vdi
        } else if head.starts_with(b"conectix") {
            Detected::DynamicVhd
        } else if len >= SECTOR && self.need(len - SECTOR, 8, "footer")? == b"conectix" {
            Detected::FixedVhd
        } else {
            Detected::Unknown
        })
    }

    fn run(mut self, disk: &DiskSpec) -> Result<DiskReport> {
        let len = self.bytes.len();
        if len == 0 {
            return Err(self.bad("the file is empty"));
        }
        let detected = self.detect()?;
        let declared = &disk.format;
        if detected == Detected::Gzip {
            self.skipped(
                "format header",
                "the disk file is gzip-compressed in the package (ovf:compression)",
            );
            return Ok(self.report(disk, None));
        }
        if detected == Detected::VmdkDescriptor {
            return Err(self.bad(format!(
                "it is a VMDK text descriptor of {len} bytes, without the data extent it \
                 describes: the source sent the disk's descriptor file instead of its contents"
            )));
        }
        let expected = match declared {
            DiskFormat::VmdkStreamOptimized | DiskFormat::Vmdk => &[Detected::SparseVmdk][..],
            DiskFormat::Qcow2 => &[Detected::Qcow2],
            DiskFormat::Vhd => &[Detected::DynamicVhd, Detected::FixedVhd],
            DiskFormat::Vhdx => &[Detected::Vhdx],
            DiskFormat::Vdi => &[Detected::Vdi],
            // A raw disk is whatever the guest wrote, including bytes that look like a header.
            DiskFormat::Raw => &[],
            DiskFormat::Other(_) => {
                self.skipped(
                    "format header",
                    "the descriptor's disk format is not one this version knows",
                );
                return Ok(self.report(disk, None));
            }
        };
        if !expected.is_empty() && !expected.contains(&detected) {
            return Err(self.bad(if detected == Detected::Unknown && *declared == DiskFormat::Vhd {
                "it has neither a VHD header nor a VHD footer at its end: the image is truncated, \
                 or is not a VHD"
                    .to_string()
            } else if detected == Detected::Unknown {
                format!(
                    "it has no {} header: the file is not a {} image",
                    declared.short_name(),
                    declared.short_name()
                )
            } else {
                format!(
                    "the descriptor declares it {}, but the file is a {} image",
                    declared.short_name(),
                    detected.name()
                )
            }));
        }
        let virtual_size = match detected {
            _ if *declared == DiskFormat::Raw => Some(len),
            Detected::SparseVmdk => Some(self.vmdk(*declared == DiskFormat::VmdkStreamOptimized)?),
            Detected::Qcow2 => Some(self.qcow2()?),
            Detected::DynamicVhd | Detected::FixedVhd => Some(self.vhd()?),
            Detected::Vhdx => self.vhdx()?,
            Detected::Vdi => Some(self.vdi()?),
            Detected::VmdkDescriptor | Detected::Gzip | Detected::Unknown => {
                return Err(Error::Internal("unreachable image kind".into()));
            }
        };
        let Some(virtual_size) = virtual_size else {
            self.skipped("virtual size matches the descriptor", SKIP_COMPRESSED);
            return Ok(self.report(disk, None));
        };
        // VMDK counts whole sectors; every other format stores the size in bytes.
        let wanted = match declared {
            DiskFormat::VmdkStreamOptimized | DiskFormat::Vmdk => {
                disk.capacity_bytes.div_ceil(SECTOR) * SECTOR
            }
            _ => disk.capacity_bytes,
        };
        if virtual_size != wanted {
            return Err(self.bad(if *declared == DiskFormat::Raw {
                format!(
                    "the raw image is {virtual_size} bytes, but the descriptor says the disk's \
                     capacity is {} bytes",
                    disk.capacity_bytes
                )
            } else {
                format!(
                    "its virtual size is {virtual_size} bytes, but the descriptor says {} bytes",
                    disk.capacity_bytes
                )
            }));
        }
        self.passed("virtual size matches the descriptor");
        Ok(self.report(disk, Some(virtual_size)))
    }

    fn report(self, disk: &DiskSpec, virtual_size: Option<u64>) -> DiskReport {
        DiskReport {
            file: disk.href.clone(),
            format: disk.format.short_name().to_string(),
            virtual_size,
            checks: self.checks,
        }
    }

    /// Sparse VMDK (VMware's "Virtual Disk Format 1.1", §"Hosted Sparse Extents" and
    /// §"Stream-Optimized Compressed Sparse Extents"). Returns the capacity in bytes.
    fn vmdk(&mut self, stream: bool) -> Result<u64> {
        let len = self.bytes.len();
        let mut h = self.need(0, SECTOR.min(len), "header")?;
        if h.len() < 79 {
            return Err(self.bad("its VMDK header is cut short: the image is truncated"));
        }
        let version = le_u32(&h, 4);
        if !(1..=3).contains(&version) {
            return Err(self.bad(format!("its VMDK header has unknown version {version}")));
        }
        let flags = le_u32(&h, 8);
        let compressed = flags & (1 << 16) != 0;
        let markers = flags & (1 << 17) != 0;
        if stream && !(compressed && markers && le_u16(&h, 77) == 1) {
            return Err(self.bad(
                "the descriptor declares it streamOptimized, but its VMDK header is not a \
                 compressed stream with markers",
            ));
        }
        // A stream written in one pass (VMware's) puts its grain directory at the end and says so
        // with GD_AT_END; the real offsets are in the footer, a copy of the header 1 KiB before
        // the end, followed by the end-of-stream marker (a zero sector). qemu writes the tables
        // in place and neither footer nor marker, so there only the grains show a cut.
        if le_u64(&h, 56) == u64::MAX {
            if len < 3 * SECTOR {
                return Err(self.bad("it has no VMDK footer: the stream is truncated"));
            }
            let footer = self.need(len - 2 * SECTOR, SECTOR, "footer")?;
            let eos = self.need(len - SECTOR, SECTOR, "end-of-stream marker")?;
            if !footer.starts_with(b"KDMV") || eos.iter().any(|b| *b != 0) {
                return Err(self.bad(
                    "its header says the grain directory is at the end, but the file does not \
                     end with a VMDK footer and end-of-stream marker: the stream is truncated",
                ));
            }
            h = footer;
        }
        let capacity = le_u64(&h, 12);
        let grain = le_u64(&h, 20);
        let per_gt = u64::from(le_u32(&h, 44));
        let gd_offset = le_u64(&h, 56);
        if !grain.is_power_of_two() || !(8..=1 << 20).contains(&grain) {
            return Err(self.bad(format!(
                "its VMDK header has an invalid grain size of {grain} sectors"
            )));
        }
        if per_gt == 0 || per_gt > 1 << 16 {
            return Err(self.bad(format!(
                "its VMDK header has an invalid grain table size of {per_gt} entries"
            )));
        }
        let Some(capacity_bytes) = capacity.checked_mul(SECTOR) else {
            return Err(self.bad(format!(
                "its VMDK header has an impossible capacity of {capacity} sectors"
            )));
        };
        self.passed("format header");
        let grains = capacity.div_ceil(grain);
        let tables = grains.div_ceil(per_gt);
        let gd_bytes = tables * 4;
        let what = "grain directory and tables point inside the file";
        let Some(gd_offset_bytes) = gd_offset.checked_mul(SECTOR) else {
            return Err(self.bad("its VMDK header has an impossible grain directory offset"));
        };
        let Some(gd) = self.at(gd_offset_bytes, gd_bytes, "grain directory")? else {
            self.skipped(what, SKIP_COMPRESSED);
            return Ok(capacity_bytes);
        };
        let sectors = len / SECTOR;
        let mut skipped = false;
        for t in 0..tables {
            self.cancelled()?;
            let gt_sector = u64::from(le_u32(&gd, (t * 4) as usize));
            if gt_sector == 0 {
                continue; // a table never allocated: its grains read as zeros
            }
            let gt_len = per_gt * 4;
            let Some(gt) = self.at(gt_sector * SECTOR, gt_len, "grain table")? else {
                skipped = true;
                continue;
            };
            for e in 0..per_gt.min(grains - t * per_gt) {
                let sector = u64::from(le_u32(&gt, (e * 4) as usize));
                if sector <= 1 {
                    continue; // 0: unallocated, 1: a zeroed grain
                }
                let index = t * per_gt + e;
                if !stream {
                    self.within(sector * SECTOR, grain * SECTOR, "grain")?;
                    continue;
                }
                if sector >= sectors {
                    return Err(self.bad(format!(
                        "grain {index} is at sector {sector}, beyond the end of the file \
                         ({sectors} sectors): the stream is truncated"
                    )));
                }
                // A compressed grain starts with its marker: the LBA it holds and its length.
                let Some(m) = self.at(sector * SECTOR, 12, "grain marker")? else {
                    skipped = true;
                    continue;
                };
                let lba = le_u64(&m, 0);
                let size = u64::from(le_u32(&m, 8));
                if lba != index * grain || size == 0 {
                    return Err(self.bad(format!(
                        "grain {index}'s marker at sector {sector} says LBA {lba}, size {size}: \
                         the grain table and the data disagree"
                    )));
                }
                self.within(sector * SECTOR + 12, size, "compressed grain")?;
            }
        }
        if skipped {
            self.skipped(what, SKIP_COMPRESSED);
        } else {
            self.passed(what);
        }
        Ok(capacity_bytes)
    }

    /// qcow2 (QEMU's docs/interop/qcow2.txt). Returns the virtual size.
    fn qcow2(&mut self) -> Result<u64> {
        let h = self.need(0, 104.min(self.bytes.len()), "header")?;
        if h.len() < 72 {
            return Err(self.bad("its qcow2 header is cut short: the image is truncated"));
        }
        let version = be_u32(&h, 4);
        if version != 2 && version != 3 {
            return Err(self.bad(format!("its qcow2 header has unknown version {version}")));
        }
        if be_u64(&h, 8) != 0 {
            return Err(self.bad(
                "it is a qcow2 overlay with a backing file: it does not hold the whole disk",
            ));
        }
        let cluster_bits = be_u32(&h, 20);
        if !(9..=21).contains(&cluster_bits) {
            return Err(self.bad(format!(
                "its qcow2 header has invalid cluster bits {cluster_bits}"
            )));
        }
        let size = be_u64(&h, 24);
        if be_u32(&h, 32) != 0 {
            return Err(self.bad("it is an encrypted qcow2 image"));
        }
        let mut l2_entry = 8u64;
        if version == 3 {
            if h.len() < 104 {
                return Err(self.bad("its qcow2 header is cut short: the image is truncated"));
            }
            let incompatible = be_u64(&h, 72);
            if incompatible & 1 != 0 {
                return Err(self.bad("its qcow2 header is marked dirty: it was not closed cleanly"));
            }
            if incompatible & 2 != 0 {
                return Err(self.bad("its qcow2 header is marked corrupt"));
            }
            if incompatible & 4 != 0 {
                return Err(self.bad("it keeps its data in an external file"));
            }
            if incompatible & 16 != 0 {
                l2_entry = 16; // extended L2 entries
            }
        }
        self.passed("format header");
        let cluster = 1u64 << cluster_bits;
        let l1_size = u64::from(be_u32(&h, 36));
        let l1_offset = be_u64(&h, 40);
        self.within(be_u64(&h, 48), cluster, "refcount table")?;
        let what = "L1 and L2 tables point inside the file";
        let Some(l1) = self.at(l1_offset, l1_size * 8, "L1 table")? else {
            self.skipped(what, SKIP_COMPRESSED);
            return Ok(size);
        };
        let offset_mask = 0x00ff_ffff_ffff_fe00u64;
        let mut skipped = false;
        for k in 0..l1_size as usize {
            self.cancelled()?;
            let l2_offset = be_u64(&l1, k * 8) & offset_mask;
            if l2_offset == 0 {
                continue;
            }
            let Some(l2) = self.at(l2_offset, cluster, "L2 table")? else {
                skipped = true;
                continue;
            };
            for e in 0..(cluster / l2_entry) as usize {
                let entry = be_u64(&l2, e * l2_entry as usize);
                if entry & (1 << 62) != 0 {
                    // Compressed: the host offset takes the low 62 - (cluster_bits - 8) bits.
                    let bits = 62 - (cluster_bits - 8);
                    let host = entry & ((1u64 << bits) - 1);
                    self.within(host, 1, "compressed cluster")?;
                } else if entry & offset_mask != 0 {
                    self.within(entry & offset_mask, cluster, "data cluster")?;
                }
            }
        }
        if skipped {
            self.skipped(what, SKIP_COMPRESSED);
        } else {
            self.passed(what);
        }
        Ok(size)
    }

    /// VHD (Microsoft's "Virtual Hard Disk Image Format Specification"). Returns the current size.
    fn vhd(&mut self) -> Result<u64> {
        let len = self.bytes.len();
        if len < SECTOR {
            return Err(self.bad("it is shorter than a VHD footer: the image is truncated"));
        }
        let footer = self.need(len - SECTOR, SECTOR, "footer")?;
        if !footer.starts_with(b"conectix") {
            return Err(self.bad("it does not end with a VHD footer: the image is truncated"));
        }
        let sum: u32 = footer
            .iter()
            .enumerate()
            .filter(|(k, _)| !(64..68).contains(k))
            .map(|(_, b)| u32::from(*b))
            .fold(0u32, u32::wrapping_add);
        if !sum != be_u32(&footer, 64) {
            return Err(self.bad("its VHD footer's checksum does not match"));
        }
        let size = be_u64(&footer, 48);
        let kind = be_u32(&footer, 60);
        match kind {
            2 => {
                self.passed("format header");
                if len - SECTOR != size {
                    return Err(self.bad(format!(
                        "it is a fixed VHD of {size} bytes, but holds {} bytes of data: the \
                         image is truncated",
                        len - SECTOR
                    )));
                }
                self.passed("data is complete");
            }
            3 => {
                self.passed("format header");
                let dyn_offset = be_u64(&footer, 16);
                let Some(d) = self.at(dyn_offset, 1024, "dynamic disk header")? else {
                    self.skipped(
                        "block allocation table points inside the file",
                        SKIP_COMPRESSED,
                    );
                    return Ok(size);
                };
                if !d.starts_with(b"cxsparse") {
                    return Err(self.bad("its VHD dynamic disk header is missing"));
                }
                let table = be_u64(&d, 16);
                let entries = u64::from(be_u32(&d, 28));
                let block = u64::from(be_u32(&d, 32));
                if block == 0 || block % SECTOR != 0 {
                    return Err(
                        self.bad(format!("its VHD header has an invalid block size {block}"))
                    );
                }
                let bitmap = (block / SECTOR).div_ceil(8).div_ceil(SECTOR) * SECTOR;
                let what = "block allocation table points inside the file";
                let Some(bat) = self.at(table, entries * 4, "block allocation table")? else {
                    self.skipped(what, SKIP_COMPRESSED);
                    return Ok(size);
                };
                for k in 0..entries as usize {
                    let sector = be_u32(&bat, k * 4);
                    if sector != u32::MAX {
                        // The footer must follow the last block.
                        self.within(u64::from(sector) * SECTOR, bitmap + block + SECTOR, "block")?;
                    }
                }
                self.passed(what);
            }
            4 => {
                return Err(
                    self.bad("it is a differencing VHD: it holds only changes to a parent image")
                );
            }
            other => return Err(self.bad(format!("its VHD footer has unknown disk type {other}"))),
        }
        Ok(size)
    }

    /// VHDX (MS-VHDX). Returns the virtual disk size.
    fn vhdx(&mut self) -> Result<Option<u64>> {
        const KIB64: u64 = 64 << 10;
        const MIB: u64 = 1 << 20;
        for (at, what) in [(KIB64, "first header"), (2 * KIB64, "second header")] {
            if self.need(at, 4, what)? != b"head" {
                return Err(self.bad(format!("its VHDX {what} is missing")));
            }
        }
        let regions = self.need(3 * KIB64, KIB64, "region table")?;
        if &regions[..4] != b"regi" {
            return Err(self.bad("its VHDX region table is missing"));
        }
        let count = le_u32(&regions, 8) as usize;
        if count > 2047 {
            return Err(self.bad(format!("its VHDX region table has {count} entries")));
        }
        let (bat_id, meta_id) = (
            guid("2DC27766-F623-4200-9D64-115E9BFD4A08"),
            guid("8B7CA206-4790-4B9A-B8FE-575F050F886E"),
        );
        let (mut bat, mut meta) = (None, None);
        for k in 0..count {
            let e = &regions[16 + k * 32..16 + (k + 1) * 32];
            let (offset, length) = (le_u64(e, 16), u64::from(le_u32(e, 24)));
            self.within(offset, length, "region")?;
            if e[..16] == bat_id {
                bat = Some((offset, length));
            } else if e[..16] == meta_id {
                meta = Some((offset, length));
            }
        }
        let (Some((bat_offset, bat_len)), Some((meta_offset, meta_len))) = (bat, meta) else {
            return Err(self.bad("its VHDX region table lacks the BAT or the metadata region"));
        };
        let Some(table) = self.at(meta_offset, meta_len.min(KIB64), "metadata table")? else {
            self.skipped("format header", SKIP_COMPRESSED);
            return Ok(None);
        };
        if &table[..8] != b"metadata" {
            return Err(self.bad("its VHDX metadata table is missing"));
        }
        let entries = usize::from(le_u16(&table, 10)).min(2047);
        let item = |id: &str, n: u64| -> Result<Option<Vec<u8>>> {
            let id = guid(id);
            for k in 0..entries {
                let e = &table[32 + k * 32..32 + (k + 1) * 32];
                if e[..16] == id {
                    let off = u64::from(le_u32(e, 16));
                    if u64::from(le_u32(e, 20)) < n {
                        return Ok(None);
                    }
                    return self.at(meta_offset + off, n, "metadata item");
                }
            }
            Ok(None)
        };
        let missing = |what: &str| self.bad(format!("its VHDX metadata lacks the {what}"));
        let params = item("CAA16737-FA36-4D43-B3B6-33F0AA44E76B", 8)?
            .ok_or_else(|| missing("file parameters"))?;
        let size = item("2FA54224-CD1B-4876-B211-5DBED83BF4B8", 8)?
            .ok_or_else(|| missing("virtual disk size"))?;
        let sector = item("8141BF1D-A96F-4709-BA47-F233A8FAAB5F", 4)?
            .ok_or_else(|| missing("logical sector size"))?;
        let block = u64::from(le_u32(&params, 0));
        if le_u32(&params, 4) & 2 != 0 {
            return Err(
                self.bad("it is a differencing VHDX: it holds only changes to a parent image")
            );
        }
        let size = le_u64(&size, 0);
        let logical = u64::from(le_u32(&sector, 0));
        if !block.is_power_of_two() || !(MIB..=256 * MIB).contains(&block) || logical == 0 {
            return Err(self.bad(format!(
                "its VHDX metadata has an invalid block size {block}"
            )));
        }
        self.passed("format header");
        let what = "block allocation table points inside the file";
        let Some(table) = self.at(bat_offset, bat_len, "block allocation table")? else {
            self.skipped(what, SKIP_COMPRESSED);
            return Ok(Some(size));
        };
        // Every chunk of `ratio` payload blocks is followed by one sector-bitmap block entry.
        let ratio = ((1u64 << 23) * logical) / block;
        let payload_blocks = size.div_ceil(block);
        let mut payload = 0u64;
        for k in 0..(bat_len / 8) {
            if payload >= payload_blocks && (k + 1) % (ratio + 1) != 0 {
                break;
            }
            let e = le_u64(&table, (k * 8) as usize);
            let state = e & 7;
            let offset = (e >> 20) * MIB;
            let is_bitmap = (k + 1) % (ratio + 1) == 0;
            if is_bitmap {
                if state == 6 {
                    self.within(offset, MIB, "sector bitmap block")?;
                }
            } else {
                payload += 1;
                if state == 6 || state == 7 {
                    self.within(offset, block, "payload block")?;
                }
            }
        }
        self.passed(what);
        Ok(Some(size))
    }

    /// VDI (VirtualBox's VDICore.h, header version 1.1). Returns the disk size.
    fn vdi(&mut self) -> Result<u64> {
        let h = self.need(0, 400.min(self.bytes.len()), "header")?;
        if h.len() < 400 {
            return Err(self.bad("its VDI header is cut short: the image is truncated"));
        }
        let version = le_u32(&h, 68);
        if version >> 16 != 1 {
            return Err(self.bad(format!("its VDI header has unknown version {version:#x}")));
        }
        let kind = le_u32(&h, 76);
        if kind != 1 && kind != 2 {
            return Err(self.bad(format!(
                "it is a VDI image of type {kind}, not a normal or fixed one: it may need a parent"
            )));
        }
        let off_blocks = u64::from(le_u32(&h, 340));
        let off_data = u64::from(le_u32(&h, 344));
        let size = le_u64(&h, 368);
        let block = u64::from(le_u32(&h, 376));
        let extra = u64::from(le_u32(&h, 380));
        let blocks = u64::from(le_u32(&h, 384));
        let allocated = u64::from(le_u32(&h, 388));
        if block == 0 || blocks < size.div_ceil(block) {
            return Err(self.bad(format!(
                "its VDI header has {blocks} blocks of {block} bytes for {size} bytes"
            )));
        }
        self.passed("format header");
        let what = "block map points inside the file";
        let Some(map) = self.at(off_blocks, blocks * 4, "block map")? else {
            self.skipped(what, SKIP_COMPRESSED);
            return Ok(size);
        };
        for k in 0..blocks as usize {
            let e = le_u32(&map, k * 4);
            if e >= 0xffff_fffe {
                continue; // free or zero
            }
            if u64::from(e) >= allocated {
                return Err(self.bad(format!(
                    "its VDI block map names block {e}, but only {allocated} are allocated"
                )));
            }
            self.within(
                off_data + u64::from(e) * (block + extra),
                block + extra,
                "data block",
            )?;
        }
        self.passed(what);
        Ok(size)
    }
}

/// `qemu-img check`, where qemu-img is installed and has a check for this format.
fn qemu_check(
    qemu: &QemuImg,
    format: &DiskFormat,
    target: QemuTarget<'_>,
    cancel: Option<&CancellationToken>,
    file: &str,
) -> Result<ImageCheck> {
    const CHECK: &str = "qemu-img check";
    let skipped = |reason: &str| ImageCheck {
        check: CHECK.to_string(),
        outcome: CheckOutcome::Skipped {
            reason: reason.to_string(),
        },
    };
    let Some(driver) = format.qemu_name() else {
        return Ok(skipped("qemu-img does not know this format"));
    };
    // qemu-img has no check for these formats (it would exit 63).
    if driver == "raw" || driver == "vpc" {
        return Ok(skipped("qemu-img has no consistency check for this format"));
    }
    let mut cmd = Command::new(&qemu.program);
    // -U: the image is ours and closed; no lock is needed (and none is left by a kill).
    cmd.args(["check", "-U", "--output=json"]);
    match target {
        QemuTarget::Unavailable(reason) => return Ok(skipped(reason)),
        QemuTarget::File(path) => {
            cmd.args(["-f", driver]).arg(path);
        }
        QemuTarget::Range { path, offset, len } => {
            // qemu's option syntax escapes a comma by doubling it.
            let name = path.to_string_lossy().replace(',', ",,");
            cmd.arg("--image-opts").arg(format!(
                "driver={driver},file.driver=raw,file.offset={offset},file.size={len},\
                 file.file.driver=file,file.file.filename={name}"
            ));
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(skipped("qemu-img is not installed (package qemu-utils)"));
        }
        Err(e) => return Err(Error::io(format!("starting {}", qemu.program.display()), e)),
    };
    let mut stderr = child.stderr.take();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        if let Some(e) = stderr.as_mut() {
            let _ = e.take(64 << 10).read_to_string(&mut s);
        }
        s
    });
    let status = loop {
        if cancel.is_some_and(|c| c.is_cancelled()) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Cancelled);
        }
        match child.try_wait() {
            Ok(Some(s)) => break s,
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(Error::io("waiting for qemu-img check", e)),
        }
    };
    let stderr = reader.join().unwrap_or_default();
    match status.code() {
        // 3: leaked clusters only — space never freed, every byte of the disk still readable.
        Some(0) | Some(3) => Ok(ImageCheck {
            check: CHECK.to_string(),
            outcome: CheckOutcome::Passed,
        }),
        Some(63) => Ok(skipped("qemu-img has no consistency check for this format")),
        _ => Err(Error::DiskImage {
            file: file.to_string(),
            problem: format!(
                "qemu-img check failed ({status}): {}",
                stderr.trim().chars().take(1000).collect::<String>()
            ),
        }),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_capture_keeps_exactly_the_head_and_the_tail_whatever_the_chunks() {
        let len = 3 * CAPTURE_BYTES + 12_345;
        let data: Vec<u8> = (0..len).map(|k| (k % 251) as u8).collect();
        let mut capture = Capture::new(len);
        let mut r = CaptureReader::new(data.as_slice(), &mut capture);
        let mut buf = vec![0u8; 777_777];
        while r.read(&mut buf).map(|n| n > 0).unwrap_or(false) {}
        let tail = len - CAPTURE_BYTES;
        assert_eq!(capture.get(0, 512), Some(&data[..512]));
        assert_eq!(capture.get(tail - 8, 8), None, "the middle is not kept");
        assert_eq!(
            capture.get(len - 1024, 1024),
            Some(&data[data.len() - 1024..])
        );
        assert_eq!(capture.get(len - 1, 2), None, "past the end");
        // A stream shorter than head + tail is kept whole, in one piece.
        let mut small = Capture::new(5 << 20);
        small.observe(0, &vec![7u8; 5 << 20]);
        assert_eq!((small.head.len(), small.tail.len()), (5 << 20, 0));
        assert_eq!(small.get(CAPTURE_BYTES - 4, 8), Some(&[7u8; 8][..]));
    }

    #[test]
    fn without_qemu_img_its_check_is_reported_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("d.qcow2");
        std::fs::write(&p, b"QFI\xfb").unwrap();
        let c = qemu_check(
            &QemuImg::at("/nonexistent/qemu-img"),
            &DiskFormat::Qcow2,
            QemuTarget::File(&p),
            None,
            "d.qcow2",
        )
        .unwrap();
        assert_eq!(
            c.outcome,
            CheckOutcome::Skipped {
                reason: "qemu-img is not installed (package qemu-utils)".into()
            }
        );
    }
}

//! The VMA archive format: what `vzdump VMID --stdout` writes for a QEMU
//! guest. A streaming, synchronous reader over [`std::io::Read`].
//!
//! Layout (all integers big-endian, except the blob lengths, see below):
//!
//! ```text
//! header      12288 fixed bytes + blob buffer, `header_size` bytes in all
//!             magic "VMA\0", version 1, uuid, ctime, MD5 of the whole header
//!             (computed with the MD5 field zeroed), config name/data pointers,
//!             256 device slots (name pointer, size); slot 0 is never used
//! extent*     512-byte extent header: magic "VMAE", block_count, the header's
//!             uuid, MD5 of these 512 bytes (MD5 field zeroed), 59 blockinfo
//!             words; then block_count × 4 KiB of data
//! ```
//!
//! A blockinfo word is a big-endian u64: bits 48–63 the mask (bit i set =
//! 4 KiB block i of the 64 KiB cluster is stored, in bit order), bits 32–39
//! the device id, bits 0–31 the cluster number; an all-zero word (device 0)
//! is an unused slot. This is the order of the table in pve-qemu's
//! `vma_spec.txt`, of QEMU's `vma-writer.c` and of dissect.archive; the
//! spec's introduction lists the fields in another order and is wrong.
//!
//! Things the spec does not say, taken from what `vma-writer.c` writes and
//! `vma-reader.c` accepts:
//! - A blob is a **little-endian** u16 length, then the bytes. Pointers are
//!   offsets from the start of the blob buffer; offset 0 is never a blob, so
//!   0 means "none". Strings are stored with their NUL terminator.
//! - `blob_buffer_size` is the used length, not a multiple of 512.
//! - Every cluster of every device appears exactly once, all-zero ones with
//!   mask 0; a cluster that never comes means the stream was cut short.
//! - Cluster data is covered by no checksum (only the 512-byte extent
//!   headers are): corruption inside data is caught by the compressor's
//!   checksum, if at all.
//!
//! Memory is bounded: one 64 KiB cluster buffer, plus one bit per cluster
//! and device to catch duplicated and missing clusters (2 MiB for 1 TiB of
//! disks). Disk contents go to a [`DeviceSink`]; [`SparseFiles`] writes one
//! sparse raw file per device, [`Discard`] only verifies.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use md5::{Digest, Md5};

/// The archive's magic, bytes 0–3.
pub const MAGIC: [u8; 4] = *b"VMA\0";
/// Each extent header's magic.
pub const EXTENT_MAGIC: [u8; 4] = *b"VMAE";
/// The only format version there is.
pub const VERSION: u32 = 1;
/// The unit of zero-suppression inside a cluster.
pub const BLOCK_SIZE: usize = 4096;
/// 4 KiB blocks per cluster, one mask bit each.
pub const BLOCKS_PER_CLUSTER: usize = 16;
/// The unit a device is addressed in.
pub const CLUSTER_SIZE: usize = BLOCK_SIZE * BLOCKS_PER_CLUSTER;
/// Size of an extent header.
pub const EXTENT_HEADER_SIZE: usize = 512;
/// Blockinfo slots in an extent header (QEMU fills at most 58 of them).
pub const CLUSTERS_PER_EXTENT: usize = 59;
/// The largest extent: header plus 59 full clusters.
pub const MAX_EXTENT_SIZE: usize = EXTENT_HEADER_SIZE + CLUSTERS_PER_EXTENT * CLUSTER_SIZE;
/// The fixed part of the archive header; the blob buffer follows it.
pub const FIXED_HEADER_SIZE: usize = 12288;
/// Config slots in the header.
pub const MAX_CONFIGS: usize = 256;
/// Device slots in the header (ids 1..=255; 0 is reserved).
pub const DEVICE_SLOTS: usize = 256;
/// The largest `header_size` accepted. QEMU's writer caps its header at
/// 512 KiB; anything far beyond is a corrupt size field, and the whole
/// header is held in memory to check its MD5.
pub const MAX_HEADER_SIZE: u32 = 16 << 20;
/// Cluster numbers are 32-bit, so no device can be larger than this.
pub const MAX_DEVICE_SIZE: u64 = (1u64 << 32) * CLUSTER_SIZE as u64;

// Offsets in the fixed header.
const H_VERSION: usize = 4;
const H_UUID: usize = 8;
const H_CTIME: usize = 24;
const H_MD5: usize = 32;
const H_BLOB_OFFSET: usize = 48;
const H_BLOB_SIZE: usize = 52;
const H_HEADER_SIZE: usize = 56;
const H_CONFIG_NAMES: usize = 2044;
const H_CONFIG_DATA: usize = 3068;
const H_DEV_INFO: usize = 4096;
const DEV_INFO_SIZE: usize = 32;

// Offsets in an extent header.
const E_RESERVED: usize = 4;
const E_BLOCK_COUNT: usize = 6;
const E_UUID: usize = 8;
const E_MD5: usize = 24;
const E_BLOCKINFO: usize = 40;

/// Errors of the VMA reader. Messages are meant for the person running the
/// export: they say what is wrong with the stream and where.
#[derive(Debug, thiserror::Error)]
pub enum VmaError {
    #[error(
        "this is not a VMA backup stream: it starts with {}, not \"VMA\\0\"{}",
        show_magic(found),
        magic_hint(found)
    )]
    BadMagic { found: [u8; 4] },
    #[error("the VMA archive has format version {0}; only version 1 is supported")]
    UnsupportedVersion(u32),
    #[error(
        "the backup stream is corrupt: its header fails the MD5 check (stored {expected}, \
         computed {actual})"
    )]
    HeaderChecksum { expected: String, actual: String },
    #[error("the backup stream is corrupt: the extent at byte {offset} fails its MD5 check")]
    ExtentChecksum { offset: u64 },
    #[error(
        "the backup stream is corrupt: an extent should start at byte {offset}, but the bytes \
         there are {}, not \"VMAE\"",
        show_magic(found)
    )]
    BadExtentMagic { offset: u64, found: [u8; 4] },
    #[error(
        "the backup stream is corrupt: the extent at byte {offset} belongs to another archive \
         (uuid {found}; this archive's is {expected})"
    )]
    UuidMismatch {
        offset: u64,
        expected: String,
        found: String,
    },
    #[error(
        "the backup stream is corrupt: the extent at byte {offset} has data for device {id}, \
         which the archive header does not declare"
    )]
    UnknownDevice { id: u8, offset: u64 },
    #[error(
        "the backup stream is corrupt: the extent at byte {offset} has data for cluster \
         {cluster} of device {id} ({name}), beyond the device's size of {size} bytes"
    )]
    ClusterOutOfRange {
        id: u8,
        name: String,
        cluster: u32,
        size: u64,
        offset: u64,
    },
    #[error(
        "the backup stream is corrupt: the extent at byte {offset} repeats cluster {cluster} \
         of device {id} ({name})"
    )]
    DuplicateCluster {
        id: u8,
        name: String,
        cluster: u32,
        offset: u64,
    },
    #[error(
        "the backup stream is incomplete: it ends at byte {offset} without {missing} of the \
         {total} clusters of device {id} ({name}), the first being cluster {first}; the \
         transfer was cut off or vzdump failed (see its log)"
    )]
    MissingClusters {
        id: u8,
        name: String,
        missing: u64,
        total: u64,
        first: u64,
        offset: u64,
    },
    #[error(
        "the backup stream ends early, at byte {offset}, inside {what}; the transfer was cut \
         off or vzdump failed (see its log)"
    )]
    Truncated { offset: u64, what: String },
    #[error("the backup stream is corrupt: {0}")]
    Invalid(String),
    #[error("reading the backup stream failed at byte {offset}: {source}")]
    Io { offset: u64, source: io::Error },
    /// The sink (the restored disk files) failed, not the stream.
    #[error("writing {context} failed: {source}")]
    Sink { context: String, source: io::Error },
    #[error("cancelled")]
    Cancelled,
}

impl VmaError {
    /// Stable snake_case code that scripts and the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            VmaError::BadMagic { .. } => "vma_not_vma",
            VmaError::UnsupportedVersion(_) => "vma_unsupported",
            VmaError::HeaderChecksum { .. }
            | VmaError::ExtentChecksum { .. }
            | VmaError::BadExtentMagic { .. }
            | VmaError::UuidMismatch { .. }
            | VmaError::UnknownDevice { .. }
            | VmaError::ClusterOutOfRange { .. }
            | VmaError::DuplicateCluster { .. }
            | VmaError::Invalid(_) => "vma_corrupt",
            VmaError::MissingClusters { .. } | VmaError::Truncated { .. } => "vma_truncated",
            VmaError::Io { .. } | VmaError::Sink { .. } => "io",
            VmaError::Cancelled => "cancelled",
        }
    }

    /// Errors that a closed stream causes: after a cancel they are its echo.
    fn is_stream_end(&self) -> bool {
        matches!(
            self,
            VmaError::Truncated { .. } | VmaError::MissingClusters { .. } | VmaError::Io { .. }
        )
    }
}

fn show_magic(b: &[u8; 4]) -> String {
    let hex: Vec<String> = b.iter().map(|x| format!("{x:02x}")).collect();
    hex.join(" ")
}

/// The usual reason a stream is not VMA: it is still compressed.
fn magic_hint(b: &[u8; 4]) -> &'static str {
    match b {
        [0x28, 0xb5, 0x2f, 0xfd] => " (a zstd frame: the stream was not decompressed)",
        [0x1f, 0x8b, _, _] => " (gzip data: the stream was not decompressed)",
        [0x89, b'L', b'Z', b'O'] => " (lzop data: the stream was not decompressed)",
        _ => " (not a vzdump backup of a QEMU guest)",
    }
}

/// A uuid as 8-4-4-4-12 lowercase hex.
pub fn uuid_string(uuid: &[u8; 16]) -> String {
    let h = hex::encode(uuid);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A configuration file stored in the header (`qemu-server.conf`,
/// `qemu-server.fw`).
#[derive(Clone, PartialEq, Eq)]
pub struct VmaConfig {
    /// A plain file name (checked: no `/`, not `.` or `..`).
    pub name: String,
    pub data: Vec<u8>,
}

impl fmt::Debug for VmaConfig {
    // The data can be kilobytes of config; the length says enough in logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VmaConfig")
            .field("name", &self.name)
            .field("len", &self.data.len())
            .finish()
    }
}

/// A disk image in the archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmaDevice {
    /// 1..=255, the id extents use.
    pub id: u8,
    /// vzdump names them `drive-<key>` (`drive-scsi0`); `vmstate` is
    /// reserved for RAM state, which vzdump does not write.
    pub name: String,
    /// Bytes, > 0.
    pub size: u64,
}

impl VmaDevice {
    /// Clusters the device spans (the last one may be partial).
    pub fn cluster_count(&self) -> u64 {
        self.size.div_ceil(CLUSTER_SIZE as u64)
    }
}

/// The parsed archive header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmaHeader {
    pub version: u32,
    pub uuid: [u8; 16],
    /// Seconds since the epoch.
    pub ctime: i64,
    pub header_size: u32,
    /// In slot order.
    pub configs: Vec<VmaConfig>,
    /// By id.
    pub devices: Vec<VmaDevice>,
}

impl VmaHeader {
    pub fn uuid_string(&self) -> String {
        uuid_string(&self.uuid)
    }

    /// The data of the config named `name` (`qemu-server.conf`).
    pub fn config(&self, name: &str) -> Option<&[u8]> {
        self.configs
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.data.as_slice())
    }

    pub fn device(&self, id: u8) -> Option<&VmaDevice> {
        self.devices.iter().find(|d| d.id == id)
    }
}

/// What one device received.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceStats {
    pub id: u8,
    /// Clusters seen (equal to the device's cluster count after a full read).
    pub clusters: u64,
    /// Of those, clusters with mask 0 (no data stored).
    pub zero_clusters: u64,
    /// 4 KiB blocks stored for the device.
    pub data_blocks: u64,
}

/// The result of reading a whole archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmaSummary {
    pub uuid: [u8; 16],
    pub ctime: i64,
    pub configs: Vec<VmaConfig>,
    pub devices: Vec<VmaDevice>,
    /// Same order as `devices`.
    pub device_stats: Vec<DeviceStats>,
    /// Bytes of (uncompressed) VMA consumed, header included.
    pub bytes_read: u64,
    pub extents: u64,
}

/// Where the reader puts disk contents.
///
/// The reader calls `write_at` for each run of stored 4 KiB blocks inside
/// a cluster (1 B to 64 KiB; clipped at the device's size), in stream
/// order, which is not disk order. Each byte of a device is written at most
/// once (a repeated cluster is an error); bytes never written are zeros, so
/// a sink must start from an all-zero device. `finish` comes once, after
/// the whole stream has checked out, and never after an error.
pub trait DeviceSink {
    fn write_at(&mut self, dev: u8, offset: u64, data: &[u8]) -> io::Result<()>;

    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<S: DeviceSink + ?Sized> DeviceSink for &mut S {
    fn write_at(&mut self, dev: u8, offset: u64, data: &[u8]) -> io::Result<()> {
        (**self).write_at(dev, offset, data)
    }

    fn finish(&mut self) -> io::Result<()> {
        (**self).finish()
    }
}

/// A sink that drops the data: reading into it verifies the stream (MD5s,
/// uuids, cluster bookkeeping), e.g. of a kept `.vma.zst`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Discard;

impl DeviceSink for Discard {
    fn write_at(&mut self, _dev: u8, _offset: u64, _data: &[u8]) -> io::Result<()> {
        Ok(())
    }
}

struct SparseFile {
    path: PathBuf,
    file: File,
    size: u64,
}

/// One raw image file per device, sparse: each file is sized up front, and
/// all-zero 4 KiB blocks are never written, so only data takes disk space.
pub struct SparseFiles {
    dir: PathBuf,
    /// Indexed by device id.
    files: Vec<Option<SparseFile>>,
}

impl fmt::Debug for SparseFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SparseFiles")
            .field("dir", &self.dir)
            .field("files", &self.paths())
            .finish()
    }
}

impl SparseFiles {
    /// Files `disk-<id>.raw` in `dir`.
    pub fn create(dir: &Path, devices: &[VmaDevice]) -> io::Result<Self> {
        Self::create_with(dir, devices, |d| format!("disk-{}.raw", d.id))
    }

    /// Files named by `name` in `dir`. A name must be a plain file name
    /// (device names come from the archive, so a caller that derives file
    /// names from them must not be able to escape `dir`). Existing files are
    /// truncated.
    pub fn create_with<F>(dir: &Path, devices: &[VmaDevice], mut name: F) -> io::Result<Self>
    where
        F: FnMut(&VmaDevice) -> String,
    {
        let mut files: Vec<Option<SparseFile>> = (0..DEVICE_SLOTS).map(|_| None).collect();
        let mut names: Vec<String> = Vec::with_capacity(devices.len());
        for dev in devices {
            let file_name = name(dev);
            if !is_plain_file_name(&file_name) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!(
                        "output file name {file_name:?} for device {} ({}) is not a plain file name",
                        dev.id, dev.name
                    ),
                ));
            }
            if names.contains(&file_name) {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("two devices would be written to the same file {file_name:?}"),
                ));
            }
            let slot = &mut files[usize::from(dev.id)];
            if slot.is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("device id {} is listed twice", dev.id),
                ));
            }
            let path = dir.join(&file_name);
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(&path)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            // A hole of the full size: what no cluster writes reads as zeros.
            file.set_len(dev.size)
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
            *slot = Some(SparseFile {
                path,
                file,
                size: dev.size,
            });
            names.push(file_name);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            files,
        })
    }

    pub fn path(&self, dev: u8) -> Option<&Path> {
        self.files[usize::from(dev)]
            .as_ref()
            .map(|f| f.path.as_path())
    }

    /// (device id, file) pairs, by id.
    pub fn paths(&self) -> Vec<(u8, PathBuf)> {
        self.files
            .iter()
            .enumerate()
            .filter_map(|(id, f)| {
                let id = u8::try_from(id).ok()?;
                f.as_ref().map(|f| (id, f.path.clone()))
            })
            .collect()
    }
}

fn is_plain_file_name(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".." && !name.contains(['/', '\0'])
}

impl DeviceSink for SparseFiles {
    fn write_at(&mut self, dev: u8, offset: u64, data: &[u8]) -> io::Result<()> {
        let f = self.files[usize::from(dev)].as_mut().ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no output file for device {dev}"),
            )
        })?;
        let fits = offset
            .checked_add(data.len() as u64)
            .is_some_and(|end| end <= f.size);
        if !fits {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} bytes at {offset} run past the end of {} ({} bytes)",
                    data.len(),
                    f.path.display(),
                    f.size
                ),
            ));
        }
        // Write maximal runs of non-zero blocks (blocks aligned to the file
        // offset, so holes line up with the filesystem's blocks). Skipping a
        // zero block is only right because the file started as a hole and
        // each range is written once.
        let block = BLOCK_SIZE as u64;
        let mut run: Option<usize> = None;
        let mut i = 0usize;
        while i < data.len() {
            let at = offset + i as u64;
            let to_boundary = (block - at % block) as usize;
            let n = to_boundary.min(data.len() - i);
            if is_zero(&data[i..i + n]) {
                if let Some(start) = run.take() {
                    f.file
                        .write_all_at(&data[start..i], offset + start as u64)?;
                }
            } else if run.is_none() {
                run = Some(i);
            }
            i += n;
        }
        if let Some(start) = run {
            f.file.write_all_at(&data[start..], offset + start as u64)?;
        }
        Ok(())
    }

    /// fsyncs every file and the directory, so a finished restore survives
    /// a crash.
    fn finish(&mut self) -> io::Result<()> {
        for f in self.files.iter().flatten() {
            f.file
                .sync_all()
                .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", f.path.display())))?;
        }
        // The directory too, so the new files' entries are durable.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.dir.display())))
    }
}

/// Word-wise, so it stays fast enough in unoptimised test builds.
pub(crate) fn is_zero(b: &[u8]) -> bool {
    let mut words = b.chunks_exact(8);
    words.all(|w| w == [0u8; 8]) && words.remainder().iter().all(|&x| x == 0)
}

fn be16(b: &[u8], at: usize) -> u16 {
    let mut a = [0u8; 2];
    a.copy_from_slice(&b[at..at + 2]);
    u16::from_be_bytes(a)
}

fn be32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_be_bytes(a)
}

fn be64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_be_bytes(a)
}

fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
    let mut a = [0u8; N];
    a.copy_from_slice(&b[at..at + N]);
    a
}

/// MD5 of `b` with the 16 bytes at `md5_at` taken as zero.
fn md5_zeroed(b: &[u8], md5_at: usize) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(&b[..md5_at]);
    h.update([0u8; 16]);
    h.update(&b[md5_at + 16..]);
    h.finalize().into()
}

/// Computes and stores the MD5 of an archive header (all `header_size`
/// bytes) — for writers and for tests that patch headers.
pub fn seal_header(header: &mut [u8]) {
    let sum = md5_zeroed(header, H_MD5);
    header[H_MD5..H_MD5 + 16].copy_from_slice(&sum);
}

/// Computes and stores the MD5 of a 512-byte extent header.
pub fn seal_extent_header(ext: &mut [u8]) {
    let sum = md5_zeroed(&ext[..EXTENT_HEADER_SIZE], E_MD5);
    ext[E_MD5..E_MD5 + 16].copy_from_slice(&sum);
}

/// One blockinfo word, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    pub mask: u16,
    pub dev_id: u8,
    pub cluster: u32,
}

impl BlockInfo {
    pub fn decode(word: u64) -> Self {
        Self {
            mask: (word >> 48) as u16,
            dev_id: ((word >> 32) & 0xff) as u8,
            cluster: (word & 0xffff_ffff) as u32,
        }
    }

    /// Bits 40–47 (reserved) are zero.
    pub fn encode(self) -> u64 {
        (u64::from(self.mask) << 48) | (u64::from(self.dev_id) << 32) | u64::from(self.cluster)
    }
}

/// Blobs of the header's blob buffer, by their pointer.
struct Blobs<'a> {
    /// (pointer, data), sorted by pointer.
    entries: Vec<(u32, &'a [u8])>,
}

impl<'a> Blobs<'a> {
    /// Walks the chain of length-prefixed blobs from offset 1; a pointer is
    /// only valid if it lands at the start of one, as in QEMU's reader.
    fn parse(buf: &'a [u8]) -> Self {
        let mut entries = Vec::new();
        let mut at = 1usize;
        while at + 2 <= buf.len() {
            let len = usize::from(u16::from_le_bytes([buf[at], buf[at + 1]]));
            let end = at + 2 + len;
            if end > buf.len() {
                break;
            }
            // `at` < blob buffer size ≤ MAX_HEADER_SIZE, so it fits a u32.
            entries.push((at as u32, &buf[at + 2..end]));
            at = end;
        }
        Self { entries }
    }

    fn get(&self, ptr: u32) -> Option<&'a [u8]> {
        self.entries
            .binary_search_by_key(&ptr, |e| e.0)
            .ok()
            .map(|i| self.entries[i].1)
    }

    /// A NUL-terminated UTF-8 string.
    fn string(&self, ptr: u32, what: &str) -> Result<String, VmaError> {
        let blob = self.get(ptr).ok_or_else(|| {
            VmaError::Invalid(format!(
                "the header's {what} points at blob offset {ptr}, where no blob starts"
            ))
        })?;
        let Some(nul) = blob.iter().position(|&b| b == 0) else {
            return Err(VmaError::Invalid(format!(
                "the header's {what} is not NUL-terminated"
            )));
        };
        let s = std::str::from_utf8(&blob[..nul])
            .map_err(|_| VmaError::Invalid(format!("the header's {what} is not valid UTF-8")))?;
        if s.is_empty() {
            return Err(VmaError::Invalid(format!("the header's {what} is empty")));
        }
        Ok(s.to_owned())
    }
}

/// Parses and checks a complete header (`header_size` bytes; the fixed
/// part's magic and size already checked by the caller).
fn parse_header(buf: &[u8]) -> Result<VmaHeader, VmaError> {
    let header_size = be32(buf, H_HEADER_SIZE);
    let stored: [u8; 16] = array(buf, H_MD5);
    let computed = md5_zeroed(buf, H_MD5);
    if stored != computed {
        return Err(VmaError::HeaderChecksum {
            expected: hex::encode(stored),
            actual: hex::encode(computed),
        });
    }
    let version = be32(buf, H_VERSION);
    if version != VERSION {
        return Err(VmaError::UnsupportedVersion(version));
    }
    let uuid: [u8; 16] = array(buf, H_UUID);
    let ctime = be64(buf, H_CTIME) as i64;

    let blob_offset = be32(buf, H_BLOB_OFFSET);
    let blob_size = be32(buf, H_BLOB_SIZE);
    let blob_end = u64::from(blob_offset) + u64::from(blob_size);
    if (blob_offset as usize) < FIXED_HEADER_SIZE || blob_end > u64::from(header_size) {
        return Err(VmaError::Invalid(format!(
            "the header's blob buffer ({blob_size} bytes at offset {blob_offset}) lies outside \
             the header ({FIXED_HEADER_SIZE}..{header_size})"
        )));
    }
    let blobs = Blobs::parse(&buf[blob_offset as usize..blob_end as usize]);

    let mut configs: Vec<VmaConfig> = Vec::new();
    for slot in 0..MAX_CONFIGS {
        let name_ptr = be32(buf, H_CONFIG_NAMES + 4 * slot);
        let data_ptr = be32(buf, H_CONFIG_DATA + 4 * slot);
        match (name_ptr, data_ptr) {
            (0, 0) => continue,
            (0, _) | (_, 0) => {
                return Err(VmaError::Invalid(format!(
                    "config slot {slot} has only one of its name and data"
                )));
            }
            _ => {}
        }
        let what = format!("name of config {slot}");
        let name = blobs.string(name_ptr, &what)?;
        if !is_plain_file_name(&name) {
            return Err(VmaError::Invalid(format!(
                "the {what} ({name:?}) is not a plain file name"
            )));
        }
        if configs.iter().any(|c| c.name == name) {
            return Err(VmaError::Invalid(format!(
                "config {name:?} is stored twice"
            )));
        }
        let data = blobs.get(data_ptr).ok_or_else(|| {
            VmaError::Invalid(format!(
                "the data of config {name:?} points at blob offset {data_ptr}, where no blob starts"
            ))
        })?;
        configs.push(VmaConfig {
            name,
            data: data.to_vec(),
        });
    }

    let mut devices: Vec<VmaDevice> = Vec::new();
    for slot in 0..DEVICE_SLOTS {
        let at = H_DEV_INFO + DEV_INFO_SIZE * slot;
        let name_ptr = be32(buf, at);
        let size = be64(buf, at + 8);
        if (name_ptr, size) == (0, 0) {
            continue;
        }
        // Slot 0 cannot be addressed: device id 0 marks an unused blockinfo.
        let id = match u8::try_from(slot) {
            Ok(id) if id > 0 => id,
            _ => {
                return Err(VmaError::Invalid(
                    "device slot 0 is reserved but is filled in".to_owned(),
                ));
            }
        };
        if name_ptr == 0 || size == 0 {
            return Err(VmaError::Invalid(format!(
                "device {id} has a size of {size} bytes and name pointer {name_ptr}: both must \
                 be set"
            )));
        }
        if size > MAX_DEVICE_SIZE {
            return Err(VmaError::Invalid(format!(
                "device {id} claims {size} bytes, more than 32-bit cluster numbers can address"
            )));
        }
        let name = blobs.string(name_ptr, &format!("name of device {id}"))?;
        if devices.iter().any(|d| d.name == name) {
            return Err(VmaError::Invalid(format!("two devices are named {name:?}")));
        }
        devices.push(VmaDevice { id, name, size });
    }
    if devices.is_empty() {
        return Err(VmaError::Invalid(
            "the archive declares no devices".to_owned(),
        ));
    }
    Ok(VmaHeader {
        version,
        uuid,
        ctime,
        header_size,
        configs,
        devices,
    })
}

/// The input, counting the bytes it hands out.
struct Input<R> {
    inner: R,
    pos: u64,
}

impl<R: Read> Input<R> {
    /// Reads until `buf` is full or the stream ends; returns the count.
    fn fill(&mut self, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<usize, VmaError> {
        let mut done = 0;
        while done < buf.len() {
            match self.inner.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => {
                    done += n;
                    self.pos += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A decompressor says this when its input stops inside a
                // frame: the stream was cut, like a short read.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Err(VmaError::Truncated {
                        offset: self.pos,
                        what: format!("{} (the compressed stream is cut short: {e})", what()),
                    });
                }
                Err(e) => {
                    return Err(VmaError::Io {
                        offset: self.pos,
                        source: e,
                    });
                }
            }
        }
        Ok(done)
    }

    fn exact(&mut self, buf: &mut [u8], what: &dyn Fn() -> String) -> Result<(), VmaError> {
        if self.fill(buf, what)? < buf.len() {
            return Err(VmaError::Truncated {
                offset: self.pos,
                what: what(),
            });
        }
        Ok(())
    }
}

type CancelFn = Box<dyn Fn() -> bool + Send>;

/// A streaming VMA reader: `new` reads and checks the header, `read_to`
/// the extents.
///
/// ```no_run
/// # use std::sync::{Arc, atomic::{AtomicBool, AtomicU64}};
/// # use hypersdk_proxmox::vma::{VmaReader, SparseFiles};
/// # fn demo(stream: impl std::io::Read, dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
/// let progress = Arc::new(AtomicU64::new(0));
/// let cancel = Arc::new(AtomicBool::new(false));
/// let reader = VmaReader::new(zstd::Decoder::new(stream)?)?
///     .with_progress(progress.clone())
///     .with_cancel_flag(cancel.clone());
/// let conf = reader.header().config("qemu-server.conf").map(<[u8]>::to_vec);
/// let mut files = SparseFiles::create(dir, &reader.header().devices)?;
/// let summary = reader.read_to(&mut files)?;
/// # Ok(()) }
/// ```
pub struct VmaReader<R> {
    input: Input<R>,
    header: VmaHeader,
    progress: Option<Arc<AtomicU64>>,
    cancel: Option<CancelFn>,
}

impl<R> fmt::Debug for VmaReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VmaReader")
            .field("pos", &self.input.pos)
            .field("header", &self.header)
            .finish_non_exhaustive()
    }
}

/// Reads and checks only the header (configs and device table).
pub fn read_header<R: Read>(r: R) -> Result<VmaHeader, VmaError> {
    VmaReader::new(r).map(|r| r.header)
}

impl<R: Read> VmaReader<R> {
    /// Reads and checks the header: magic, size, MD5, version, blob
    /// pointers, configs and the device table.
    pub fn new(inner: R) -> Result<Self, VmaError> {
        let mut input = Input { inner, pos: 0 };
        let what = || "the archive header".to_owned();
        let mut buf = vec![0u8; FIXED_HEADER_SIZE];
        let got = input.fill(&mut buf[..4], &what)?;
        if got < 4 {
            return Err(VmaError::Truncated {
                offset: input.pos,
                what: what(),
            });
        }
        let found: [u8; 4] = array(&buf, 0);
        if found != MAGIC {
            return Err(VmaError::BadMagic { found });
        }
        input.exact(&mut buf[4..], &what)?;
        let header_size = be32(&buf, H_HEADER_SIZE);
        if (header_size as usize) <= FIXED_HEADER_SIZE || header_size > MAX_HEADER_SIZE {
            return Err(VmaError::Invalid(format!(
                "the header claims a size of {header_size} bytes; it must be more than \
                 {FIXED_HEADER_SIZE} and at most {MAX_HEADER_SIZE}"
            )));
        }
        buf.resize(header_size as usize, 0);
        input.exact(&mut buf[FIXED_HEADER_SIZE..], &what)?;
        let header = parse_header(&buf)?;
        Ok(Self {
            input,
            header,
            progress: None,
            cancel: None,
        })
    }

    pub fn header(&self) -> &VmaHeader {
        &self.header
    }

    /// Bytes consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.input.pos
    }

    /// `counter` is set to the bytes consumed after the header and after
    /// every extent, for a caller polling from another thread.
    pub fn with_progress(mut self, counter: Arc<AtomicU64>) -> Self {
        counter.store(self.input.pos, Ordering::Relaxed);
        self.progress = Some(counter);
        self
    }

    /// `cancelled` is asked before each extent; once it says true,
    /// `read_to` returns [`VmaError::Cancelled`]. A stream that ends or
    /// fails after a cancel is reported as cancelled too, since closing the
    /// stream is how a caller interrupts a blocked read.
    pub fn with_cancel<F>(mut self, cancelled: F) -> Self
    where
        F: Fn() -> bool + Send + 'static,
    {
        self.cancel = Some(Box::new(cancelled));
        self
    }

    /// [`with_cancel`](Self::with_cancel) on a flag.
    pub fn with_cancel_flag(self, flag: Arc<AtomicBool>) -> Self {
        self.with_cancel(move || flag.load(Ordering::Relaxed))
    }

    fn cancelled(&self) -> bool {
        self.cancel.as_ref().is_some_and(|f| f())
    }

    /// Streams every extent into `sink` and checks the stream: extent MD5s
    /// and uuids, device ids, cluster ranges, no cluster twice, and, at the
    /// end, every cluster of every device present. The stream may only end
    /// between extents. Calls `sink.finish()` when all checks passed.
    pub fn read_to<S: DeviceSink>(mut self, mut sink: S) -> Result<VmaSummary, VmaError> {
        match self.stream(&mut sink) {
            Err(e) if e.is_stream_end() && self.cancelled() => Err(VmaError::Cancelled),
            other => other,
        }
    }

    fn stream<S: DeviceSink>(&mut self, sink: &mut S) -> Result<VmaSummary, VmaError> {
        let devices = self.header.devices.clone();
        // Device id → index into `devices`.
        let mut index = [None::<usize>; DEVICE_SLOTS];
        for (i, d) in devices.iter().enumerate() {
            index[usize::from(d.id)] = Some(i);
        }
        let mut seen: Vec<Vec<u64>> = devices
            .iter()
            .map(|d| vec![0u64; d.cluster_count().div_ceil(64) as usize])
            .collect();
        let mut stats: Vec<DeviceStats> = devices
            .iter()
            .map(|d| DeviceStats {
                id: d.id,
                ..DeviceStats::default()
            })
            .collect();
        let mut ext = [0u8; EXTENT_HEADER_SIZE];
        let mut data = vec![0u8; CLUSTER_SIZE];
        let mut entries: Vec<(usize, BlockInfo)> = Vec::with_capacity(CLUSTERS_PER_EXTENT);
        let mut extents = 0u64;

        loop {
            if self.cancelled() {
                return Err(VmaError::Cancelled);
            }
            let offset = self.input.pos;
            let what = || format!("the extent header at byte {offset}");
            let got = self.input.fill(&mut ext, &what)?;
            if got == 0 {
                break;
            }
            if got < EXTENT_HEADER_SIZE {
                return Err(VmaError::Truncated {
                    offset: self.input.pos,
                    what: what(),
                });
            }
            entries.clear();
            let blocks =
                self.check_extent(&ext, offset, &devices, &index, &mut seen, &mut entries)?;

            let mut block_no = 0usize;
            for &(i, bi) in &entries {
                let dev = &devices[i];
                let st = &mut stats[i];
                st.clusters += 1;
                let present = bi.mask.count_ones() as usize;
                if present == 0 {
                    st.zero_clusters += 1;
                    continue;
                }
                st.data_blocks += present as u64;
                let buf = &mut data[..present * BLOCK_SIZE];
                let first = block_no;
                let what = || {
                    format!(
                        "the data of cluster {} of device {} ({}), block {} of {blocks} of the \
                         extent at byte {offset}",
                        bi.cluster,
                        dev.id,
                        dev.name,
                        first + 1
                    )
                };
                self.input.exact(buf, &what)?;
                block_no += present;
                emit_cluster(sink, dev, bi, buf)?;
            }
            extents += 1;
            if let Some(p) = &self.progress {
                p.store(self.input.pos, Ordering::Relaxed);
            }
        }

        for (i, dev) in devices.iter().enumerate() {
            let total = dev.cluster_count();
            let have = stats[i].clusters;
            if have < total {
                let first = first_missing(&seen[i], total);
                return Err(VmaError::MissingClusters {
                    id: dev.id,
                    name: dev.name.clone(),
                    missing: total - have,
                    total,
                    first,
                    offset: self.input.pos,
                });
            }
        }
        sink.finish().map_err(|source| VmaError::Sink {
            context: "the restored disk images (flushing them)".to_owned(),
            source,
        })?;
        if let Some(p) = &self.progress {
            p.store(self.input.pos, Ordering::Relaxed);
        }
        Ok(VmaSummary {
            uuid: self.header.uuid,
            ctime: self.header.ctime,
            configs: self.header.configs.clone(),
            devices,
            device_stats: stats,
            bytes_read: self.input.pos,
            extents,
        })
    }

    /// Checks an extent header and its blockinfo table, marking its
    /// clusters as seen; fills `entries` with the used slots (device index,
    /// info) and returns the block count.
    fn check_extent(
        &self,
        ext: &[u8; EXTENT_HEADER_SIZE],
        offset: u64,
        devices: &[VmaDevice],
        index: &[Option<usize>; DEVICE_SLOTS],
        seen: &mut [Vec<u64>],
        entries: &mut Vec<(usize, BlockInfo)>,
    ) -> Result<usize, VmaError> {
        let found: [u8; 4] = array(ext, 0);
        if found != EXTENT_MAGIC {
            return Err(VmaError::BadExtentMagic { offset, found });
        }
        let stored: [u8; 16] = array(ext, E_MD5);
        if md5_zeroed(ext, E_MD5) != stored {
            return Err(VmaError::ExtentChecksum { offset });
        }
        let uuid: [u8; 16] = array(ext, E_UUID);
        if uuid != self.header.uuid {
            return Err(VmaError::UuidMismatch {
                offset,
                expected: uuid_string(&self.header.uuid),
                found: uuid_string(&uuid),
            });
        }
        if be16(ext, E_RESERVED) != 0 {
            return Err(VmaError::Invalid(format!(
                "the extent at byte {offset} has non-zero reserved bytes"
            )));
        }
        let block_count = usize::from(be16(ext, E_BLOCK_COUNT));
        let mut masked = 0usize;
        for slot in 0..CLUSTERS_PER_EXTENT {
            let bi = BlockInfo::decode(be64(ext, E_BLOCKINFO + 8 * slot));
            // Device 0 marks an unused slot (the last extent is short).
            if bi.dev_id == 0 {
                continue;
            }
            let Some(i) = index[usize::from(bi.dev_id)] else {
                return Err(VmaError::UnknownDevice {
                    id: bi.dev_id,
                    offset,
                });
            };
            let dev = &devices[i];
            let cluster = u64::from(bi.cluster);
            let start = cluster * CLUSTER_SIZE as u64;
            // A stored block must start inside the device; a full cluster
            // may hang over the end of a device whose size is not a
            // multiple of 64 KiB (QEMU's reader clips it the same way).
            let partial_past_end = bi.mask != 0 && bi.mask != u16::MAX && {
                let last_block = u64::from(15 - bi.mask.leading_zeros());
                start + last_block * BLOCK_SIZE as u64 >= dev.size
            };
            let out_of_range = cluster >= dev.cluster_count() || partial_past_end;
            if out_of_range {
                return Err(VmaError::ClusterOutOfRange {
                    id: dev.id,
                    name: dev.name.clone(),
                    cluster: bi.cluster,
                    size: dev.size,
                    offset,
                });
            }
            let (word, bit) = ((cluster / 64) as usize, cluster % 64);
            if seen[i][word] & (1 << bit) != 0 {
                return Err(VmaError::DuplicateCluster {
                    id: dev.id,
                    name: dev.name.clone(),
                    cluster: bi.cluster,
                    offset,
                });
            }
            seen[i][word] |= 1 << bit;
            masked += bi.mask.count_ones() as usize;
            entries.push((i, bi));
        }
        if masked != block_count {
            return Err(VmaError::Invalid(format!(
                "the extent at byte {offset} says it holds {block_count} blocks, but its \
                 clusters' masks add up to {masked}"
            )));
        }
        Ok(block_count)
    }
}

/// Hands the stored blocks of one cluster to the sink as runs of adjacent
/// blocks, clipped at the device's end.
fn emit_cluster<S: DeviceSink>(
    sink: &mut S,
    dev: &VmaDevice,
    bi: BlockInfo,
    data: &[u8],
) -> Result<(), VmaError> {
    let base = u64::from(bi.cluster) * CLUSTER_SIZE as u64;
    let mut from = 0usize; // in `data`
    let mut b = 0usize;
    while b < BLOCKS_PER_CLUSTER {
        if bi.mask & (1 << b) == 0 {
            b += 1;
            continue;
        }
        let run_start = b;
        while b < BLOCKS_PER_CLUSTER && bi.mask & (1 << b) != 0 {
            b += 1;
        }
        let len = (b - run_start) * BLOCK_SIZE;
        let at = base + (run_start * BLOCK_SIZE) as u64;
        let keep = (dev.size.saturating_sub(at)).min(len as u64) as usize;
        if keep > 0 {
            sink.write_at(dev.id, at, &data[from..from + keep])
                .map_err(|source| VmaError::Sink {
                    context: format!(
                        "{} bytes at offset {at} of device {} ({})",
                        keep, dev.id, dev.name
                    ),
                    source,
                })?;
        }
        from += len;
    }
    Ok(())
}

fn first_missing(seen: &[u64], total: u64) -> u64 {
    for (w, &bits) in seen.iter().enumerate() {
        if bits != u64::MAX {
            let c = w as u64 * 64 + u64::from(bits.trailing_ones());
            if c < total {
                return c;
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::os::unix::fs::MetadataExt;
    use std::sync::Mutex;

    use super::*;
    use crate::vma_writer::{
        ClusterOrder, DiskSource, VmaWriter, extent_offsets, pseudo_random_bytes,
    };

    /// Whole devices in memory, checking the sink contract as it goes.
    #[derive(Default)]
    struct MemSink {
        devs: HashMap<u8, Vec<u8>>,
        written: HashMap<u8, Vec<bool>>,
        bytes: u64,
        finished: bool,
    }

    impl MemSink {
        fn new(devices: &[VmaDevice]) -> Self {
            let mut s = Self::default();
            for d in devices {
                s.devs.insert(d.id, vec![0; d.size as usize]);
                s.written.insert(d.id, vec![false; d.size as usize]);
            }
            s
        }
    }

    impl DeviceSink for MemSink {
        fn write_at(&mut self, dev: u8, offset: u64, data: &[u8]) -> io::Result<()> {
            assert!(!self.finished);
            assert!(!data.is_empty() && data.len() <= CLUSTER_SIZE);
            let buf = self.devs.get_mut(&dev).expect("known device");
            let at = offset as usize;
            assert!(
                at + data.len() <= buf.len(),
                "write past the end of device {dev}"
            );
            let w = self.written.get_mut(&dev).expect("known device");
            assert!(
                w[at..at + data.len()].iter().all(|x| !x),
                "byte written twice"
            );
            w[at..at + data.len()].fill(true);
            buf[at..at + data.len()].copy_from_slice(data);
            self.bytes += data.len() as u64;
            Ok(())
        }

        fn finish(&mut self) -> io::Result<()> {
            assert!(!self.finished);
            self.finished = true;
            Ok(())
        }
    }

    fn build(w: VmaWriter) -> Vec<u8> {
        let mut out = Vec::new();
        w.write_to(&mut out).expect("write fixture");
        out
    }

    fn read_mem(bytes: &[u8]) -> Result<(VmaSummary, MemSink), VmaError> {
        let r = VmaReader::new(bytes)?;
        let mut sink = MemSink::new(&r.header().devices);
        let s = r.read_to(&mut sink)?;
        Ok((s, sink))
    }

    fn header_size(bytes: &[u8]) -> usize {
        be32(bytes, H_HEADER_SIZE) as usize
    }

    /// Edits the header and reseals its MD5.
    fn patch_header(bytes: &mut [u8], f: impl FnOnce(&mut [u8])) {
        let hs = header_size(bytes);
        f(&mut bytes[..hs]);
        seal_header(&mut bytes[..hs]);
    }

    /// Edits extent `n`'s header and reseals its MD5.
    fn patch_extent(bytes: &mut [u8], n: usize, f: impl FnOnce(&mut [u8])) -> u64 {
        let at = extent_offsets(bytes)[n];
        f(&mut bytes[at..at + EXTENT_HEADER_SIZE]);
        seal_extent_header(&mut bytes[at..at + EXTENT_HEADER_SIZE]);
        at as u64
    }

    fn info(ext: &[u8], slot: usize) -> BlockInfo {
        BlockInfo::decode(be64(ext, E_BLOCKINFO + 8 * slot))
    }

    fn set_info(ext: &mut [u8], slot: usize, bi: BlockInfo) {
        ext[E_BLOCKINFO + 8 * slot..E_BLOCKINFO + 8 * slot + 8]
            .copy_from_slice(&bi.encode().to_be_bytes());
    }

    /// Zeros with a few scattered non-zero 4 KiB blocks.
    fn sparse_disk(size: usize, blocks: &[usize]) -> Vec<u8> {
        let mut d = vec![0u8; size];
        for &b in blocks {
            let at = b * BLOCK_SIZE;
            let end = (at + BLOCK_SIZE).min(size);
            d[at..end].copy_from_slice(&pseudo_random_bytes(b as u64, end - at));
        }
        d
    }

    fn three_disks() -> (Vec<u8>, Vec<u8>, usize) {
        // Sizes not multiples of 64 KiB (nor of 4 KiB) exercise the clipped
        // last cluster.
        let a = pseudo_random_bytes(1, (1 << 20) + 3 * 4096 + 512);
        let b = sparse_disk(3 << 20, &[0, 17, 18, 300, 767]);
        (a, b, 200 * 1024)
    }

    fn three_disk_writer() -> (VmaWriter, Vec<Vec<u8>>) {
        let (a, b, c) = three_disks();
        let w = VmaWriter::new()
            .config("qemu-server.conf", b"cores: 2\nmemory: 2048\n".to_vec())
            .config("qemu-server.fw", b"[OPTIONS]\nenable: 1\n".to_vec())
            .disk("drive-scsi0", DiskSource::Bytes(a.clone()))
            .disk("drive-scsi1", DiskSource::Bytes(b.clone()))
            .disk("drive-efidisk0", DiskSource::Zeros(c as u64));
        (w, vec![a, b, vec![0; c]])
    }

    #[test]
    fn header_is_parsed() {
        let (w, disks) = three_disk_writer();
        let bytes = build(w.uuid(*b"0123456789abcdef").ctime(1_700_000_123));
        let r = VmaReader::new(bytes.as_slice()).expect("header");
        let h = r.header();
        assert_eq!(h.version, 1);
        assert_eq!(&h.uuid, b"0123456789abcdef");
        assert_eq!(h.uuid_string(), "30313233-3435-3637-3839-616263646566");
        assert_eq!(h.ctime, 1_700_000_123);
        assert_eq!(h.header_size as usize % 512, 0);
        assert_eq!(r.bytes_read(), u64::from(h.header_size));
        let names: Vec<&str> = h.configs.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["qemu-server.conf", "qemu-server.fw"]);
        assert_eq!(
            h.config("qemu-server.conf"),
            Some(&b"cores: 2\nmemory: 2048\n"[..])
        );
        assert_eq!(h.config("nope"), None);
        let devs: Vec<(u8, &str, u64)> = h
            .devices
            .iter()
            .map(|d| (d.id, d.name.as_str(), d.size))
            .collect();
        assert_eq!(
            devs,
            [
                (1, "drive-scsi0", disks[0].len() as u64),
                (2, "drive-scsi1", disks[1].len() as u64),
                (3, "drive-efidisk0", disks[2].len() as u64)
            ]
        );
        assert_eq!(h.device(2).map(|d| d.cluster_count()), Some(48));
        assert_eq!(read_header(bytes.as_slice()).expect("header"), *h);
    }

    #[test]
    fn devices_round_trip_in_every_order() {
        let orders = [
            ClusterOrder::Sequential,
            ClusterOrder::Interleaved,
            ClusterOrder::Shuffled { seed: 1 },
            ClusterOrder::Shuffled { seed: 99 },
        ];
        for order in orders {
            for per_extent in [59, 58, 7, 1] {
                let (w, disks) = three_disk_writer();
                let bytes = build(w.order(order).clusters_per_extent(per_extent));
                let (s, sink) = read_mem(&bytes).expect("read");
                assert!(sink.finished);
                for (i, d) in disks.iter().enumerate() {
                    let id = (i + 1) as u8;
                    assert!(
                        sink.devs[&id] == *d,
                        "device {id} differs ({order:?}, {per_extent})"
                    );
                    let dev = &s.devices[i];
                    assert_eq!(s.device_stats[i].clusters, dev.cluster_count());
                }
                assert_eq!(s.bytes_read, bytes.len() as u64);
                let clusters: u64 = s.devices.iter().map(VmaDevice::cluster_count).sum();
                assert_eq!(s.extents, clusters.div_ceil(per_extent as u64));
                assert_eq!(s.configs.len(), 2);
            }
        }
    }

    #[test]
    fn clusters_really_come_out_of_order() {
        let (w, _) = three_disk_writer();
        let bytes = build(w.order(ClusterOrder::Shuffled { seed: 5 }));
        let mut seq = Vec::new();
        for at in extent_offsets(&bytes) {
            for slot in 0..CLUSTERS_PER_EXTENT {
                let bi = info(&bytes[at..], slot);
                if bi.dev_id != 0 {
                    seq.push((bi.dev_id, bi.cluster));
                }
            }
        }
        let mut sorted = seq.clone();
        sorted.sort();
        assert_ne!(seq, sorted);
        let devs: Vec<u8> = seq.iter().take(20).map(|e| e.0).collect();
        assert!(devs.windows(2).any(|w| w[0] != w[1]), "devices interleave");
    }

    #[test]
    fn masks_zero_partial_full() {
        // Cluster 0 all zero, cluster 1 blocks 0, 5 and 15, cluster 2 full.
        let mut d = vec![0u8; 3 * CLUSTER_SIZE];
        for b in [16, 21, 31] {
            d[b * BLOCK_SIZE..(b + 1) * BLOCK_SIZE].fill(0xa5);
        }
        d[2 * CLUSTER_SIZE..].copy_from_slice(&pseudo_random_bytes(3, CLUSTER_SIZE));
        let bytes = build(VmaWriter::new().disk("drive-virtio0", DiskSource::Bytes(d.clone())));
        let at = extent_offsets(&bytes)[0];
        let masks: Vec<u16> = (0..3).map(|s| info(&bytes[at..], s).mask).collect();
        assert_eq!(masks, [0, 1 | 1 << 5 | 1 << 15, 0xffff]);
        assert_eq!(be16(&bytes[at..], E_BLOCK_COUNT), 19);
        assert_eq!(
            bytes.len(),
            header_size(&bytes) + EXTENT_HEADER_SIZE + 19 * BLOCK_SIZE
        );
        let (s, sink) = read_mem(&bytes).expect("read");
        assert!(sink.devs[&1] == d);
        // Only stored blocks reach the sink.
        assert_eq!(sink.bytes, 19 * BLOCK_SIZE as u64);
        assert_eq!(
            s.device_stats[0],
            DeviceStats {
                id: 1,
                clusters: 3,
                zero_clusters: 1,
                data_blocks: 19
            }
        );
    }

    #[test]
    fn zero_blocks_may_be_stored() {
        let (w, disks) = three_disk_writer();
        let bytes = build(w.skip_zero_blocks(false).order(ClusterOrder::Interleaved));
        for at in extent_offsets(&bytes) {
            for slot in 0..CLUSTERS_PER_EXTENT {
                let bi = info(&bytes[at..], slot);
                assert!(bi.dev_id == 0 || bi.mask == 0xffff);
            }
        }
        let (_, sink) = read_mem(&bytes).expect("read");
        for (i, d) in disks.iter().enumerate() {
            assert!(sink.devs[&((i + 1) as u8)] == *d);
        }
    }

    #[test]
    fn blockinfo_layout_is_the_spec_table() {
        // Bytes 0–1 mask, byte 2 reserved, byte 3 dev_id, bytes 4–7 cluster.
        let word = u64::from_be_bytes([0xab, 0xcd, 0x00, 0x12, 0x00, 0x00, 0x01, 0x07]);
        let bi = BlockInfo::decode(word);
        assert_eq!(
            bi,
            BlockInfo {
                mask: 0xabcd,
                dev_id: 0x12,
                cluster: 0x107
            }
        );
        assert_eq!(bi.encode(), word);
        // Reserved bits are ignored.
        assert_eq!(BlockInfo::decode(word | 0xff << 40), bi);
    }

    #[test]
    fn header_md5_is_checked() {
        let (w, _) = three_disk_writer();
        let good = build(w);
        for at in [9, 100, 2044, 4096 + 40, FIXED_HEADER_SIZE + 3] {
            let mut bytes = good.clone();
            bytes[at] ^= 0x40;
            let e = VmaReader::new(bytes.as_slice()).expect_err("corrupt header");
            assert!(
                matches!(e, VmaError::HeaderChecksum { .. }),
                "byte {at}: {e}"
            );
            assert_eq!(e.code(), "vma_corrupt");
            assert!(e.to_string().contains("header fails the MD5 check"), "{e}");
        }
    }

    #[test]
    fn not_vma() {
        let e = VmaReader::new(&b"VMA\x01 and more"[..]).expect_err("magic");
        assert!(matches!(e, VmaError::BadMagic { found } if found == *b"VMA\x01"));
        assert_eq!(e.code(), "vma_not_vma");
        let (w, _) = three_disk_writer();
        let zst = zstd::encode_all(build(w).as_slice(), 1).expect("zstd");
        let e = VmaReader::new(zst.as_slice()).expect_err("compressed");
        assert!(e.to_string().contains("zstd frame"), "{e}");
    }

    #[test]
    fn version_and_sizes_are_checked() {
        let (w, _) = three_disk_writer();
        let good = build(w);

        let mut b = good.clone();
        patch_header(&mut b, |h| h[4..8].copy_from_slice(&2u32.to_be_bytes()));
        let e = VmaReader::new(b.as_slice()).expect_err("version");
        assert!(matches!(e, VmaError::UnsupportedVersion(2)), "{e}");
        assert_eq!(e.code(), "vma_unsupported");

        for hs in [
            0u32,
            FIXED_HEADER_SIZE as u32,
            MAX_HEADER_SIZE + 1,
            u32::MAX,
        ] {
            let mut b = good.clone();
            b[56..60].copy_from_slice(&hs.to_be_bytes());
            let e = VmaReader::new(b.as_slice()).expect_err("header size");
            assert!(
                matches!(&e, VmaError::Invalid(m) if m.contains("claims a size")),
                "{e}"
            );
        }

        // Blob buffer outside the header.
        let mut b = good.clone();
        patch_header(&mut b, |h| {
            h[52..56].copy_from_slice(&1_000_000u32.to_be_bytes())
        });
        let e = VmaReader::new(b.as_slice()).expect_err("blob size");
        assert!(
            matches!(&e, VmaError::Invalid(m) if m.contains("blob buffer")),
            "{e}"
        );
        let mut b = good.clone();
        patch_header(&mut b, |h| h[48..52].copy_from_slice(&100u32.to_be_bytes()));
        assert!(matches!(
            VmaReader::new(b.as_slice()),
            Err(VmaError::Invalid(_))
        ));
    }

    #[test]
    fn blob_pointers_are_checked() {
        let (w, _) = three_disk_writer();
        let good = build(w);
        let dev1 = H_DEV_INFO + DEV_INFO_SIZE;
        let name_ptr = be32(&good, dev1) as usize;

        // A pointer into the middle of a blob.
        let mut b = good.clone();
        patch_header(&mut b, |h| {
            h[dev1..dev1 + 4].copy_from_slice(&((name_ptr + 1) as u32).to_be_bytes())
        });
        let e = VmaReader::new(b.as_slice()).expect_err("ptr");
        assert!(
            matches!(&e, VmaError::Invalid(m) if m.contains("no blob starts")),
            "{e}"
        );

        // A name that is not UTF-8.
        let mut b = good.clone();
        patch_header(&mut b, |h| h[FIXED_HEADER_SIZE + name_ptr + 2] = 0xff);
        let e = VmaReader::new(b.as_slice()).expect_err("utf8");
        assert!(
            matches!(&e, VmaError::Invalid(m) if m.contains("UTF-8")),
            "{e}"
        );

        // Without its NUL.
        let mut b = good.clone();
        let len = usize::from(u16::from_le_bytes([
            good[FIXED_HEADER_SIZE + name_ptr],
            good[FIXED_HEADER_SIZE + name_ptr + 1],
        ]));
        patch_header(&mut b, |h| h[FIXED_HEADER_SIZE + name_ptr + 1 + len] = b'x');
        let e = VmaReader::new(b.as_slice()).expect_err("nul");
        assert!(
            matches!(&e, VmaError::Invalid(m) if m.contains("NUL")),
            "{e}"
        );

        // A config with a name but no data.
        let mut b = good.clone();
        patch_header(&mut b, |h| h[H_CONFIG_DATA..H_CONFIG_DATA + 4].fill(0));
        assert!(matches!(
            VmaReader::new(b.as_slice()),
            Err(VmaError::Invalid(_))
        ));

        // Device with a size but no name; slot 0 filled.
        let mut b = good.clone();
        patch_header(&mut b, |h| h[dev1..dev1 + 4].fill(0));
        assert!(matches!(
            VmaReader::new(b.as_slice()),
            Err(VmaError::Invalid(_))
        ));
        let mut b = good.clone();
        patch_header(&mut b, |h| {
            h[H_DEV_INFO + 8..H_DEV_INFO + 16].copy_from_slice(&1u64.to_be_bytes())
        });
        assert!(matches!(
            VmaReader::new(b.as_slice()),
            Err(VmaError::Invalid(_))
        ));

        // No devices at all.
        let mut b = good.clone();
        patch_header(&mut b, |h| {
            h[H_DEV_INFO..H_DEV_INFO + 256 * DEV_INFO_SIZE].fill(0)
        });
        let e = VmaReader::new(b.as_slice()).expect_err("no devices");
        assert!(e.to_string().contains("no devices"), "{e}");
    }

    #[test]
    fn config_names_must_be_file_names() {
        let bytes = build(
            VmaWriter::new()
                .config("../../etc/passwd", b"x".to_vec())
                .disk("drive-scsi0", DiskSource::Zeros(4096)),
        );
        let e = VmaReader::new(bytes.as_slice()).expect_err("path");
        assert!(e.to_string().contains("plain file name"), "{e}");
    }

    #[test]
    fn extent_md5_is_checked() {
        let (w, _) = three_disk_writer();
        let good = build(w.clusters_per_extent(10));
        let at = extent_offsets(&good)[2];
        for delta in [6, 8, 30, 100, 511] {
            let mut b = good.clone();
            b[at + delta] ^= 1;
            let e = read_mem(&b).err().expect("corrupt extent");
            assert!(
                matches!(e, VmaError::ExtentChecksum { offset } if offset == at as u64),
                "{e}"
            );
            assert_eq!(
                e.to_string(),
                format!(
                    "the backup stream is corrupt: the extent at byte {at} fails its MD5 check"
                )
            );
        }
    }

    #[test]
    fn extent_magic_uuid_and_reserved_are_checked() {
        let (w, _) = three_disk_writer();
        let good = build(w.clusters_per_extent(10));

        let mut b = good.clone();
        let at = patch_extent(&mut b, 1, |e| e[3] = b'X');
        let e = read_mem(&b).err().expect("magic");
        assert!(
            matches!(e, VmaError::BadExtentMagic { offset, .. } if offset == at),
            "{e}"
        );

        let mut b = good.clone();
        let at = patch_extent(&mut b, 3, |e| e[E_UUID] ^= 0xff);
        let e = read_mem(&b).err().expect("uuid");
        assert!(
            matches!(e, VmaError::UuidMismatch { offset, .. } if offset == at),
            "{e}"
        );
        assert_eq!(e.code(), "vma_corrupt");

        let mut b = good.clone();
        patch_extent(&mut b, 0, |e| e[E_RESERVED] = 1);
        assert!(matches!(read_mem(&b), Err(VmaError::Invalid(_))));

        let mut b = good.clone();
        patch_extent(&mut b, 0, |e| {
            let n = be16(e, E_BLOCK_COUNT) + 1;
            e[E_BLOCK_COUNT..E_BLOCK_COUNT + 2].copy_from_slice(&n.to_be_bytes());
        });
        let e = read_mem(&b).err().expect("block count");
        assert!(
            matches!(&e, VmaError::Invalid(m) if m.contains("masks add up")),
            "{e}"
        );

        // Garbage after the last extent.
        let mut b = good.clone();
        b.extend_from_slice(&[0u8; 600]);
        let e = read_mem(&b).err().expect("trailing");
        assert!(
            matches!(e, VmaError::BadExtentMagic { offset, .. } if offset == good.len() as u64),
            "{e}"
        );
    }

    #[test]
    fn unknown_device_is_rejected() {
        let (w, _) = three_disk_writer();
        let mut b = build(w);
        let at = patch_extent(&mut b, 0, |e| {
            let bi = info(e, 4);
            set_info(e, 4, BlockInfo { dev_id: 9, ..bi });
        });
        let e = read_mem(&b).err().expect("unknown device");
        assert!(
            matches!(e, VmaError::UnknownDevice { id: 9, offset } if offset == at),
            "{e}"
        );
        assert!(
            e.to_string()
                .contains("device 9, which the archive header does not declare")
        );
    }

    #[test]
    fn clusters_beyond_the_device_are_rejected() {
        let (w, _) = three_disk_writer();
        let mut b = build(w);
        patch_extent(&mut b, 0, |e| {
            let bi = info(e, 0);
            set_info(e, 0, BlockInfo { cluster: 17, ..bi });
        });
        let e = read_mem(&b).err().expect("range");
        assert!(
            matches!(
                e,
                VmaError::ClusterOutOfRange {
                    id: 1,
                    cluster: 17,
                    ..
                }
            ),
            "{e}"
        );

        // A 68 KiB device: its cluster 1 holds one block; a block further
        // in is past the end even though the cluster is in range.
        let d = pseudo_random_bytes(4, CLUSTER_SIZE + BLOCK_SIZE);
        let mut b = build(VmaWriter::new().disk("drive-scsi0", DiskSource::Bytes(d)));
        patch_extent(&mut b, 0, |e| {
            let bi = info(e, 1);
            assert_eq!(bi.mask, 1);
            set_info(e, 1, BlockInfo { mask: 1 << 3, ..bi });
        });
        let e = read_mem(&b).err().expect("block range");
        assert!(
            matches!(e, VmaError::ClusterOutOfRange { cluster: 1, .. }),
            "{e}"
        );
    }

    #[test]
    fn full_last_cluster_is_clipped() {
        // Stored whole (mask 0xffff) but the device ends 512 bytes in.
        let d = pseudo_random_bytes(6, CLUSTER_SIZE + 512);
        let bytes = build(
            VmaWriter::new()
                .skip_zero_blocks(false)
                .disk("drive-scsi0", DiskSource::Bytes(d.clone())),
        );
        let (_, sink) = read_mem(&bytes).expect("read");
        assert!(sink.devs[&1] == d);
    }

    #[test]
    fn duplicate_cluster_is_rejected() {
        let (w, _) = three_disk_writer();
        let mut b = build(w);
        patch_extent(&mut b, 0, |e| {
            let first = info(e, 0);
            let bi = info(e, 1);
            set_info(
                e,
                1,
                BlockInfo {
                    cluster: first.cluster,
                    ..bi
                },
            );
        });
        let e = read_mem(&b).err().expect("dup");
        assert!(
            matches!(
                e,
                VmaError::DuplicateCluster {
                    id: 1,
                    cluster: 0,
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn missing_cluster_is_rejected() {
        // All-zero clusters have mask 0: turning one's slot into an unused
        // one (device 0) keeps the block count right but loses the cluster.
        let d = sparse_disk(4 * CLUSTER_SIZE, &[0, 40]);
        let mut b = build(VmaWriter::new().disk("drive-scsi0", DiskSource::Bytes(d)));
        patch_extent(&mut b, 0, |e| {
            assert_eq!(info(e, 1).mask, 0);
            set_info(
                e,
                1,
                BlockInfo {
                    mask: 0,
                    dev_id: 0,
                    cluster: 0,
                },
            );
        });
        let e = read_mem(&b).err().expect("missing");
        assert!(
            matches!(
                e,
                VmaError::MissingClusters {
                    id: 1,
                    missing: 1,
                    total: 4,
                    first: 1,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.code(), "vma_truncated");
    }

    #[test]
    fn truncation_anywhere_is_an_error_with_its_offset() {
        let (w, _) = three_disk_writer();
        let good = build(w.clusters_per_extent(13).order(ClusterOrder::Interleaved));
        let hs = header_size(&good);
        let extents = extent_offsets(&good);
        let mut cuts: Vec<usize> = vec![
            0,
            1,
            3,
            4,
            5,
            100,
            4095,
            FIXED_HEADER_SIZE,
            hs - 1,
            hs + 1,
            hs + 511,
            hs + 512,
            hs + 513,
        ];
        cuts.extend((hs + 1..good.len()).step_by(7919));
        cuts.retain(|c| !extents.contains(c));
        cuts.extend(extents.iter().map(|&e| e + 1000));
        for cut in cuts {
            let e = read_mem(&good[..cut]).err().expect("truncated");
            assert!(
                matches!(&e, VmaError::Truncated { offset, .. } if *offset == cut as u64),
                "cut at {cut}: {e}"
            );
            assert_eq!(e.code(), "vma_truncated");
            assert!(
                e.to_string().contains(&format!("at byte {cut}, inside")),
                "{e}"
            );
        }
        // Mid-cluster says which cluster.
        let e = read_mem(&good[..hs + 512 + 5]).err().expect("mid-cluster");
        assert!(
            e.to_string()
                .contains("the data of cluster 0 of device 1 (drive-scsi0)"),
            "{e}"
        );
        // Between extents the stream may end, but then clusters are missing.
        for &cut in &extents[1..] {
            let e = read_mem(&good[..cut]).err().expect("short");
            assert!(
                matches!(&e, VmaError::MissingClusters { offset, .. } if *offset == cut as u64),
                "{e}"
            );
        }
        // A header with no extents at all.
        assert!(matches!(
            read_mem(&good[..hs]),
            Err(VmaError::MissingClusters { .. })
        ));
        // The full stream ends cleanly after its last extent.
        assert!(read_mem(&good).is_ok());
    }

    /// Fails with `kind` once `at` bytes have been read.
    struct FailAt<'a> {
        data: &'a [u8],
        pos: usize,
        at: usize,
        kind: io::ErrorKind,
        on_fail: Option<Arc<AtomicBool>>,
    }

    impl Read for FailAt<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.pos >= self.at {
                if let Some(f) = &self.on_fail {
                    f.store(true, Ordering::Relaxed);
                    return Ok(0);
                }
                return Err(io::Error::new(self.kind, "link down"));
            }
            let n = buf.len().min(self.at - self.pos).min(1000);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn read_errors_name_their_offset() {
        let (w, _) = three_disk_writer();
        let good = build(w);
        let at = header_size(&good) + 70_000;
        let r = FailAt {
            data: &good,
            pos: 0,
            at,
            kind: io::ErrorKind::ConnectionReset,
            on_fail: None,
        };
        let e = VmaReader::new(r)
            .and_then(|r| r.read_to(Discard))
            .expect_err("io");
        assert!(
            matches!(&e, VmaError::Io { offset, .. } if *offset == at as u64),
            "{e}"
        );
        assert_eq!(e.code(), "io");
        assert!(e.to_string().contains("link down"));
    }

    #[test]
    fn sink_errors_stop_the_read() {
        struct Full;
        impl DeviceSink for Full {
            fn write_at(&mut self, _: u8, _: u64, _: &[u8]) -> io::Result<()> {
                Err(io::Error::new(io::ErrorKind::StorageFull, "disk full"))
            }
            fn finish(&mut self) -> io::Result<()> {
                panic!("finish after an error");
            }
        }
        let (w, _) = three_disk_writer();
        let good = build(w);
        let e = VmaReader::new(good.as_slice())
            .and_then(|r| r.read_to(Full))
            .expect_err("sink");
        assert!(matches!(e, VmaError::Sink { .. }), "{e}");
        assert_eq!(e.code(), "io");
        assert!(
            e.to_string()
                .contains("of device 1 (drive-scsi0) failed: disk full"),
            "{e}"
        );
    }

    #[test]
    fn cancel_stops_between_extents_and_progress_is_reported() {
        let (w, _) = three_disk_writer();
        let good = build(w.clusters_per_extent(5));
        let extents = extent_offsets(&good);

        // Already cancelled: nothing past the header.
        let flag = Arc::new(AtomicBool::new(true));
        let mut sink = MemSink::new(&read_header(good.as_slice()).expect("h").devices);
        let r = VmaReader::new(good.as_slice())
            .expect("h")
            .with_cancel_flag(flag);
        assert!(matches!(r.read_to(&mut sink), Err(VmaError::Cancelled)));
        assert_eq!(sink.bytes, 0);
        assert!(!sink.finished);

        // Cancelled after 3 extents; progress polled at each check.
        let progress = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (p, s) = (progress.clone(), seen.clone());
        let r = VmaReader::new(good.as_slice())
            .expect("h")
            .with_progress(progress.clone())
            .with_cancel(move || {
                let mut s = s.lock().expect("lock");
                s.push(p.load(Ordering::Relaxed) as usize);
                s.len() > 3
            });
        let e = r.read_to(Discard).expect_err("cancel");
        assert!(matches!(e, VmaError::Cancelled));
        assert_eq!(e.code(), "cancelled");
        assert_eq!(*seen.lock().expect("lock"), extents[..4]);

        // Uncancelled: progress ends at the stream's length.
        let progress = Arc::new(AtomicU64::new(0));
        let s = VmaReader::new(good.as_slice())
            .expect("h")
            .with_progress(progress.clone())
            .read_to(Discard)
            .expect("read");
        assert_eq!(progress.load(Ordering::Relaxed), good.len() as u64);
        assert_eq!(s.bytes_read, good.len() as u64);
    }

    #[test]
    fn a_stream_closed_by_a_cancel_reports_cancelled() {
        let (w, _) = three_disk_writer();
        let good = build(w);
        let flag = Arc::new(AtomicBool::new(false));
        // The caller "closes the channel": the read sees EOF mid-extent
        // just as the flag goes up.
        let r = FailAt {
            data: &good,
            pos: 0,
            at: header_size(&good) + 100_000,
            kind: io::ErrorKind::Other,
            on_fail: Some(flag.clone()),
        };
        let e = VmaReader::new(r)
            .expect("h")
            .with_cancel_flag(flag)
            .read_to(Discard)
            .expect_err("cancel");
        assert!(matches!(e, VmaError::Cancelled), "{e}");
    }

    #[test]
    fn sparse_files_stay_sparse() {
        let dir = tempfile::tempdir().expect("tmp");
        let data = sparse_disk(8 << 20, &[5, 1000, 2047]);
        // Zero blocks stored explicitly (mask 0xffff) must not be written.
        let bytes = build(
            VmaWriter::new()
                .skip_zero_blocks(false)
                .order(ClusterOrder::Shuffled { seed: 3 })
                .disk("drive-scsi0", DiskSource::Zeros(64 << 20))
                .disk("drive-scsi1", DiskSource::Bytes(data.clone())),
        );
        let r = VmaReader::new(bytes.as_slice()).expect("h");
        let mut files = SparseFiles::create_with(dir.path(), &r.header().devices, |d| {
            format!("{}.raw", d.name)
        })
        .expect("files");
        let s = r.read_to(&mut files).expect("read");
        assert_eq!(s.device_stats[0].data_blocks, 64 << 20 >> 12);
        let zero = dir.path().join("drive-scsi0.raw");
        let meta = std::fs::metadata(&zero).expect("meta");
        assert_eq!(meta.len(), 64 << 20);
        assert!(
            meta.blocks() * 512 <= 64 * 1024,
            "all-zero disk uses {} blocks",
            meta.blocks()
        );
        let one = dir.path().join("drive-scsi1.raw");
        assert_eq!(files.path(2), Some(one.as_path()));
        assert!(std::fs::read(&one).expect("read") == data);
        let meta = std::fs::metadata(&one).expect("meta");
        assert!(
            meta.blocks() * 512 <= 1 << 20,
            "sparse disk uses {} blocks",
            meta.blocks()
        );
        assert_eq!(files.paths(), [(1, zero), (2, one)]);
    }

    #[test]
    fn sparse_file_names() {
        let dir = tempfile::tempdir().expect("tmp");
        let devs = [
            VmaDevice {
                id: 1,
                name: "a".into(),
                size: 4096,
            },
            VmaDevice {
                id: 7,
                name: "b".into(),
                size: 512,
            },
        ];
        let f = SparseFiles::create(dir.path(), &devs).expect("create");
        assert_eq!(f.path(7), Some(dir.path().join("disk-7.raw").as_path()));
        assert_eq!(f.path(2), None);
        for bad in ["../x", "", "a/b", "..", "."] {
            let e =
                SparseFiles::create_with(dir.path(), &devs, |_| bad.to_owned()).expect_err("bad");
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{bad:?}");
        }
        let e =
            SparseFiles::create_with(dir.path(), &devs, |_| "same".to_owned()).expect_err("dup");
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        let mut f = SparseFiles::create(dir.path(), &devs).expect("create");
        assert!(f.write_at(7, 0, &[1; 513]).is_err(), "past the end");
        assert!(f.write_at(3, 0, &[1]).is_err(), "unknown device");
        f.write_at(7, 100, &[1; 412]).expect("write");
        f.finish().expect("finish");
        let b = std::fs::read(dir.path().join("disk-7.raw")).expect("read");
        assert_eq!(b.len(), 512);
        assert!(b[..100].iter().all(|&x| x == 0) && b[100..].iter().all(|&x| x == 1));
    }

    #[test]
    fn zstd_round_trip() {
        let (w, disks) = three_disk_writer();
        let good = build(w.order(ClusterOrder::Shuffled { seed: 11 }));
        let zst = zstd::encode_all(good.as_slice(), 3).expect("zstd");
        let dec = zstd::Decoder::new(zst.as_slice()).expect("decoder");
        let r = VmaReader::new(dec).expect("h");
        let mut sink = MemSink::new(&r.header().devices);
        let s = r.read_to(&mut sink).expect("read");
        assert_eq!(s.bytes_read, good.len() as u64);
        for (i, d) in disks.iter().enumerate() {
            assert!(sink.devs[&((i + 1) as u8)] == *d);
        }
        // A cut compressed stream is a truncation, not an I/O failure.
        for cut in [zst.len() / 2, zst.len() - 3] {
            let dec = zstd::Decoder::new(&zst[..cut]).expect("decoder");
            let e = VmaReader::new(dec)
                .and_then(|r| r.read_to(Discard))
                .expect_err("cut");
            assert_eq!(e.code(), "vma_truncated", "{e}");
        }
    }

    #[test]
    fn writer_rejects_bad_input() {
        let mut out = Vec::new();
        assert!(VmaWriter::new().write_to(&mut out).is_err(), "no disks");
        assert!(
            VmaWriter::new()
                .disk("d", DiskSource::Zeros(0))
                .write_to(&mut out)
                .is_err()
        );
        assert!(
            VmaWriter::new()
                .config("c", vec![0; 70_000])
                .disk("d", DiskSource::Zeros(1))
                .write_to(&mut out)
                .is_err()
        );
    }
}

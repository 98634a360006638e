//! A VMA writer for test fixtures and benchmarks (feature `fixtures`; never
//! in the app).
//!
//! It lays archives out the way QEMU's `vma-writer.c` does: blob buffer
//! right after the 12288-byte fixed header, first blob at offset 1,
//! little-endian blob lengths, NUL-terminated strings, `blob_buffer_size`
//! the used length, `header_size` rounded up to 512; every cluster of every
//! device written once, all-zero 4 KiB blocks left out of the data (mask
//! bit clear). It streams: memory is one extent (≤ 3.8 MiB), plus 8 bytes
//! per cluster for [`ClusterOrder::Shuffled`] (512 KiB for 4 GiB of disks).

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::vma::{
    self, BLOCK_SIZE, BLOCKS_PER_CLUSTER, BlockInfo, CLUSTER_SIZE, CLUSTERS_PER_EXTENT,
    EXTENT_HEADER_SIZE, EXTENT_MAGIC, FIXED_HEADER_SIZE, MAGIC, MAX_CONFIGS, MAX_DEVICE_SIZE,
    MAX_HEADER_SIZE, VERSION,
};

/// The order clusters are written in. Real vzdump streams are close to
/// sequential per device with the devices interleaved (one backup job per
/// drive), and QEMU may write a cluster early when the guest is about to
/// overwrite it (copy-before-write), so readers must take any order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClusterOrder {
    /// Device 1's clusters, then device 2's, ...
    #[default]
    Sequential,
    /// Round-robin: cluster 0 of each device, then cluster 1 of each, ...
    Interleaved,
    /// A seeded shuffle of all clusters of all devices.
    Shuffled { seed: u64 },
}

/// A disk's contents.
#[derive(Debug, Clone)]
pub enum DiskSource {
    Bytes(Vec<u8>),
    /// A raw image; its length is the device size. Read at random offsets,
    /// so it is never loaded whole.
    File(PathBuf),
    /// All zeros, this many bytes.
    Zeros(u64),
}

/// SplitMix64: a tiny deterministic PRNG (fixtures need reproducible
/// "random" orders and contents, not quality randomness).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Below `n` (> 0); the modulo bias does not matter here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

/// `len` pseudo-random bytes from `seed`.
pub fn pseudo_random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut v = vec![0u8; len];
    SplitMix64::new(seed).fill(&mut v);
    v
}

/// What [`VmaWriter::write_to`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WriteStats {
    /// Bytes of VMA, header included.
    pub bytes: u64,
    pub header_size: u32,
    pub extents: u64,
    pub clusters: u64,
    /// 4 KiB blocks stored (not left out as zero).
    pub data_blocks: u64,
}

/// Builds a VMA archive from configs and disks.
///
/// ```
/// # use hypersdk_proxmox::vma_writer::{VmaWriter, DiskSource, ClusterOrder};
/// let mut out = Vec::new();
/// VmaWriter::new()
///     .config("qemu-server.conf", b"memory: 512\n".to_vec())
///     .disk("drive-scsi0", DiskSource::Zeros(1 << 20))
///     .order(ClusterOrder::Shuffled { seed: 7 })
///     .write_to(&mut out)
///     .unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct VmaWriter {
    configs: Vec<(String, Vec<u8>)>,
    disks: Vec<(String, DiskSource)>,
    order: ClusterOrder,
    skip_zero_blocks: bool,
    clusters_per_extent: usize,
    uuid: [u8; 16],
    ctime: i64,
}

impl Default for VmaWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl VmaWriter {
    /// Sequential order, zero blocks left out, full extents (59 clusters),
    /// a fixed uuid and ctime (so fixtures are reproducible).
    pub fn new() -> Self {
        let mut uuid = [0u8; 16];
        SplitMix64::new(0x564d_4100).fill(&mut uuid);
        Self {
            configs: Vec::new(),
            disks: Vec::new(),
            order: ClusterOrder::Sequential,
            skip_zero_blocks: true,
            clusters_per_extent: CLUSTERS_PER_EXTENT,
            uuid,
            ctime: 1_764_115_200, // 2025-11-26T00:00:00Z
        }
    }

    /// A config blob; vzdump stores `qemu-server.conf` and, if the guest
    /// has a firewall config, `qemu-server.fw`.
    pub fn config(mut self, name: impl Into<String>, data: Vec<u8>) -> Self {
        self.configs.push((name.into(), data));
        self
    }

    /// A device, given the next id (1, 2, ...). vzdump names them
    /// `drive-<key>`.
    pub fn disk(mut self, name: impl Into<String>, source: DiskSource) -> Self {
        self.disks.push((name.into(), source));
        self
    }

    pub fn order(mut self, order: ClusterOrder) -> Self {
        self.order = order;
        self
    }

    /// false: store every block, zeros included (mask always 0xffff).
    pub fn skip_zero_blocks(mut self, skip: bool) -> Self {
        self.skip_zero_blocks = skip;
        self
    }

    /// Clusters per extent, 1..=59 (QEMU writes 58).
    pub fn clusters_per_extent(mut self, n: usize) -> Self {
        self.clusters_per_extent = n.clamp(1, CLUSTERS_PER_EXTENT);
        self
    }

    pub fn uuid(mut self, uuid: [u8; 16]) -> Self {
        self.uuid = uuid;
        self
    }

    pub fn ctime(mut self, ctime: i64) -> Self {
        self.ctime = ctime;
        self
    }

    /// Writes the archive to `out` (no buffering added: writes are whole
    /// extents).
    pub fn write_to<W: Write>(&self, mut out: W) -> io::Result<WriteStats> {
        let disks = self.open_disks()?;
        let header = self.header(&disks)?;
        out.write_all(&header)?;
        let mut stats = WriteStats {
            bytes: header.len() as u64,
            // `header` is at most MAX_HEADER_SIZE long.
            header_size: header.len() as u32,
            ..WriteStats::default()
        };

        let mut ext = ExtentBuf::new(self.uuid);
        let mut cluster = vec![0u8; CLUSTER_SIZE];
        let mut emit = |dev: usize, num: u64| -> io::Result<()> {
            disks[dev].read_cluster(num, &mut cluster)?;
            let mut mask = 0u16;
            for (b, block) in cluster.chunks_exact(BLOCK_SIZE).enumerate() {
                if !self.skip_zero_blocks || !vma::is_zero(block) {
                    mask |= 1 << b;
                    ext.data.extend_from_slice(block);
                }
            }
            ext.infos.push(BlockInfo {
                mask,
                // At most 254 disks, ids from 1.
                dev_id: (dev + 1) as u8,
                // Below 2^32: device sizes are checked against MAX_DEVICE_SIZE.
                cluster: num as u32,
            });
            stats.clusters += 1;
            stats.data_blocks += u64::from(mask.count_ones());
            if ext.infos.len() == self.clusters_per_extent {
                stats.bytes += ext.flush(&mut out)?;
                stats.extents += 1;
            }
            Ok(())
        };

        let counts: Vec<u64> = disks
            .iter()
            .map(|d| d.size.div_ceil(CLUSTER_SIZE as u64))
            .collect();
        match self.order {
            ClusterOrder::Sequential => {
                for (dev, &n) in counts.iter().enumerate() {
                    for c in 0..n {
                        emit(dev, c)?;
                    }
                }
            }
            ClusterOrder::Interleaved => {
                let max = counts.iter().copied().max().unwrap_or(0);
                for c in 0..max {
                    for (dev, &n) in counts.iter().enumerate() {
                        if c < n {
                            emit(dev, c)?;
                        }
                    }
                }
            }
            ClusterOrder::Shuffled { seed } => {
                // Device index in the high bits, cluster in the low 32.
                let mut all: Vec<u64> = Vec::new();
                for (dev, &n) in counts.iter().enumerate() {
                    all.extend((0..n).map(|c| ((dev as u64) << 32) | c));
                }
                let mut rng = SplitMix64::new(seed);
                for i in (1..all.len()).rev() {
                    let j = rng.below(i as u64 + 1) as usize;
                    all.swap(i, j);
                }
                for e in all {
                    emit((e >> 32) as usize, e & 0xffff_ffff)?;
                }
            }
        }
        if !ext.infos.is_empty() {
            stats.bytes += ext.flush(&mut out)?;
            stats.extents += 1;
        }
        out.flush()?;
        Ok(stats)
    }

    fn open_disks(&self) -> io::Result<Vec<OpenDisk<'_>>> {
        if self.disks.is_empty() {
            return Err(invalid("a VMA archive needs at least one disk".to_owned()));
        }
        // Ids 1..=254: QEMU's writer keeps 255 back.
        if self.disks.len() > 254 {
            return Err(invalid(format!("{} disks; at most 254", self.disks.len())));
        }
        let mut out = Vec::with_capacity(self.disks.len());
        for (name, src) in &self.disks {
            let disk = match src {
                DiskSource::Bytes(b) => OpenDisk {
                    size: b.len() as u64,
                    src: Src::Bytes(b),
                },
                DiskSource::File(p) => {
                    let f = File::open(p)
                        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", p.display())))?;
                    OpenDisk {
                        size: f.metadata()?.len(),
                        src: Src::File(f),
                    }
                }
                DiskSource::Zeros(n) => OpenDisk {
                    size: *n,
                    src: Src::Zeros,
                },
            };
            if disk.size == 0 || disk.size > MAX_DEVICE_SIZE {
                return Err(invalid(format!(
                    "disk {name:?} has {} bytes; it must have 1 to {MAX_DEVICE_SIZE}",
                    disk.size
                )));
            }
            out.push(disk);
        }
        Ok(out)
    }

    /// The complete, sealed header.
    fn header(&self, disks: &[OpenDisk]) -> io::Result<Vec<u8>> {
        if self.configs.len() > MAX_CONFIGS {
            return Err(invalid(format!(
                "{} configs; at most {MAX_CONFIGS}",
                self.configs.len()
            )));
        }
        // Offset 0 of the blob buffer is never a blob: pointer 0 means none.
        let mut blobs: Vec<u8> = vec![0];
        let mut name_ptrs = Vec::new();
        let mut data_ptrs = Vec::new();
        for (name, data) in &self.configs {
            name_ptrs.push(add_string(&mut blobs, name)?);
            data_ptrs.push(add_blob(&mut blobs, data)?);
        }
        let mut dev_ptrs = Vec::new();
        for (name, _) in &self.disks {
            dev_ptrs.push(add_string(&mut blobs, name)?);
        }
        let blob_used = blobs.len();
        let header_size = (FIXED_HEADER_SIZE + blob_used).next_multiple_of(512);
        if header_size > MAX_HEADER_SIZE as usize {
            return Err(invalid(format!(
                "the configs and names need a {header_size}-byte header; at most {MAX_HEADER_SIZE}"
            )));
        }
        let mut h = vec![0u8; header_size];
        h[0..4].copy_from_slice(&MAGIC);
        h[4..8].copy_from_slice(&VERSION.to_be_bytes());
        h[8..24].copy_from_slice(&self.uuid);
        h[24..32].copy_from_slice(&self.ctime.to_be_bytes());
        // The sizes were checked against MAX_HEADER_SIZE: they fit a u32.
        h[48..52].copy_from_slice(&(FIXED_HEADER_SIZE as u32).to_be_bytes());
        h[52..56].copy_from_slice(&(blob_used as u32).to_be_bytes());
        h[56..60].copy_from_slice(&(header_size as u32).to_be_bytes());
        for (i, (n, d)) in name_ptrs.iter().zip(&data_ptrs).enumerate() {
            h[2044 + 4 * i..2048 + 4 * i].copy_from_slice(&n.to_be_bytes());
            h[3068 + 4 * i..3072 + 4 * i].copy_from_slice(&d.to_be_bytes());
        }
        for (i, (ptr, disk)) in dev_ptrs.iter().zip(disks).enumerate() {
            let at = 4096 + 32 * (i + 1);
            h[at..at + 4].copy_from_slice(&ptr.to_be_bytes());
            h[at + 8..at + 16].copy_from_slice(&disk.size.to_be_bytes());
        }
        h[FIXED_HEADER_SIZE..FIXED_HEADER_SIZE + blob_used].copy_from_slice(&blobs);
        vma::seal_header(&mut h);
        Ok(h)
    }
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

fn add_blob(blobs: &mut Vec<u8>, data: &[u8]) -> io::Result<u32> {
    let len = u16::try_from(data.len())
        .map_err(|_| invalid(format!("a {}-byte blob; at most 65535", data.len())))?;
    let ptr =
        u32::try_from(blobs.len()).map_err(|_| invalid("blob buffer too large".to_owned()))?;
    // Little-endian, unlike every other number in the format.
    blobs.extend_from_slice(&len.to_le_bytes());
    blobs.extend_from_slice(data);
    Ok(ptr)
}

fn add_string(blobs: &mut Vec<u8>, s: &str) -> io::Result<u32> {
    if s.is_empty() || s.contains('\0') {
        return Err(invalid(format!("name {s:?} is empty or has a NUL")));
    }
    let mut b = s.as_bytes().to_vec();
    b.push(0);
    add_blob(blobs, &b)
}

enum Src<'a> {
    Bytes(&'a [u8]),
    File(File),
    Zeros,
}

struct OpenDisk<'a> {
    size: u64,
    src: Src<'a>,
}

impl OpenDisk<'_> {
    /// Cluster `num` into `buf` (64 KiB), zero-padded past the end.
    fn read_cluster(&self, num: u64, buf: &mut [u8]) -> io::Result<()> {
        let at = num * CLUSTER_SIZE as u64;
        let n = (self.size - at).min(CLUSTER_SIZE as u64) as usize;
        match &self.src {
            Src::Bytes(b) => buf[..n].copy_from_slice(&b[at as usize..at as usize + n]),
            Src::File(f) => f.read_exact_at(&mut buf[..n], at)?,
            Src::Zeros => buf[..n].fill(0),
        }
        buf[n..].fill(0);
        Ok(())
    }
}

/// The extent being assembled.
struct ExtentBuf {
    uuid: [u8; 16],
    infos: Vec<BlockInfo>,
    data: Vec<u8>,
}

impl ExtentBuf {
    fn new(uuid: [u8; 16]) -> Self {
        Self {
            uuid,
            infos: Vec::with_capacity(CLUSTERS_PER_EXTENT),
            data: Vec::with_capacity(CLUSTERS_PER_EXTENT * CLUSTER_SIZE),
        }
    }

    /// Writes header and data; returns the bytes written.
    fn flush<W: Write>(&mut self, out: &mut W) -> io::Result<u64> {
        let blocks = self.data.len() / BLOCK_SIZE;
        debug_assert!(blocks <= CLUSTERS_PER_EXTENT * BLOCKS_PER_CLUSTER);
        let mut h = [0u8; EXTENT_HEADER_SIZE];
        h[0..4].copy_from_slice(&EXTENT_MAGIC);
        // ≤ 59 × 16 blocks: fits a u16.
        h[6..8].copy_from_slice(&(blocks as u16).to_be_bytes());
        h[8..24].copy_from_slice(&self.uuid);
        for (i, bi) in self.infos.iter().enumerate() {
            h[40 + 8 * i..48 + 8 * i].copy_from_slice(&bi.encode().to_be_bytes());
        }
        vma::seal_extent_header(&mut h);
        out.write_all(&h)?;
        out.write_all(&self.data)?;
        let n = (EXTENT_HEADER_SIZE + self.data.len()) as u64;
        self.infos.clear();
        self.data.clear();
        Ok(n)
    }
}

/// Byte offsets of the extents of a whole archive in memory (for tests that
/// patch extents). Stops at the first place that is not a full extent.
pub fn extent_offsets(archive: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    if archive.len() < FIXED_HEADER_SIZE {
        return out;
    }
    let mut hs = [0u8; 4];
    hs.copy_from_slice(&archive[56..60]);
    let mut at = u32::from_be_bytes(hs) as usize;
    while at + EXTENT_HEADER_SIZE <= archive.len() && archive[at..at + 4] == EXTENT_MAGIC {
        let blocks = usize::from(u16::from_be_bytes([archive[at + 6], archive[at + 7]]));
        out.push(at);
        at += EXTENT_HEADER_SIZE + blocks * BLOCK_SIZE;
    }
    out
}

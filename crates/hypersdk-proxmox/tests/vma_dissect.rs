//! Cross-check of the fixture VMA writer and our reader against an
//! independent reader, dissect.archive (Python, in `.tools/venv`, installed
//! by `scripts/lib/pypeers.sh`): both must see the same devices with the
//! same contents as the source images.

use std::path::{Path, PathBuf};
use std::process::Command;

use hypersdk_proxmox::vma::{SparseFiles, VmaReader};
use hypersdk_proxmox::vma_writer::{ClusterOrder, DiskSource, SplitMix64, VmaWriter};
use sha2::{Digest, Sha256};

const CONF: &[u8] = b"#qmdump#map:scsi0:drive-scsi0:local-lvm:raw:\n\
#qmdump#map:scsi1:drive-scsi1:local-lvm:raw:\n\
boot: order=scsi0\ncores: 2\nmemory: 2048\nname: fixture\n\
scsi0: local-lvm:vm-100-disk-0,size=6312448\nscsi1: local-lvm:vm-100-disk-1,size=3211264\n";
const FW: &[u8] = b"[OPTIONS]\nenable: 1\n";

fn sha256(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/python");
    assert!(
        p.exists(),
        "{} is missing: run scripts/lib/pypeers.sh to install the Python test peers \
         (dissect.archive)",
        p.display()
    );
    p
}

/// Zeros with a few scattered 4 KiB blocks of data, and a partial tail.
fn sparse_image() -> Vec<u8> {
    let mut d = vec![0u8; (6 << 20) + 20 * 1024 + 512];
    let mut rng = SplitMix64::new(42);
    for block in [0usize, 1, 15, 16, 400, 1001, 1505] {
        let at = block * 4096;
        let end = (at + 4096).min(d.len());
        rng.fill(&mut d[at..end]);
    }
    // The last, partial block too.
    let n = d.len();
    d[n - 100..].fill(0x5a);
    d
}

fn random_image() -> Vec<u8> {
    let mut d = vec![0u8; (3 << 20) + 64 * 1024];
    SplitMix64::new(7).fill(&mut d);
    d
}

#[derive(Debug, PartialEq, Eq, serde::Deserialize)]
struct PyConfig {
    name: String,
    len: usize,
    sha256: String,
}

#[derive(Debug, PartialEq, Eq, serde::Deserialize)]
struct PyDevice {
    id: u8,
    name: String,
    size: u64,
    read: u64,
    sha256: String,
}

#[derive(Debug, serde::Deserialize)]
struct PyReport {
    uuid: String,
    configs: Vec<PyConfig>,
    devices: Vec<PyDevice>,
}

fn check(order: ClusterOrder) {
    let python = python();
    let dir = tempfile::tempdir().expect("tempdir");
    let images = [
        ("drive-scsi0", sparse_image()),
        ("drive-scsi1", random_image()),
    ];
    let mut writer = VmaWriter::new()
        .config("qemu-server.conf", CONF.to_vec())
        .config("qemu-server.fw", FW.to_vec())
        .order(order)
        .clusters_per_extent(58);
    for (name, data) in &images {
        let path = dir.path().join(format!("{name}.raw"));
        std::fs::write(&path, data).expect("write image");
        writer = writer.disk(*name, DiskSource::File(path));
    }
    let vma = dir.path().join("fixture.vma");
    let file = std::fs::File::create(&vma).expect("create");
    writer
        .write_to(std::io::BufWriter::new(file))
        .expect("write vma");

    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/peers/vma_check.py");
    let out = Command::new(&python)
        .arg(&script)
        .arg(&vma)
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "dissect.archive failed on the fixture ({order:?}): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: PyReport = serde_json::from_slice(&out.stdout).expect("python's JSON");

    let expected_devices: Vec<PyDevice> = images
        .iter()
        .enumerate()
        .map(|(i, (name, data))| PyDevice {
            id: (i + 1) as u8,
            name: (*name).to_owned(),
            size: data.len() as u64,
            read: data.len() as u64,
            sha256: sha256(data),
        })
        .collect();
    assert_eq!(
        report.devices, expected_devices,
        "dissect.archive's view ({order:?})"
    );
    let expected_configs = vec![
        PyConfig {
            name: "qemu-server.conf".into(),
            len: CONF.len(),
            sha256: sha256(CONF),
        },
        PyConfig {
            name: "qemu-server.fw".into(),
            len: FW.len(),
            sha256: sha256(FW),
        },
    ];
    assert_eq!(report.configs, expected_configs);

    // Our reader, on the same file.
    let reader = VmaReader::new(std::fs::File::open(&vma).expect("open")).expect("header");
    assert_eq!(reader.header().uuid_string(), report.uuid);
    assert_eq!(reader.header().config("qemu-server.conf"), Some(CONF));
    let out_dir = dir.path().join("restored");
    std::fs::create_dir(&out_dir).expect("mkdir");
    let mut files = SparseFiles::create(&out_dir, &reader.header().devices).expect("files");
    let summary = reader.read_to(&mut files).expect("our reader");
    assert_eq!(
        summary.bytes_read,
        std::fs::metadata(&vma).expect("meta").len()
    );
    for (id, path) in files.paths() {
        let got = std::fs::read(&path).expect("restored image");
        let want = &expected_devices[usize::from(id) - 1];
        assert_eq!(got.len() as u64, want.size);
        assert_eq!(
            sha256(&got),
            want.sha256,
            "our reader, device {id} ({order:?})"
        );
    }
}

#[test]
fn dissect_reads_shuffled_fixture() {
    check(ClusterOrder::Shuffled { seed: 2026 });
}

#[test]
fn dissect_reads_interleaved_fixture() {
    check(ClusterOrder::Interleaved);
}

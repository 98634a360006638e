//! `hyperctl ova` end to end on real files: the package it creates verifies
//! and inspects to what was asked, and one flipped byte makes verify fail.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn hyperctl(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hyperctl"))
        .args(args)
        // No database is needed: point the data dir somewhere that would
        // fail if it were touched.
        .env("HYPERSDK_DATA_DIR", "/nonexistent/hyperctl-ova-test")
        .output()
        .expect("run hyperctl")
}

fn make_disk(path: &Path) {
    // A raw image with non-zero data in it, so digests mean something.
    let mut bytes = vec![0u8; 4 * 1024 * 1024];
    for (i, b) in bytes.iter_mut().enumerate().step_by(4096) {
        *b = (i / 4096) as u8 ^ 0x5a;
    }
    std::fs::write(path, bytes).expect("write disk");
}

#[test]
fn create_verify_inspect_and_detect_tampering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let disk = dir.path().join("web01.raw");
    make_disk(&disk);
    let out = dir.path().join("web01.ova");
    let created = hyperctl(&[
        "ova",
        "create",
        "--name",
        "web01",
        "--cpus",
        "2",
        "--memory",
        "2048",
        "--firmware",
        "efi",
        "--nic",
        "VM Network",
        disk.to_str().expect("utf8"),
        "-o",
        out.to_str().expect("utf8"),
        "--disk-format",
        "vmdk",
        "--manifest",
        "sha256",
    ]);
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    assert!(out.is_file());

    let verified = hyperctl(&["ova", "verify", out.to_str().expect("utf8")]);
    assert!(
        verified.status.success(),
        "{}",
        String::from_utf8_lossy(&verified.stderr)
    );
    // It says which image checks ran on the disk, not only that the digests match.
    let said = String::from_utf8_lossy(&verified.stdout);
    for check in [
        "ok    format header",
        "ok    grain directory and tables point inside the file",
        "ok    virtual size matches the descriptor",
        "ok    qemu-img check",
    ] {
        assert!(said.contains(check), "{check:?} missing from:\n{said}");
    }
    let json = hyperctl(&["ova", "verify", out.to_str().expect("utf8"), "--json"]);
    let v: Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(v["disks"][0]["checks"][3]["result"], "passed", "{v}");

    let inspected = hyperctl(&["ova", "inspect", out.to_str().expect("utf8"), "--json"]);
    assert!(
        inspected.status.success(),
        "{}",
        String::from_utf8_lossy(&inspected.stderr)
    );
    let v: Value = serde_json::from_slice(&inspected.stdout).expect("json");
    let text = v.to_string();
    assert!(text.contains("web01") && text.contains("2048"), "{text}");
    // The table names the controller as people do, with no Rust debug text.
    let table = hyperctl(&["ova", "inspect", out.to_str().expect("utf8")]);
    let table = String::from_utf8_lossy(&table.stdout);
    let disk_line = table
        .lines()
        .find(|l| l.contains("capacity"))
        .unwrap_or_else(|| panic!("no disk line in {table}"));
    assert!(
        disk_line.ends_with("(SATA)")
            || disk_line.contains("(SCSI")
            || disk_line.ends_with("(IDE)"),
        "{disk_line}"
    );
    assert!(!table.contains('{'), "{table}");

    // Flip one byte in the middle of the archive (inside the disk member).
    let mut bytes = std::fs::read(&out).expect("read ova");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&out, bytes).expect("write tampered");
    let tampered = hyperctl(&["ova", "verify", out.to_str().expect("utf8")]);
    assert!(!tampered.status.success());
    let stderr = String::from_utf8_lossy(&tampered.stderr);
    assert!(
        stderr.starts_with("hyperctl: error:") && stderr.lines().count() == 1,
        "{stderr}"
    );
}

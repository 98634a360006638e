//! What every `hyperctl` test needs: run the real binary against a data dir, and read its
//! outcome the way a user would.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub fn hyperctl(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hyperctl"))
        .args(args)
        .env("HYPERSDK_DATA_DIR", data_dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hyperctl");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("hyperctl output")
}

pub fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "hyperctl failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Fails with exactly one line on stderr and returns it.
pub fn fails(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected failure: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one-line error expected, got: {stderr}");
    lines[0].to_owned()
}

/// Runs a judging tool (qemu-img, tar, …) and fails the test with its output if it fails.
/// Runs a tool that must succeed; returns its output.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run tool");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `hyperctl --json jobs list`, newest first.
pub fn jobs(data: &Path) -> Vec<serde_json::Value> {
    let out = ok(&hyperctl(data, &["--json", "jobs", "list"], None));
    serde_json::from_str::<serde_json::Value>(&out)
        .expect("jobs json")
        .as_array()
        .cloned()
        .expect("array")
}

/// What virt-v2v, an independent importer, reads of an OVA (`-i ova --print-source`).
pub fn virt_v2v_print_source(ova: &Path) -> String {
    let v2v = Command::new("virt-v2v")
        .args(["-i", "ova"])
        .arg(ova)
        .arg("--print-source")
        .env("LIBGUESTFS_BACKEND", "direct")
        .output()
        .expect("virt-v2v");
    assert!(
        v2v.status.success(),
        "virt-v2v: {}",
        String::from_utf8_lossy(&v2v.stderr)
    );
    String::from_utf8_lossy(&v2v.stdout).into_owned()
}

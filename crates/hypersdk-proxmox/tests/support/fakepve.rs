//! Test peer: fakepve (PyPI, pinned in `scripts/lib/peers-requirements.txt`)
//! run in-process by `tests/peers/fakepve_harness.py` on 127.0.0.1 over
//! HTTPS with a self-signed certificate, stopped when the handle drops.
//!
//! Tests fail (they do not skip) when the venv is missing, naming the script
//! that makes it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};

use serde_json::{Value, json};

pub const TOKEN_ID: &str = "ci@pve!export";
pub const TOKEN_SECRET: &str = "5e0c8b8e-2f5a-4c39-9a57-0c1f2d3e4f50";

pub fn python() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/venv/bin/python");
    assert!(
        path.is_file(),
        "{} is missing: these tests run against fakepve. Create the venv with \
         `bash scripts/lib/pypeers.sh` from the repository root, then run the tests again.",
        path.display()
    );
    path
}

pub struct FakePve {
    child: Child,
    /// Held open: the harness exits when it closes (the test process died).
    _stdin: ChildStdin,
    _scenario: tempfile::NamedTempFile,
    /// `https://127.0.0.1:PORT` (what a user types as the endpoint).
    pub endpoint: String,
    /// SHA-256 of the certificate's DER, lower-case hex.
    pub fingerprint: String,
}

impl FakePve {
    /// A two-node cluster "lab" with QEMU VMs (one in a pool, tagged), a
    /// container and the test token granted `VM.Audit` on `/vms`.
    pub fn lab() -> FakePve {
        FakePve::start(lab_scenario())
    }

    pub fn start(scenario: Value) -> FakePve {
        let mut file = tempfile::NamedTempFile::new().expect("scenario file");
        file.write_all(scenario.to_string().as_bytes())
            .expect("write scenario");
        let harness =
            // Relative to crates/: this file is shared with the hyperctl tests.
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../hypersdk-proxmox/tests/peers/fakepve_harness.py");
        let mut child = Command::new(python())
            .arg(&harness)
            .arg(file.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(if std::env::var_os("FAKEPVE_STDERR").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .expect("start the fakepve harness");
        let stdin = child.stdin.take().expect("harness stdin");
        let stdout = child.stdout.take().expect("harness stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the harness's first line");
        let ready: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| {
            panic!(
                "fakepve harness did not start (printed {line:?}: {e}); run with FAKEPVE_STDERR=1"
            )
        });
        let url = ready["url"].as_str().expect("url").to_owned();
        FakePve {
            child,
            _stdin: stdin,
            _scenario: file,
            endpoint: url.trim_end_matches('/').to_owned(),
            fingerprint: ready["fingerprint"]
                .as_str()
                .expect("fingerprint")
                .to_owned(),
        }
    }

    /// A raw GET with the test token through curl-free reqwest (no pinning:
    /// the test's independent view of what fakepve serves).
    pub async fn raw_get(&self, path: &str) -> Value {
        let client = reqwest::Client::builder()
            .danger_accept_invalid_certs(true)
            .build()
            .expect("client");
        client
            .get(format!("{}/api2/json{path}", self.endpoint))
            .header(
                "Authorization",
                format!("PVEAPIToken={TOKEN_ID}={TOKEN_SECRET}"),
            )
            .send()
            .await
            .expect("raw GET")
            .json::<Value>()
            .await
            .expect("JSON")["data"]
            .clone()
    }
}

impl Drop for FakePve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn lab_scenario() -> Value {
    json!({
        "nodes": ["pve1", "pve2"],
        "cluster_name": "lab",
        "guests": [
            {"vmid": 100, "name": "web01", "node": "pve1", "status": "running", "pool": "prod",
             "config": {"cores": 2, "sockets": 2, "memory": "4096", "ostype": "l26",
                        "bios": "ovmf", "scsihw": "virtio-scsi-single",
                        "scsi0": "local-lvm:vm-100-disk-0,size=32G",
                        "scsi1": "ceph-ssd:vm-100-disk-1,size=4G",
                        "ide2": "local:iso/debian.iso,media=cdrom",
                        "net0": "virtio=BC:24:11:AA:00:01,bridge=vmbr0",
                        "tags": "prod;web"}},
            {"vmid": 101, "name": "db01", "node": "pve2", "status": "stopped",
             "config": {"cores": 4, "sockets": 1, "memory": "8192", "ostype": "win11",
                        "sata0": "local-lvm:vm-101-disk-0,size=64G",
                        "net0": "e1000=BC:24:11:AA:00:02,bridge=vmbr1",
                        "net1": "virtio=BC:24:11:AA:00:03,bridge=vmbr0"}},
            {"vmid": 102, "name": "web01", "node": "pve2", "status": "running",
             "config": {"cores": 1, "memory": "1024", "ostype": "l26",
                        "virtio0": "local-lvm:vm-102-disk-0,size=8G"}},
            {"vmid": 200, "name": "dns", "node": "pve1", "status": "running", "type": "lxc",
             "config": {"cores": 1, "memory": 512, "hostname": "dns"}},
        ],
        "tokens": {TOKEN_ID: TOKEN_SECRET},
        "users": {"ops@pve": "ops-password"},
        "grants": [[TOKEN_ID, "/", "VM.Audit", "Sys.Audit"], ["ops@pve", "/", "VM.Audit", "Sys.Audit"]],
    })
}

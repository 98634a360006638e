//! The vSphere journey from a terminal, against a real govmomi vcsim: connect with a pinned
//! certificate, list VMs, export over NFC, and judge the result with independent tools
//! (`hyperctl ova verify`, `qemu-img compare`, `virt-v2v`, govc for the server side).
//!
//! vcsim differs from vCenter in ways the tests work around, each written where it matters:
//! - its NFC URL serves the VM's datastore file as-is (vCenter generates a streamOptimized
//!   VMDK from the snapshot), so a real streamOptimized VMDK is uploaded over the VM's disk
//!   first (`govc datastore.upload`, i.e. the `/folder` PUT);
//! - a restarted vcsim has a new certificate and an empty state, so "the server came back"
//!   means: same inventory, new pin, disk uploaded again.

mod common;
#[path = "../../hypersdk-vsphere/tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{hyperctl, jobs, ok, run, virt_v2v_print_source};
use serde_json::Value;
use support::Vcsim;

const VM: &str = "DC0_H0_VM0";
const VM_PATH: &str = "/DC0/vm/DC0_H0_VM0";

/// A raw image of the VM disk's capacity with `random_mib` of random data at its start and a
/// marker near its end, converted to the streamOptimized VMDK vCenter would serve, and put in
/// place of the VM's disk on vcsim's datastore. Returns the raw image (the judge's reference).
fn give_vm_a_real_disk(sim: &Vcsim, dir: &Path, random_mib: u64) -> PathBuf {
    let info: Value =
        serde_json::from_str(&sim.govc(&["device.info", "-vm", VM, "-json", "disk-*"]))
            .expect("govc device.info json");
    let devices = info
        .get("devices")
        .or_else(|| info.get("Devices"))
        .and_then(Value::as_array)
        .expect("devices");
    let disk = &devices[0];
    let capacity = disk["capacityInBytes"].as_u64().expect("capacity");
    let file = disk["backing"]["fileName"].as_str().expect("backing file");
    // "[LocalDS_0] DC0_H0_VM0/disk1.vmdk"
    let (ds, path) = file
        .trim_start_matches('[')
        .split_once("] ")
        .expect("datastore path");
    let raw = dir.join("source.raw");
    run(Command::new("dd")
        .arg("if=/dev/urandom")
        .arg(format!("of={}", raw.display()))
        .arg("bs=1M")
        .arg(format!("count={random_mib}"))
        .arg("status=none"));
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&raw)
            .expect("open raw");
        f.seek(SeekFrom::Start(capacity - 4096)).expect("seek");
        f.write_all(b"end-of-disk marker").expect("marker");
        f.set_len(capacity).expect("size");
    }
    let vmdk = dir.join("source.vmdk");
    run(Command::new("qemu-img")
        .args([
            "convert",
            "-f",
            "raw",
            "-O",
            "vmdk",
            "-o",
            "subformat=streamOptimized",
        ])
        .arg(&raw)
        .arg(&vmdk));
    sim.govc(&[
        "datastore.upload",
        "-ds",
        ds,
        vmdk.to_str().expect("utf-8 path"),
        path,
    ]);
    raw
}

fn add_connection(data: &Path, sim: &Vcsim) {
    ok(&hyperctl(
        data,
        &[
            "connection",
            "add",
            "--kind",
            "vsphere",
            "--name",
            "vc",
            "--endpoint",
            &sim.endpoint,
            "--username",
            &sim.username,
            "--password-stdin",
            "--pin-fingerprint",
            &sim.fingerprint(),
        ],
        Some(&format!("{}\n", sim.password)),
    ));
}

/// `hyperctl export` of the VM into `out_dir`, waiting for the job.
fn export(data: &Path, out_dir: &Path) -> std::process::Output {
    hyperctl(
        data,
        &[
            "export",
            "--connection",
            "vc",
            "--vm",
            VM_PATH,
            "-o",
            out_dir.to_str().expect("utf-8"),
        ],
        None,
    )
}

/// Every name in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .expect("list")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn snapshots(sim: &Vcsim) -> String {
    // `snapshot.tree` prints nothing for a VM without snapshots.
    sim.govc(&["snapshot.tree", "-vm", VM, "-D", "-i"])
        .trim()
        .to_owned()
}

/// The one member of `ova` ending in `.vmdk`, extracted into `dir`.
fn extract_disk(ova: &Path, dir: &Path) -> PathBuf {
    run(Command::new("tar").arg("-xf").arg(ova).arg("-C").arg(dir));
    std::fs::read_dir(dir)
        .expect("list")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "vmdk"))
        .expect("a .vmdk in the OVA")
}

#[test]
fn list_then_export_a_vm_that_passes_every_independent_check() {
    let sim = Vcsim::start(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let raw = give_vm_a_real_disk(&sim, tmp.path(), 16);
    add_connection(&data, &sim);

    // `vms list --json`: the fields scripts rely on, and exactly govc's VMs.
    let listed: Value = serde_json::from_str(&ok(&hyperctl(
        &data,
        &["--json", "vms", "list", "--connection", "vc"],
        None,
    )))
    .expect("vms json");
    let listed = listed.as_array().expect("array");
    let mut paths: Vec<&str> = listed
        .iter()
        .map(|v| v["path"].as_str().expect("path"))
        .collect();
    paths.sort_unstable();
    let govc = sim.govc(&["find", "/", "-type", "m"]);
    let mut expected: Vec<&str> = govc
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    expected.sort_unstable();
    assert_eq!(paths, expected);
    for key in [
        "id",
        "name",
        "path",
        "power_state",
        "guest_os",
        "cpus",
        "memory_mib",
        "disks",
        "disk_capacity_bytes",
        "disk_used_bytes",
        "storage",
    ] {
        assert!(
            listed[0].get(key).is_some(),
            "{key} missing in {}",
            listed[0]
        );
    }
    // vcsim's storage summary: committed is the VM's files as stored (here the uploaded
    // VMDK), uncommitted what its disks may still grow by; vCenter adds them up as we do.
    for vm in listed {
        let (size, used) = (
            vm["disk_capacity_bytes"].as_u64().expect("size"),
            vm["disk_used_bytes"].as_u64().expect("used"),
        );
        assert!(size >= used && size > 0, "{vm}");
        // vcsim puts every VM on its one datastore.
        assert_eq!(vm["storage"], serde_json::json!(["LocalDS_0"]), "{vm}");
    }
    let filtered = ok(&hyperctl(
        &data,
        &["vms", "list", "--connection", "vc", "--filter", "h0_vm0"],
        None,
    ));
    assert!(
        filtered.contains(VM) && !filtered.contains("DC0_H0_VM1"),
        "{filtered}"
    );

    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).expect("out dir");
    ok(&export(&data, &out_dir));
    let ova = out_dir.join(format!("{VM}.ova"));
    let verify = ok(&hyperctl(
        &data,
        &["ova", "verify", ova.to_str().expect("utf-8")],
        None,
    ));
    assert!(verify.starts_with("OK"), "{verify}");
    let leftovers: Vec<_> = std::fs::read_dir(&out_dir)
        .expect("list out")
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "only the OVA remains: {leftovers:?}");

    // The disk inside is the source image, byte for byte as a guest sees it.
    let unpacked = tmp.path().join("unpacked");
    std::fs::create_dir(&unpacked).expect("unpacked");
    let vmdk = extract_disk(&ova, &unpacked);
    run(Command::new("qemu-img")
        .args(["compare", "-f", "raw", "-F", "vmdk"])
        .arg(&raw)
        .arg(&vmdk));
    // An importer reads it: virt-v2v parses the OVA's descriptor and disks.
    assert!(virt_v2v_print_source(&ova).contains(VM));

    // The server is left as it was: no snapshot; the job says what it produced.
    assert_eq!(snapshots(&sim), "", "export snapshot removed");
    let job = jobs(&data).into_iter().next().expect("a job");
    assert_eq!(job["state"], "succeeded", "{job}");
    assert_eq!(job["result"]["verified"], true, "{job}");
    assert_eq!(job["result"]["path"], ova.to_str().expect("utf-8"));
    // "Verified" includes the disk read as an image; every check ran here.
    let checks = job["result"]["disk_checks"]
        .as_array()
        .expect("disk_checks");
    assert!(
        checks.iter().any(|c| c["check"] == "qemu-img check"),
        "{job}"
    );
    assert!(checks.iter().all(|c| c["skipped"].is_null()), "{job}");
    // Its event log tells each step, in order, enough to troubleshoot without the log files.
    let shown: Value = serde_json::from_str(&ok(&hyperctl(
        &data,
        &["--json", "jobs", "show", job["id"].as_str().expect("id")],
        None,
    )))
    .expect("jobs show json");
    let log: Vec<&str> = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["message"].as_str().expect("message"))
        .collect();
    let at = |prefix: &str| {
        log.iter()
            .position(|m| m.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} step in {log:#?}"))
    };
    let order = [
        at("started"),
        at("snapshot \"hypersdk-export-"),
        at("export lease "),
        at("the server is ready: 1 disk to read"),
        at("disk 1 ("),
        at("disk 1 written as DC0_H0_VM0-disk1.vmdk: "),
        at(&format!(
            "{} written in ",
            shown["job"]["result"]["bytes"]
                .as_u64()
                .map(|b| format!("{:.1} MiB", b as f64 / 1048576.0))
                .expect("bytes")
        )),
        at("verified: descriptor first, 3 files match their SHA256 digests, 4 disk checks passed"),
        log.iter()
            .position(|m| m.starts_with("export lease ") && m.ends_with(" removed"))
            .unwrap_or_else(|| panic!("no lease completed / snapshot removed step in {log:#?}")),
        at("exported "),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{log:#?}");
    // Each disk's line says how fast it was read, for troubleshooting one slow disk.
    let disk_line = log[order[5]];
    assert!(
        disk_line.contains(" read in ") && disk_line.ends_with("/s"),
        "{disk_line}"
    );
}

#[test]
fn a_vm_whose_disk_is_only_a_descriptor_fails_the_job_naming_the_disk() {
    // vcsim's own VM disks are the 200-byte text descriptor a VMDK starts as, with no data
    // extent: what the issue saw exported as a "Verified" 7.5 KiB OVA. It must fail.
    let sim = Vcsim::start(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    add_connection(&data, &sim);
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).expect("out dir");
    let out = export(&data, &out_dir);
    assert!(!out.status.success(), "the export must fail");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("is not a usable image") && stderr.contains("VMDK text descriptor"),
        "{stderr}"
    );
    let job = jobs(&data).into_iter().next().expect("a job");
    assert_eq!(job["state"], "failed", "{job}");
    assert_eq!(job["error"]["code"], "disk_image_invalid", "{job}");
    assert!(
        !out_dir.join(format!("{VM}.ova")).exists(),
        "nothing presented as done"
    );
    assert_eq!(snapshots(&sim), "", "export snapshot removed");
}

/// Waits until the export job has written some bytes (or fails the test if it ended first).
fn wait_for_bytes(data: &Path, child: &mut std::process::Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(
            Instant::now() < deadline,
            "the export never started writing"
        );
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the export ended ({status}) before it could be interrupted");
        }
        if let Some(job) = jobs(data).into_iter().next()
            && job["progress"]["bytes_done"]
                .as_u64()
                .is_some_and(|b| b > 0)
        {
            return job["id"].as_str().expect("id").to_owned();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits until the export job runs (or fails the test if it ended first).
fn wait_for_running(data: &Path, child: &mut std::process::Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "the export never started");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the export ended ({status}) before it could be interrupted");
        }
        if let Some(job) = jobs(data).into_iter().next()
            && job["state"] == "running"
        {
            return job["id"].as_str().expect("id").to_owned();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn spawn_export(data: &Path, out_dir: &Path) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_hyperctl"))
        .args(["export", "--connection", "vc", "--vm", VM_PATH, "-o"])
        .arg(out_dir)
        .env("HYPERSDK_DATA_DIR", data)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hyperctl export")
}

#[test]
fn cancelling_mid_export_releases_the_server_and_leaves_no_final_file() {
    let sim = Vcsim::start(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    // Random data does not compress: the VMDK is as large as this, so the download takes long
    // enough to be interrupted mid-way.
    give_vm_a_real_disk(&sim, tmp.path(), 384);
    add_connection(&data, &sim);
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).expect("out dir");

    let mut child = spawn_export(&data, &out_dir);
    // Not `wait_for_bytes`: progress reaches the database once a second, and on a fast run the
    // whole download can end within two of them. Once the job runs, its snapshot, lease or
    // download is under way, and each must be undone by the cancel.
    let id = wait_for_running(&data, &mut child);
    std::thread::sleep(Duration::from_millis(300));
    // Ctrl-C, as a user would.
    run(Command::new("kill").args(["-INT", &child.id().to_string()]));
    let out = child.wait_with_output().expect("export output");
    assert!(!out.status.success(), "a cancelled export exits non-zero");
    let job = jobs(&data)
        .into_iter()
        .find(|j| j["id"] == id.as_str())
        .expect("job");
    assert_eq!(job["state"], "cancelled", "{job}");
    assert!(
        !out_dir.join(format!("{VM}.ova")).exists(),
        "no final file after a cancel"
    );
    assert_eq!(
        names_in(&out_dir),
        Vec::<String>::new(),
        "no .part file or .part.d folder after a cancel"
    );
    assert_eq!(snapshots(&sim), "", "snapshot removed after the cancel");
}

#[test]
fn a_server_lost_mid_export_fails_the_job_and_a_retry_completes_it() {
    let sim = Vcsim::start(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let work = tmp.path().join("img1");
    std::fs::create_dir(&work).expect("img dir");
    give_vm_a_real_disk(&sim, &work, 384);
    add_connection(&data, &sim);
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).expect("out dir");

    let mut child = spawn_export(&data, &out_dir);
    let id = wait_for_bytes(&data, &mut child);
    drop(sim); // kills vcsim mid-download
    let out = child.wait_with_output().expect("export output");
    assert!(!out.status.success());
    let failed = jobs(&data)
        .into_iter()
        .find(|j| j["id"] == id.as_str())
        .expect("job");
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["error"]["retryable"], true, "{failed}");
    assert!(!out_dir.join(format!("{VM}.ova")).exists());
    // A retry reads a new snapshot and cannot resume: nothing partial is kept.
    assert_eq!(names_in(&out_dir), Vec::<String>::new());

    // The server comes back (vcsim: new certificate, state rebuilt, disk uploaded again).
    let sim = Vcsim::start(&[]);
    let work = tmp.path().join("img2");
    std::fs::create_dir(&work).expect("img dir");
    let raw = give_vm_a_real_disk(&sim, &work, 8);
    ok(&hyperctl(
        &data,
        &[
            "connection",
            "edit",
            "vc",
            "--endpoint",
            &sim.endpoint,
            "--pin-fingerprint",
            &sim.fingerprint(),
        ],
        None,
    ));
    ok(&hyperctl(&data, &["jobs", "retry", &id], None));
    let ova = out_dir.join(format!("{VM}.ova"));
    ok(&hyperctl(
        &data,
        &["ova", "verify", ova.to_str().expect("utf-8")],
        None,
    ));
    let unpacked = tmp.path().join("unpacked");
    std::fs::create_dir(&unpacked).expect("unpacked");
    let vmdk = extract_disk(&ova, &unpacked);
    run(Command::new("qemu-img")
        .args(["compare", "-f", "raw", "-F", "vmdk"])
        .arg(&raw)
        .arg(&vmdk));
    assert_eq!(snapshots(&sim), "");
}

#[test]
fn a_killed_export_is_interrupted_its_snapshot_removed_and_its_retry_verifies() {
    let sim = Vcsim::start(&[]);
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let raw = give_vm_a_real_disk(&sim, tmp.path(), 384);
    add_connection(&data, &sim);
    let out_dir = tmp.path().join("out");
    std::fs::create_dir(&out_dir).expect("out dir");

    let mut child = spawn_export(&data, &out_dir);
    let id = wait_for_bytes(&data, &mut child);
    child.kill().expect("SIGKILL hyperctl");
    let _ = child.wait();
    assert!(
        snapshots(&sim).contains("hypersdk-export-"),
        "the killed process left its snapshot: {}",
        snapshots(&sim)
    );
    // The next process sees the job's owner gone: interrupted, never running or succeeded.
    let job = jobs(&data)
        .into_iter()
        .find(|j| j["id"] == id.as_str())
        .expect("job");
    assert_eq!(job["state"], "interrupted", "{job}");
    assert!(!out_dir.join(format!("{VM}.ova")).exists());

    ok(&hyperctl(&data, &["jobs", "retry", &id], None));
    let ova = out_dir.join(format!("{VM}.ova"));
    ok(&hyperctl(
        &data,
        &["ova", "verify", ova.to_str().expect("utf-8")],
        None,
    ));
    let unpacked = tmp.path().join("unpacked");
    std::fs::create_dir(&unpacked).expect("unpacked");
    let vmdk = extract_disk(&ova, &unpacked);
    run(Command::new("qemu-img")
        .args(["compare", "-f", "raw", "-F", "vmdk"])
        .arg(&raw)
        .arg(&vmdk));
    // Both the crashed run's snapshot (found by name) and the retry's are gone, and of the
    // crashed run's partial files nothing is left beside the OVA.
    assert_eq!(snapshots(&sim), "");
    assert_eq!(names_in(&out_dir), vec![format!("{VM}.ova")]);
}

//! virt-v2v (apt `virt-v2v nbdkit libnbd-bin`) as an independent judge of our OVAs.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::*;
use hypersdk_ovf::*;

fn print_source(ova: &std::path::Path) -> std::process::Output {
    Command::new("virt-v2v")
        .env("LIBGUESTFS_BACKEND", "direct")
        .env("LIBGUESTFS_BACKEND_SETTINGS", "force_tcg")
        .args(["-i", "ova"])
        .arg(ova)
        .arg("--print-source")
        .output()
        .unwrap()
}

#[tokio::test]
async fn virt_v2v_reads_our_ova_and_rejects_a_tampered_one() {
    if Command::new("virt-v2v").arg("--version").output().is_err() {
        unavailable(
            "virt-v2v is not installed (apt-get install -y --no-install-recommends virt-v2v nbdkit libnbd-bin)",
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let src = qcow2_with_data(dir.path(), "src.qcow2", "32M");
    let src2 = qcow2_with_data(dir.path(), "src2.qcow2", "48M");
    let dest = dir.path().join("v2v.ova");
    let mut vm = base_vm("v2v guest");
    vm.cpus = 3;
    vm.memory_mib = 1536;
    vm.firmware = Firmware::Efi;
    let mut d1 = ExportDisk::local(&src);
    d1.convert_to = Some(DiskFormat::VmdkStreamOptimized);
    let mut d2 = ExportDisk::local(&src2);
    d2.convert_to = Some(DiskFormat::VmdkStreamOptimized);
    d2.controller = Controller::Scsi {
        subtype: "lsilogic".into(),
    };
    export(
        request(vm, vec![d1, d2], &dest, PackageFormat::Ova),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap();

    let out = print_source(&dest);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("source name: v2v guest"), "{text}");
    assert!(text.contains("nr vCPUs: 3"), "{text}");
    assert!(
        text.contains(&format!("memory: {} (bytes)", 1536u64 << 20)),
        "{text}"
    );
    assert!(text.contains("firmware: uefi"), "{text}");
    assert!(
        text.contains("0 [sata]") && text.contains("1 [scsi]"),
        "{text}"
    );
    assert!(text.contains("\"VM Network\""), "{text}");

    // One flipped byte in a disk member: virt-v2v's manifest check and ours both refuse.
    let layout = tar_layout(&dest);
    let (_, off, size) = layout
        .iter()
        .find(|(n, _, _)| n.ends_with(".vmdk"))
        .unwrap()
        .clone();
    flip_byte(&dest, off + size / 2);
    let out = print_source(&dest);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "virt-v2v accepted a tampered OVA:\n{text}"
    );
    assert!(
        text.to_lowercase().contains("checksum") || text.contains(".mf"),
        "{text}"
    );
    assert_eq!(verify(&dest).await.unwrap_err().code(), "digest_mismatch");
}

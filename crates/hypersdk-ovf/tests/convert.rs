//! Disk conversion through qemu-img, judged by `qemu-img info/check/compare`.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::Command;

use common::*;
use hypersdk_ovf::*;

fn qemu_info(path: &std::path::Path, fmt: &str) -> serde_json::Value {
    let out = run_ok(
        Command::new("qemu-img")
            .args(["info", "--output=json", "-f", fmt])
            .arg(path),
    );
    serde_json::from_str(&out).unwrap()
}

#[tokio::test]
async fn every_target_format_converts_and_compares_equal() {
    let dir = tempfile::tempdir().unwrap();
    let src = qcow2_with_data(dir.path(), "src.qcow2", "64M");
    let cases: [(&str, DiskFormat, &str, bool); 6] = [
        ("vmdk", DiskFormat::VmdkStreamOptimized, "vmdk", true),
        ("qcow2", DiskFormat::Qcow2, "qcow2", true),
        ("vhd", DiskFormat::Vhd, "vpc", false),
        ("vhdx", DiskFormat::Vhdx, "vhdx", true),
        ("vdi", DiskFormat::Vdi, "vdi", true),
        ("raw", DiskFormat::Raw, "raw", false),
    ];
    for (name, target, qfmt, checkable) in cases {
        let dest = dir.path().join(format!("{name}.ova"));
        let mut disk = ExportDisk::local(&src);
        disk.name = format!("disk-{name}");
        disk.convert_to = Some(target.clone());
        let out = export(
            request(base_vm(name), vec![disk], &dest, PackageFormat::Ova),
            None,
            CancellationToken::new(),
        )
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.vm.disks[0].format, target);
        assert_eq!(out.vm.disks[0].capacity_bytes, 64 << 20, "{name}");
        let x = dir.path().join(format!("x-{name}"));
        untar(&dest, &x);
        let member = x.join(&out.vm.disks[0].href);
        let info = qemu_info(&member, qfmt);
        assert_eq!(info["format"], qfmt, "{name}: {info}");
        assert_eq!(info["virtual-size"], 64 << 20, "{name}: {info}");
        if target == DiskFormat::VmdkStreamOptimized {
            assert_eq!(
                info["format-specific"]["data"]["create-type"], "streamOptimized",
                "{info}"
            );
        }
        if checkable {
            run_ok(
                Command::new("qemu-img")
                    .args(["check", "-f", qfmt])
                    .arg(&member),
            );
        }
        run_ok(
            Command::new("qemu-img")
                .args(["compare", "-f", "qcow2", "-F", qfmt])
                .arg(&src)
                .arg(&member),
        );
        let ins = inspect(&dest).await.unwrap();
        assert_eq!(ins.vm.disks[0].format, target, "{name}");
        verify(&dest).await.unwrap();
    }
}

#[tokio::test]
async fn fixed_vhd_and_source_already_in_target_format() {
    let dir = tempfile::tempdir().unwrap();
    let src = qcow2_with_data(dir.path(), "src.qcow2", "32M");
    let dest = dir.path().join("fixed.ova");
    let mut disk = ExportDisk::local(&src);
    disk.convert_to = Some(DiskFormat::Vhd);
    let mut req = request(base_vm("f"), vec![disk], &dest, PackageFormat::Ovf);
    req.options.vhd = VhdKind::Fixed;
    let out = export(req, None, CancellationToken::new()).await.unwrap();
    let member = dest.join(&out.vm.disks[0].href);
    let info = qemu_info(&member, "vpc");
    assert_eq!(info["virtual-size"], 32 << 20);
    // A fixed VHD is the raw data plus a 512-byte footer.
    assert_eq!(std::fs::metadata(&member).unwrap().len(), (32 << 20) + 512);
    run_ok(
        Command::new("qemu-img")
            .args(["compare", "-f", "qcow2", "-F", "vpc"])
            .arg(&src)
            .arg(&member),
    );

    // qcow2 → qcow2: no conversion, the bytes are packaged as they are.
    let dest2 = dir.path().join("same.ova");
    let mut disk = ExportDisk::local(&src);
    disk.convert_to = Some(DiskFormat::Qcow2);
    let out = export(
        request(base_vm("s"), vec![disk], &dest2, PackageFormat::Ovf),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        std::fs::read(dest2.join(&out.vm.disks[0].href)).unwrap(),
        std::fs::read(&src).unwrap()
    );
}

#[tokio::test]
async fn detection_without_conversion_uses_qemu_img_info() {
    let dir = tempfile::tempdir().unwrap();
    let src = qcow2_with_data(dir.path(), "d.qcow2", "48M");
    let dest = dir.path().join("d.ova");
    let out = export(
        request(
            base_vm("d"),
            vec![ExportDisk::local(&src)],
            &dest,
            PackageFormat::Ova,
        ),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.vm.disks[0].format, DiskFormat::Qcow2);
    assert_eq!(out.vm.disks[0].capacity_bytes, 48 << 20);
    let info = QemuImg::default()
        .info(&src, None, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(info.disk_format(), DiskFormat::Qcow2);
}

#[tokio::test]
async fn missing_qemu_img_has_a_clear_code() {
    let dir = tempfile::tempdir().unwrap();
    let src = qcow2_with_data(dir.path(), "m.qcow2", "32M");
    let dest = dir.path().join("m.ova");
    let mut disk = ExportDisk::local(&src);
    disk.convert_to = Some(DiskFormat::Vdi);
    let mut req = request(base_vm("m"), vec![disk], &dest, PackageFormat::Ova);
    req.options.qemu_img = QemuImg::at("/nonexistent/qemu-img");
    let e = export(req, None, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "qemu_img_missing");
    assert!(!dest.exists());
}

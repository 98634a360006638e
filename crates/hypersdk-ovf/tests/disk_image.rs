//! "Verified" means every disk is a usable image: its format header parses, its virtual size is the
//! descriptor's, its tables point inside the file and `qemu-img check` passes. Images are made by
//! qemu-img itself, then broken the ways real sources break them.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use hypersdk_ovf::*;

const SIZE: u64 = 64 << 20;

/// A raw 64 MiB disk holding incompressible data at 1–5 MiB and 40–46 MiB, holes elsewhere, so
/// that every format's data lies spread through its file (more than a compressed package's kept
/// 4 MiB head and tail) and a cut loses some.
fn source(dir: &Path) -> PathBuf {
    use std::os::unix::fs::FileExt;
    let p = dir.join("src.raw");
    let f = std::fs::File::create(&p).unwrap();
    f.set_len(SIZE).unwrap();
    f.write_all_at(&pattern(4 << 20, 11), 1 << 20).unwrap();
    f.write_all_at(&pattern(6 << 20, 12), 40 << 20).unwrap();
    p
}

/// `src` (raw) converted by qemu-img to `fmt` with `-o opts`.
fn image(dir: &Path, src: &Path, name: &str, fmt: &str, opts: &str) -> PathBuf {
    let out = dir.join(name);
    let mut cmd = Command::new("qemu-img");
    cmd.args(["convert", "-q", "-f", "raw", "-O", fmt]);
    if !opts.is_empty() {
        cmd.args(["-o", opts]);
    }
    run_ok(cmd.arg(src).arg(&out));
    out
}

/// A disk whose bytes are `path` as they are, declared as `format` of `capacity` bytes.
fn as_is(path: &Path, format: DiskFormat, capacity: u64) -> ExportDisk {
    ExportDisk {
        name: "disk".into(),
        source: DiskSource::file(path),
        format: Some(format),
        capacity_bytes: Some(capacity),
        controller: Controller::Sata,
        convert_to: None,
    }
}

/// Packages `disk` without the engine's own verification, so `verify` alone judges it.
async fn package(
    dir: &Path,
    name: &str,
    disk: ExportDisk,
    format: PackageFormat,
    compression: Compression,
) -> PathBuf {
    let ext = match (format, compression) {
        (PackageFormat::Ovf, _) => "",
        (_, Compression::None) => ".ova",
        (_, Compression::Gzip { .. }) => ".ova.gz",
        (_, Compression::Zstd { .. }) => ".ova.zst",
    };
    let dest = dir.join(format!("{name}{ext}"));
    let mut req = request(base_vm(name), vec![disk], &dest, format);
    req.compression = compression;
    req.options.verify = false;
    export(req, None, CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"));
    dest
}

fn formats() -> Vec<(&'static str, DiskFormat, &'static str, &'static str, bool)> {
    // (name, declared, qemu format, qemu options, qemu-img has a check for it)
    vec![
        (
            "stream",
            DiskFormat::VmdkStreamOptimized,
            "vmdk",
            "subformat=streamOptimized",
            true,
        ),
        (
            "sparse",
            DiskFormat::Vmdk,
            "vmdk",
            "subformat=monolithicSparse",
            true,
        ),
        ("qcow2", DiskFormat::Qcow2, "qcow2", "", true),
        (
            "vhd-dynamic",
            DiskFormat::Vhd,
            "vpc",
            "subformat=dynamic,force_size=on",
            false,
        ),
        (
            "vhd-fixed",
            DiskFormat::Vhd,
            "vpc",
            "subformat=fixed,force_size=on",
            false,
        ),
        ("vhdx", DiskFormat::Vhdx, "vhdx", "", true),
        ("vdi", DiskFormat::Vdi, "vdi", "", true),
        ("vdi-static", DiskFormat::Vdi, "vdi", "static=on", true),
    ]
}

fn outcome<'a>(r: &'a DiskReport, check: &str) -> &'a CheckOutcome {
    &r.checks
        .iter()
        .find(|c| c.check == check)
        .unwrap_or_else(|| panic!("no check {check:?} in {r:?}"))
        .outcome
}

#[tokio::test]
async fn every_format_passes_every_check_in_folders_and_plain_ovas() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    for (name, declared, qfmt, opts, checkable) in formats() {
        let img = image(dir.path(), &src, &format!("{name}.img"), qfmt, opts);
        for package_format in [PackageFormat::Ova, PackageFormat::Ovf] {
            let disk = as_is(&img, declared.clone(), SIZE);
            let label = format!("{name}-{package_format:?}");
            let p = package(dir.path(), &label, disk, package_format, Compression::None).await;
            let rep = verify(&p).await.unwrap_or_else(|e| panic!("{label}: {e}"));
            let [d] = rep.disks.as_slice() else {
                panic!("{label}: {rep:?}")
            };
            assert_eq!(d.virtual_size, Some(SIZE), "{label}");
            assert_eq!(
                d.skipped().count(),
                usize::from(!checkable),
                "{label}: {d:?}"
            );
            assert_eq!(
                outcome(d, "virtual size matches the descriptor"),
                &CheckOutcome::Passed
            );
            assert_eq!(
                *outcome(d, "qemu-img check") == CheckOutcome::Passed,
                checkable,
                "{label}: {d:?}"
            );
            // Formats with allocation tables have them checked; a fixed VHD has its length.
            assert!(d.passed().count() >= 3, "{label}: {d:?}");
        }
    }
}

#[tokio::test]
async fn compressed_packages_check_headers_and_footers_and_say_what_they_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    let img = image(
        dir.path(),
        &src,
        "d.vmdk",
        "vmdk",
        "subformat=streamOptimized",
    );
    let disk = as_is(&img, DiskFormat::VmdkStreamOptimized, SIZE);
    let p = package(
        dir.path(),
        "z",
        disk,
        PackageFormat::Ova,
        Compression::Zstd {
            level: 1,
            threads: 1,
        },
    )
    .await;
    let rep = verify(&p).await.unwrap();
    let d = &rep.disks[0];
    assert_eq!(outcome(d, "format header"), &CheckOutcome::Passed);
    assert_eq!(
        outcome(d, "virtual size matches the descriptor"),
        &CheckOutcome::Passed
    );
    // The image is 10 MiB: the grain markers in its middle were not kept.
    let skipped: Vec<_> = d.skipped().collect();
    assert_eq!(
        skipped.iter().map(|s| s.0).collect::<Vec<_>>(),
        [
            "grain directory and tables point inside the file",
            "qemu-img check"
        ],
        "{d:?}"
    );
    assert!(
        skipped.iter().all(|s| s.1.contains("compressed")),
        "{skipped:?}"
    );

    // A truncated stream is caught even compressed: the end-of-stream marker is in the tail.
    let cut = dir.path().join("cut.vmdk");
    let bytes = std::fs::read(&img).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let disk = as_is(&cut, DiskFormat::VmdkStreamOptimized, SIZE);
    let compression = Compression::Gzip { level: 1 };
    let p = package(dir.path(), "zcut", disk, PackageFormat::Ova, compression).await;
    let e = verify(&p).await.unwrap_err();
    assert_eq!(e.code(), "disk_image_invalid", "{e}");
    assert!(e.to_string().contains("truncated"), "{e}");
}

#[tokio::test]
async fn a_vmdk_descriptor_without_its_data_fails_the_export_and_is_not_published() {
    // What vcsim serves for a VM's disk: the text descriptor, not the extent it names.
    let dir = tempfile::tempdir().unwrap();
    let text = "# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n\
                createType=\"streamOptimized\"\n\n# Extent description\n\
                RW 2097152 SPARSE \"vm-disk1.vmdk\"\n";
    let src = dir.path().join("descriptor.vmdk");
    std::fs::write(&src, text).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let dest = out.join("vm.ova");
    let disk = as_is(&src, DiskFormat::VmdkStreamOptimized, 1 << 30);
    let req = request(base_vm("vm"), vec![disk], &dest, PackageFormat::Ova);
    let e = export(req, None, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "disk_image_invalid", "{e}");
    assert!(e.is_integrity_failure());
    let msg = e.to_string();
    assert!(
        msg.contains("\"disk.vmdk\"") && msg.contains("descriptor"),
        "{msg}"
    );
    // Only the engine's `.part` files remain (for a resume, as after any failure).
    assert!(
        tree(&out).iter().all(|n| n.starts_with("vm.ova.part")),
        "{:?}",
        tree(&out)
    );
}

#[tokio::test]
async fn truncated_images_of_every_format_fail_with_the_disk_named() {
    let dir = tempfile::tempdir().unwrap();
    let src = source(dir.path());
    for (name, declared, qfmt, opts, _) in formats() {
        let img = image(dir.path(), &src, &format!("{name}.img"), qfmt, opts);
        let bytes = std::fs::read(&img).unwrap();
        // Cut inside the data (sector-aligned, as an interrupted transfer usually is).
        let keep = (bytes.len() * 2 / 3) / 512 * 512;
        let cut = dir.path().join(format!("{name}-cut.img"));
        std::fs::write(&cut, &bytes[..keep]).unwrap();
        let disk = as_is(&cut, declared, SIZE);
        let p = package(
            dir.path(),
            name,
            disk,
            PackageFormat::Ova,
            Compression::None,
        )
        .await;
        let e = verify(&p).await.unwrap_err();
        assert_eq!(e.code(), "disk_image_invalid", "{name}: {e}");
        let msg = e.to_string();
        assert!(msg.contains("\"disk."), "{name}: {msg}");
        assert!(
            msg.contains("truncated") || msg.contains("qemu-img check failed"),
            "{name}: {msg}"
        );
    }
}

#[tokio::test]
async fn a_mislabelled_or_missized_disk_fails_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let src = qcow2_with_data(dir.path(), "src.qcow2", "64M");
    let cases = [
        (
            "label",
            as_is(&src, DiskFormat::VmdkStreamOptimized, SIZE),
            "declares it vmdk, but the file is a qcow2 image",
        ),
        (
            "size",
            as_is(&src, DiskFormat::Qcow2, 32 << 20),
            "virtual size is 67108864 bytes, but the descriptor says 33554432",
        ),
        (
            "raw",
            as_is(
                &raw_file(dir.path(), "r.img", 1 << 20, 7),
                DiskFormat::Raw,
                2 << 20,
            ),
            "raw image is 1048576 bytes, but the descriptor says the disk's capacity is 2097152",
        ),
        (
            "text",
            as_is(
                &raw_file(dir.path(), "t.img", 4096, 3),
                DiskFormat::Qcow2,
                SIZE,
            ),
            "has no qcow2 header",
        ),
    ];
    for (name, disk, expected) in cases {
        let p = package(
            dir.path(),
            name,
            disk,
            PackageFormat::Ovf,
            Compression::None,
        )
        .await;
        let e = verify(&p).await.unwrap_err();
        assert_eq!(e.code(), "disk_image_invalid", "{name}: {e}");
        assert!(e.to_string().contains(expected), "{name}: {e}");
    }
}

#[tokio::test]
async fn a_corruption_only_qemu_img_sees_fails_through_its_check() {
    // Give guest cluster 0 the host cluster of guest cluster 1: still inside the file (our table
    // checks pass), but one cluster with two owners is a corruption `qemu-img check` reports.
    let dir = tempfile::tempdir().unwrap();
    let src = qcow2_with_data(dir.path(), "src.qcow2", "64M");
    let mut bytes = std::fs::read(&src).unwrap();
    let be = |b: &[u8], at: usize| u64::from_be_bytes(b[at..at + 8].try_into().unwrap());
    const OFFSET: u64 = 0x00ff_ffff_ffff_fe00;
    let l1 = be(&bytes, 40) as usize;
    let l2 = (be(&bytes, l1) & OFFSET) as usize;
    let (first, second) = (be(&bytes, l2), be(&bytes, l2 + 8));
    assert!(
        first & OFFSET != 0 && second & OFFSET != 0,
        "qemu-io wrote clusters 0 and 1"
    );
    let dup = (first & !OFFSET) | (second & OFFSET);
    bytes[l2..l2 + 8].copy_from_slice(&dup.to_be_bytes());
    let bad = dir.path().join("bad.qcow2");
    std::fs::write(&bad, &bytes).unwrap();
    let p = package(
        dir.path(),
        "dup",
        as_is(&bad, DiskFormat::Qcow2, SIZE),
        PackageFormat::Ova,
        Compression::None,
    )
    .await;
    let e = verify(&p).await.unwrap_err();
    assert_eq!(e.code(), "disk_image_invalid", "{e}");
    assert!(e.to_string().contains("qemu-img check failed"), "{e}");
}

#[tokio::test]
async fn a_vmware_stream_with_its_grain_directory_at_the_end_needs_its_footer() {
    // VMware writes streamOptimized in one pass: GD_AT_END in the header, then a footer marker,
    // the footer (the header with the real offsets) and the end-of-stream marker. qemu writes
    // its tables in place instead, so build VMware's layout from qemu's output.
    let dir = tempfile::tempdir().unwrap();
    let img = image(
        dir.path(),
        &source(dir.path()),
        "q.vmdk",
        "vmdk",
        "subformat=streamOptimized",
    );
    let bytes = std::fs::read(&img).unwrap();
    let header = bytes[..512].to_vec();
    let mut vmware = bytes.clone();
    vmware[56..64].copy_from_slice(&u64::MAX.to_le_bytes());
    let footer_marker = {
        let mut m = vec![0u8; 512];
        m[0..8].copy_from_slice(&1u64.to_le_bytes()); // one sector of metadata follows
        m[12..16].copy_from_slice(&3u32.to_le_bytes()); // MARKER_FOOTER
        m
    };
    vmware.extend_from_slice(&footer_marker);
    vmware.extend_from_slice(&header);
    vmware.extend_from_slice(&[0u8; 512]);
    let good = dir.path().join("vmware.vmdk");
    std::fs::write(&good, &vmware).unwrap();
    let disk = as_is(&good, DiskFormat::VmdkStreamOptimized, SIZE);
    let p = package(
        dir.path(),
        "vmw",
        disk,
        PackageFormat::Ova,
        Compression::None,
    )
    .await;
    let rep = verify(&p).await.unwrap();
    assert_eq!(rep.disks[0].skipped().count(), 0, "{rep:?}");

    // Without the footer the grain directory cannot be found.
    let cut = dir.path().join("cut.vmdk");
    std::fs::write(&cut, &vmware[..vmware.len() - 1536]).unwrap();
    let disk = as_is(&cut, DiskFormat::VmdkStreamOptimized, SIZE);
    let p = package(
        dir.path(),
        "cut",
        disk,
        PackageFormat::Ova,
        Compression::None,
    )
    .await;
    let e = verify(&p).await.unwrap_err();
    assert!(e.to_string().contains("footer"), "{e}");
}

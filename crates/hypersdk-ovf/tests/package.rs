//! OVA / OVF folder / .ova.gz / .ova.zst: real tools judge the output; round trips; tampering.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use common::*;
use hypersdk_ovf::*;

async fn export_ok(req: ExportRequest) -> ExportOutcome {
    export(req, None, CancellationToken::new()).await.unwrap()
}

fn disks(dir: &Path) -> Vec<ExportDisk> {
    let a = raw_file(dir, "a.img", 3 * 1024 * 1024 + 17, 1);
    let b = raw_file(dir, "b.img", 512 * 1024, 2);
    let mut d2 = raw_disk("data", &b);
    d2.controller = Controller::Ide;
    vec![raw_disk("system", &a), d2]
}

fn expected_spec(out: &ExportOutcome) -> VmSpec {
    out.vm.clone()
}

#[tokio::test]
async fn ova_round_trip_first_member_and_schema() {
    let dir = tempfile::tempdir().unwrap();
    let mut vm = base_vm("web01");
    vm.firmware = Firmware::Efi;
    let dest = dir.path().join("web01.ova");
    let out = export_ok(request(
        vm.clone(),
        disks(dir.path()),
        &dest,
        PackageFormat::Ova,
    ))
    .await;
    assert_eq!(out.path, dest);
    assert!(dest.is_file());
    // No leftovers next to the final file.
    let names = tree(dir.path());
    assert!(names.iter().all(|n| !n.contains(".part")), "{names:?}");

    let members = tar_members(&dest);
    assert_eq!(
        members,
        vec!["web01.ovf", "system.img", "data.img", "web01.mf"]
    );
    let x = dir.path().join("x");
    untar(&dest, &x);
    xmllint_validate(&x.join("web01.ovf"));
    assert_eq!(
        std::fs::read(x.join("system.img")).unwrap(),
        std::fs::read(dir.path().join("a.img")).unwrap()
    );
    // Manifest digests agree with sha256sum.
    let mf = std::fs::read_to_string(x.join("web01.mf")).unwrap();
    let sum = run_ok(std::process::Command::new("sha256sum").arg(x.join("data.img")));
    let hexd = sum.split_whitespace().next().unwrap();
    assert!(mf.contains(&format!("SHA256(data.img)= {hexd}\n")), "{mf}");

    let ins = inspect(&dest).await.unwrap();
    assert_eq!(ins.kind, PackageKind::Ova);
    assert_eq!(ins.vm, expected_spec(&out));
    assert_eq!(ins.vm.name, vm.name);
    assert_eq!(
        (ins.vm.cpus, ins.vm.memory_mib, ins.vm.firmware),
        (2, 1024, Firmware::Efi)
    );
    assert_eq!(ins.vm.networks, vm.networks);
    assert_eq!(ins.vm.disks[0].capacity_bytes, 3 * 1024 * 1024 + 17);
    assert_eq!(ins.vm.disks[1].controller, Controller::Ide);
    assert_eq!(
        ins.manifest,
        Some(("web01.mf".to_string(), DigestAlgorithm::Sha256))
    );
    let rep = verify(&dest).await.unwrap();
    assert_eq!(rep.files.len(), 4);
}

#[tokio::test]
async fn compressed_ovas_and_sha1() {
    let dir = tempfile::tempdir().unwrap();
    for (ext, comp, kind) in [
        (
            "ova.gz",
            Compression::Gzip { level: 6 },
            PackageKind::OvaGzip,
        ),
        (
            "ova.zst",
            Compression::Zstd {
                level: 3,
                threads: 0,
            },
            PackageKind::OvaZstd,
        ),
    ] {
        let dest = dir.path().join(format!("vm.{ext}"));
        let mut req = request(base_vm("vm"), disks(dir.path()), &dest, PackageFormat::Ova);
        req.compression = comp;
        req.manifest = DigestAlgorithm::Sha1;
        let out = export_ok(req).await;
        let members = tar_members(&dest);
        assert_eq!(members.first().map(String::as_str), Some("vm.ovf"), "{ext}");
        assert_eq!(members.last().map(String::as_str), Some("vm.mf"), "{ext}");
        let ins = inspect(&dest).await.unwrap();
        assert_eq!(ins.kind, kind);
        assert_eq!(ins.vm, out.vm);
        assert_eq!(ins.manifest.map(|m| m.1), Some(DigestAlgorithm::Sha1));
        verify(&dest).await.unwrap();
        // Corrupting the compressed stream is detected.
        let len = std::fs::metadata(&dest).unwrap().len();
        flip_byte(&dest, len / 2);
        let e = verify(&dest).await.unwrap_err();
        assert!(e.is_integrity_failure(), "{ext}: {e} ({})", e.code());
    }
}

#[tokio::test]
async fn ovf_folder_round_trip_and_tamper() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("folder");
    let out = export_ok(request(
        base_vm("vm 1"),
        disks(dir.path()),
        &dest,
        PackageFormat::Ovf,
    ))
    .await;
    let names = tree(&dest);
    assert_eq!(names, vec!["data.img", "system.img", "vm 1.mf", "vm 1.ovf"]);
    xmllint_validate(&dest.join("vm 1.ovf"));
    assert_eq!(inspect(&dest).await.unwrap().vm, out.vm);
    verify(&dest).await.unwrap();
    for n in &names {
        flip_byte(&dest.join(n), 3);
        let e = verify(&dest).await.unwrap_err();
        assert!(e.is_integrity_failure(), "{n}: {e}");
        flip_byte(&dest.join(n), 3);
        verify(&dest).await.unwrap();
    }
    // A stray file is reported.
    std::fs::write(dest.join("extra.txt"), b"x").unwrap();
    assert_eq!(verify(&dest).await.unwrap_err().code(), "unlisted_file");
}

#[tokio::test]
async fn flipping_any_byte_of_any_member_fails_verify() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("t.ova");
    export_ok(request(
        base_vm("t"),
        disks(dir.path()),
        &dest,
        PackageFormat::Ova,
    ))
    .await;
    let layout = tar_layout(&dest);
    assert_eq!(layout.len(), 4);
    for (name, off, size) in &layout {
        for at in [0, size / 2, size - 1] {
            flip_byte(&dest, off + at);
            let e = verify(&dest).await.unwrap_err();
            assert!(e.is_integrity_failure(), "{name}@{at}: {e}");
            if name.ends_with(".img") {
                match &e {
                    Error::DigestMismatch { file, .. } => assert_eq!(file, name),
                    other => panic!("expected digest mismatch for {name}, got {other}"),
                }
            }
            flip_byte(&dest, off + at);
        }
    }
    verify(&dest).await.unwrap();
    // A tar header byte (the name of the second member) breaks the archive or the references.
    flip_byte(&dest, layout[1].1 - 512 + 2);
    assert!(verify(&dest).await.unwrap_err().is_integrity_failure());
}

#[tokio::test]
async fn descriptor_not_first_and_missing_manifest_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("t.ova");
    export_ok(request(
        base_vm("t"),
        disks(dir.path()),
        &dest,
        PackageFormat::Ova,
    ))
    .await;
    let x = dir.path().join("x");
    untar(&dest, &x);
    let bad = dir.path().join("bad.ova");
    run_ok(
        std::process::Command::new("tar")
            .arg("-cf")
            .arg(&bad)
            .arg("-C")
            .arg(&x)
            .args(["system.img", "t.ovf", "data.img", "t.mf"]),
    );
    assert_eq!(
        verify(&bad).await.unwrap_err().code(),
        "descriptor_not_first"
    );
    let nomf = dir.path().join("nomf.ova");
    run_ok(
        std::process::Command::new("tar")
            .arg("-cf")
            .arg(&nomf)
            .arg("-C")
            .arg(&x)
            .args(["t.ovf", "system.img", "data.img"]),
    );
    assert_eq!(verify(&nomf).await.unwrap_err().code(), "manifest_missing");
    let missing = dir.path().join("missing.ova");
    run_ok(
        std::process::Command::new("tar")
            .arg("-cf")
            .arg(&missing)
            .arg("-C")
            .arg(&x)
            .args(["t.ovf", "system.img", "t.mf"]),
    );
    let e = verify(&missing).await.unwrap_err();
    assert_eq!(e.code(), "missing_file");
    assert!(e.to_string().contains("data.img"), "{e}");
}

#[tokio::test]
async fn hostile_names_stay_inside_destination() {
    let dir = tempfile::tempdir().unwrap();
    let img = raw_file(dir.path(), "src.img", 4096, 9);
    let out_dir = dir.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let long = "ä".repeat(2048); // 4 KiB
    let hostile = [
        "../../etc/x",
        "a\0b",
        long.as_str(),
        "CON",
        "虚拟机/..\\..",
        ".",
        "",
    ];
    for (i, vm_name) in hostile.iter().enumerate() {
        for package in [PackageFormat::Ova, PackageFormat::Ovf] {
            let name = if vm_name.is_empty() {
                "unnamed".to_string()
            } else {
                vm_name.to_string()
            };
            let mut vm = base_vm(&name);
            vm.name = name.clone();
            let disks = hostile.iter().map(|d| raw_disk(d, &img)).collect();
            let dest = out_dir.join(format!("case{i}-{package:?}"));
            let out = export_ok(request(vm, disks, &dest, package)).await;
            let mut files: Vec<String> = if package == PackageFormat::Ova {
                tar_members(&dest)
            } else {
                tree(&dest)
            };
            files.sort();
            files.dedup();
            assert_eq!(
                files.len(),
                hostile.len() + 2,
                "names must be unique: {files:?}"
            );
            for f in &files {
                assert!(
                    !f.contains('/') && !f.contains('\\') && !f.starts_with('.'),
                    "{f:?}"
                );
                assert!(
                    f.len()
                        <= if package == PackageFormat::Ova {
                            100
                        } else {
                            200
                        },
                    "{}",
                    f.len()
                );
                let stem = f.split('.').next().unwrap_or_default();
                assert!(!["CON", "NUL"].contains(&stem), "{f:?}");
            }
            verify(&dest).await.unwrap();
            // The VM name itself is kept verbatim in the descriptor (escaped), only file names change.
            assert_eq!(inspect(&dest).await.unwrap().vm.name, out.vm.name);
        }
    }
    // Nothing was created outside out/.
    let top = tree(dir.path());
    assert!(
        top.iter().all(|p| p == "src.img" || p.starts_with("out")),
        "{top:?}"
    );
    assert!(!Path::new("/etc/x.img").exists());
}

#[tokio::test]
async fn http_source_with_range_resume_and_progress() {
    let dir = tempfile::tempdir().unwrap();
    let img = raw_file(dir.path(), "remote.img", 6 * 1024 * 1024 + 5, 4);
    let server = serve_file(img.clone(), true).await;
    let client = reqwest::Client::new();
    let events = Arc::new(Mutex::new(Vec::<Progress>::new()));
    let ev = events.clone();
    let progress: ProgressFn = Arc::new(move |p| ev.lock().unwrap().push(p));
    let dest = dir.path().join("remote.ova");
    let disk = ExportDisk {
        name: "remote".into(),
        source: DiskSource::http(server.url.clone(), client.clone()),
        format: Some(DiskFormat::Raw),
        capacity_bytes: None,
        controller: Controller::Sata,
        convert_to: None,
    };
    let out = export(
        request(base_vm("r"), vec![disk], &dest, PackageFormat::Ova),
        Some(progress),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.vm.disks[0].capacity_bytes, 6 * 1024 * 1024 + 5);
    verify(&dest).await.unwrap();
    let last = events.lock().unwrap().last().cloned().unwrap();
    assert_eq!(last.bytes_done, 6 * 1024 * 1024 + 5);
    assert_eq!(last.bytes_total, Some(6 * 1024 * 1024 + 5));
    // The query string (a credential in SAS-style URLs) never shows in Debug output.
    let dbg = format!("{:?}", DiskSource::http(server.url.clone(), client));
    assert!(!dbg.contains("SECRET"), "{dbg}");
    let reqs = server.requests.lock().unwrap().clone();
    assert!(reqs.iter().any(|r| r.starts_with("HEAD")), "{reqs:?}");
}

/// Pre-signed GET URLs often refuse HEAD: the length then comes from a 1-byte ranged GET.
#[tokio::test]
async fn http_source_when_head_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let img = raw_file(dir.path(), "remote.img", (2 << 20) + 3, 6);
    let server = serve_file_opts(img.clone(), true, true).await;
    let dest = dir.path().join("nohead.ova");
    let disk = ExportDisk {
        name: "remote".into(),
        source: DiskSource::http(server.url.clone(), reqwest::Client::new()),
        format: Some(DiskFormat::Raw),
        capacity_bytes: None,
        controller: Controller::Sata,
        convert_to: None,
    };
    let out = export(
        request(base_vm("n"), vec![disk], &dest, PackageFormat::Ova),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(out.vm.disks[0].file_size, Some((2 << 20) + 3));
    verify(&dest).await.unwrap();
    let reqs = server.requests.lock().unwrap().clone();
    assert!(
        reqs.iter()
            .any(|r| r.starts_with("GET") && r.contains("range=Some(0)")),
        "{reqs:?}"
    );
}

/// A staged disk (this export's own file) goes into an OVF folder by rename: its holes stay holes,
/// the manifest still has its digest; an OVA copies it and leaves the file to its owner.
#[tokio::test]
async fn staged_disks_move_into_a_folder_and_are_copied_into_an_ova() {
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let sparse_len = 64u64 << 20;
    let staged = |name: &str| {
        let path = dir.path().join(name);
        let f = std::fs::File::create(&path).unwrap();
        f.set_len(sparse_len).unwrap();
        std::os::unix::fs::FileExt::write_all_at(&f, &pattern(8192, 3), 40 << 20).unwrap();
        let mut d = raw_disk("system", &path);
        d.source = DiskSource::Staged(path.clone());
        (path, d)
    };
    let (path, disk) = staged("staged.raw");
    let reference = std::fs::read(&path).unwrap();
    let dest = dir.path().join("folder");
    let out = export_ok(request(
        base_vm("vm"),
        vec![disk],
        &dest,
        PackageFormat::Ovf,
    ))
    .await;
    assert!(!path.exists(), "the staged file was moved, not copied");
    let moved = dest.join("system.img");
    assert_eq!(std::fs::read(&moved).unwrap(), reference);
    let allocated = std::fs::metadata(&moved).unwrap().blocks() * 512;
    assert!(
        allocated < sparse_len / 4,
        "holes kept: {allocated} bytes allocated"
    );
    let digest = out
        .manifest
        .entries
        .iter()
        .find(|e| e.file == "system.img")
        .unwrap();
    assert_eq!(
        digest.digest,
        DigestAlgorithm::Sha256.digest_hex(&reference)
    );
    verify(&dest).await.unwrap();

    let (path, disk) = staged("staged2.raw");
    let ova = dir.path().join("vm.ova");
    export_ok(request(base_vm("vm"), vec![disk], &ova, PackageFormat::Ova)).await;
    assert_eq!(
        std::fs::read(&path).unwrap(),
        reference,
        "an OVA leaves the staged file alone"
    );
    verify(&ova).await.unwrap();
}

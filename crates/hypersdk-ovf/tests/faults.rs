//! Faults: the final name never holds an incomplete artefact.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use hypersdk_ovf::*;

fn reader_disk(r: FaultyReader, len: Option<u64>) -> ExportDisk {
    ExportDisk {
        name: "stream".into(),
        source: DiskSource::reader(r, len),
        format: Some(DiskFormat::Raw),
        capacity_bytes: Some(len.unwrap_or(1 << 20)),
        controller: Controller::Sata,
        convert_to: None,
    }
}

fn assert_no_final(dest: &std::path::Path) {
    assert!(
        !dest.exists(),
        "{} must not exist after a failure",
        dest.display()
    );
}

#[tokio::test]
async fn source_truncated_early() {
    let dir = tempfile::tempdir().unwrap();
    for package in [PackageFormat::Ova, PackageFormat::Ovf] {
        let dest = dir.path().join(format!("t-{package:?}"));
        let data = pattern(4 << 20, 3);
        let r = FaultyReader::new(data, 3 << 20, false);
        let req = request(
            base_vm("t"),
            vec![reader_disk(r, Some(4 << 20))],
            &dest,
            package,
        );
        let e = export(req, None, CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "source_truncated", "{e}");
        assert!(e.to_string().contains("3145728 of 4194304"), "{e}");
        assert_no_final(&dest);
    }
}

#[tokio::test]
async fn source_longer_than_announced() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("long.ova");
    let r = FaultyReader::new(pattern(2 << 20, 3), 2 << 20, false);
    let req = request(
        base_vm("t"),
        vec![reader_disk(r, Some(1 << 20))],
        &dest,
        PackageFormat::Ova,
    );
    let e = export(req, None, CancellationToken::new())
        .await
        .unwrap_err();
    assert_eq!(e.code(), "source_too_long", "{e}");
    assert_no_final(&dest);
}

#[tokio::test]
async fn source_errors_mid_stream() {
    let dir = tempfile::tempdir().unwrap();
    for (len, package) in [
        (Some(4 << 20), PackageFormat::Ova),
        (None, PackageFormat::Ova),
        (None, PackageFormat::Ovf),
    ] {
        let dest = dir.path().join(format!("e-{len:?}-{package:?}"));
        let r = FaultyReader::new(pattern(4 << 20, 5), (2 << 20) + 100, true);
        let req = request(base_vm("t"), vec![reader_disk(r, len)], &dest, package);
        let e = export(req, None, CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "source_failed", "{e}");
        assert!(e.to_string().contains("simulated network reset"), "{e}");
        assert!(e.retryable());
        assert_no_final(&dest);
    }
}

/// Disks of unknown length (a vSphere NFC stream announces none): in a plain OVA the first
/// streams straight into the archive and the others are staged alongside, or, with
/// `parallel_disks` 1, all stream one after another; a compressed OVA stages them all. Every
/// layout must give the same, valid, verifiable archive with the real sizes in the descriptor.
#[tokio::test]
async fn unknown_length_disks_into_plain_and_compressed_ovas() {
    let dir = tempfile::tempdir().unwrap();
    // Lengths that are not multiples of 512, so padding and the patched headers are exercised.
    let datas: Vec<Vec<u8>> = [(3 << 20) + 11, (1 << 20) + 7, 513]
        .into_iter()
        .enumerate()
        .map(|(k, len)| pattern(len, 8 + k as u64))
        .collect();
    for (name, compression, parallel) in [
        ("alongside.ova", Compression::None, 4),
        ("sequential.ova", Compression::None, 1),
        (
            "staged.ova.zst",
            Compression::Zstd {
                level: 3,
                threads: 2,
            },
            4,
        ),
        ("staged1.ova.gz", Compression::Gzip { level: 1 }, 1),
    ] {
        let dest = dir.path().join(name);
        let disks = datas
            .iter()
            .map(|d| {
                let mut disk = reader_disk(FaultyReader::new(d.clone(), d.len(), false), None);
                // A raw disk's capacity is its length (verification reads it as an image).
                disk.capacity_bytes = Some(d.len() as u64);
                disk
            })
            .collect();
        let mut req = request(base_vm("u"), disks, &dest, PackageFormat::Ova);
        req.compression = compression;
        req.options.parallel_disks = parallel;
        let out = export(req, None, CancellationToken::new()).await.unwrap();
        let sizes: Vec<_> = out.vm.disks.iter().map(|d| d.file_size).collect();
        let want: Vec<_> = datas.iter().map(|d| Some(d.len() as u64)).collect();
        assert_eq!(sizes, want, "{name}");
        verify(&dest).await.unwrap();
        // What the archive says equals what the export reported.
        assert_eq!(inspect(&dest).await.unwrap().vm, out.vm, "{name}");
        let members = tar_members(&dest);
        let mut expected = vec!["u.ovf".to_string()];
        expected.extend(out.vm.disks.iter().map(|d| d.href.clone()));
        expected.push("u.mf".into());
        assert_eq!(members, expected, "{name}");
        let x = dir.path().join(format!("{name}.x"));
        untar(&dest, &x);
        for (d, data) in out.vm.disks.iter().zip(&datas) {
            assert_eq!(&std::fs::read(x.join(&d.href)).unwrap(), data, "{name}");
        }
        // The descriptor, rewritten in place with the sizes, is still valid OVF.
        xmllint_validate(&x.join("u.ovf"));
        assert!(!with_part(&dest, ".part.d").exists(), "{name}");
    }
}

fn with_part(p: &std::path::Path, s: &str) -> std::path::PathBuf {
    hypersdk_ovf::fsutil::with_suffix(p, s)
}

#[tokio::test]
async fn cancellation_leaves_no_final_file() {
    let dir = tempfile::tempdir().unwrap();
    for package in [PackageFormat::Ova, PackageFormat::Ovf] {
        let dest = dir.path().join(format!("c-{package:?}"));
        let mut r = FaultyReader::new(pattern(64 << 20, 5), 64 << 20, false);
        r.delay = Some(Duration::from_millis(2));
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            c2.cancel();
        });
        let req = request(
            base_vm("c"),
            vec![reader_disk(r, Some(64 << 20))],
            &dest,
            package,
        );
        let started = std::time::Instant::now();
        let e = export(req, None, cancel).await.unwrap_err();
        assert_eq!(e.code(), "cancelled");
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_no_final(&dest);
    }
}

#[tokio::test]
async fn existing_destination_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let img = raw_file(dir.path(), "a.img", 1000, 1);
    let dest = dir.path().join("x.ova");
    std::fs::write(&dest, b"precious").unwrap();
    let e = export(
        request(
            base_vm("x"),
            vec![raw_disk("a", &img)],
            &dest,
            PackageFormat::Ova,
        ),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "destination_exists");
    assert_eq!(std::fs::read(&dest).unwrap(), b"precious");
}

/// Interrupt an export after some checkpoints (cancellation from the progress callback stands in
/// for a crash at that point), check the checkpoint, then resume: the source continues at the
/// durable offset (Range / seek) and the result verifies.
#[tokio::test]
async fn resume_after_interruption_file_and_http() {
    let dir = tempfile::tempdir().unwrap();
    let size = 24 << 20;
    let img = raw_file(dir.path(), "big.img", size, 12);
    // (package, over HTTP, server honours Range, length unknown: never asked, as for vSphere NFC)
    for (k, (package, via_http, honour, unknown)) in [
        (PackageFormat::Ova, false, true, false),
        (PackageFormat::Ovf, false, true, false),
        (PackageFormat::Ova, true, true, false),
        (PackageFormat::Ova, true, false, false),
        (PackageFormat::Ova, true, true, true),
    ]
    .into_iter()
    .enumerate()
    {
        let server = serve_file(img.clone(), honour).await;
        let dest = dir.path().join(format!(
            "r{k}.{}",
            if package == PackageFormat::Ova {
                "ova"
            } else {
                "ovf"
            }
        ));
        let source = || {
            if unknown {
                DiskSource::Http {
                    url: server.url.clone(),
                    client: reqwest::Client::new(),
                    headers: Default::default(),
                    length: None,
                    probe: false,
                }
            } else if via_http {
                DiskSource::http(server.url.clone(), reqwest::Client::new())
            } else {
                DiskSource::file(&img)
            }
        };
        let make_req = || {
            let src = source();
            // A first disk that is complete before the interruption (over the same server: the
            // resumed run must not ask for a range at its very end).
            let first_src = source();
            let first = ExportDisk {
                name: "first".into(),
                source: first_src,
                format: Some(DiskFormat::Raw),
                capacity_bytes: Some(size as u64),
                controller: Controller::Sata,
                convert_to: None,
            };
            let disk = ExportDisk {
                name: "big".into(),
                source: src,
                format: Some(DiskFormat::Raw),
                capacity_bytes: Some(size as u64),
                controller: Controller::Sata,
                convert_to: None,
            };
            let mut req = request(base_vm("r"), vec![first, disk], &dest, package);
            req.options.checkpoint_bytes = 2 << 20;
            // One disk at a time, so the first is complete when the second is interrupted
            // (folders are otherwise written disk-parallel).
            req.options.parallel_disks = 1;
            req
        };
        let cancel = CancellationToken::new();
        let c2 = cancel.clone();
        // The callback runs on the writer thread: cancelling and then holding the writer for a
        // moment makes the reader stop long before the disk could complete.
        let progress: ProgressFn = Arc::new(move |p: Progress| {
            if p.disk_index == 1 && p.bytes_done >= 8 << 20 && !c2.is_cancelled() {
                c2.cancel();
                std::thread::sleep(Duration::from_millis(200));
            }
        });
        let e = export(make_req(), Some(progress), cancel)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "cancelled");
        assert_no_final(&dest);
        let cp_path = with_part(&dest, ".part.d").join("checkpoint.json");
        let cp: Checkpoint = serde_json::from_slice(&std::fs::read(&cp_path).unwrap()).unwrap();
        assert!(
            cp.disks[0].complete && cp.disks[0].bytes_durable == size as u64,
            "{cp:?}"
        );
        let durable = cp.disks[1].bytes_durable;
        assert!(durable > 0 && durable < size as u64, "durable = {durable}");

        let first = Arc::new(AtomicU64::new(u64::MAX));
        let f2 = first.clone();
        let progress: ProgressFn = Arc::new(move |p: Progress| {
            if p.disk_index == 1 {
                let _ =
                    f2.compare_exchange(u64::MAX, p.bytes_done, Ordering::SeqCst, Ordering::SeqCst);
            }
        });
        let before = server.requests.lock().unwrap().len();
        export(make_req(), Some(progress), CancellationToken::new())
            .await
            .unwrap();
        verify(&dest).await.unwrap();
        let reqs = server.requests.lock().unwrap()[before..].to_vec();
        if via_http {
            // First disk complete: no GET for it on resume, one for disk 2 (ranged when honoured).
            let gets = reqs.iter().filter(|r| r.starts_with("GET")).count();
            assert_eq!(gets, 1, "{reqs:?}");
            assert!(
                reqs.iter()
                    .any(|r| r.contains(&format!("range=Some({durable})"))),
                "{reqs:?}"
            );
        }
        // The first progress event of the resumed disk says where it started.
        let started_at = first.load(Ordering::SeqCst);
        let expected_start = if honour { durable } else { 0 };
        assert_eq!(
            started_at, expected_start,
            "durable {durable}, honour {honour}"
        );
        assert!(!with_part(&dest, ".part").exists() && !with_part(&dest, ".part.d").exists());
    }
}

/// A stale checkpoint from a different plan is ignored, not trusted.
#[tokio::test]
async fn checkpoint_of_another_plan_is_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let img = raw_file(dir.path(), "a.img", 3 << 20, 1);
    let dest = dir.path().join("p.ova");
    let part_d = with_part(&dest, ".part.d");
    std::fs::create_dir_all(&part_d).unwrap();
    std::fs::write(with_part(&dest, ".part"), vec![0xAAu8; 5 << 20]).unwrap();
    let mut cp = Checkpoint::new("not-this-plan".into(), &["a.img".to_string()]);
    cp.disks[0].bytes_durable = 2 << 20;
    cp.save(&part_d.join("checkpoint.json")).unwrap();
    export(
        request(
            base_vm("p"),
            vec![raw_disk("a", &img)],
            &dest,
            PackageFormat::Ova,
        ),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap();
    verify(&dest).await.unwrap();
}

fn privileged_unavailable(why: &str) {
    unavailable(&format!(
        "this test needs to mount a tmpfs (run as root): {why}"
    ));
}

#[tokio::test]
async fn destination_full_small_tmpfs() {
    let m = match TmpfsMount::new("size=2m") {
        Ok(m) => m,
        Err(why) => return privileged_unavailable(&why),
    };
    let dir = tempfile::tempdir().unwrap();
    let img = raw_file(dir.path(), "a.img", 6 << 20, 1);
    for package in [PackageFormat::Ova, PackageFormat::Ovf] {
        let dest = m.dir.join(format!("full-{package:?}"));
        let mut req = request(base_vm("f"), vec![raw_disk("a", &img)], &dest, package);
        req.options.resume = false;
        let e = export(req, None, CancellationToken::new())
            .await
            .unwrap_err();
        assert_eq!(e.code(), "destination_full", "{e}");
        assert_no_final(&dest);
    }
}

#[tokio::test]
async fn destination_read_only() {
    let m = match TmpfsMount::new("ro,size=1m") {
        Ok(m) => m,
        Err(why) => return privileged_unavailable(&why),
    };
    let dir = tempfile::tempdir().unwrap();
    let img = raw_file(dir.path(), "a.img", 1 << 20, 1);
    for package in [PackageFormat::Ova, PackageFormat::Ovf] {
        let dest = m.dir.join(format!("ro-{package:?}"));
        let e = export(
            request(base_vm("r"), vec![raw_disk("a", &img)], &dest, package),
            None,
            CancellationToken::new(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.code(), "io", "{e}");
        assert!(e.to_string().contains("Read-only"), "{e}");
        assert_no_final(&dest);
    }
}

const KILL_ENV: &str = "HYPERSDK_KILL_TEST_DIR";
const KILL_SIZE: usize = 48 << 20;

fn kill_request(dir: &std::path::Path) -> ExportRequest {
    let img = dir.join("src.img");
    let disk = raw_disk("victim", &img);
    let mut req = request(
        base_vm("killed"),
        vec![disk],
        &dir.join("out.ova"),
        PackageFormat::Ova,
    );
    req.options.checkpoint_bytes = 2 << 20;
    req
}

/// Helper for `resume_after_kill_9`: run in a child process, killed with SIGKILL mid-write.
#[tokio::test]
#[ignore = "helper process for resume_after_kill_9"]
async fn child_export_for_kill_test() {
    let dir =
        std::path::PathBuf::from(std::env::var_os(KILL_ENV).expect("run by resume_after_kill_9"));
    // Slow the writer down (the callback runs on the writer thread) so the parent can kill us mid-way.
    let progress: ProgressFn =
        Arc::new(|_p: Progress| std::thread::sleep(Duration::from_millis(60)));
    let _ = export(kill_request(&dir), Some(progress), CancellationToken::new()).await;
}

#[tokio::test]
async fn resume_after_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    raw_file(dir.path(), "src.img", KILL_SIZE, 77);
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_export_for_kill_test",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(KILL_ENV, dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let dest = dir.path().join("out.ova");
    let cp_path = with_part(&dest, ".part.d").join("checkpoint.json");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let durable = loop {
        assert!(
            std::time::Instant::now() < deadline,
            "child never checkpointed"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "child finished before it could be killed"
        );
        if let Ok(data) = std::fs::read(&cp_path)
            && let Ok(cp) = serde_json::from_slice::<Checkpoint>(&data)
            && cp.disks[0].bytes_durable >= 8 << 20
        {
            break cp.disks[0].bytes_durable;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert_no_final(&dest);
    assert!(with_part(&dest, ".part").exists());
    let cp: Checkpoint = serde_json::from_slice(&std::fs::read(&cp_path).unwrap()).unwrap();
    assert!(cp.disks[0].bytes_durable >= durable && cp.disks[0].bytes_durable < KILL_SIZE as u64);

    let first = Arc::new(AtomicU64::new(u64::MAX));
    let f2 = first.clone();
    let progress: ProgressFn = Arc::new(move |p: Progress| {
        let _ = f2.compare_exchange(u64::MAX, p.bytes_done, Ordering::SeqCst, Ordering::SeqCst);
    });
    let out = export(
        kill_request(dir.path()),
        Some(progress),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        first.load(Ordering::SeqCst),
        cp.disks[0].bytes_durable,
        "did not resume from the checkpoint"
    );
    verify(&dest).await.unwrap();
    let x = dir.path().join("x");
    untar(&dest, &x);
    assert_eq!(
        std::fs::read(x.join(&out.vm.disks[0].href)).unwrap(),
        std::fs::read(dir.path().join("src.img")).unwrap()
    );
}

#[tokio::test]
async fn concurrent_export_to_same_destination_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("busy.ova");
    let mut r = FaultyReader::new(pattern(8 << 20, 1), 8 << 20, false);
    r.delay = Some(Duration::from_millis(5));
    let cancel = CancellationToken::new();
    let first = tokio::spawn(export(
        request(
            base_vm("b"),
            vec![reader_disk(r, Some(8 << 20))],
            &dest,
            PackageFormat::Ova,
        ),
        None,
        cancel.clone(),
    ));
    // Wait until the first export holds the lock.
    while !with_part(&dest, ".part.d").join("lock").exists() {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let r2 = FaultyReader::new(pattern(1 << 20, 1), 1 << 20, false);
    let e = export(
        request(
            base_vm("b"),
            vec![reader_disk(r2, Some(1 << 20))],
            &dest,
            PackageFormat::Ova,
        ),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "destination_busy");
    cancel.cancel();
    assert_eq!(first.await.unwrap().unwrap_err().code(), "cancelled");
}

#[tokio::test]
async fn http_error_status_is_typed_and_redacted() {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        for _ in 0..4 {
            let Ok((mut s, _)) = listener.accept().await else {
                return;
            };
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(
                    b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
        }
    });
    let url = format!("http://{addr}/disk.img?sv=2024&sig=TOPSECRET");
    let disk = ExportDisk {
        name: "d".into(),
        source: DiskSource::http(url, reqwest::Client::new()),
        format: Some(DiskFormat::Raw),
        capacity_bytes: Some(1 << 20),
        controller: Controller::Sata,
        convert_to: None,
    };
    let dest = dir.path().join("h.ova");
    let e = export(
        request(base_vm("h"), vec![disk], &dest, PackageFormat::Ova),
        None,
        CancellationToken::new(),
    )
    .await
    .unwrap_err();
    assert_eq!(e.code(), "http_status", "{e}");
    assert!(!e.retryable());
    let msg = format!("{e} {e:?}");
    assert!(msg.contains("403") && !msg.contains("TOPSECRET"), "{msg}");
    assert_no_final(&dest);
    server.abort();
}

#[tokio::test]
async fn discard_partial_removes_an_unfinished_export_but_not_a_running_one() {
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("vm.ova");
    // A failed export leaves its part and work directory for a resume.
    let data = pattern(4 << 20, 5);
    let r = FaultyReader::new(data, 1 << 20, true);
    let req = request(
        base_vm("vm"),
        vec![reader_disk(r, Some(4 << 20))],
        &dest,
        PackageFormat::Ova,
    );
    export(req, None, CancellationToken::new())
        .await
        .unwrap_err();
    assert!(
        !tree(dir.path()).is_empty(),
        "the failure kept its partial files"
    );

    // While a writer holds the lock, nothing is touched.
    let lock = std::fs::File::open(dir.path().join("vm.ova.part.d/lock")).unwrap();
    lock.lock().unwrap();
    let e = discard_partial(&dest).unwrap_err();
    assert_eq!(e.code(), "destination_busy");
    drop(lock);

    assert!(discard_partial(&dest).unwrap());
    assert_eq!(tree(dir.path()), Vec::<String>::new());
    assert!(!discard_partial(&dest).unwrap(), "nothing left to remove");
}

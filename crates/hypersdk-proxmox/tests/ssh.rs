//! The SSH data path (`src/ssh.rs`) against Debian's real sshd and a fake `vzdump`
//! (tests/support/sshd.rs, tests/peers/vzdump).

#[path = "support/sshd.rs"]
mod sshd;

use std::time::{Duration, Instant};

use hypersdk_proxmox::ssh::{
    self, ExecStream, SshAuth, SshError, SshSession, SshTarget, command_line, fingerprint_of,
};
use sha2::{Digest, Sha256};
use sshd::{Sshd, process_alive};
use tokio::io::AsyncReadExt;
use tokio_util::sync::CancellationToken;

const VZDUMP: &[&str] = &[
    "vzdump",
    "100",
    "--stdout",
    "--mode",
    "snapshot",
    "--compress",
    "zstd",
];

/// Deterministic bytes that do not compress (xorshift64*), standing in for a `.vma.zst`.
fn fixture_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn connect(target: &SshTarget) -> SshSession {
    ssh::connect(target, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("connect: {e} ({})", e.code()))
}

/// Fails a test that hangs instead of hanging CI.
async fn within<T>(secs: u64, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .expect("the test took too long")
}

/// Reads until at least `n` bytes have arrived.
async fn read_at_least(stream: &mut ExecStream, n: usize) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    while got.len() < n {
        let k = stream.read(&mut buf).await.expect("read stdout");
        assert!(k > 0, "stdout ended after {} bytes, wanted {n}", got.len());
        got.extend_from_slice(&buf[..k]);
    }
    got
}

async fn wait_gone(pid: u32, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !process_alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    !process_alive(pid)
}

#[tokio::test]
async fn unknown_host_key_is_refused_and_shown_as_ssh_keygen_prints_it() {
    let sshd = Sshd::start();
    within(30, async {
        let target = sshd.target_with(SshAuth::Key {
            pem: sshd.client_key.clone(),
            passphrase: None,
        });
        let err = ssh::connect(&target, &CancellationToken::new())
            .await
            .expect_err("no pin: refused");
        assert_eq!(err.code(), "host_key_untrusted", "{err}");
        assert_eq!(err.fingerprint(), Some(sshd.host_fingerprint.as_str()));
        let msg = err.to_string();
        assert!(msg.contains(&sshd.host_fingerprint), "{msg}");
        assert!(msg.contains("ssh_host_ed25519_key.pub"), "{msg}");
        // Refused before sign-in: sshd never saw an authentication attempt.
        assert!(!sshd.log().contains("Accepted publickey"), "{}", sshd.log());

        let probe = fingerprint_of("127.0.0.1", sshd.port, &CancellationToken::new())
            .await
            .expect("probe");
        assert_eq!(probe.fingerprint, sshd.host_fingerprint);
        assert_eq!(probe.algorithm, "ssh-ed25519");

        // Pinning what was shown lets the same target in; so does the hex form of it.
        connect(&target.clone().with_host_key(probe.fingerprint)).await;
        let digest = ssh::parse_fingerprint(&sshd.host_fingerprint).expect("parse");
        let colons = digest
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":");
        connect(&target.with_host_key(colons)).await;
    })
    .await;
}

#[tokio::test]
async fn a_different_pinned_key_is_host_key_changed_with_both_fingerprints() {
    let sshd = Sshd::start();
    within(30, async {
        let other = ssh::normalize_fingerprint(&"ab".repeat(32)).expect("hex pin");
        let target = sshd.target().with_host_key(other.clone());
        let err = ssh::connect(&target, &CancellationToken::new())
            .await
            .expect_err("pin mismatch: refused");
        match &err {
            SshError::HostKeyChanged {
                pinned, presented, ..
            } => {
                assert_eq!(pinned, &other);
                assert_eq!(presented, &sshd.host_fingerprint);
            }
            other => panic!("expected host_key_changed, got {other:?}"),
        }
        assert_eq!(err.code(), "host_key_changed");
        assert_eq!(err.fingerprint(), Some(sshd.host_fingerprint.as_str()));
        let msg = err.to_string();
        assert!(
            msg.contains(&other) && msg.contains(&sshd.host_fingerprint),
            "{msg}"
        );

        let bad_pin = sshd.target().with_host_key("SHA256:not-base64!");
        let err = ssh::connect(&bad_pin, &CancellationToken::new())
            .await
            .expect_err("bad pin");
        assert_eq!(err.code(), "invalid_fingerprint", "{err}");
    })
    .await;
}

#[tokio::test]
async fn wrong_credentials_are_auth_failed_naming_user_and_method() {
    let sshd = Sshd::start();
    within(30, async {
        let pinned = |auth| {
            sshd.target_with(auth)
                .with_host_key(sshd.host_fingerprint.clone())
        };
        let err = ssh::connect(
            &pinned(SshAuth::Key {
                pem: sshd.stranger_key.clone(),
                passphrase: None,
            }),
            &CancellationToken::new(),
        )
        .await
        .expect_err("unknown key");
        assert_eq!(err.code(), "auth_failed", "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains(&sshd.user) && msg.contains("publickey"),
            "{msg}"
        );

        // This sshd has password sign-in off: refused, and the message says what it accepts.
        let err = ssh::connect(
            &pinned(SshAuth::Password("secret".into())),
            &CancellationToken::new(),
        )
        .await
        .expect_err("password off");
        assert_eq!(err.code(), "auth_failed", "{err}");
        let msg = err.to_string();
        assert!(
            msg.contains("password") && msg.contains("publickey"),
            "{msg}"
        );

        // An encrypted key: no passphrase and a wrong one are settings errors, found before
        // any connection; the right one signs in.
        for passphrase in [None, Some("wrong".to_owned())] {
            let err = ssh::connect(
                &pinned(SshAuth::Key {
                    pem: sshd.encrypted_key.clone(),
                    passphrase,
                }),
                &CancellationToken::new(),
            )
            .await
            .expect_err("encrypted key without its passphrase");
            assert_eq!(err.code(), "invalid_key", "{err}");
        }
        connect(&pinned(SshAuth::Key {
            pem: sshd.encrypted_key.clone(),
            passphrase: Some(Sshd::PASSPHRASE.into()),
        }))
        .await;
        // RSA user keys sign with rsa-sha2 (OpenSSH 9 refuses SHA-1 ssh-rsa).
        connect(&pinned(SshAuth::Key {
            pem: sshd.rsa_key.clone(),
            passphrase: None,
        }))
        .await;

        let err = ssh::connect(
            &sshd.target().with_port(free_closed_port()),
            &CancellationToken::new(),
        )
        .await
        .expect_err("nothing listens");
        assert_eq!(err.code(), "unreachable", "{err}");
        assert!(err.is_retryable());
    })
    .await;
}

fn free_closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port")
}

#[tokio::test]
async fn vzdump_stdout_streams_the_exact_bytes_while_progress_arrives() {
    let sshd = Sshd::start();
    // Larger than russh's 2 MiB window and our queues, so flow control is exercised.
    let fixture = fixture_bytes(5 * 1024 * 1024 + 123, 7);
    sshd.write_fixture(100, &fixture);
    within(60, async {
        let session = connect(&sshd.target()).await;

        // The fake is the vzdump the exec channel finds.
        let mut which = session.exec("command -v vzdump").await.expect("exec");
        let mut path = String::new();
        which.read_to_string(&mut path).await.expect("read");
        assert_eq!(
            path.trim(),
            sshd.dir().join("bin/vzdump").display().to_string()
        );
        assert!(which.wait().await.expect("exit").success());

        let mut stream = session.exec(&command_line(VZDUMP)).await.expect("exec");
        let mut stderr = stream.take_stderr().expect("stderr receiver");
        assert!(stream.take_stderr().is_none());
        let mut got = Vec::new();
        let mut progress_at = Vec::new();
        let mut lines = Vec::new();
        let mut buf = vec![0u8; 50_000];
        loop {
            let n = stream.read(&mut buf).await.expect("read stdout");
            // Lines written before these bytes are already queued: record where each arrived.
            while let Ok(line) = stderr.try_recv() {
                if line.starts_with("INFO:") && line.contains("% (") {
                    progress_at.push(got.len());
                }
                lines.push(line);
            }
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        let exit = stream.wait().await.expect("exit");
        while let Ok(line) = stderr.try_recv() {
            lines.push(line);
        }

        assert_eq!(got.len(), fixture.len());
        assert_eq!(sha256(&got), sha256(&fixture));
        assert_eq!(exit.status, Some(0), "{exit:?}");
        assert!(exit.success() && exit.signal.is_none());
        assert_eq!(
            sshd.vzdump_args().as_deref(),
            Some("100 --stdout --mode snapshot --compress zstd")
        );
        assert_eq!(
            lines.first().map(String::as_str),
            Some("INFO: starting new backup job: vzdump 100 --mode snapshot --compress zstd")
        );
        assert!(
            lines
                .contains(&"INFO:   0% (0.0 B of 4.0 GiB) in 0s, read: 0 B/s, write: 0 B/s".into()),
            "{lines:#?}"
        );
        assert!(
            lines.iter().any(|l| l.starts_with("INFO: 100% ")),
            "{lines:#?}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("INFO: Backup job finished successfully")
        );
        // 0%, 50% and 100%, the first two while stdout was still coming.
        assert_eq!(progress_at.len(), 3, "{progress_at:?}");
        assert!(
            progress_at[0] < fixture.len() / 2 && progress_at[1] < fixture.len(),
            "progress arrived only after stdout: {progress_at:?}"
        );
        assert_eq!(exit.stderr_tail.last(), lines.last());
        assert!(exit.stderr_tail.len() <= 20);
        assert_eq!(exit.stderr_lines_dropped, 0);

        // Nothing is left behind on the node: not the command, not its stdin watcher.
        drop(session);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !sshd.leftovers().is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(sshd.leftovers(), vec![]);
    })
    .await;
}

#[tokio::test]
async fn vzdump_failures_exit_non_zero_with_the_message_in_the_stderr_tail() {
    let sshd = Sshd::start();
    sshd.write_fixture(100, &fixture_bytes(200_000, 3));
    within(60, async {
        let session = connect(&sshd.target()).await;
        for (mode, status, message, stdout_len) in [
            (
                "locked",
                255,
                "ERROR: Backup of VM 100 failed - VM is locked (backup)",
                0,
            ),
            (
                "missing",
                255,
                "ERROR: Backup of VM 100 failed - unable to find VM '100'",
                0,
            ),
            ("no_stdout_permission", 255, "please run as root", 0),
            (
                "fail_midway",
                255,
                "ERROR: Backup of VM 100 failed - job failed with err -5 - Input/output error",
                100_000,
            ),
            // A peer that stops early and says all is well: the SSH layer reports what it saw
            // (exit 0, fewer bytes); the VMA reader is the one that must object.
            ("truncate", 0, "INFO:  50% (", 100_000),
            ("other_node", 0, "", 0),
        ] {
            sshd.set_mode(mode);
            let mut stream = session.exec(&command_line(VZDUMP)).await.expect("exec");
            let mut out = Vec::new();
            stream.read_to_end(&mut out).await.expect("read stdout");
            assert_eq!(out.len(), stdout_len, "{mode}");
            let exit = stream.wait().await.expect("exit info");
            assert_eq!(exit.status, Some(status), "{mode}: {exit:?}");
            if message.is_empty() {
                assert!(exit.stderr_tail.is_empty(), "{mode}: {exit:?}");
            } else {
                assert!(
                    exit.stderr_tail.iter().any(|l| l.starts_with(message)),
                    "{mode}: {:#?}",
                    exit.stderr_tail
                );
            }
            if status != 0 {
                let err = exit.ensure_success().expect_err("non-zero");
                assert_eq!(err.code(), "exit_status");
                let msg = err.to_string();
                assert!(msg.contains("exited with status 255"), "{msg}");
                // The ERROR line, not the bookkeeping after it.
                assert!(msg.ends_with(message), "{mode}: {msg}");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn cancel_during_a_hang_returns_promptly_and_kills_the_remote_process() {
    let sshd = Sshd::start();
    sshd.write_fixture(100, &fixture_bytes(1_000_000, 11));
    sshd.set_mode("hang");
    within(60, async {
        let cancel = CancellationToken::new();
        let session = ssh::connect(&sshd.target(), &cancel)
            .await
            .expect("connect");
        let mut stream = session.exec(&command_line(VZDUMP)).await.expect("exec");
        let got = read_at_least(&mut stream, 500_000).await;
        assert_eq!(got.len(), 500_000);
        let pid = sshd.vzdump_pid().expect("the fake wrote its pid");
        assert!(process_alive(pid));

        // Nothing more comes: a read is pending when the cancel fires.
        let reader = tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let r = stream.read(&mut buf).await;
            (r, stream)
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t0 = Instant::now();
        cancel.cancel();
        let (read, stream) = reader.await.expect("reader task");
        let err = read.expect_err("a cancelled read is an error, not an end of file");
        assert_eq!(
            SshError::from_io(&err).map(SshError::code),
            Some("cancelled"),
            "{err}"
        );
        let waited = stream.wait().await.expect_err("cancelled");
        assert_eq!(waited.code(), "cancelled");
        assert!(t0.elapsed() < Duration::from_secs(3), "{:?}", t0.elapsed());

        assert!(
            wait_gone(pid, Duration::from_secs(5)).await,
            "the remote vzdump (pid {pid}) survived the cancel; sshd log:\n{}",
            sshd.log()
        );
        assert!(session.exec("true").await.is_err(), "the session is closed");
    })
    .await;
}

#[tokio::test]
async fn dropping_the_stream_kills_the_remote_process_and_keeps_the_session() {
    let sshd = Sshd::start();
    sshd.write_fixture(100, &fixture_bytes(300_000, 5));
    sshd.set_mode("hang");
    within(60, async {
        let session = connect(&sshd.target()).await;
        let mut stream = session.exec(&command_line(VZDUMP)).await.expect("exec");
        read_at_least(&mut stream, 150_000).await;
        let pid = sshd.vzdump_pid().expect("pid");
        drop(stream);
        assert!(
            wait_gone(pid, Duration::from_secs(5)).await,
            "the remote vzdump (pid {pid}) survived the drop; sshd log:\n{}",
            sshd.log()
        );
        // Other channels on the same connection still work.
        let exit = session.run("exit 3").await.expect("run");
        assert_eq!(exit.status, Some(3));
    })
    .await;
}

#[tokio::test]
async fn losing_the_connection_mid_stream_is_disconnected_not_success() {
    let sshd = Sshd::start();
    sshd.write_fixture(100, &fixture_bytes(400_000, 9));
    sshd.set_mode("hang");
    within(60, async {
        let session = connect(&sshd.target()).await;
        let mut stream = session.exec(&command_line(VZDUMP)).await.expect("exec");
        read_at_least(&mut stream, 200_000).await;

        sshd.kill_connections();
        let t0 = Instant::now();
        let mut rest = Vec::new();
        let err = stream
            .read_to_end(&mut rest)
            .await
            .expect_err("a lost connection is an error, not an end of file");
        assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
        let ssh_err = SshError::from_io(&err).expect("an SshError inside");
        assert_eq!(ssh_err.code(), "disconnected", "{ssh_err}");
        assert!(ssh_err.is_retryable());
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted);

        let waited = stream.wait().await.expect_err("no exit status");
        assert_eq!(waited.code(), "disconnected", "{waited}");
        assert!(session.is_closed());
        let again = session.exec("true").await.expect_err("session gone");
        assert_eq!(again.code(), "disconnected", "{again}");
        // With sshd gone the command's stdin closes too, and its watcher stops it.
        let pid = sshd.vzdump_pid().expect("pid");
        assert!(
            wait_gone(pid, Duration::from_secs(5)).await,
            "the remote vzdump (pid {pid}) outlived its connection"
        );
    })
    .await;
}

#[tokio::test]
async fn a_slow_reader_holds_the_remote_command_back() {
    let sshd = Sshd::start();
    // Far more than every buffer on the way (our queues, russh's, the window, the sockets).
    let fixture = fixture_bytes(48 * 1024 * 1024, 13);
    sshd.write_fixture(100, &fixture);
    within(120, async {
        let session = connect(&sshd.target()).await;
        let mut stream = session.exec(&command_line(VZDUMP)).await.expect("exec");
        let first = read_at_least(&mut stream, 1).await;
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let pid = sshd.vzdump_pid().expect("pid");
        assert!(
            process_alive(pid),
            "the fake finished writing 48 MiB nobody read: no backpressure"
        );
        let mut got = first;
        stream.read_to_end(&mut got).await.expect("read the rest");
        assert_eq!(sha256(&got), sha256(&fixture));
        assert!(stream.wait().await.expect("exit").success());
        assert!(wait_gone(pid, Duration::from_secs(5)).await);
    })
    .await;
}

#[tokio::test]
async fn sftp_download_resumes_a_partial_file() {
    let sshd = Sshd::start();
    let data = fixture_bytes(3 * 1024 * 1024 + 17, 21);
    let remote = sshd
        .dir()
        .join("vzdump-qemu-100-2026_12_07-10_00_00.vma.zst");
    std::fs::write(&remote, &data).expect("remote file");
    let remote = remote.display().to_string();
    let local_dir = tempfile::tempdir().expect("tempdir");
    let local = local_dir.path().join("archive.vma.zst");
    within(60, async {
        let session = connect(&sshd.target()).await;

        // A prefix from an earlier, interrupted download.
        std::fs::write(&local, &data[..1_000_000]).expect("partial");
        let mut seen = Vec::new();
        let info = session
            .download(&remote, &local, true, |n| seen.push(n))
            .await
            .expect("download");
        assert_eq!(info.resumed_from, 1_000_000);
        assert_eq!(info.bytes_total, data.len() as u64);
        assert_eq!(seen.first(), Some(&1_000_000));
        assert_eq!(seen.last(), Some(&(data.len() as u64)));
        assert_eq!(
            sha256(&std::fs::read(&local).expect("local")),
            sha256(&data)
        );

        // Without resume (or with a local file longer than the remote) it starts over.
        std::fs::write(&local, vec![0u8; data.len() + 10]).expect("too long");
        let info = session
            .download(&remote, &local, true, |_| {})
            .await
            .expect("download");
        assert_eq!(info.resumed_from, 0);
        assert_eq!(
            sha256(&std::fs::read(&local).expect("local")),
            sha256(&data)
        );
        std::fs::write(&local, &data[..10]).expect("partial");
        let info = session
            .download(&remote, &local, false, |_| {})
            .await
            .expect("download");
        assert_eq!(info.resumed_from, 0);
        assert_eq!(std::fs::read(&local).expect("local").len(), data.len());

        let err = session
            .download("/nonexistent/file", &local, true, |_| {})
            .await
            .expect_err("missing remote");
        assert_eq!(err.code(), "sftp", "{err}");
    })
    .await;
}

#[tokio::test]
async fn a_silent_or_foreign_server_fails_cleanly() {
    within(30, async {
        // Accepts TCP (the kernel's backlog does) and never speaks: only cancel ends the wait
        // before the connect timeout.
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = silent.local_addr().expect("addr").port();
        let cancel = CancellationToken::new();
        let trigger = cancel.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            trigger.cancel();
        });
        let t0 = Instant::now();
        let err = fingerprint_of("127.0.0.1", port, &cancel)
            .await
            .expect_err("cancelled");
        assert_eq!(err.code(), "cancelled", "{err}");
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());

        // Speaks something else and hangs up.
        let http = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = http.local_addr().expect("addr").port();
        std::thread::spawn(move || {
            use std::io::Write;
            for conn in http.incoming().flatten().take(1) {
                let mut conn = conn;
                let _ = conn.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            }
        });
        let err = fingerprint_of("127.0.0.1", port, &CancellationToken::new())
            .await
            .expect_err("not ssh");
        assert_eq!(err.code(), "protocol", "{err}");
        drop(silent);
    })
    .await;
}

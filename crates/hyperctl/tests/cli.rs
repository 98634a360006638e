//! `hyperctl` as a user runs it: the real binary, a temporary data dir and
//! the real Secret Service keyring (see scripts/test.sh), with `secret-tool`
//! as the independent judge of what the keyring holds.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{fails, hyperctl, ok};

use serde_json::Value;

fn secret_tool_lookup(connection_id: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "hypersdk-desktop", "username"])
        .arg(format!("connection:{connection_id}"))
        .output()
        .expect("secret-tool");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

const ADD: &[&str] = &[
    "connection",
    "add",
    "--kind",
    "vsphere",
    "--name",
    "lab",
    "--endpoint",
    "vc.lab.example:8443",
    "--username",
    "administrator@vsphere.local",
    "--option",
    "datacenter=DC0",
    "--password-stdin",
];

#[test]
fn connection_lifecycle_with_the_keyring() {
    let dir = tempfile::tempdir().expect("tempdir");
    let password = "s3cret with spaces & symbols!";
    let mut args = ADD.to_vec();
    args.push("--json");
    let added: Value = serde_json::from_str(&ok(&hyperctl(
        dir.path(),
        &args,
        Some(&format!("{password}\n")),
    )))
    .expect("json");
    let id = added["id"].as_str().expect("id").to_owned();
    assert_eq!(added["has_secret"], true);
    assert_eq!(added["endpoint"], "https://vc.lab.example:8443");
    assert!(added.get("secret").is_none() && added.get("password").is_none());
    // The trailing newline from `echo` is not part of the password.
    assert_eq!(secret_tool_lookup(&id).as_deref(), Some(password));

    let list: Value = serde_json::from_str(&ok(&hyperctl(
        dir.path(),
        &["connection", "list", "--json"],
        None,
    )))
    .expect("json");
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["name"], "lab");
    assert_eq!(list[0]["options"]["datacenter"], "DC0");

    let table = ok(&hyperctl(dir.path(), &["connection", "list"], None));
    assert!(
        table.contains("lab") && table.contains("keyring"),
        "{table}"
    );
    assert!(!table.contains(password));

    let shown = ok(&hyperctl(dir.path(), &["connection", "show", "lab"], None));
    assert!(shown.contains(&id), "{shown}");

    // Pinning a certificate from the CLI; a bad fingerprint is refused.
    let fp = vec!["A1"; 32].join(":");
    ok(&hyperctl(
        dir.path(),
        &["connection", "edit", "lab", "--pin-fingerprint", &fp],
        None,
    ));
    let shown = ok(&hyperctl(
        dir.path(),
        &["connection", "show", "lab", "--json"],
        None,
    ));
    let shown: Value = serde_json::from_str(&shown).expect("json");
    assert_eq!(shown["tls_fingerprint"], "a1".repeat(32));
    let line = fails(&hyperctl(
        dir.path(),
        &["connection", "edit", "lab", "--pin-fingerprint", "abc"],
        None,
    ));
    assert!(line.contains("[invalid_fingerprint]"), "{line}");

    // Edit: rename keeps the secret and the pin; a new secret from stdin replaces it.
    ok(&hyperctl(
        dir.path(),
        &["connection", "edit", "lab", "--name", "lab2"],
        None,
    ));
    let shown: Value = serde_json::from_str(&ok(&hyperctl(
        dir.path(),
        &["connection", "show", "lab2", "--json"],
        None,
    )))
    .expect("json");
    assert_eq!(shown["tls_fingerprint"], "a1".repeat(32));
    ok(&hyperctl(
        dir.path(),
        &["connection", "edit", "lab2", "--unpin"],
        None,
    ));
    assert_eq!(secret_tool_lookup(&id).as_deref(), Some(password));
    ok(&hyperctl(
        dir.path(),
        &["connection", "edit", "lab2", "--password-stdin"],
        Some("new-pw"),
    ));
    assert_eq!(secret_tool_lookup(&id).as_deref(), Some("new-pw"));

    let removed = ok(&hyperctl(
        dir.path(),
        &["connection", "remove", "lab2"],
        None,
    ));
    assert!(removed.contains("keyring entry"), "{removed}");
    assert_eq!(secret_tool_lookup(&id), None);
    let list = ok(&hyperctl(
        dir.path(),
        &["connection", "list", "--json"],
        None,
    ));
    assert_eq!(
        serde_json::from_str::<Value>(&list).expect("json"),
        serde_json::json!([])
    );

    // Nothing written by hyperctl — database, WAL, logs — holds the password.
    for entry in walk(dir.path()) {
        let bytes = std::fs::read(&entry).expect("read");
        assert!(
            !bytes
                .windows(password.len())
                .any(|w| w == password.as_bytes()),
            "password found in {}",
            entry.display()
        );
    }
}

#[test]
fn bad_input_gets_a_one_line_error_and_saves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    ok(&hyperctl(dir.path(), ADD, Some("pw")));

    let line = fails(&hyperctl(dir.path(), ADD, Some("pw")));
    assert!(
        line.contains("already exists") && line.contains("[connection_name_taken]"),
        "{line}"
    );

    let mut bad_port = ADD.to_vec();
    bad_port[5] = "other";
    bad_port[7] = "vc.example.com:70000";
    let line = fails(&hyperctl(dir.path(), &bad_port, Some("pw")));
    assert!(
        line.contains("1 to 65535") && line.contains("[invalid_endpoint]"),
        "{line}"
    );

    let mut empty = ADD.to_vec();
    empty[5] = "other";
    empty[7] = "";
    let line = fails(&hyperctl(dir.path(), &empty, Some("pw")));
    assert!(line.contains("Endpoint is required"), "{line}");

    // --json puts the code on stdout for scripts.
    let mut json = bad_port.clone();
    json.push("--json");
    let out = hyperctl(dir.path(), &json, Some("pw"));
    fails(&out);
    let v: Value = serde_json::from_slice(&out.stdout).expect("json error");
    assert_eq!(v["error"]["code"], "invalid_endpoint");

    let list: Value = serde_json::from_str(&ok(&hyperctl(
        dir.path(),
        &["connection", "list", "--json"],
        None,
    )))
    .expect("json");
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(1),
        "nothing but the first connection was saved"
    );

    // A password is never accepted as an argument.
    let out = hyperctl(dir.path(), &["connection", "add", "--password", "x"], None);
    assert!(!out.status.success());

    // Without a terminal and without --password-stdin, hyperctl does not guess.
    let mut no_secret = ADD.to_vec();
    no_secret.pop();
    no_secret[5] = "third";
    let line = fails(&hyperctl(dir.path(), &no_secret, None));
    assert!(line.contains("--password-stdin"), "{line}");

    let line = fails(&hyperctl(dir.path(), &["connection", "show", "nope"], None));
    assert!(line.contains("[not_found]"), "{line}");
    let line = fails(&hyperctl(dir.path(), &["jobs", "cancel", "nope"], None));
    assert!(line.contains("[not_found]"), "{line}");

    ok(&hyperctl(
        dir.path(),
        &["connection", "remove", "lab"],
        None,
    ));
}

#[test]
fn without_a_keyring_the_user_is_told_and_nothing_is_saved() {
    let dir = tempfile::tempdir().expect("tempdir");
    // No session bus at all: what a headless box without a keyring looks like.
    let out = Command::new(env!("CARGO_BIN_EXE_hyperctl"))
        .args(ADD)
        .env("HYPERSDK_DATA_DIR", dir.path())
        .env(
            "DBUS_SESSION_BUS_ADDRESS",
            "unix:path=/nonexistent/hypersdk-test-bus",
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            c.stdin.take().map(|mut s| s.write_all(b"pw"));
            c.wait_with_output()
        })
        .expect("run");
    let line = fails(&out);
    assert!(line.contains("[keyring_unavailable]"), "{line}");
    assert!(
        line.contains("Secret Service"),
        "names what is missing: {line}"
    );
    let list: Value = serde_json::from_str(&ok(&hyperctl(
        dir.path(),
        &["connection", "list", "--json"],
        None,
    )))
    .expect("json");
    assert_eq!(list, serde_json::json!([]));
    // Without a secret, no keyring is needed.
    let mut no_pw = ADD.to_vec();
    no_pw.pop();
    no_pw.push("--no-password");
    ok(&hyperctl(dir.path(), &no_pw, None));
}

#[test]
fn a_corrupt_database_is_named_and_left_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hypersdk.db");
    let garbage = b"definitely not sqlite ".repeat(100);
    std::fs::write(&db, &garbage).expect("write");
    let line = fails(&hyperctl(dir.path(), &["connection", "list"], None));
    assert!(
        line.contains(&db.display().to_string()) && line.contains("[database_corrupt]"),
        "{line}"
    );
    assert_eq!(std::fs::read(&db).expect("read"), garbage);
}

/// Fills a table that opening never reads, then overwrites the b-tree header of one of its
/// pages in the middle of the file (as a bad sector would), leaving the file header intact.
fn damage_a_page(db: &std::path::Path) {
    let conn = rusqlite::Connection::open(db).expect("open db");
    for ts in 0..2_000 {
        conn.execute(
            "INSERT INTO metric_samples (series, resolution, ts, total, n, peak) \
             VALUES ('damage-me', 1, ?1, 1, 1, 1)",
            [ts],
        )
        .expect("insert");
    }
    drop(conn);
    let mut bytes = std::fs::read(db).expect("read db");
    let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65_536,
        n => usize::from(n),
    };
    let pages: Vec<usize> = (1..bytes.len() / page_size)
        .filter(|p| {
            bytes[p * page_size..(p + 1) * page_size]
                .windows(9)
                .any(|w| w == b"damage-me")
        })
        .collect();
    assert!(pages.len() > 2, "the rows should span several pages");
    let page = pages[pages.len() / 2];
    bytes[page * page_size..page * page_size + 64].fill(0xA5);
    std::fs::write(db, bytes).expect("write db");
}

#[test]
fn db_check_reads_every_page_and_names_a_damaged_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("hypersdk.db");
    let path = db.display().to_string();
    ok(&hyperctl(dir.path(), &["jobs", "list"], None));

    let out = ok(&hyperctl(dir.path(), &["db", "check"], None));
    assert!(out.starts_with(&format!("ok: {path} (")), "{out}");
    let report: serde_json::Value =
        serde_json::from_str(&ok(&hyperctl(dir.path(), &["db", "check", "--json"], None)))
            .expect("json");
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["path"], path.as_str(), "{report}");
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");

    damage_a_page(&db);
    // Opening does not read every page, so everyday commands still work...
    ok(&hyperctl(dir.path(), &["jobs", "list"], None));
    let damaged = std::fs::read(&db).expect("read");
    // ...and the check finds what they did not.
    let out = hyperctl(dir.path(), &["db", "check"], None);
    let line = fails(&out);
    assert!(
        line.contains(&path) && line.contains("[database_corrupt]") && line.contains("problem"),
        "{line}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(" page "),
        "the problems are listed: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = hyperctl(dir.path(), &["db", "check", "--json"], None);
    fails(&out);
    let error: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json error");
    assert_eq!(error["error"]["code"], "database_corrupt", "{error}");
    assert_eq!(
        std::fs::read(&db).expect("read"),
        damaged,
        "the check only reads"
    );

    // A file that is not SQLite at all.
    let garbage = b"definitely not sqlite ".repeat(100);
    std::fs::write(&db, &garbage).expect("write");
    let line = fails(&hyperctl(dir.path(), &["db", "check"], None));
    assert!(
        line.contains(&path) && line.contains("[database_corrupt]"),
        "{line}"
    );
    assert_eq!(std::fs::read(&db).expect("read"), garbage);
}

#[test]
fn jobs_and_settings_and_help() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(
        ok(&hyperctl(dir.path(), &["jobs", "list"], None)).trim(),
        "No jobs."
    );
    assert_eq!(
        ok(&hyperctl(dir.path(), &["jobs", "list", "--json"], None)).trim(),
        "[]"
    );
    let line = fails(&hyperctl(
        dir.path(),
        &["jobs", "list", "--state", "done"],
        None,
    ));
    assert!(line.contains("unknown state"), "{line}");

    let s: Value = serde_json::from_str(&ok(&hyperctl(
        dir.path(),
        &["settings", "set", "--max-concurrent-jobs", "6", "--json"],
        None,
    )))
    .expect("json");
    assert_eq!(s["max_concurrent_jobs"], 6);
    assert_eq!(s["notify_runs"], "always", "the desktop default");
    let s: Value = serde_json::from_str(&ok(&hyperctl(
        dir.path(),
        &[
            "settings",
            "set",
            "--notify-runs",
            "failures-only",
            "--json",
        ],
        None,
    )))
    .expect("json");
    assert_eq!(
        (s["notify_runs"].as_str(), s["max_concurrent_jobs"].as_u64()),
        (Some("failures_only"), Some(6))
    );
    let line = fails(&hyperctl(
        dir.path(),
        &["settings", "set", "--max-concurrent-jobs", "0"],
        None,
    ));
    assert!(line.contains("between 1 and 32"), "{line}");
    let s: Value = serde_json::from_str(&ok(&hyperctl(
        dir.path(),
        &["settings", "set", "--disks-per-export", "1", "--json"],
        None,
    )))
    .expect("json");
    assert_eq!(
        (
            s["disks_per_export"].as_u64(),
            s["max_concurrent_jobs"].as_u64()
        ),
        (Some(1), Some(6))
    );
    let line = fails(&hyperctl(
        dir.path(),
        &["settings", "set", "--disks-per-export", "17"],
        None,
    ));
    assert!(line.contains("between 1 and 16"), "{line}");

    for args in [
        &["--help"][..],
        &["connection", "--help"],
        &["connection", "add", "--help"],
        &["jobs", "--help"],
        &["jobs", "cancel", "--help"],
        &["settings", "--help"],
    ] {
        let out = ok(&hyperctl(dir.path(), args, None));
        assert!(out.contains("Usage:"), "{args:?}: {out}");
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files
}

/// `jobs list` pages, filters and sorts in the core, over every job in the database.
#[test]
fn jobs_list_filters_sorts_and_pages_every_job() {
    use hypersdk_core::model::{JobKind, JobState};
    use hypersdk_core::store::{NewJobRow, Store};

    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = Store::open(&dir.path().join("hypersdk.db")).expect("open");
        for i in 0..250u32 {
            let id = format!("{i:08x}-0000-4000-8000-{i:012x}");
            store
                .insert_job(&NewJobRow {
                    id: &id,
                    name: &format!("Export vm-{i:03}"),
                    kind: JobKind::Export,
                    connection_id: None,
                    request_json: "{}",
                    runner_id: "seed",
                })
                .expect("insert");
            if i % 10 == 0 {
                let error = hypersdk_core::ApiError {
                    code: "source_unreachable".into(),
                    message: format!("host esx-{i} refused the connection"),
                    retryable: true,
                };
                store
                    .transition_job(&id, JobState::Failed, "failed", Some(&error))
                    .expect("fail");
            } else {
                // Ended: a queued job of no live process would be marked interrupted.
                store
                    .finish_job(&id, JobState::Succeeded, "done", None, None)
                    .expect("finish");
            }
        }
    }
    let list = |args: &[&str]| -> (Vec<Value>, String) {
        let mut all = vec!["--json", "jobs", "list"];
        all.extend_from_slice(args);
        let out = hyperctl(dir.path(), &all, None);
        let jobs: Vec<Value> = serde_json::from_str(&ok(&out)).expect("json");
        (jobs, String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let names = |jobs: &[Value]| -> Vec<String> {
        jobs.iter()
            .map(|j| j["name"].as_str().expect("name").to_owned())
            .collect()
    };

    // One page (100) of 250, newest first, and where the next one starts.
    let (jobs, note) = list(&[]);
    assert_eq!(jobs.len(), 100);
    assert_eq!(jobs[0]["name"], "Export vm-249");
    assert!(
        note.contains("of 250 matching") && note.contains("--offset 100"),
        "{note}"
    );
    let (jobs, _) = list(&["--offset", "240", "--limit", "20"]);
    assert_eq!(
        names(&jobs).last().map(String::as_str),
        Some("Export vm-000")
    );
    assert_eq!(jobs.len(), 10);

    // Filters: state (repeatable or comma-separated), and words from the error message.
    let (failed, note) = list(&["--state", "failed", "--sort", "name"]);
    assert_eq!(failed.len(), 25);
    assert_eq!(failed[0]["name"], "Export vm-000", "name sort is ascending");
    assert!(note.is_empty(), "a complete list has no note: {note}");
    let (both, _) = list(&["--state", "failed,succeeded", "--limit", "1000"]);
    assert_eq!(both.len(), 250);
    let (found, _) = list(&["--search", "ESX-120 refused"]);
    assert_eq!(names(&found), ["Export vm-120"]);
    let (none, _) = list(&["--provider", "none", "--search", "vm-00", "--asc"]);
    assert_eq!(
        names(&none)[..3],
        ["Export vm-000", "Export vm-001", "Export vm-002"]
    );
    assert!(
        ok(&hyperctl(
            dir.path(),
            &["jobs", "list", "--search", "nothing-like-it"],
            None
        ))
        .contains("No job matches.")
    );

    // Short ids resolve; bad input is refused with the field named.
    let shown = ok(&hyperctl(dir.path(), &["jobs", "show", "000000f9"], None));
    assert!(shown.contains("Export vm-249"), "{shown}");
    for (args, want) in [
        (&["jobs", "list", "--sort", "size"][..], "unknown sort"),
        (
            &["jobs", "list", "--provider", "vmware"][..],
            "unknown provider",
        ),
        (&["jobs", "list", "--limit", "5000"][..], "at most 1000"),
        (&["jobs", "list", "--connection", "missing"][..], "missing"),
        (&["jobs", "show", "0000"][..], "matches"),
    ] {
        let line = fails(&hyperctl(dir.path(), args, None));
        assert!(line.contains(want), "{args:?}: {line}");
    }
}

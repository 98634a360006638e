//! `hyperctl schedule` and `hyperctl scheduler` as a user runs them: the real
//! binary on a temporary data dir. The connections have no password, so no
//! keyring is involved; they point at a closed local port, so runs fail
//! fast — what matters here is that runs happen (once), and are recorded.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use serde_json::Value;

fn hyperctl(data_dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hyperctl"))
        .args(args)
        .env("HYPERSDK_DATA_DIR", data_dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("run hyperctl")
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "hyperctl failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn json(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).expect("json output")
}

/// Fails with exactly one line on stderr and returns it.
fn fails(out: &Output) -> String {
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

struct Setup {
    _tmp: tempfile::TempDir,
    data: std::path::PathBuf,
    out: String,
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    let out = tmp.path().join("backups");
    std::fs::create_dir_all(&out).expect("mkdir");
    ok(&hyperctl(
        &data,
        &[
            "connection",
            "add",
            "--kind",
            "vsphere",
            "--name",
            "lab",
            "--endpoint",
            "127.0.0.1:9",
            "--username",
            "backup",
            "--no-password",
        ],
    ));
    Setup {
        out: out.display().to_string(),
        data,
        _tmp: tmp,
    }
}

fn add_args<'a>(s: &'a Setup, name: &'a str, cron: &'a str) -> Vec<&'a str> {
    vec![
        "schedule",
        "add",
        "--name",
        name,
        "--cron",
        cron,
        "--tz",
        "UTC",
        "--connection",
        "lab",
        "--vm",
        "/DC0/vm/web01",
        "-o",
        &s.out,
    ]
}

/// Moves a schedule's next run into the past, as if its time had come
/// while nothing was running.
fn make_overdue(data: &Path, name: &str) {
    let store =
        hypersdk_core::store::Store::open(&data.join("hypersdk.db")).expect("open the database");
    let schedule = store
        .find_schedule(name)
        .expect("query")
        .expect("schedule exists");
    let past: hypersdk_core::model::Timestamp =
        serde_json::from_str("\"2020-01-01T03:00:00Z\"").expect("timestamp");
    store
        .set_schedule_next_run(&schedule.id, Some(past))
        .expect("set next run");
}

#[test]
fn an_invalid_cron_expression_is_refused_naming_the_field() {
    let s = setup();
    let mut args = add_args(&s, "nightly", "0 2 * * *");
    args[5] = "0 2 * 13 *";
    let line = fails(&hyperctl(&s.data, &args));
    assert!(
        line.contains("month field") && line.contains("[invalid_cron]"),
        "{line}"
    );
    args[5] = "0 2 * * *";
    args[7] = "Mars/Olympus";
    let line = fails(&hyperctl(&s.data, &args));
    assert!(line.contains("[invalid_timezone]"), "{line}");
    // --vm and --match are alternatives; one of them is required.
    let out = hyperctl(
        &s.data,
        &[
            "schedule",
            "add",
            "--name",
            "x",
            "--cron",
            "@daily",
            "--connection",
            "lab",
            "-o",
            &s.out,
        ],
    );
    assert!(!out.status.success());
    let list = json(&hyperctl(&s.data, &["schedule", "list", "--json"]));
    assert_eq!(list, serde_json::json!([]), "nothing was saved");
}

#[test]
fn add_list_show_and_remove_round_trip() {
    let s = setup();
    let mut args = add_args(&s, "nightly", "0 2 * * *");
    args.extend(["--keep-daily", "7", "--keep-weekly", "4", "--json"]);
    let added = json(&hyperctl(&s.data, &args));
    assert_eq!(added["description"], "At 02:00, every day");
    assert_eq!(
        added["retention"],
        serde_json::json!({"kind": "gfs", "daily": 7, "weekly": 4, "monthly": 0})
    );

    let mut rule = vec![
        "schedule",
        "add",
        "--name",
        "web",
        "--cron",
        "30 1 * * 1-5",
        "--connection",
        "lab",
        "--match",
        "web*",
        "--folder",
        "/DC0/vm/prod",
        "-o",
        &s.out,
        "--keep-last",
        "3",
        "--compress",
        "zstd",
        "--missed",
        "skip",
    ];
    ok(&hyperctl(&s.data, &rule));
    rule[3] = "WEB";
    let line = fails(&hyperctl(&s.data, &rule));
    assert!(line.contains("[schedule_name_taken]"), "{line}");

    let list = json(&hyperctl(&s.data, &["schedule", "list", "--json"]));
    let list = list.as_array().expect("array");
    assert_eq!(list.len(), 2);
    let nightly = &list[0];
    assert_eq!(nightly["name"], "nightly");
    let next = nightly["next_run"].as_str().expect("next_run");
    assert!(
        chrono_like_rfc3339(next) && next.ends_with("T02:00:00Z"),
        "{next}"
    );
    let web = &list[1];
    assert_eq!(
        web["template"]["selection"],
        serde_json::json!({"kind": "rule", "name_pattern": "web*", "folder": "/DC0/vm/prod"})
    );
    assert_eq!(web["template"]["format"]["compression"], "zstd");
    assert_eq!(web["missed_run_policy"], "skip");
    assert_eq!(web["description"], "At 01:30, Monday through Friday");
    assert!(web["time_zone"].as_str().is_some(), "local by default");

    let table = ok(&hyperctl(&s.data, &["schedule", "list"]));
    assert!(table.contains("nightly") && table.contains("At 02:00, every day"));
    let shown = ok(&hyperctl(&s.data, &["schedule", "show", "nightly"]));
    assert!(
        shown.contains("keep 7 daily, 4 weekly") && shown.contains("Upcoming:"),
        "{shown}"
    );
    let detail = json(&hyperctl(&s.data, &["schedule", "show", "web", "--json"]));
    assert_eq!(detail["upcoming"].as_array().map(Vec::len), Some(5));

    let disabled = json(&hyperctl(
        &s.data,
        &["schedule", "disable", "web", "--json"],
    ));
    assert_eq!(disabled["enabled"], false);
    assert_eq!(disabled["next_run"], Value::Null);
    let enabled = json(&hyperctl(&s.data, &["schedule", "enable", "web", "--json"]));
    assert!(enabled["next_run"].is_string());

    ok(&hyperctl(&s.data, &["schedule", "remove", "web"]));
    ok(&hyperctl(&s.data, &["schedule", "rm", "nightly"]));
    let line = fails(&hyperctl(&s.data, &["schedule", "show", "nightly"]));
    assert!(line.contains("[not_found]"), "{line}");
    let list = json(&hyperctl(&s.data, &["schedule", "list", "--json"]));
    assert_eq!(list, serde_json::json!([]));
}

/// `YYYY-MM-DDTHH:MM:SS…` with a zone: what RFC 3339 consumers parse.
fn chrono_like_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && (s.ends_with('Z') || s[19..].contains(['+', '-']))
}

#[test]
fn history_shows_a_skipped_run_and_pause_resume() {
    let s = setup();
    let mut args = add_args(&s, "nightly", "0 3 * * *");
    args.extend(["--missed", "skip"]);
    ok(&hyperctl(&s.data, &args));
    assert_eq!(
        ok(&hyperctl(&s.data, &["schedule", "history", "nightly"])).trim(),
        "No runs yet."
    );
    make_overdue(&s.data, "nightly");
    let once = ok(&hyperctl(&s.data, &["scheduler", "--once"]));
    assert!(once.contains("skipped"), "{once}");

    let history = ok(&hyperctl(&s.data, &["schedule", "history", "nightly"]));
    assert!(
        history.contains("skipped") && history.contains("missed while not running"),
        "{history}"
    );
    let runs = json(&hyperctl(
        &s.data,
        &["schedule", "history", "nightly", "--json"],
    ));
    assert_eq!(runs[0]["status"], "skipped");
    assert_eq!(runs[0]["trigger"], "catch_up");
    assert_eq!(runs[0]["scheduled_for"], "2020-01-01T03:00:00Z");

    // Paused: the due time is recorded as skipped for that reason.
    ok(&hyperctl(&s.data, &["schedule", "pause"]));
    make_overdue(&s.data, "nightly");
    ok(&hyperctl(&s.data, &["scheduler", "--once"]));
    let runs = json(&hyperctl(
        &s.data,
        &["schedule", "history", "nightly", "--json"],
    ));
    assert_eq!(runs[0]["reason"], "paused: schedules are paused");
    let resumed = ok(&hyperctl(&s.data, &["schedule", "resume"]));
    assert!(resumed.contains("resumed"), "{resumed}");

    // "run now" in the foreground: waits, records, and fails the command
    // when the run failed.
    let out = hyperctl(&s.data, &["schedule", "run", "nightly"]);
    let line = fails(&out);
    assert!(line.contains("[run_failed]"), "{line}");
    let runs = json(&hyperctl(
        &s.data,
        &["schedule", "history", "nightly", "--json"],
    ));
    assert_eq!(runs[0]["trigger"], "manual");
    assert_eq!(runs[0]["status"], "failed");
    assert_eq!(runs.as_array().map(Vec::len), Some(3));
    let preview = ok(&hyperctl(
        &s.data,
        &["schedule", "preview-retention", "nightly"],
    ));
    assert!(preview.contains("would delete nothing"), "{preview}");
}

/// A `hyperctl scheduler` process and the lines it prints.
struct Scheduler {
    child: Child,
    lines: Receiver<String>,
}

impl Scheduler {
    fn start(data: &Path) -> Scheduler {
        let mut child = Command::new(env!("CARGO_BIN_EXE_hyperctl"))
            .arg("scheduler")
            .env("HYPERSDK_DATA_DIR", data)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn scheduler");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Scheduler { child, lines }
    }

    fn wait_for(&self, what: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if what(&line) => return line,
                Ok(line) => seen.push(line),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => {
                    panic!("the scheduler never printed the line; it printed: {seen:?}")
                }
            }
        }
    }

    /// SIGKILL: no clean-up, as when the process crashes or is killed.
    fn kill(mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("reap");
    }
}

#[test]
fn a_killed_scheduler_restarts_with_schedules_intact_and_runs_a_missed_time_once() {
    let s = setup();
    ok(&hyperctl(&s.data, &add_args(&s, "nightly", "0 3 * * *")));

    let first = Scheduler::start(&s.data);
    first.wait_for(|l| l.starts_with("Scheduler running"));
    first.kill();

    // 03:00 came and went while nothing ran.
    make_overdue(&s.data, "nightly");
    let second = Scheduler::start(&s.data);
    second.wait_for(|l| l.contains("run #1") && l.contains("(catch_up): running"));
    second.wait_for(|l| l.contains("run #1") && l.contains(": failed"));
    second.kill();

    // A third start finds nothing to catch up.
    let third = Scheduler::start(&s.data);
    third.wait_for(|l| l.starts_with("Scheduler running"));
    std::thread::sleep(Duration::from_millis(2500));
    third.kill();

    let list = json(&hyperctl(&s.data, &["schedule", "list", "--json"]));
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["name"], "nightly");
    assert!(
        list[0]["next_run"].as_str().is_some_and(|t| t > "2025"),
        "next run moved on: {}",
        list[0]["next_run"]
    );
    let runs = json(&hyperctl(
        &s.data,
        &["schedule", "history", "nightly", "--json"],
    ));
    let runs = runs.as_array().expect("array");
    assert_eq!(runs.len(), 1, "the missed time ran exactly once: {runs:?}");
    assert_eq!(runs[0]["trigger"], "catch_up");
    assert_eq!(runs[0]["scheduled_for"], "2020-01-01T03:00:00Z");
    assert_eq!(runs[0]["status"], "failed");
}

#[test]
fn only_one_scheduler_fires_schedules_at_a_time() {
    let s = setup();
    let first = Scheduler::start(&s.data);
    first.wait_for(|l| l.starts_with("Scheduler running"));
    let line = fails(&hyperctl(&s.data, &["scheduler", "--once"]));
    assert!(line.contains("[scheduler_busy]"), "{line}");
    first.kill();
    ok(&hyperctl(&s.data, &["scheduler", "--once"]));
}

#[test]
fn preview_cron_says_what_an_expression_means_and_saves_nothing() {
    let s = setup();
    let out = ok(&hyperctl(
        &s.data,
        &[
            "schedule",
            "preview-cron",
            "30 2 * * 1",
            "--tz",
            "Europe/Paris",
        ],
    ));
    let mut lines = out.lines();
    assert!(lines.next().is_some_and(|l| l.contains("02:30")), "{out}");
    assert_eq!(lines.next(), Some("Next runs:"), "{out}");
    let runs: Vec<&str> = lines.collect();
    assert_eq!(runs.len(), 5, "{out}");
    assert!(runs.iter().all(|r| r.contains("02:30")), "{out}");
    let v = json(&hyperctl(
        &s.data,
        &["--json", "schedule", "preview-cron", "@daily"],
    ));
    assert_eq!(v["upcoming"].as_array().map(Vec::len), Some(5), "{v}");
    let e = fails(&hyperctl(&s.data, &["schedule", "preview-cron", "0 2 * *"]));
    assert!(
        e.contains("4 fields") && e.ends_with("[invalid_cron]"),
        "{e}"
    );
    let listed = json(&hyperctl(&s.data, &["--json", "schedule", "list"]));
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "nothing saved");
}

//! `hyperctl webhook` as a user runs it: the real binary, a temporary data
//! dir and the real Secret Service keyring (run inside
//! `scripts/lib/with-session.sh`, as `scripts/test.sh` does). The receiver is
//! Python's http.server around the verification snippet of README.md, taken
//! from the README at test time — so the documented example is proven to
//! accept our signatures (and to reject a wrong secret).

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

fn hyperctl(data_dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hyperctl"))
        .args(args)
        .env("HYPERSDK_DATA_DIR", data_dir)
        .env_remove("RUST_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hyperctl");
    if let Some(text) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text.as_bytes())
            .expect("write stdin");
    }
    drop(child.stdin.take());
    child.wait_with_output().expect("hyperctl output")
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

fn ok_json(out: &Output) -> Value {
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

fn secret_tool_lookup(account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", "hypersdk-desktop", "username", account])
        .output()
        .expect("secret-tool");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The Python block under "### Verifying a delivery" in README.md.
fn readme_snippet() -> String {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"))
            .expect("README.md");
    let section = readme
        .split_once("### Verifying a delivery")
        .expect("the README has a verification section")
        .1;
    let code = section.split_once("```python\n").expect("a python block").1;
    code.split_once("```").expect("closed block").0.to_owned()
}

struct PyReceiver {
    child: Child,
    url: String,
    log: PathBuf,
}

impl Drop for PyReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl PyReceiver {
    /// Answers 200 when the README's `verify` accepts the request, else 401,
    /// and logs what it saw, one JSON line per request.
    fn start(dir: &Path, secret: &str) -> PyReceiver {
        let script = dir.join("receiver.py");
        let log = dir.join("receiver.log");
        let server = r#"
import http.server, json, os, sys

SECRET = os.environ["HOOK_SECRET"].encode()
LOG = sys.argv[1]

class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        ok = verify(SECRET, self.headers, body)
        with open(LOG, "a") as f:
            f.write(json.dumps({
                "ok": ok,
                "event": self.headers["X-HyperSDK-Event"],
                "event_id": self.headers["X-HyperSDK-Event-Id"],
                "attempt": self.headers["X-HyperSDK-Attempt"],
                "authorization": self.headers.get("Authorization"),
                "team": self.headers.get("X-Team"),
                "headers": str(self.headers),
                "body": body.decode(),
            }) + "\n")
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;
        std::fs::write(&script, format!("{}\n{server}", readme_snippet())).expect("write script");
        let mut child = Command::new("python3")
            .arg(&script)
            .arg(&log)
            .env("HOOK_SECRET", secret)
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("port");
        let port: u16 = line.trim().parse().expect("port number");
        PyReceiver {
            child,
            url: format!("http://127.0.0.1:{port}/hooks/hypersdk"),
            log,
        }
    }

    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("log line"))
            .collect()
    }
}

fn files_containing(dir: &Path, needle: &str) -> Vec<PathBuf> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p)
                && bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
            {
                hits.push(p);
            }
        }
    }
    hits
}

#[test]
fn webhooks_from_the_command_line_with_a_receiver_running_the_readme_example() {
    let home = tempfile::tempdir().expect("tempdir");
    let data = home.path().join("data");
    let nonce = std::process::id();
    let secret = format!("whsec-{nonce}-Zq9!");
    let token = format!("tok-{nonce}-bearer");
    let receiver = PyReceiver::start(home.path(), &secret);

    // Signing secret, then the secret header's value: one line each.
    let added = ok_json(&hyperctl(
        &data,
        &[
            "webhook",
            "add",
            "--name",
            "ops",
            "--url",
            &receiver.url,
            "--event",
            "job.completed",
            "--event",
            "job.failed",
            "--header",
            "X-Team=ops",
            "--secret-header",
            "Authorization",
            "--secret-stdin",
            "--timeout",
            "5",
            "--max-attempts",
            "7",
            "--json",
        ],
        Some(&format!("{secret}\nBearer {token}\n")),
    ));
    let id = added["id"].as_str().expect("id").to_owned();
    assert_eq!(added["has_secret"], true);
    assert_eq!(
        added["events"],
        serde_json::json!(["job.completed", "job.failed"])
    );
    assert_eq!(added["timeout_ms"], 5000);
    assert_eq!(added["max_attempts"], 7);
    assert_eq!(
        added["headers"],
        serde_json::json!([
            {"name": "X-Team", "value": "ops", "secret": false},
            {"name": "Authorization", "value": null, "secret": true}
        ])
    );
    assert_eq!(
        secret_tool_lookup(&format!("webhook:{id}")).as_deref(),
        Some(secret.as_str())
    );
    assert_eq!(
        secret_tool_lookup(&format!("webhook:{id}:header:authorization")).as_deref(),
        Some(format!("Bearer {token}").as_str())
    );

    // The test event is signed; the README's verify() accepts it.
    let out = ok(&hyperctl(&data, &["webhook", "test", "ops"], None));
    assert!(out.starts_with("HTTP 200 from "), "{out}");
    let seen = receiver.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0]["ok"], true, "{:?}", seen[0]);
    assert_eq!(seen[0]["event"], "webhook.test");
    assert_eq!(seen[0]["attempt"], "1");
    assert_eq!(seen[0]["team"], "ops");
    assert_eq!(seen[0]["authorization"], format!("Bearer {token}"));
    let body: Value = serde_json::from_str(seen[0]["body"].as_str().expect("body")).expect("json");
    assert_eq!(body["event"], "webhook.test");
    assert_eq!(body["data"]["webhook_name"], "ops");
    for s in [&secret, &token] {
        assert!(
            !seen[0]["body"]
                .as_str()
                .unwrap_or_default()
                .contains(s.as_str())
        );
    }
    assert!(
        !seen[0]["headers"]
            .as_str()
            .unwrap_or_default()
            .contains(secret.as_str()),
        "the signing secret is never sent"
    );

    // A wrong secret: the receiver refuses, the command says so and fails.
    ok(&hyperctl(
        &data,
        &[
            "webhook",
            "add",
            "--name",
            "wrong",
            "--url",
            &receiver.url,
            "--secret-stdin",
            "--max-attempts",
            "1",
        ],
        Some("not-the-secret\n"),
    ));
    let out = hyperctl(&data, &["webhook", "test", "wrong"], None);
    let line = fails(&out);
    assert!(
        line.contains("answered HTTP 401") && line.ends_with("[webhook_test_failed]"),
        "{line}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("HTTP 401 from "));
    assert_eq!(receiver.requests()[1]["ok"], false);

    // The list and the delivery log.
    let list = ok(&hyperctl(&data, &["webhook", "list"], None));
    assert!(list.contains("ops") && list.contains("wrong"), "{list}");
    assert!(list.contains("delivered 200"), "{list}");
    assert!(!list.contains(&token) && !list.contains(&secret));
    let hooks = ok_json(&hyperctl(&data, &["webhook", "list", "--json"], None));
    assert_eq!(hooks.as_array().map(Vec::len), Some(2));
    let dead = ok_json(&hyperctl(
        &data,
        &["webhook", "deliveries", "--status", "dead", "--json"],
        None,
    ));
    let dead = dead.as_array().expect("array");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["webhook_name"], "wrong");
    assert_eq!(dead[0]["last_status_code"], 401);
    let table = ok(&hyperctl(&data, &["webhook", "deliveries", "ops"], None));
    assert!(
        table.contains("webhook.test") && table.contains("delivered") && table.contains("200"),
        "{table}"
    );
    let bad_status = fails(&hyperctl(
        &data,
        &["webhook", "deliveries", "--status", "lost"],
        None,
    ));
    assert!(bad_status.contains("expected pending, delivered, dead or cancelled"));

    // Redeliver the dead one and send it from this terminal.
    let dead_id = dead[0]["id"].as_i64().expect("id").to_string();
    let again = ok_json(&hyperctl(
        &data,
        &["webhook", "redeliver", &dead_id, "--json"],
        None,
    ));
    assert_eq!(again["status"], "pending");
    assert_eq!(again["event_id"], dead[0]["event_id"]);
    ok(&hyperctl(
        &data,
        &["webhook", "deliver", "--timeout", "20"],
        None,
    ));
    let seen = receiver.requests();
    assert_eq!(seen.len(), 3);
    assert_eq!(seen[2]["event_id"], dead[0]["event_id"], "same event id");
    assert_eq!(seen[2]["attempt"], "1", "a fresh attempt budget");

    // Enable/disable.
    assert!(ok(&hyperctl(&data, &["webhook", "disable", "ops"], None)).contains("is off"));
    let shown = ok_json(&hyperctl(
        &data,
        &["webhook", "show", "ops", "--json"],
        None,
    ));
    assert_eq!(shown["enabled"], false);
    ok(&hyperctl(&data, &["webhook", "enable", "ops"], None));
    let shown = ok(&hyperctl(&data, &["webhook", "show", "ops"], None));
    assert!(shown.contains("Enabled:      yes"), "{shown}");
    assert!(
        shown.contains("Authorization: (secret, in the OS keyring)"),
        "{shown}"
    );

    // Bad input is refused with a clear line and a code, and saves nothing.
    let line = fails(&hyperctl(
        &data,
        &[
            "webhook",
            "add",
            "--name",
            "bad",
            "--url",
            "https://me:pw@hooks.example.com/x",
        ],
        None,
    ));
    assert!(
        line.contains("user name or password") && line.ends_with("[invalid_url]"),
        "{line}"
    );
    let line = fails(&hyperctl(
        &data,
        &[
            "webhook",
            "add",
            "--name",
            "bad",
            "--url",
            "ftp://hooks.example.com/x",
        ],
        None,
    ));
    assert!(line.ends_with("[invalid_url]"), "{line}");
    let line = fails(&hyperctl(
        &data,
        &[
            "webhook",
            "add",
            "--name",
            "bad",
            "--url",
            "https://hooks.example.com/x",
            "--event",
            "job.finished",
        ],
        None,
    ));
    assert!(
        line.contains("unknown event \"job.finished\"")
            && line.contains("job.completed")
            && line.ends_with("[invalid_event]"),
        "{line}"
    );
    let line = fails(&hyperctl(
        &data,
        &[
            "webhook",
            "add",
            "--name",
            "OPS",
            "--url",
            "https://hooks.example.com/x",
        ],
        None,
    ));
    assert!(line.ends_with("[webhook_name_taken]"), "{line}");
    assert_eq!(
        ok_json(&hyperctl(&data, &["webhook", "list", "--json"], None))
            .as_array()
            .map(Vec::len),
        Some(2)
    );

    // Settings.
    let s = ok_json(&hyperctl(
        &data,
        &["webhook", "settings", "--retry-base-ms", "500", "--json"],
        None,
    ));
    assert_eq!(s["retry_base_ms"], 500);
    assert_eq!(s["block_private_destinations"], false);
    let line = fails(&hyperctl(
        &data,
        &["webhook", "settings", "--progress-interval", "1"],
        None,
    ));
    assert!(line.contains("between 5 and 86400"), "{line}");

    // No secret in any file of the data dir (database, WAL, logs).
    for s in [&secret, &token] {
        assert_eq!(files_containing(&data, s), Vec::<PathBuf>::new(), "{s}");
    }

    // Removing deletes the keyring entries.
    ok(&hyperctl(&data, &["webhook", "remove", "ops"], None));
    assert_eq!(secret_tool_lookup(&format!("webhook:{id}")), None);
    assert_eq!(
        secret_tool_lookup(&format!("webhook:{id}:header:authorization")),
        None
    );
    let line = fails(&hyperctl(&data, &["webhook", "show", "ops"], None));
    assert!(line.ends_with("[not_found]"), "{line}");
}

#[test]
fn secret_input_must_be_complete() {
    let home = tempfile::tempdir().expect("tempdir");
    let line = fails(&hyperctl(
        home.path(),
        &[
            "webhook",
            "add",
            "--name",
            "x",
            "--url",
            "https://hooks.example.com/x",
            "--secret-stdin",
            "--secret-header",
            "Authorization",
        ],
        Some("only-the-signing-secret\n"),
    ));
    assert!(
        line.contains("standard input ended before the value of Authorization"),
        "{line}"
    );
    assert_eq!(
        ok(&hyperctl(home.path(), &["webhook", "list", "--json"], None)).trim(),
        "[]"
    );
}

//! `hyperctl metrics` as a user runs it: stats, series and the Prometheus
//! endpoint served headless until Ctrl-C.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{fails, hyperctl, ok};
use serde_json::Value;

#[test]
fn stats_and_series_on_an_empty_history() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stats: Value =
        serde_json::from_str(&ok(&hyperctl(dir.path(), &["metrics", "--json"], None)))
            .expect("json");
    assert_eq!(stats["running"], 0);
    assert_eq!(stats["bytes_exported"], 0);
    assert_eq!(stats["heatmap"].as_array().expect("cells").len(), 168);
    let outcomes: Vec<&str> = stats["by_outcome"]
        .as_array()
        .expect("outcomes")
        .iter()
        .map(|o| o["outcome"].as_str().expect("outcome"))
        .collect();
    assert_eq!(
        outcomes,
        ["succeeded", "failed", "cancelled", "interrupted"]
    );
    let span =
        stats["range"]["to"].as_i64().expect("to") - stats["range"]["from"].as_i64().expect("from");
    assert_eq!(span, 86_401, "24 h by default");

    let text = ok(&hyperctl(dir.path(), &["metrics", "--range", "7d"], None));
    assert!(text.contains("Bytes exported (succeeded): 0 B"), "{text}");
    assert!(
        text.contains("Runs by weekday and hour of their start"),
        "{text}"
    );
    assert!(text.contains("Sun  "), "{text}");

    let custom: Value = serde_json::from_str(&ok(&hyperctl(
        dir.path(),
        &[
            "metrics",
            "stats",
            "--from",
            "2026-11-01T00:00:00Z",
            "--to",
            "2026-11-02T00:00:00Z",
            "--json",
        ],
        None,
    )))
    .expect("json");
    assert_eq!(custom["range"]["from"], 1_793_491_200);
    assert_eq!(custom["range"]["to"], 1_793_577_600);

    let err = fails(&hyperctl(
        dir.path(),
        &[
            "metrics",
            "stats",
            "--from",
            "2026-11-02T00:00:00Z",
            "--to",
            "2026-11-01T00:00:00Z",
        ],
        None,
    ));
    assert!(err.contains("[invalid_input]"), "{err}");

    let series: Value = serde_json::from_str(&ok(&hyperctl(
        dir.path(),
        &[
            "metrics", "series", "--metric", "cpu", "--range", "1h", "--json",
        ],
        None,
    )))
    .expect("json");
    assert_eq!(series["unit"], "percent");
    assert_eq!(series["bucket_seconds"], 5);
    let csv = ok(&hyperctl(
        dir.path(),
        &["metrics", "series", "--metric", "write-rate", "--csv"],
        None,
    ));
    assert_eq!(csv, "t,time,line,value,peak\n");

    let err = fails(&hyperctl(
        dir.path(),
        &["settings", "set", "--metrics-listen", "localhost:9464"],
        None,
    ));
    assert!(err.contains("[invalid_listen_address]"), "{err}");
    let set: Value = serde_json::from_str(&ok(&hyperctl(
        dir.path(),
        &["settings", "set", "--metrics-enabled", "true", "--json"],
        None,
    )))
    .expect("json");
    assert_eq!(set["metrics_enabled"], true);
    assert_eq!(set["metrics_listen"], "127.0.0.1:9464");
}

#[test]
fn serve_runs_the_endpoint_until_interrupted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hyperctl"))
        .args(["metrics", "serve", "--listen", "127.0.0.1:0"])
        .env("HYPERSDK_DATA_DIR", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hyperctl");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut first = String::new();
    stdout.read_line(&mut first).expect("first line");
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"));
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/metrics");

    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("hypersdk_jobs{state=\"running\"} 0"),
        "{response}"
    );

    // Ctrl-C: a clean exit.
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let out = child.wait_with_output().expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(TcpStream::connect(addr).is_err(), "stopped");
}

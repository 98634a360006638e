//! `monitoring/` against the real endpoint: every metric name the Grafana
//! dashboards and the alert rules use must appear in a real scrape, and
//! promtool must accept the rules (and their unit tests) and the example
//! Prometheus configuration.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use hypersdk_core::jobs::{JobContext, JobOutcome, NewJob};
use hypersdk_core::model::{JobKind, JobState};
use hypersdk_core::providers::ProviderRegistry;
use hypersdk_core::{Core, Paths};
use serde_json::Value;

fn monitoring() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../monitoring")
}

/// The sample names of a scrape of the real endpoint, after a job has
/// finished (so the histogram has series) and with every counter present.
async fn scraped_names() -> BTreeSet<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let core =
        Arc::new(Core::open(Paths::in_dir(dir.path()), ProviderRegistry::default()).expect("core"));
    let job = core
        .submit_job(
            NewJob {
                name: "quick".into(),
                kind: JobKind::Export,
                connection_id: None,
                request: serde_json::json!({}),
            },
            Box::new(|_ctx: JobContext| {
                Box::pin(async {
                    Ok(JobOutcome {
                        summary: "done".into(),
                        result: None,
                    })
                })
            }),
        )
        .await
        .expect("submit");
    for _ in 0..200 {
        if core.job(&job.id).await.expect("job").job.state == JobState::Succeeded {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let server = core
        .serve_metrics("127.0.0.1:0".parse().expect("addr"))
        .await
        .expect("serve");
    let addr = server.addr;
    let body = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        write!(
            s,
            "GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .expect("request");
        let mut r = String::new();
        s.read_to_string(&mut r).expect("read");
        r
    })
    .await
    .expect("scrape");
    let body = body.split_once("\r\n\r\n").expect("http").1.to_owned();
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().expect("sample name").to_owned())
        .collect()
}

/// Skips a balanced `open … close` group starting at `i` (at `open`).
fn skip_group(chars: &[char], mut i: usize, open: char, close: char) -> usize {
    let mut depth = 0;
    while i < chars.len() {
        if chars[i] == open {
            depth += 1;
        } else if chars[i] == close {
            depth -= 1;
            if depth == 0 {
                return i + 1;
            }
        }
        i += 1;
    }
    i
}

/// The metric names a PromQL expression selects: identifiers that are not
/// functions, keywords, label names, durations, strings or template variables.
fn metric_names(expr: &str) -> Vec<String> {
    // Grafana's label_values(metric, label): only the metric counts.
    if let Some(rest) = expr.trim().strip_prefix("label_values(") {
        return vec![
            rest.split([',', ')'])
                .next()
                .unwrap_or("")
                .trim()
                .to_owned(),
        ];
    }
    // Aggregations may be followed by `by (…)` before their parenthesis, so
    // they are keywords rather than recognised as calls.
    const KEYWORDS: [&str; 23] = [
        "and",
        "or",
        "unless",
        "bool",
        "offset",
        "by",
        "without",
        "on",
        "ignoring",
        "inf",
        "nan",
        "sum",
        "min",
        "max",
        "avg",
        "group",
        "stddev",
        "stdvar",
        "count",
        "count_values",
        "bottomk",
        "topk",
        "quantile",
    ];
    const LABEL_LISTS: [&str; 6] = [
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
    ];
    let chars: Vec<char> = expr.chars().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '{' {
            i = skip_group(&chars, i, '{', '}');
        } else if c == '[' {
            i = skip_group(&chars, i, '[', ']');
        } else if c == '$' || c.is_ascii_digit() || c == '.' {
            // Template variables, numbers and durations (1h, 0.5, 1e3).
            i += 1;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == '.')
            {
                i += 1;
            }
        } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut j = i;
            while j < chars.len() && chars[j].is_whitespace() {
                j += 1;
            }
            let call = j < chars.len() && chars[j] == '(';
            if call && LABEL_LISTS.contains(&word.as_str()) {
                i = skip_group(&chars, j, '(', ')');
            } else if !call && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                names.push(word);
            }
        } else {
            i += 1;
        }
    }
    names
}

/// Every `expr` (panel targets) and templating query in a dashboard.
fn dashboard_exprs(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr" | "definition", Value::String(s)) => out.push(s.clone()),
                    ("query", Value::String(s)) if s.contains('(') => out.push(s.clone()),
                    _ => dashboard_exprs(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| dashboard_exprs(v, out)),
        _ => {}
    }
}

#[test]
fn the_promql_scanner_finds_metric_names_only() {
    assert_eq!(
        metric_names(
            "histogram_quantile(0.9, sum by (provider, le) (increase(hypersdk_job_duration_seconds_bucket{provider=~\"$provider\",outcome=\"succeeded\"}[$window])))"
        ),
        ["hypersdk_job_duration_seconds_bucket"]
    );
    assert_eq!(
        metric_names(
            "hypersdk_jobs{state=\"queued\"} > 0 and on (instance) hypersdk_jobs{state=\"running\"} == 0 offset 1h"
        ),
        ["hypersdk_jobs", "hypersdk_jobs"]
    );
    assert_eq!(metric_names("up == 0"), ["up"]);
    assert_eq!(
        metric_names("label_values(hypersdk_jobs_finished_total, provider)"),
        ["hypersdk_jobs_finished_total"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboards_and_rules_use_only_emitted_metrics() {
    let scraped = scraped_names().await;
    assert!(
        scraped.contains("hypersdk_job_duration_seconds_bucket"),
        "{scraped:?}"
    );

    let mut used: Vec<(String, String)> = Vec::new();
    let dashboards = monitoring().join("grafana/dashboards");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dashboards)
        .expect("dashboards dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(
        files.len(),
        3,
        "overview, job performance, provider comparison"
    );
    for file in &files {
        let json: Value =
            serde_json::from_str(&std::fs::read_to_string(file).expect("read")).expect("json");
        assert!(
            json["uid"]
                .as_str()
                .is_some_and(|u| u.starts_with("hypersdk-"))
        );
        let mut exprs = Vec::new();
        dashboard_exprs(&json, &mut exprs);
        assert!(exprs.len() >= 5, "{} has few queries", file.display());
        // Every panel queries the provisioned datasource.
        for panel in json["panels"].as_array().expect("panels") {
            assert_eq!(
                panel["datasource"]["uid"],
                "hypersdk-prometheus",
                "{}: {}",
                file.display(),
                panel["title"]
            );
        }
        for e in exprs {
            used.push((file.display().to_string(), e));
        }
    }
    let rules = std::fs::read_to_string(monitoring().join("prometheus/alerts.yml")).expect("rules");
    for line in rules.lines() {
        if let Some(expr) = line.trim().strip_prefix("expr:") {
            let expr = expr.trim();
            assert!(
                !expr.starts_with('|') && !expr.starts_with('>'),
                "keep rule expressions on one line so this test sees them: {line}"
            );
            used.push(("alerts.yml".into(), expr.trim_matches('"').to_owned()));
        }
    }
    assert!(used.iter().filter(|(f, _)| f == "alerts.yml").count() >= 5);

    let mut missing = Vec::new();
    for (file, expr) in &used {
        let names = metric_names(expr);
        assert!(!names.is_empty(), "{file}: no metric in {expr}");
        for name in names {
            if !scraped.contains(&name) {
                missing.push(format!("{file}: {name} (in {expr})"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "not emitted by /metrics:\n{}",
        missing.join("\n")
    );

    // The provisioned datasource is the one the dashboards name.
    let ds =
        std::fs::read_to_string(monitoring().join("grafana/provisioning/datasources/hypersdk.yml"))
            .expect("datasource");
    assert!(ds.contains("uid: hypersdk-prometheus"));
}

fn promtool(args: &[&str]) {
    let out = Command::new("promtool")
        .args(args)
        .current_dir(monitoring().join("prometheus"))
        .output()
        .expect("promtool (apt-get install prometheus) is needed for this test");
    assert!(
        out.status.success(),
        "promtool {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn promtool_accepts_the_rules_their_tests_and_the_config() {
    promtool(&["check", "rules", "alerts.yml"]);
    promtool(&["test", "rules", "alerts.test.yml"]);
    promtool(&["check", "config", "prometheus.yml"]);
}

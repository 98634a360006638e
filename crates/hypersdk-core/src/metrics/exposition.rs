//! The Prometheus text exposition format (version 0.0.4), written by hand.
//!
//! Why not the `prometheus-client` crate: it writes OpenMetrics text, where a
//! counter family `x` is declared `# TYPE x counter` and sampled as
//! `x_total`; Prometheus's classic text parser — which `promtool check
//! metrics` uses — reads that sample as a separate untyped family without
//! help text and rejects the output. The format is a few lines of text, so
//! writing it here keeps `promtool` (and every Prometheus) happy and adds
//! no dependency.
//!
//! Every metric name the endpoint can emit is in [`METRIC_NAMES`]; the
//! monitoring tests check the Grafana dashboards and alert rules use no other.

use std::fmt::Write as _;

use super::{STALL_AFTER_SECONDS, counters_snapshot, resources, series};
use crate::error::Result;
use crate::model::JobState;
use crate::store::Store;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Upper bounds (seconds) of the job duration histogram: from a small VM on
/// a LAN to a day-long cloud export.
pub const DURATION_BUCKETS: [f64; 12] = [
    10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1_800.0, 3_600.0, 7_200.0, 14_400.0, 28_800.0, 86_400.0,
];

/// Every family the endpoint emits (histograms by their base name).
pub const METRIC_NAMES: [&str; 13] = [
    "hypersdk_build_info",
    "hypersdk_jobs",
    "hypersdk_jobs_stalled",
    "hypersdk_jobs_finished_total",
    "hypersdk_exported_bytes_total",
    "hypersdk_throughput_bytes_per_second",
    "hypersdk_job_duration_seconds",
    "hypersdk_scheduler_runs_total",
    "hypersdk_scheduler_skips_total",
    "hypersdk_webhook_deliveries_total",
    "hypersdk_webhook_failures_total",
    "hypersdk_process_resident_memory_bytes",
    "hypersdk_process_cpu_seconds_total",
];

const ALL_STATES: [JobState; 6] = [
    JobState::Queued,
    JobState::Running,
    JobState::Succeeded,
    JobState::Failed,
    JobState::Cancelled,
    JobState::Interrupted,
];

/// How old the newest throughput second may be and still count as "now".
const THROUGHPUT_FRESH_SECONDS: i64 = 5;

/// Renders every metric from the database (so any process can serve them:
/// jobs run by the app, `hyperctl` or both) plus this process's counters.
pub fn render(store: &Store, now: i64) -> Result<String> {
    store.catch_up_job_metrics()?;
    let mut out = Text::default();

    out.family(
        "hypersdk_build_info",
        "gauge",
        "Version of the HyperSDK process serving these metrics (always 1).",
    );
    out.sample(
        "hypersdk_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1.0,
    );

    out.family(
        "hypersdk_jobs",
        "gauge",
        "Jobs in the database by current state.",
    );
    let counts = store.job_state_counts()?;
    for state in ALL_STATES {
        let n = counts
            .iter()
            .find(|(s, _)| s == state.as_str())
            .map_or(0, |(_, n)| *n);
        out.sample("hypersdk_jobs", &[("state", state.as_str())], n as f64);
    }

    out.family(
        "hypersdk_jobs_stalled",
        "gauge",
        "Running jobs that moved no byte in the last 5 minutes.",
    );
    let stalled = store.stalled_jobs(series::JOB_BYTES, now - STALL_AFTER_SECONDS)?;
    out.sample("hypersdk_jobs_stalled", &[], stalled as f64);

    out.family(
        "hypersdk_throughput_bytes_per_second",
        "gauge",
        "Bytes per second all running jobs write to their destinations (the last full second).",
    );
    // The newest full second: the current one is still being written.
    let throughput = store
        .latest_second(series::WRITE_BYTES, now - THROUGHPUT_FRESH_SECONDS)?
        .map_or(0.0, |(_, bytes, _)| bytes);
    out.sample("hypersdk_throughput_bytes_per_second", &[], throughput);

    out.family(
        "hypersdk_exported_bytes_total",
        "counter",
        "Bytes of the artefacts of every job that succeeded.",
    );
    out.sample(
        "hypersdk_exported_bytes_total",
        &[],
        store.bytes_exported_total()? as f64,
    );

    let histogram = store.duration_histogram(&DURATION_BUCKETS)?;
    out.family(
        "hypersdk_jobs_finished_total",
        "counter",
        "Jobs that reached a final state, by outcome and provider kind.",
    );
    for row in &histogram {
        out.sample(
            "hypersdk_jobs_finished_total",
            &[("outcome", &row.outcome), ("provider", &row.provider)],
            row.finished as f64,
        );
    }
    out.family(
        "hypersdk_job_duration_seconds",
        "histogram",
        "How long finished jobs ran, from start to final state, by outcome and provider kind.",
    );
    for row in histogram.iter().filter(|r| r.count > 0) {
        let labels = [
            ("outcome", row.outcome.as_str()),
            ("provider", &row.provider),
        ];
        for (bound, n) in DURATION_BUCKETS.iter().zip(&row.buckets) {
            let le = format_value(*bound);
            out.sample(
                "hypersdk_job_duration_seconds_bucket",
                &[labels[0], labels[1], ("le", &le)],
                *n as f64,
            );
        }
        out.sample(
            "hypersdk_job_duration_seconds_bucket",
            &[labels[0], labels[1], ("le", "+Inf")],
            row.count as f64,
        );
        out.sample("hypersdk_job_duration_seconds_sum", &labels, row.sum);
        out.sample(
            "hypersdk_job_duration_seconds_count",
            &labels,
            row.count as f64,
        );
    }

    let counters = counters_snapshot();
    out.family(
        "hypersdk_scheduler_runs_total",
        "counter",
        "Scheduled runs this process started, by outcome.",
    );
    for (outcome, n) in &counters.scheduler_runs {
        out.sample(
            "hypersdk_scheduler_runs_total",
            &[("outcome", outcome)],
            *n as f64,
        );
    }
    out.family(
        "hypersdk_scheduler_skips_total",
        "counter",
        "Scheduled runs this process skipped.",
    );
    out.sample(
        "hypersdk_scheduler_skips_total",
        &[],
        counters.scheduler_skips as f64,
    );
    out.family(
        "hypersdk_webhook_deliveries_total",
        "counter",
        "Webhook delivery attempts this process made.",
    );
    out.sample(
        "hypersdk_webhook_deliveries_total",
        &[],
        counters.webhook_deliveries as f64,
    );
    out.family(
        "hypersdk_webhook_failures_total",
        "counter",
        "Webhook delivery attempts that failed.",
    );
    out.sample(
        "hypersdk_webhook_failures_total",
        &[],
        counters.webhook_failures as f64,
    );

    out.family(
        "hypersdk_process_resident_memory_bytes",
        "gauge",
        "Resident memory of the process serving these metrics.",
    );
    out.sample(
        "hypersdk_process_resident_memory_bytes",
        &[],
        resources::rss_bytes().map_or(0.0, |b| b as f64),
    );
    out.family(
        "hypersdk_process_cpu_seconds_total",
        "counter",
        "User and system CPU time of the process serving these metrics.",
    );
    out.sample(
        "hypersdk_process_cpu_seconds_total",
        &[],
        resources::cpu_seconds().unwrap_or(0.0),
    );
    Ok(out.0)
}

#[derive(Default)]
struct Text(String);

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        if !labels.is_empty() {
            self.0.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.0.push(',');
                }
                let _ = write!(self.0, "{k}=\"{}\"", escape_label(v));
            }
            self.0.push('}');
        }
        let _ = writeln!(self.0, " {}", format_value(value));
    }
}

fn escape_help(s: &str) -> String {
    s.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Go's float syntax as Prometheus parses it; whole numbers without a dot.
fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_and_labels_are_escaped() {
        assert_eq!(format_value(3.0), "3");
        assert_eq!(format_value(0.25), "0.25");
        assert_eq!(format_value(f64::INFINITY), "+Inf");
        assert_eq!(format_value(f64::NAN), "NaN");
        let mut t = Text::default();
        t.sample("m", &[("a", "x\"y\\z\nw")], 1.0);
        assert_eq!(t.0, "m{a=\"x\\\"y\\\\z\\nw\"} 1\n");
    }
}

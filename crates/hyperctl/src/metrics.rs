//! `hyperctl metrics`: the dashboard's figures in a terminal, and the
//! Prometheus endpoint without the window.

use std::sync::Arc;

use chrono::{DateTime, Local, Utc};
use clap::{Args, Subcommand, ValueEnum};
use hypersdk_core::metrics::{
    JobStats, MetricKind, MetricSeries, SeriesQuery, TimeRange, to_datetime, unix_now,
};
use hypersdk_core::{ApiError, Core, CoreError};

use crate::output;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MetricsArgs {
    #[command(subcommand)]
    command: Option<MetricsCommand>,
    #[command(flatten)]
    range: RangeArgs,
}

#[derive(Debug, Subcommand)]
enum MetricsCommand {
    /// Job statistics for a time range (the default): counts by outcome and
    /// provider, bytes exported, recent runs, runs by weekday and hour.
    Stats(RangeArgs),
    /// One metric over a time range, bucketed as the dashboard shows it.
    Series {
        #[arg(long, value_enum, default_value_t = Metric::WriteRate)]
        metric: Metric,
        /// Only this job (job throughput).
        #[arg(long)]
        job: Option<String>,
        /// Print CSV (t, time, line, value, peak) instead of a table.
        #[arg(long)]
        csv: bool,
        #[command(flatten)]
        range: RangeArgs,
    },
    /// Serve Prometheus metrics on /metrics until Ctrl-C.
    Serve {
        /// IP address and port (default: the metrics_listen setting,
        /// 127.0.0.1:9464). Anything but a loopback address lets other
        /// machines read job names and figures.
        #[arg(long)]
        listen: Option<String>,
    },
}

#[derive(Debug, Clone, Args)]
struct RangeArgs {
    /// How far back from now.
    #[arg(long, value_enum, default_value_t = Range::H24)]
    range: Range,
    /// Start of a custom range (RFC 3339, e.g. 2026-11-01T00:00:00Z); needs --to.
    #[arg(long, requires = "to")]
    from: Option<DateTime<Utc>>,
    /// End of a custom range (RFC 3339); needs --from.
    #[arg(long, requires = "from")]
    to: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Range {
    #[value(name = "1h")]
    H1,
    #[value(name = "24h")]
    H24,
    #[value(name = "7d")]
    D7,
    #[value(name = "30d")]
    D30,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Metric {
    JobThroughput,
    WriteRate,
    Cpu,
    Rss,
}

impl RangeArgs {
    fn resolve(&self) -> TimeRange {
        if let (Some(from), Some(to)) = (self.from, self.to) {
            return TimeRange {
                from: from.timestamp(),
                to: to.timestamp(),
            };
        }
        let seconds = match self.range {
            Range::H1 => 3_600,
            Range::H24 => 86_400,
            Range::D7 => 7 * 86_400,
            Range::D30 => 30 * 86_400,
        };
        TimeRange::last(seconds, unix_now())
    }
}

pub async fn run(core: &Arc<Core>, args: MetricsArgs, json: bool) -> Result<(), ApiError> {
    match args.command {
        None => stats(core, &args.range, json).await,
        Some(MetricsCommand::Stats(range)) => stats(core, &range, json).await,
        Some(MetricsCommand::Series {
            metric,
            job,
            csv,
            range,
        }) => {
            let metric = match metric {
                Metric::JobThroughput => MetricKind::JobThroughput,
                Metric::WriteRate => MetricKind::WriteRate,
                Metric::Cpu => MetricKind::CpuPercent,
                Metric::Rss => MetricKind::RssBytes,
            };
            let series = core
                .metric_series(SeriesQuery {
                    metric,
                    range: range.resolve(),
                    job_id: job,
                })
                .await?;
            if json {
                return output::json(&series);
            }
            print_series(&series, csv);
            Ok(())
        }
        Some(MetricsCommand::Serve { listen }) => serve(core, listen, json).await,
    }
}

async fn stats(core: &Core, range: &RangeArgs, json: bool) -> Result<(), ApiError> {
    let stats = core.job_stats(range.resolve()).await?;
    if json {
        return output::json(&stats);
    }
    print_stats(&stats);
    Ok(())
}

fn local(t: i64) -> String {
    to_datetime(t)
        .with_timezone(&Local)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn print_stats(s: &JobStats) {
    println!(
        "Jobs finished from {} to {} (local time)",
        local(s.range.from),
        local(s.range.to)
    );
    println!("Now: {} running, {} queued", s.running, s.queued);
    let outcomes: Vec<String> = s
        .by_outcome
        .iter()
        .map(|o| format!("{} {}", o.outcome, o.count))
        .collect();
    println!("Finished: {}", outcomes.join(", "));
    println!(
        "Bytes exported (succeeded): {}",
        output::bytes(s.bytes_exported)
    );
    if !s.by_provider.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = s
            .by_provider
            .iter()
            .map(|p| {
                vec![
                    p.provider.clone(),
                    p.succeeded.to_string(),
                    p.failed.to_string(),
                    p.cancelled.to_string(),
                    p.interrupted.to_string(),
                ]
            })
            .collect();
        output::table(
            &[
                "PROVIDER",
                "SUCCEEDED",
                "FAILED",
                "CANCELLED",
                "INTERRUPTED",
            ],
            &rows,
        );
    }
    if !s.runs.is_empty() {
        println!();
        let shown = 10.min(s.runs.len());
        println!(
            "Latest runs ({shown} of {}{}; --json lists them all):",
            s.runs.len(),
            if s.runs_truncated { "+" } else { "" }
        );
        let rows: Vec<Vec<String>> = s
            .runs
            .iter()
            .rev()
            .take(shown)
            .map(|r| {
                vec![
                    local(r.finished_at),
                    r.name.clone(),
                    r.provider.clone(),
                    r.outcome.to_string(),
                    r.duration_seconds.map_or_else(|| "-".to_owned(), duration),
                    output::bytes(r.bytes),
                ]
            })
            .collect();
        output::table(
            &[
                "FINISHED", "NAME", "PROVIDER", "OUTCOME", "DURATION", "SIZE",
            ],
            &rows,
        );
    }
    println!();
    println!("Runs by weekday and hour of their start (local time):");
    let mut header = String::from("     ");
    for h in 0..24 {
        header.push_str(&format!("{h:>3}"));
    }
    println!("{header}");
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    for (d, day) in DAYS.iter().enumerate() {
        let mut line = format!("{day}  ");
        for h in 0..24 {
            let n = s
                .heatmap
                .iter()
                .find(|c| usize::from(c.weekday) == d && c.hour == h)
                .map_or(0, |c| c.count);
            if n == 0 {
                line.push_str("  .");
            } else {
                line.push_str(&format!("{n:>3}"));
            }
        }
        println!("{line}");
    }
}

fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3_599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3_600, (s % 3_600) / 60),
    }
}

fn value(series: &MetricSeries, v: f64) -> String {
    match series.unit.as_str() {
        "bytes_per_second" => format!("{}/s", output::bytes(v.max(0.0) as u64)),
        "bytes" => output::bytes(v.max(0.0) as u64),
        _ => format!("{v:.1} %"),
    }
}

fn print_series(series: &MetricSeries, csv: bool) {
    if csv {
        println!("t,time,line,value,peak");
        for line in &series.lines {
            for p in &line.points {
                println!(
                    "{},{},{},{},{}",
                    p.t,
                    to_datetime(p.t).to_rfc3339(),
                    csv_field(&line.label),
                    p.value,
                    p.peak
                );
            }
        }
        return;
    }
    println!(
        "{} from {} to {}, {} s buckets",
        series.unit,
        local(series.range.from),
        local(series.range.to),
        series.bucket_seconds
    );
    if series.lines.is_empty() {
        println!("No data in this range.");
        return;
    }
    let rows: Vec<Vec<String>> = series
        .lines
        .iter()
        .flat_map(|line| {
            line.points.iter().map(|p| {
                vec![
                    local(p.t),
                    line.label.clone(),
                    value(series, p.value),
                    value(series, p.peak),
                ]
            })
        })
        .collect();
    output::table(&["TIME", "LINE", "AVERAGE", "PEAK"], &rows);
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

async fn serve(core: &Core, listen: Option<String>, json: bool) -> Result<(), ApiError> {
    let listen = match listen {
        Some(l) => l,
        None => core.settings().await?.metrics_listen,
    };
    let addr = hypersdk_core::metrics::endpoint::parse_listen(&listen)?;
    let server = core.serve_metrics(addr).await?;
    let url = server.url();
    if json {
        output::json(&serde_json::json!({ "url": url }))?;
    } else {
        println!("Serving Prometheus metrics on {url} (Ctrl-C to stop)");
        if !addr.ip().is_loopback() {
            eprintln!(
                "hyperctl: warning: {addr} is reachable from other machines; job names and figures are visible to them"
            );
        }
    }
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| ApiError::from(CoreError::io("cannot wait for Ctrl-C", e)))?;
    server.stop();
    Ok(())
}

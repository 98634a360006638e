//! How long the core takes to answer the Jobs table's queries over 100,000 jobs (issue 7: a
//! filter keystroke within 50 ms). Run: `cargo run --release -p hypersdk-core --example
//! job_query_bench [JOBS=100000] [RUNS=20]`.
//!
//! The jobs are written straight into a fresh database (one transaction, so the search index is
//! filled by the same triggers the app's writes fire), then each query the window sends is timed
//! RUNS times: the first block, typing a name one keystroke at a time, deleting it back, a state
//! filter, a sort by name, a block half-way down, and a search that matches nothing.
//!
//! `job_query_bench seed FILE [JOBS]` only writes the jobs into the database FILE (created, or
//! brought up to date, first): `bench/jobs-window.sh` opens the real window on it.

use std::time::Instant;

use hypersdk_core::model::{JobQuery, JobSortKey, JobState};
use hypersdk_core::store::Store;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("seed") {
        let file = std::path::PathBuf::from(args.nth(1).ok_or("seed FILE [JOBS]")?);
        let jobs: u32 = args
            .next()
            .map(|a| a.parse())
            .transpose()?
            .unwrap_or(100_000);
        drop(Store::open(&file)?);
        seed(&file, jobs)?;
        drop(Store::open(&file)?); // checkpoints the WAL
        return Ok(());
    }
    let jobs: u32 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(100_000);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(20);
    let dir = tempfile::tempdir()?;
    // JOB_QUERY_BENCH_DB=FILE keeps the database for a look at query plans afterwards.
    let path = std::env::var_os("JOB_QUERY_BENCH_DB")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("hypersdk.db"));
    drop(Store::open(&path)?);

    let started = Instant::now();
    seed(&path, jobs)?;
    let seeded = started.elapsed();
    drop(Store::open(&path)?); // the first open after the writes checkpoints the WAL
    let started = Instant::now();
    let store = Store::open(&path)?;
    println!(
        "{jobs} jobs written in {:.1} s; store opened in {} ms; database {:.1} MiB",
        seeded.as_secs_f64(),
        started.elapsed().as_millis(),
        std::fs::metadata(&path)?.len() as f64 / (1024.0 * 1024.0)
    );

    let block = |q: JobQuery| JobQuery { limit: 100, ..q };
    let text = |t: &str| {
        block(JobQuery {
            text: t.into(),
            ..JobQuery::newest(100)
        })
    };
    let target = format!("vm-{:05}", jobs / 2 + 17);
    let mut cases: Vec<(String, JobQuery)> =
        vec![("first block, newest first".into(), JobQuery::newest(100))];
    for n in 1..=target.len() {
        cases.push((format!("typing \"{}\"", &target[..n]), text(&target[..n])));
    }
    for n in (1..target.len()).rev() {
        cases.push((
            format!("deleting to \"{}\"", &target[..n]),
            text(&target[..n]),
        ));
    }
    cases.push((
        "state = failed".into(),
        JobQuery {
            states: vec![JobState::Failed],
            ..JobQuery::newest(100)
        },
    ));
    cases.push((
        "sort by name".into(),
        JobQuery {
            sort: JobSortKey::Name,
            desc: false,
            ..JobQuery::newest(100)
        },
    ));
    cases.push((
        "sort by connection".into(),
        JobQuery {
            sort: JobSortKey::Connection,
            desc: false,
            ..JobQuery::newest(100)
        },
    ));
    cases.push((
        format!("block at offset {}", jobs / 2),
        JobQuery {
            offset: jobs / 2,
            ..JobQuery::newest(100)
        },
    ));
    cases.push(("search matching nothing".into(), text("zzz-nothing")));
    cases.push((
        "error words \"refused esx-7\"".into(),
        text("refused esx-7"),
    ));

    println!("| query | matched | p50 ms | p90 ms | max ms |");
    println!("|---|---|---|---|---|");
    let mut worst = 0.0f64;
    for (label, q) in &cases {
        let mut times = Vec::with_capacity(runs);
        let mut matched = 0;
        for _ in 0..runs {
            let t = Instant::now();
            let page = store.query_jobs(q)?;
            times.push(t.elapsed().as_secs_f64() * 1000.0);
            matched = page.matched;
        }
        times.sort_by(f64::total_cmp);
        let pct = |p: f64| times[((times.len() as f64 - 1.0) * p).round() as usize];
        worst = worst.max(pct(0.9));
        println!(
            "| {label} | {matched} | {:.1} | {:.1} | {:.1} |",
            pct(0.5),
            pct(0.9),
            times[times.len() - 1]
        );
    }
    println!("worst p90: {worst:.1} ms");
    Ok(())
}

/// Writes `n` jobs the way the app would have over months: a dozen connections (and some local
/// jobs), one in ten failed with an error message, the rest succeeded.
fn seed(path: &std::path::Path, n: u32) -> rusqlite::Result<()> {
    let mut conn = rusqlite::Connection::open(path)?;
    let tx = conn.transaction()?;
    for c in 0..12 {
        tx.execute(
            "INSERT INTO connections (id, kind, name, endpoint, username, options_json, created_at, updated_at) \
             VALUES (?1, ?2, ?3, 'https://vc.example', 'u', '{}', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
            (format!("c-{c}"), if c % 3 == 0 { "aws" } else { "vsphere" }, format!("site-{c}.example")),
        )?;
    }
    {
        let mut insert = tx.prepare(
            "INSERT INTO jobs (id, name, kind, connection_id, state, request_json, created_at, finished_at, progress_json, error_json, result_json) \
             VALUES (?1, ?2, 'export', ?3, ?4, '{}', ?5, ?5, ?6, ?7, ?8)",
        )?;
        for i in 0..n {
            let failed = i % 10 == 3;
            let connection = (i % 13 != 0).then(|| format!("c-{}", i % 12));
            let created = format!(
                "2026-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
                1 + (i / 9000) % 12,
                1 + (i / 300) % 28,
                (i / 60) % 24,
                i % 60,
                (i * 7) % 60,
                i
            );
            let error = failed.then(|| {
                format!(
                    r#"{{"code":"source_unreachable","message":"connection refused by host esx-{} (site-{})","retryable":true}}"#,
                    i % 50,
                    i % 12
                )
            });
            let result = (!failed).then(|| {
                format!(
                    r#"{{"path":"/srv/exports/vm-{i:05}.ova","files":["vm-{i:05}.ovf","vm-{i:05}-disk1.vmdk","vm-{i:05}.mf"],"bytes":21474836480,"manifest_algorithm":"sha256","verified":true}}"#
                )
            });
            insert.execute((
                format!("{i:08x}-{:04x}-4000-8000-{:012x}", i % 65536, u64::from(i) * 2_654_435_761),
                format!("Export vm-{i:05}"),
                connection,
                if failed { "failed" } else { "succeeded" },
                created,
                format!(
                    r#"{{"job_id":"{i}","bytes_done":21474836480,"bytes_total":21474836480,"rate_bps":0,"eta_seconds":null,"disks":[]}}"#
                ),
                error,
                result,
            ))?;
        }
    }
    tx.commit()
}

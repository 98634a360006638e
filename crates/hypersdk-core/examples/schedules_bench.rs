//! Measures the scheduler at scale (see `bench/schedules.sh` and
//! docs/PERFORMANCE.md "Schedules"):
//!
//! 1. N schedules (default 10,000; varied cron expressions and zones):
//!    parse + next fire time, in memory;
//! 2. the same loaded from SQLite and their next times computed (what a
//!    start-up or a clock-change recompute does); `list_schedules` (what the
//!    window and `hyperctl schedule list` show);
//! 3. the overhead of one scheduler tick when nothing is due;
//! 4. memory (peak RSS) with N schedules;
//! 5. M schedules (default 100) due at the same second, fired by the real
//!    scheduler loop on the system clock, each exporting one small VM through
//!    a local fake provider: how late each run starts, and how late its
//!    export job starts (the job limiter queues the rest).
//!
//! Usage: `schedules_bench [N] [M]`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use hypersdk_core::cron_schedule::CronSchedule;
use hypersdk_core::exports::ExportFormat;
use hypersdk_core::model::{
    Connection, ConnectionInput, PowerState, ProviderKind, TestCheck, VmFilter, VmInfo,
};
use hypersdk_core::providers::{
    Capabilities, ExportPlan, ExportSession, Provider, ProviderFactory, ProviderRegistry, VmPage,
};
use hypersdk_core::schedules::{
    ExecutionStatus, MissedRunPolicy, Retention, Schedule, ScheduleTemplate, VmSelection,
};
use hypersdk_core::store::Store;
use hypersdk_core::{Core, CoreError, Paths};

const ZONES: [&str; 5] = [
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Tokyo",
    "Australia/Sydney",
];

/// A spread of realistic expressions: fixed times, steps, weekdays, months.
fn expression(i: usize) -> String {
    let (m, h) = (i % 60, (i / 60) % 24);
    match i % 6 {
        0 => format!("{m} {h} * * *"),
        1 => format!("{m} {h} * * 1-5"),
        2 => format!("*/{} * * * *", 5 + i % 25),
        3 => format!("{m} */{} * * *", 1 + i % 6),
        4 => format!("{m} {h} 1,15 * *"),
        _ => format!("{m} {h} * jan,apr,jul,oct sun"),
    }
}

fn vm() -> VmInfo {
    VmInfo {
        id: "vm-1".into(),
        name: "web01".into(),
        path: "/DC0/vm/web01".into(),
        power_state: PowerState::PoweredOn,
        guest_os: String::new(),
        cpus: 1,
        memory_mib: 256,
        disks: 1,
        disk_capacity_bytes: None,
        disk_used_bytes: None,
        storage: Vec::new(),
        nics: 0,
        template: false,
        tools_status: None,
        datacenter: None,
        cluster: None,
        host: None,
        resource_pool: None,
        tags: Vec::new(),
        not_exportable: None,
        details_pending: false,
    }
}

struct Session;

#[async_trait]
impl ExportSession for Session {
    fn keep_alive_interval(&self) -> Duration {
        Duration::from_secs(60)
    }
    async fn keep_alive(&self, _percent: u8) -> hypersdk_core::Result<()> {
        Ok(())
    }
    async fn complete(self: Box<Self>) -> hypersdk_core::Result<()> {
        Ok(())
    }
    async fn abort(self: Box<Self>, _reason: &str) -> hypersdk_core::Result<()> {
        Ok(())
    }
}

/// One VM whose export is a small local raw disk.
struct LocalProvider {
    disk: PathBuf,
}

#[async_trait]
impl Provider for LocalProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Vsphere
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn validate(&self, _c: &CancellationToken) -> hypersdk_core::Result<Vec<TestCheck>> {
        Ok(Vec::new())
    }
    async fn list_vms(
        &self,
        _f: &VmFilter,
        _cursor: Option<String>,
        _c: &CancellationToken,
    ) -> hypersdk_core::Result<VmPage> {
        Ok(VmPage {
            vms: vec![vm()],
            next: None,
        })
    }
    async fn get_vm(&self, id: &str, _c: &CancellationToken) -> hypersdk_core::Result<VmInfo> {
        if id == "vm-1" {
            Ok(vm())
        } else {
            Err(CoreError::NotFound {
                what: "VM",
                id: id.into(),
            })
        }
    }
    async fn export(
        &self,
        _vm: &str,
        _tag: &str,
        _options: &hypersdk_core::providers::PlatformOptions,
        _c: &CancellationToken,
    ) -> hypersdk_core::Result<ExportPlan> {
        let mut disk = hypersdk_ovf::ExportDisk::local(&self.disk);
        disk.format = Some(hypersdk_ovf::DiskFormat::Raw);
        disk.capacity_bytes = std::fs::metadata(&self.disk).ok().map(|m| m.len());
        Ok(ExportPlan {
            vm: hypersdk_ovf::VmSpec::new("web01", 1, 256),
            disks: vec![disk],
            unpack: None,
            session: Box::new(Session),
            steps: Vec::new(),
        })
    }
}

struct Factory {
    disk: PathBuf,
}

impl ProviderFactory for Factory {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Vsphere
    }
    fn connect(
        &self,
        _c: &Connection,
        _s: hypersdk_core::model::Secrets,
    ) -> hypersdk_core::Result<Arc<dyn Provider>> {
        Ok(Arc::new(LocalProvider {
            disk: self.disk.clone(),
        }))
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// CPU time of the calling thread (ns precision): unlike wall time, it
/// does not grow when other processes share the cores.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// CPU time of the whole process (all threads), from /proc/self/stat in
/// clock ticks (10 ms): measure over several repetitions.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may contain spaces) in parentheses.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line: 11 and 12 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx]
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10_000);
    let m: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(100);
    let tmp = tempfile::tempdir()?;
    let data = tmp.path().join("data");
    let dest = tmp.path().join("backups");
    std::fs::create_dir_all(&dest)?;
    let disk = tmp.path().join("disk0.img");
    std::fs::write(&disk, vec![7u8; 1024 * 1024])?;
    let rss_start = peak_rss_mib();
    println!("schedules: {n}; due together: {m}");

    // 1. In memory.
    let now = Utc::now();
    let cpu = thread_cpu();
    let started = Instant::now();
    let mut parsed = Vec::with_capacity(n);
    for i in 0..n {
        let cron = CronSchedule::parse(&expression(i), ZONES[i % ZONES.len()])?;
        let next = cron.next_after(now);
        parsed.push((cron, next));
    }
    let t_parse = started.elapsed();
    let c_parse = thread_cpu() - cpu;
    let started = Instant::now();
    let mut fired = 0usize;
    for (cron, _) in &parsed {
        fired += usize::from(cron.next_after(now).is_some());
    }
    let t_next = started.elapsed();
    println!(
        "| parse + next fire time, {n} schedules (in memory) | {} | CPU {}; {:.1} µs each |",
        ms(t_parse),
        ms(c_parse),
        t_parse.as_secs_f64() * 1e6 / n as f64
    );
    println!(
        "| next fire time only, {n} parsed schedules | {} | {fired} fire |",
        ms(t_next)
    );

    // Fill the database through the store (validation is measured by the
    // engine tests; here only scale matters).
    let paths = Paths::in_dir(&data);
    paths.create_dirs()?;
    let connection_id = {
        let mut registry = ProviderRegistry::default();
        registry.register(Arc::new(Factory { disk: disk.clone() }));
        let core = Core::open(paths.clone(), registry)?;
        core.add_connection(ConnectionInput {
            kind: ProviderKind::Vsphere,
            name: "lab".into(),
            endpoint: "vc.bench.test".into(),
            username: "bench".into(),
            secret: None,
            secret_options: Default::default(),
            options: BTreeMap::new(),
            tls_fingerprint: None,
        })
        .await?
        .id
    };
    let store = Store::open(&paths.database)?;
    let template = ScheduleTemplate {
        connection_id: connection_id.clone(),
        selection: VmSelection::Fixed {
            vms: vec!["vm-1".into()],
        },
        destination_dir: dest.display().to_string(),
        format: ExportFormat::default(),
    };
    let started = Instant::now();
    for (i, (cron, next)) in parsed.iter().enumerate() {
        store.insert_schedule(&Schedule {
            id: uuid::Uuid::new_v4().to_string(),
            name: format!("schedule-{i:05}"),
            cron: cron.expression().to_owned(),
            time_zone: ZONES[i % ZONES.len()].to_owned(),
            description: cron.describe(),
            template: template.clone(),
            retention: Retention::KeepLast { count: 7 },
            missed_run_policy: MissedRunPolicy::RunOnce,
            enabled: true,
            created_at: now,
            updated_at: now,
            last_run: None,
            // Far enough ahead that nothing fires during the measurements.
            next_run: next.map(|t| t.max(now + chrono::Duration::days(400))),
            last_status: None,
            problem: None,
        })?;
    }
    let t_insert = started.elapsed();
    drop(parsed);
    println!(
        "| insert {n} schedules (one transaction each) | {} | |",
        ms(t_insert)
    );

    // 2. From SQLite.
    let cpu = thread_cpu();
    let started = Instant::now();
    let loaded = store.list_schedules()?;
    let t_load = started.elapsed();
    let c_load = thread_cpu() - cpu;
    let cpu = thread_cpu();
    let started = Instant::now();
    let mut computed = 0usize;
    for s in &loaded {
        let cron = CronSchedule::parse(&s.cron, &s.time_zone)?;
        computed += usize::from(cron.next_after(now).is_some());
    }
    let t_compute = started.elapsed();
    let c_compute = thread_cpu() - cpu;
    println!(
        "| **load {n} from SQLite + parse + next fire time** | **{}** | CPU {}: load {} + compute {} ({computed}) |",
        ms(t_load + t_compute),
        ms(c_load + c_compute),
        ms(c_load),
        ms(c_compute)
    );
    drop(loaded);
    drop(store);

    let mut registry = ProviderRegistry::default();
    registry.register(Arc::new(Factory { disk: disk.clone() }));
    let core = Arc::new(Core::open(paths.clone(), registry)?);
    let reps = 10u32;
    let cpu = process_cpu();
    let started = Instant::now();
    let mut listed = 0;
    for _ in 0..reps {
        listed = core.list_schedules().await?.len();
    }
    let t_list = started.elapsed() / reps;
    let c_list = (process_cpu() - cpu) / reps;
    println!(
        "| `list_schedules` (what the window / `hyperctl schedule list` get), {listed} schedules | {} | process CPU {}; stored next runs and descriptions, problem checks; mean of {reps} |",
        ms(t_list),
        ms(c_list)
    );

    // 3. Tick overhead with nothing due.
    let ticks = 200;
    let started = Instant::now();
    for _ in 0..ticks {
        core.scheduler_tick().await?;
    }
    let t_tick = started.elapsed() / ticks;
    println!(
        "| one scheduler tick, nothing due, {n} schedules | {:.0} µs | the loop ticks at most once a second |",
        t_tick.as_secs_f64() * 1e6
    );
    // 4. Memory.
    println!(
        "| peak RSS with {n} schedules loaded and listed | {:.1} MiB | at start {:.1} MiB |",
        peak_rss_mib(),
        rss_start
    );

    // 5. M schedules due at the same second, on the system clock.
    let schedules = core.list_schedules().await?;
    let due_at = Utc::now() + chrono::Duration::seconds(3);
    let due_at = due_at - chrono::Duration::nanoseconds(i64::from(due_at.timestamp_subsec_nanos()));
    {
        let store = Store::open(&paths.database)?;
        for s in schedules.iter().take(m) {
            store.set_schedule_next_run(&s.id, Some(due_at))?;
        }
    }
    let runner = tokio::spawn(Arc::clone(&core).run_scheduler());
    let deadline = Instant::now() + Duration::from_secs(600);
    let mut run_lateness = Vec::new();
    let mut job_lateness = Vec::new();
    let mut statuses = BTreeMap::new();
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut done = 0;
        run_lateness.clear();
        statuses.clear();
        for s in schedules.iter().take(m) {
            let runs = core.schedule_history(&s.id, Some(1)).await?;
            if let Some(r) = runs.first() {
                run_lateness.push(
                    (r.started_at - r.scheduled_for)
                        .num_microseconds()
                        .unwrap_or(0) as f64
                        / 1000.0,
                );
                *statuses.entry(r.status.to_string()).or_insert(0) += 1;
                if r.status != ExecutionStatus::Running {
                    done += 1;
                }
            }
        }
        if done == m || Instant::now() > deadline {
            break;
        }
    }
    runner.abort();
    for job in core.newest_jobs(hypersdk_core::JOB_PAGE_MAX).await? {
        if let Some(started) = job.started_at {
            job_lateness.push((started - due_at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
        }
    }
    run_lateness.sort_by(f64::total_cmp);
    job_lateness.sort_by(f64::total_cmp);
    println!(
        "| {m} schedules due at the same second: run start lateness | p50 {:.0} ms, p95 {:.0} ms, max {:.0} ms | outcomes {statuses:?} |",
        percentile(&run_lateness, 0.5),
        percentile(&run_lateness, 0.95),
        percentile(&run_lateness, 1.0)
    );
    let settings = core.settings().await?;
    println!(
        "| same: export job start lateness ({} at a time, the rest queued) | p50 {:.0} ms, max {:.0} ms | {} jobs |",
        settings.max_concurrent_jobs,
        percentile(&job_lateness, 0.5),
        percentile(&job_lateness, 1.0),
        job_lateness.len()
    );
    println!("| peak RSS at the end | {:.1} MiB | |", peak_rss_mib());
    Ok(())
}

//! The scheduler end to end on a controlled clock: real SQLite, the real job
//! engine and export engine (a fake provider hands it small local disks), so
//! every run writes and verifies real OVAs.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use hypersdk_core::exports::ExportFormat;
use hypersdk_core::model::{
    Connection, ConnectionInput, PowerState, ProviderKind, TestCheck, VmFilter, VmInfo,
};
use hypersdk_core::providers::{
    Capabilities, ExportPlan, ExportSession, Provider, ProviderFactory, ProviderRegistry, VmPage,
};
use hypersdk_core::schedules::{
    ExecutionStatus, ManualClock, MissedRunPolicy, Retention, RunTrigger, ScheduleExecution,
    ScheduleInput, ScheduleTemplate, VmSelection,
};
use hypersdk_core::{Core, CoreError, CoreEvent, Paths};

const VMS: [(&str, &str); 4] = [
    ("vm-1", "/DC0/vm/prod/web01"),
    ("vm-2", "/DC0/vm/prod/web02"),
    ("vm-3", "/DC0/vm/prod/db01"),
    ("vm-4", "/DC0/vm/test/web99"),
];

/// What the fake platform does; shared by every provider the factory makes.
#[derive(Debug, Default)]
struct Behaviour {
    /// VM names whose export fails.
    failing: Mutex<HashSet<String>>,
    /// When set, each export waits for a permit (so a run stays running).
    gate: Mutex<Option<Arc<Semaphore>>>,
    exports: Mutex<Vec<String>>,
}

struct FakeProvider {
    disk: PathBuf,
    behaviour: Arc<Behaviour>,
}

fn vm_info(id: &str, path: &str) -> VmInfo {
    let name = path.rsplit('/').next().unwrap_or(path).to_owned();
    VmInfo {
        id: id.into(),
        name,
        path: path.into(),
        power_state: PowerState::PoweredOn,
        guest_os: "otherLinux64Guest".into(),
        cpus: 1,
        memory_mib: 256,
        disks: 1,
        disk_capacity_bytes: None,
        disk_used_bytes: None,
        storage: Vec::new(),
        nics: 0,
        template: false,
        tools_status: None,
        datacenter: Some("DC0".into()),
        cluster: None,
        host: None,
        resource_pool: None,
        tags: Vec::new(),
        not_exportable: None,
        details_pending: false,
    }
}

struct NoopSession;

#[async_trait]
impl ExportSession for NoopSession {
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

#[async_trait]
impl Provider for FakeProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Vsphere
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
    async fn validate(&self, _cancel: &CancellationToken) -> hypersdk_core::Result<Vec<TestCheck>> {
        Ok(Vec::new())
    }
    async fn list_vms(
        &self,
        filter: &VmFilter,
        _cursor: Option<String>,
        _cancel: &CancellationToken,
    ) -> hypersdk_core::Result<VmPage> {
        Ok(VmPage {
            vms: VMS
                .iter()
                .map(|(id, path)| vm_info(id, path))
                .filter(|vm| filter.matches(vm))
                .collect(),
            next: None,
        })
    }
    async fn get_vm(&self, id: &str, _cancel: &CancellationToken) -> hypersdk_core::Result<VmInfo> {
        VMS.iter()
            .find(|(vm_id, _)| *vm_id == id)
            .map(|(id, path)| vm_info(id, path))
            .ok_or_else(|| CoreError::NotFound {
                what: "VM",
                id: id.to_owned(),
            })
    }
    async fn export(
        &self,
        vm_id: &str,
        _tag: &str,
        _options: &hypersdk_core::providers::PlatformOptions,
        cancel: &CancellationToken,
    ) -> hypersdk_core::Result<ExportPlan> {
        let vm = self.get_vm(vm_id, cancel).await?;
        let gate = self
            .behaviour
            .gate
            .lock()
            .expect("gate")
            .as_ref()
            .map(Arc::clone);
        if let Some(gate) = gate {
            let _permit = gate
                .acquire()
                .await
                .map_err(|e| CoreError::Internal(e.to_string()))?;
        }
        self.behaviour
            .exports
            .lock()
            .expect("exports")
            .push(vm.name.clone());
        if self
            .behaviour
            .failing
            .lock()
            .expect("failing")
            .contains(&vm.name)
        {
            return Err(CoreError::Remote {
                code: "vsphere_fault",
                message: format!("{} is locked by another task", vm.name),
                retryable: true,
            });
        }
        let mut disk = hypersdk_ovf::ExportDisk::local(&self.disk);
        disk.format = Some(hypersdk_ovf::DiskFormat::Raw);
        disk.capacity_bytes = std::fs::metadata(&self.disk).ok().map(|m| m.len());
        Ok(ExportPlan {
            vm: hypersdk_ovf::VmSpec::new(vm.name, 1, 256),
            disks: vec![disk],
            unpack: None,
            session: Box::new(NoopSession),
            steps: Vec::new(),
        })
    }
}

struct FakeFactory {
    disk: PathBuf,
    behaviour: Arc<Behaviour>,
}

impl ProviderFactory for FakeFactory {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Vsphere
    }
    fn connect(
        &self,
        _connection: &Connection,
        _secrets: hypersdk_core::model::Secrets,
    ) -> hypersdk_core::Result<Arc<dyn Provider>> {
        Ok(Arc::new(FakeProvider {
            disk: self.disk.clone(),
            behaviour: Arc::clone(&self.behaviour),
        }))
    }
}

/// A data dir, a destination, a disk image and a clock that tests move.
struct World {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    dest: PathBuf,
    disk: PathBuf,
    clock: Arc<ManualClock>,
    behaviour: Arc<Behaviour>,
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("rfc3339")
        .with_timezone(&Utc)
}

impl World {
    fn new(now: &str) -> World {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        let dest = tmp.path().join("backups");
        std::fs::create_dir_all(&dest).expect("dest");
        let disk = tmp.path().join("disk0.img");
        // 64 KiB of varied bytes: small, but a real disk for the engine.
        let bytes: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 7 % 251) as u8).collect();
        std::fs::write(&disk, bytes).expect("disk");
        World {
            _tmp: tmp,
            data,
            dest,
            disk,
            clock: Arc::new(ManualClock::new(at(now))),
            behaviour: Arc::new(Behaviour::default()),
        }
    }

    fn open(&self) -> Arc<Core> {
        let mut registry = ProviderRegistry::default();
        registry.register(Arc::new(FakeFactory {
            disk: self.disk.clone(),
            behaviour: Arc::clone(&self.behaviour),
        }));
        let clock: Arc<dyn hypersdk_core::schedules::Clock> = self.clock.clone();
        Arc::new(
            Core::open_with_clock(Paths::in_dir(&self.data), registry, clock).expect("open core"),
        )
    }

    fn set_now(&self, now: &str) {
        self.clock.set(at(now));
    }
}

async fn add_connection(core: &Core) -> Connection {
    core.add_connection(ConnectionInput {
        kind: ProviderKind::Vsphere,
        name: "lab".into(),
        endpoint: "vc.lab.test".into(),
        username: "backup".into(),
        secret: None,
        secret_options: Default::default(),
        options: BTreeMap::new(),
        tls_fingerprint: None,
    })
    .await
    .expect("add connection")
}

fn input(world: &World, name: &str, cron: &str, selection: VmSelection) -> ScheduleInput {
    ScheduleInput {
        name: name.into(),
        cron: cron.into(),
        time_zone: Some("UTC".into()),
        template: ScheduleTemplate {
            connection_id: "lab".into(),
            selection,
            destination_dir: world.dest.display().to_string(),
            format: ExportFormat::default(),
        },
        retention: Retention::KeepAll,
        missed_run_policy: MissedRunPolicy::RunOnce,
        enabled: true,
    }
}

fn fixed(vms: &[&str]) -> VmSelection {
    VmSelection::Fixed {
        vms: vms.iter().map(|s| (*s).to_owned()).collect(),
    }
}

async fn settle(core: &Core) {
    tokio::time::timeout(Duration::from_secs(60), core.wait_for_schedule_runs())
        .await
        .expect("runs finish within a minute");
}

async fn history(core: &Core, name: &str) -> Vec<ScheduleExecution> {
    core.schedule_history(name, None).await.expect("history")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schedules_fire_at_their_time_and_export_verified_ovas() {
    let world = World::new("2026-11-26T01:59:00Z");
    let core = world.open();
    add_connection(&core).await;
    let mut events = core.events().subscribe();
    let schedule = core
        .add_schedule(input(
            &world,
            "nightly",
            "0 2 * * *",
            fixed(&["vm-1", "/DC0/vm/prod/db01"]),
        ))
        .await
        .expect("add");
    assert_eq!(schedule.next_run, Some(at("2026-11-26T02:00:00Z")));
    assert_eq!(schedule.description, "At 02:00, every day");
    assert_eq!(schedule.problem, None);

    assert!(
        core.scheduler_tick().await.expect("tick").is_empty(),
        "not yet"
    );
    world.set_now("2026-11-26T02:00:00Z");
    let begun = core.scheduler_tick().await.expect("tick");
    assert_eq!(begun.len(), 1);
    assert_eq!(begun[0].status, ExecutionStatus::Running);
    assert_eq!(begun[0].trigger, RunTrigger::Scheduled);
    settle(&core).await;

    let runs = history(&core, "nightly").await;
    assert_eq!(runs.len(), 1);
    let run = &runs[0];
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    assert_eq!(run.job_ids.len(), 2);
    let run_dir = world.dest.join("nightly").join("20261126-020000");
    assert_eq!(
        run.run_dir.as_deref(),
        Some(run_dir.display().to_string().as_str())
    );
    let mut artefacts = run.artefacts.clone();
    artefacts.sort();
    assert_eq!(
        artefacts,
        [
            run_dir.join("db01.ova").display().to_string(),
            run_dir.join("web01.ova").display().to_string()
        ]
    );
    for a in &artefacts {
        hypersdk_ovf::verify(a).await.expect("a valid OVA");
    }

    // The next run is tomorrow's; ticking again does nothing.
    let detail = core.schedule("nightly").await.expect("get");
    assert_eq!(detail.schedule.next_run, Some(at("2026-11-27T02:00:00Z")));
    assert_eq!(
        detail.schedule.last_status,
        Some(ExecutionStatus::Succeeded)
    );
    assert_eq!(detail.upcoming.first(), Some(&at("2026-11-27T02:00:00Z")));
    assert!(core.scheduler_tick().await.expect("tick").is_empty());

    // The window hears about the run starting and finishing.
    let mut statuses = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let CoreEvent::ScheduleRun { run } = ev {
            statuses.push(run.status);
        }
    }
    assert_eq!(
        statuses,
        [ExecutionStatus::Running, ExecutionStatus::Succeeded]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missed_run_happens_once_after_downtime() {
    let world = World::new("2026-11-26T00:30:00Z");
    {
        let core = world.open();
        add_connection(&core).await;
        core.add_schedule(input(&world, "hourly", "0 * * * *", fixed(&["vm-1"])))
            .await
            .expect("add");
    }
    // Four and a half hours "closed": four fire times passed.
    world.set_now("2026-11-26T05:30:00Z");
    let core = world.open();
    let begun = core.scheduler_catch_up().await.expect("catch up");
    assert_eq!(begun.len(), 1, "one run, not one per missed time");
    assert_eq!(begun[0].trigger, RunTrigger::CatchUp);
    assert_eq!(begun[0].scheduled_for, at("2026-11-26T01:00:00Z"));
    settle(&core).await;
    assert!(core.scheduler_tick().await.expect("tick").is_empty());
    let runs = history(&core, "hourly").await;
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].status, ExecutionStatus::Succeeded);
    let s = core.schedule("hourly").await.expect("get").schedule;
    assert_eq!(s.next_run, Some(at("2026-11-26T06:00:00Z")));
    assert_eq!(s.last_run, Some(at("2026-11-26T05:30:00Z")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_skip_policy_records_the_missed_run() {
    let world = World::new("2026-11-26T00:30:00Z");
    {
        let core = world.open();
        add_connection(&core).await;
        let mut i = input(&world, "hourly", "0 * * * *", fixed(&["vm-1"]));
        i.missed_run_policy = MissedRunPolicy::Skip;
        core.add_schedule(i).await.expect("add");
    }
    world.set_now("2026-11-26T05:30:00Z");
    let core = world.open();
    let begun = core.scheduler_catch_up().await.expect("catch up");
    assert_eq!(begun.len(), 1);
    let skipped = &begun[0];
    assert_eq!(skipped.status, ExecutionStatus::Skipped);
    let reason = skipped.reason.as_deref().unwrap_or_default();
    assert!(reason.starts_with("missed while not running"), "{reason}");
    assert!(skipped.job_ids.is_empty() && skipped.run_dir.is_none());
    assert!(world.behaviour.exports.lock().expect("exports").is_empty());
    // Back on time: the next hour runs normally.
    world.set_now("2026-11-26T06:00:00Z");
    let begun = core.scheduler_tick().await.expect("tick");
    assert_eq!(begun[0].status, ExecutionStatus::Running);
    settle(&core).await;
    let runs = history(&core, "hourly").await;
    let statuses: Vec<_> = runs.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [ExecutionStatus::Succeeded, ExecutionStatus::Skipped]
    );

    // Asleep while running (the clock jumps): the same policy applies.
    world.set_now("2026-11-26T09:10:00Z");
    let begun = core.scheduler_tick().await.expect("tick");
    assert_eq!(begun[0].status, ExecutionStatus::Skipped);
    assert!(
        begun[0]
            .reason
            .as_deref()
            .unwrap_or_default()
            .contains("asleep or the clock jumped"),
        "{:?}",
        begun[0].reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_due_while_the_previous_one_runs_is_skipped() {
    let world = World::new("2026-11-26T01:59:30Z");
    let gate = Arc::new(Semaphore::new(0));
    *world.behaviour.gate.lock().expect("gate") = Some(Arc::clone(&gate));
    let core = world.open();
    add_connection(&core).await;
    core.add_schedule(input(&world, "often", "* * * * *", fixed(&["vm-1"])))
        .await
        .expect("add");
    world.set_now("2026-11-26T02:00:00Z");
    let first = core.scheduler_tick().await.expect("tick");
    assert_eq!(first[0].status, ExecutionStatus::Running);

    world.set_now("2026-11-26T02:01:00Z");
    let second = core.scheduler_tick().await.expect("tick");
    assert_eq!(second[0].status, ExecutionStatus::Skipped);
    assert_eq!(
        second[0].reason.as_deref(),
        Some(format!("overlap: previous run #{} still going", first[0].id).as_str())
    );
    // "Run now" obeys the same rule, and the schedule cannot be removed mid-run.
    let manual = core.run_schedule_now("often").await.expect("run now");
    assert_eq!(manual.status, ExecutionStatus::Skipped);
    let err = core.remove_schedule("often").await.expect_err("busy");
    assert_eq!(err.code(), "schedule_running");
    let status = core.scheduler_status().await.expect("status");
    assert_eq!(status.running.len(), 1);

    gate.add_permits(100);
    settle(&core).await;
    let runs = history(&core, "often").await;
    let statuses: Vec<_> = runs.iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            ExecutionStatus::Skipped,
            ExecutionStatus::Skipped,
            ExecutionStatus::Succeeded
        ]
    );
    core.remove_schedule("often")
        .await
        .expect("remove when idle");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_is_persisted_and_records_skips_until_resumed() {
    let world = World::new("2026-11-26T01:59:00Z");
    {
        let core = world.open();
        add_connection(&core).await;
        core.add_schedule(input(&world, "nightly", "0 2 * * *", fixed(&["vm-1"])))
            .await
            .expect("add");
        let status = core.pause_schedules().await.expect("pause");
        assert!(status.paused);
    }
    let core = world.open();
    assert!(
        core.scheduler_status().await.expect("status").paused,
        "survives a restart"
    );
    world.set_now("2026-11-26T02:00:00Z");
    let begun = core.scheduler_tick().await.expect("tick");
    assert_eq!(begun[0].status, ExecutionStatus::Skipped);
    assert_eq!(
        begun[0].reason.as_deref(),
        Some("paused: schedules are paused")
    );
    assert!(world.behaviour.exports.lock().expect("exports").is_empty());

    // "Run now" still works while paused: it was asked for.
    let manual = core.run_schedule_now("nightly").await.expect("run now");
    assert_eq!(manual.status, ExecutionStatus::Succeeded, "{manual:?}");
    assert_eq!(manual.trigger, RunTrigger::Manual);

    assert!(!core.resume_schedules().await.expect("resume").paused);
    world.set_now("2026-11-27T02:00:00Z");
    let begun = core.scheduler_tick().await.expect("tick");
    assert_eq!(begun[0].status, ExecutionStatus::Running);
    settle(&core).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_only_recorded_artefacts_of_superseded_runs() {
    let world = World::new("2026-11-20T01:00:00Z");
    let core = world.open();
    add_connection(&core).await;
    let mut i = input(&world, "nightly", "0 2 * * *", fixed(&["vm-1"]));
    i.retention = Retention::KeepLast { count: 2 };
    core.add_schedule(i).await.expect("add");

    // Files the app did not create: beside the schedule folder and inside it.
    let foreign = world.dest.join("notes.txt");
    std::fs::write(&foreign, b"mine").expect("write");
    let schedule_dir = world.dest.join("nightly");
    std::fs::create_dir_all(&schedule_dir).expect("mkdir");
    let foreign_in_schedule_dir = schedule_dir.join("web01.ova");
    std::fs::write(&foreign_in_schedule_dir, b"an older manual export").expect("write");

    let mut run_dirs = Vec::new();
    for day in 20..=24 {
        world.set_now(&format!("2026-11-{day}T02:00:00Z"));
        if day == 22 {
            world
                .behaviour
                .failing
                .lock()
                .expect("failing")
                .insert("web01".into());
        }
        let begun = core.scheduler_tick().await.expect("tick");
        assert_eq!(begun.len(), 1, "day {day}");
        settle(&core).await;
        world.behaviour.failing.lock().expect("failing").clear();
        run_dirs.push(schedule_dir.join(format!("202611{day}-020000")));
        if day == 20 {
            // Someone drops a file into the first run's folder.
            std::fs::write(run_dirs[0].join("README"), b"do not delete").expect("write");
        }
        if day == 21 {
            assert!(
                core.retention_preview("nightly")
                    .await
                    .expect("preview")
                    .is_empty(),
                "two successes: nothing to delete yet"
            );
        }
    }
    let runs = history(&core, "nightly").await;
    let statuses: Vec<_> = runs.iter().rev().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [
            ExecutionStatus::Succeeded,
            ExecutionStatus::Succeeded,
            ExecutionStatus::Failed,
            ExecutionStatus::Succeeded,
            ExecutionStatus::Succeeded
        ]
    );
    // Kept: the two newest successes (23rd, 24th). The 20th and 21st are
    // superseded, and so is the failed 22nd (its folder held nothing).
    assert!(!run_dirs[0].join("web01.ova").exists());
    assert!(
        run_dirs[0].join("README").exists(),
        "a foreign file survives"
    );
    assert!(!run_dirs[1].exists(), "an emptied run folder goes");
    assert!(!run_dirs[2].exists());
    assert!(run_dirs[3].join("web01.ova").exists());
    assert!(run_dirs[4].join("web01.ova").exists());
    assert!(foreign.exists() && foreign_in_schedule_dir.exists());
    let pruned: Vec<bool> = runs.iter().rev().map(|r| r.pruned_at.is_some()).collect();
    assert_eq!(pruned, [true, true, true, false, false]);

    // A dry run shows what a stricter policy would delete, and deletes nothing.
    let mut i = input(&world, "nightly", "0 2 * * *", fixed(&["vm-1"]));
    i.retention = Retention::KeepLast { count: 1 };
    core.update_schedule("nightly", i).await.expect("update");
    let preview = core.retention_preview("nightly").await.expect("preview");
    assert_eq!(preview.len(), 1);
    assert_eq!(
        preview[0].paths,
        [run_dirs[3].join("web01.ova").display().to_string()]
    );
    assert!(run_dirs[3].join("web01.ova").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_are_evaluated_at_run_time_and_partial_runs_are_reported() {
    let world = World::new("2026-11-26T01:59:00Z");
    let core = world.open();
    add_connection(&core).await;
    core.add_schedule(input(
        &world,
        "web",
        "0 2 * * *",
        VmSelection::Rule {
            name_pattern: Some("WEB*".into()),
            folder: Some("/DC0/vm/prod".into()),
        },
    ))
    .await
    .expect("add");
    world
        .behaviour
        .failing
        .lock()
        .expect("failing")
        .insert("web02".into());
    world.set_now("2026-11-26T02:00:00Z");
    core.scheduler_tick().await.expect("tick");
    settle(&core).await;
    let run = &history(&core, "web").await[0];
    assert_eq!(run.status, ExecutionStatus::Partial, "{run:?}");
    assert_eq!(run.artefacts.len(), 1);
    assert!(run.artefacts[0].ends_with("web01.ova"));
    let reason = run.reason.as_deref().unwrap_or_default();
    assert!(
        reason.starts_with("1 of 2 VM(s) failed") && reason.contains("locked by another task"),
        "{reason}"
    );
    let exported = world.behaviour.exports.lock().expect("exports").clone();
    assert!(
        !exported.contains(&"web99".to_owned()),
        "outside the folder"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_naming_the_field() {
    let world = World::new("2026-11-26T01:59:00Z");
    let core = world.open();
    add_connection(&core).await;
    let base = || input(&world, "nightly", "0 2 * * *", fixed(&["vm-1"]));

    let mut i = base();
    i.cron = "0 25 * * *".into();
    let err = core.add_schedule(i).await.expect_err("cron");
    assert_eq!(err.code(), "invalid_cron");
    assert!(err.to_string().contains("hour field"), "{err}");

    let mut i = base();
    i.time_zone = Some("Mars/Olympus".into());
    assert_eq!(
        core.add_schedule(i).await.expect_err("zone").code(),
        "invalid_timezone"
    );

    let mut i = base();
    i.template.connection_id = "nope".into();
    let err = core.add_schedule(i).await.expect_err("connection");
    assert_eq!(err.field(), Some("connection_id"));

    let mut i = base();
    i.template.destination_dir = world.dest.join("missing").display().to_string();
    let err = core.add_schedule(i).await.expect_err("destination");
    assert_eq!(err.field(), Some("destination_dir"));

    let mut i = base();
    i.retention = Retention::KeepLast { count: 0 };
    assert_eq!(
        core.add_schedule(i).await.expect_err("keep").field(),
        Some("retention")
    );

    core.add_schedule(base()).await.expect("valid");
    let mut i = base();
    i.name = "NIGHTLY".into();
    assert_eq!(
        core.add_schedule(i).await.expect_err("dup").code(),
        "schedule_name_taken"
    );
    assert_eq!(core.list_schedules().await.expect("list").len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_connection_or_vanished_destination_fails_the_run_not_the_app() {
    let world = World::new("2026-11-26T01:59:00Z");
    let core = world.open();
    add_connection(&core).await;
    core.add_schedule(input(&world, "nightly", "0 2 * * *", fixed(&["vm-1"])))
        .await
        .expect("add");

    // The destination disappears (an unmounted disk): the run fails and the
    // folder is not recreated on whatever is mounted there now.
    std::fs::remove_dir_all(&world.dest).expect("rm");
    let s = &core.list_schedules().await.expect("list")[0];
    assert!(
        s.problem
            .as_deref()
            .unwrap_or_default()
            .contains("does not exist")
    );
    let run = core.run_schedule_now("nightly").await.expect("run");
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert!(
        run.reason
            .as_deref()
            .unwrap_or_default()
            .starts_with("destination:")
    );
    assert!(!world.dest.exists());

    std::fs::create_dir_all(&world.dest).expect("mkdir");
    core.remove_connection("lab")
        .await
        .expect("remove connection");
    let s = &core.list_schedules().await.expect("list")[0];
    assert!(
        s.problem
            .as_deref()
            .unwrap_or_default()
            .contains("connection"),
        "{:?}",
        s.problem
    );
    let run = core.run_schedule_now("nightly").await.expect("run");
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert!(
        run.reason
            .as_deref()
            .unwrap_or_default()
            .contains("connection this schedule uses was removed"),
        "{:?}",
        run.reason
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clock_changes_and_dst() {
    // New York springs forward on 2026-03-08 (02:00 EST → 03:00 EDT).
    let world = World::new("2026-03-08T06:00:00Z");
    let core = world.open();
    add_connection(&core).await;
    let mut i = input(&world, "ny", "30 2 * * *", fixed(&["vm-1"]));
    i.time_zone = Some("America/New_York".into());
    let s = core.add_schedule(i).await.expect("add");
    // 02:30 does not exist that day: it runs at 03:30 EDT.
    assert_eq!(s.next_run, Some(at("2026-03-08T07:30:00Z")));
    world.set_now("2026-03-08T07:30:00Z");
    assert_eq!(core.scheduler_tick().await.expect("tick").len(), 1);
    settle(&core).await;
    let run = &history(&core, "ny").await[0];
    assert!(
        run.run_dir
            .as_deref()
            .unwrap_or_default()
            .ends_with("20260308-033000")
    );
    let s = core.schedule("ny").await.expect("get").schedule;
    assert_eq!(s.next_run, Some(at("2026-03-09T06:30:00Z")));

    // The clock is set back a day: the stored next run is too far ahead and
    // is recomputed, so no run is lost.
    world.set_now("2026-03-08T05:00:00Z");
    assert_eq!(core.recompute_next_runs().await.expect("recompute"), 1);
    let s = core.schedule("ny").await.expect("get").schedule;
    assert_eq!(s.next_run, Some(at("2026-03-08T07:30:00Z")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_schedules_do_not_fire_or_catch_up() {
    let world = World::new("2026-11-26T01:00:00Z");
    let core = world.open();
    add_connection(&core).await;
    core.add_schedule(input(&world, "nightly", "0 2 * * *", fixed(&["vm-1"])))
        .await
        .expect("add");
    let s = core
        .set_schedule_enabled("nightly", false)
        .await
        .expect("disable");
    assert!(!s.enabled && s.next_run.is_none());
    world.set_now("2026-11-28T12:00:00Z");
    assert!(core.scheduler_tick().await.expect("tick").is_empty());
    let s = core
        .set_schedule_enabled("nightly", true)
        .await
        .expect("enable");
    assert_eq!(s.next_run, Some(at("2026-11-29T02:00:00Z")));
    assert!(core.scheduler_tick().await.expect("tick").is_empty());
    assert!(history(&core, "nightly").await.is_empty());
}

/// Proves the per-run folder is the unit of deletion without relying on
/// the real clock: everything a run recorded lies inside its folder.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn artefacts_are_recorded_inside_the_run_folder() {
    let world = World::new("2026-11-26T01:59:00Z");
    let core = world.open();
    add_connection(&core).await;
    core.add_schedule(input(&world, "../odd name", "0 2 * * *", fixed(&["vm-1"])))
        .await
        .expect("add");
    let run = core.run_schedule_now("../odd name").await.expect("run");
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
    let dir = PathBuf::from(run.run_dir.clone().expect("run dir"));
    assert!(dir.starts_with(&world.dest));
    for a in &run.artefacts {
        assert!(Path::new(a).starts_with(&dir), "{a}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_left_running_by_a_dead_process_is_ended_as_interrupted() {
    let world = World::new("2026-11-26T02:00:00Z");
    let schedule_id = {
        let core = world.open();
        add_connection(&core).await;
        core.add_schedule(input(&world, "nightly", "0 2 * * *", fixed(&["vm-1"])))
            .await
            .expect("add")
            .id
    };
    // A process that began a run and died: its runner lock is gone.
    {
        let store =
            hypersdk_core::store::Store::open(&world.data.join("hypersdk.db")).expect("open store");
        let begun = store
            .begin_execution(
                &hypersdk_core::store::BeginRun {
                    schedule_id: &schedule_id,
                    claim: None,
                    trigger: RunTrigger::Manual,
                    scheduled_for: at("2026-11-26T01:00:00Z"),
                    now: at("2026-11-26T01:00:00Z"),
                    runner_id: "a-process-that-died",
                    skip_reason: None,
                },
                |_| false,
            )
            .expect("begin")
            .expect("recorded");
        assert_eq!(begun.status, ExecutionStatus::Running);
    }
    let core = world.open();
    let runs = history(&core, "nightly").await;
    assert_eq!(runs[0].status, ExecutionStatus::Failed);
    assert_eq!(
        runs[0].reason.as_deref(),
        Some("interrupted: HyperSDK stopped during this run")
    );
    // It no longer blocks the schedule: the next run is not an overlap.
    let run = core.run_schedule_now("nightly").await.expect("run");
    assert_eq!(run.status, ExecutionStatus::Succeeded, "{run:?}");
}

#[tokio::test]
async fn a_cron_expression_is_previewed_as_it_is_typed() {
    let world = World::new("2026-03-28T12:00:00Z");
    let core = world.open();
    // Paris leaves winter time at 02:00 on 29 March 2026: the 02:30 run of that day does not
    // exist, and the preview says what the scheduler will do, not what naive arithmetic says.
    let p = core
        .preview_cron("30 2 * * *", "Europe/Paris")
        .expect("valid");
    assert!(p.description.contains("02:30"), "{}", p.description);
    assert!(!p.upcoming.is_empty());
    assert!(
        p.upcoming.windows(2).all(|w| w[0] < w[1]),
        "{:?}",
        p.upcoming
    );
    assert!(p.upcoming[0] > at("2026-03-28T12:00:00Z"));
    // What saving would refuse, the preview refuses with the same code and message.
    for (cron, zone, code) in [
        ("0 2 * *", "", "invalid_cron"),
        ("0 0 30 2 *", "", "invalid_cron"),
        ("0 2 * * *", "Mars/Olympus", "invalid_timezone"),
    ] {
        let e = core.preview_cron(cron, zone).expect_err(cron);
        assert_eq!(e.code(), code, "{cron} {zone}: {e}");
    }
    assert!(
        core.preview_cron("@daily", "").is_ok(),
        "empty zone is local"
    );
}

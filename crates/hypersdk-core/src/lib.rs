//! HyperSDK core: everything the desktop app and `hyperctl` share, and
//! nothing about windows. See `docs/ARCHITECTURE.md`.

mod connections;
pub mod cron_schedule;
pub mod error;
pub mod events;
pub mod exports;
pub mod jobs;
pub mod kinds;
pub mod logging;
pub mod model;
pub mod paths;
pub mod providers;
pub mod schedules;
pub mod secrets;
pub mod store;
pub mod webhooks;

use std::sync::Arc;
use std::time::Duration;

pub use connections::{normalize_endpoint, normalize_fingerprint};
pub use error::{ApiError, CoreError, Result};
pub use events::{CoreEvent, EventBus};
pub use paths::Paths;

use jobs::runner::Runner;
use jobs::{JobEngine, JobWork, NewJob, blocking};
use model::{Job, JobDetail, ProviderKindInfo, Settings};
use providers::ProviderRegistry;
use schedules::{Clock, SchedulerState, SystemClock};
use secrets::Keyring;
use store::Store;

const DESKTOP_SETTINGS_KEY: &str = "desktop";
const CLOSE_HINT_KEY: &str = "desktop.close_hint_shown";

/// How many jobs the lists show; the rest stay in the database.
pub const JOB_LIST_LIMIT: u32 = 10_000;
const MAX_CONCURRENT_JOBS: u32 = 32;
const MAX_JOBS_PER_CONNECTION: u32 = 16;
/// How often the background loop looks for other processes' changes.
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// One open HyperSDK state directory. Cheap to share behind an `Arc`.
pub struct Core {
    paths: Paths,
    store: Arc<Store>,
    keyring: Keyring,
    registry: ProviderRegistry,
    bus: EventBus,
    jobs: JobEngine,
    scheduler: SchedulerState,
    // Held for the life of the process: it is how other processes tell
    // that our jobs, schedule runs and webhook delivery leases are still alive.
    runner: Runner,
    /// Wakes the webhook delivery worker before its next poll.
    webhook_wake: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Core {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("paths", &self.paths)
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

impl Core {
    /// Opens the state in `paths`, creating it on first use, and marks jobs
    /// whose process died as interrupted.
    pub fn open(paths: Paths, registry: ProviderRegistry) -> Result<Core> {
        Core::open_with_clock(paths, registry, Arc::new(SystemClock))
    }

    /// [`Core::open`] with the scheduler driven by `clock` (tests and
    /// benchmarks move a manual clock instead of waiting).
    pub fn open_with_clock(
        paths: Paths,
        registry: ProviderRegistry,
        clock: Arc<dyn Clock>,
    ) -> Result<Core> {
        paths.create_dirs()?;
        let store = Arc::new(Store::open(&paths.database)?);
        let runner = Runner::register(&paths.runners_dir())?;
        let settings = store.settings()?;
        let webhook_settings = store.webhook_settings()?;
        let bus = EventBus::default();
        let jobs = JobEngine::new(
            Arc::clone(&store),
            bus.clone(),
            runner.id().to_owned(),
            paths.runners_dir(),
            settings.max_concurrent_jobs as usize,
            settings.max_jobs_per_connection as usize,
            webhook_settings.progress_interval_seconds,
        );
        let interrupted = jobs.reconcile_orphans()?;
        if !interrupted.is_empty() {
            tracing::warn!(
                count = interrupted.len(),
                "jobs left running by a stopped process marked interrupted"
            );
        }
        // After the jobs, so an interrupted run records its jobs' outcome.
        let runs = schedules::reconcile_interrupted_runs(
            &store,
            runner.id(),
            &paths.runners_dir(),
            clock.now(),
        )?;
        if runs > 0 {
            tracing::warn!(
                count = runs,
                "schedule runs left running by a stopped process marked failed"
            );
        }
        Ok(Core {
            paths,
            store,
            keyring: Keyring::default(),
            registry,
            bus,
            jobs,
            scheduler: SchedulerState::new(clock),
            runner,
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Runs a short store call off the async threads (see `jobs::blocking`).
    async fn with_store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let store = Arc::clone(&self.store);
        blocking(move || f(&store)).await
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn events(&self) -> &EventBus {
        &self.bus
    }

    pub fn provider_kinds(&self) -> Vec<ProviderKindInfo> {
        model::ProviderKind::ALL
            .into_iter()
            .map(|k| kinds::info(k, self.registry.has(k)))
            .collect()
    }

    pub async fn settings(&self) -> Result<Settings> {
        self.with_store(move |store| store.settings()).await
    }

    pub async fn update_settings(&self, settings: Settings) -> Result<Settings> {
        if !(1..=MAX_CONCURRENT_JOBS).contains(&settings.max_concurrent_jobs) {
            return Err(CoreError::invalid(
                "max_concurrent_jobs",
                format!("Concurrent jobs must be between 1 and {MAX_CONCURRENT_JOBS}"),
            ));
        }
        if !(1..=MAX_JOBS_PER_CONNECTION).contains(&settings.max_jobs_per_connection) {
            return Err(CoreError::invalid(
                "max_jobs_per_connection",
                format!("Jobs per connection must be between 1 and {MAX_JOBS_PER_CONNECTION}"),
            ));
        }
        self.with_store(move |store| store.put_settings(&settings))
            .await?;
        self.jobs.set_limits(
            settings.max_concurrent_jobs as usize,
            settings.max_jobs_per_connection as usize,
        );
        self.bus.publish(CoreEvent::SettingsChanged);
        Ok(settings)
    }

    pub async fn list_jobs(&self) -> Result<Vec<Job>> {
        self.with_store(move |store| store.list_jobs(JOB_LIST_LIMIT))
            .await
    }

    pub async fn desktop_settings(&self) -> Result<model::DesktopSettings> {
        self.with_store(|store| store.setting(DESKTOP_SETTINGS_KEY))
            .await
    }

    pub async fn update_desktop_settings(
        &self,
        settings: model::DesktopSettings,
    ) -> Result<model::DesktopSettings> {
        self.with_store(move |store| store.put_setting(DESKTOP_SETTINGS_KEY, &settings))
            .await?;
        self.bus.publish(CoreEvent::SettingsChanged);
        Ok(settings)
    }

    /// True exactly once per data directory: the first time the window is
    /// closed, the app says it keeps running in the tray.
    pub async fn take_close_hint(&self) -> Result<bool> {
        self.with_store(|store| {
            let shown: bool = store.setting(CLOSE_HINT_KEY)?;
            if !shown {
                store.put_setting(CLOSE_HINT_KEY, &true)?;
            }
            Ok(!shown)
        })
        .await
    }

    /// Jobs under way and how the last one ended (for the tray).
    pub async fn activity(&self) -> Result<model::Activity> {
        self.with_store(|store| store.activity()).await
    }

    pub async fn job(&self, id: &str) -> Result<JobDetail> {
        let id = id.to_owned();
        self.with_store(move |store| {
            let job = store.get_job(&id)?.ok_or_else(|| CoreError::NotFound {
                what: "job",
                id: id.clone(),
            })?;
            let events = store.job_events(&id)?;
            Ok(JobDetail { job, events })
        })
        .await
    }

    /// Signs out of provider sessions and logs their counters: call once
    /// when the process is about to exit.
    pub async fn shutdown(&self) {
        self.registry.shutdown().await;
    }

    pub async fn submit_job(&self, new: NewJob, work: JobWork) -> Result<Job> {
        self.jobs.submit(new, work).await
    }

    pub async fn cancel_job(&self, id: &str) -> Result<()> {
        self.jobs.cancel(id).await
    }

    /// Runs until the process ends: picks up cancel requests for our jobs,
    /// announces changes made by other processes (`hyperctl` beside the
    /// app), so every window stays current without polling from the UI, and
    /// delivers webhook events ([`Core::run_webhooks`], spawned beside it).
    pub async fn run_background(self: Arc<Self>) {
        // Servers may be slow or down: clean up beside the loop, not before it.
        let core = Arc::clone(&self);
        tokio::spawn(async move { core.cleanup_interrupted_exports().await });
        tokio::spawn(Arc::clone(&self).run_webhooks());
        let mut last_version = None;
        let mut ticker = tokio::time::interval(POLL_INTERVAL);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Err(e) = self.jobs.poll_cancel_requests().await {
                tracing::warn!(error = %e, "cannot poll cancel requests");
            }
            match self.with_store(move |store| store.data_version()).await {
                Ok(version) => {
                    if last_version.is_some_and(|v| v != version) {
                        self.bus.publish(CoreEvent::ConnectionsChanged);
                        self.bus.publish(CoreEvent::SettingsChanged);
                        self.bus.publish(CoreEvent::WebhooksChanged);
                        self.bus
                            .publish(CoreEvent::ScheduleChanged { schedule_id: None });
                        self.announce_external_job_changes().await;
                    }
                    last_version = Some(version);
                }
                Err(e) => tracing::warn!(error = %e, "cannot poll the database for changes"),
            }
        }
    }

    async fn announce_external_job_changes(&self) {
        // Another process wrote; re-announce recent jobs so views refresh.
        match self.list_jobs().await {
            Ok(jobs) => {
                for job in jobs.into_iter().take(50) {
                    self.bus
                        .publish(CoreEvent::JobUpdated { job: Box::new(job) });
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot reload jobs"),
        }
    }
}

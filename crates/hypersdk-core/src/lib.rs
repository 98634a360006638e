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
pub mod metrics;
pub mod model;
pub mod paths;
pub mod providers;
pub mod schedules;
pub mod secrets;
pub mod store;
pub mod tls;
pub mod webhooks;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub use connections::{normalize_endpoint, normalize_fingerprint};
pub use error::{ApiError, CoreError, Result};
pub use events::{CoreEvent, EventBus};
pub use paths::Paths;

use jobs::runner::Runner;
use jobs::{JobEngine, JobWork, NewJob, blocking};
use metrics::endpoint::{EndpointController, EndpointStatus};
use metrics::recorder::RecorderHandle;
use metrics::{JobStats, MetricKind, MetricSeries, SeriesQuery, TimeRange};
use model::{Job, JobDetail, JobPage, JobQuery, ProviderKind, ProviderKindInfo, Settings};
use providers::ProviderRegistry;
use schedules::{Clock, SchedulerState, SystemClock};
use secrets::Keyring;
use store::Store;

const DESKTOP_SETTINGS_KEY: &str = "desktop";
const CLOSE_HINT_KEY: &str = "desktop.close_hint_shown";

pub use model::JOB_PAGE_MAX;
const MAX_CONCURRENT_JOBS: u32 = 32;
const MAX_JOBS_PER_CONNECTION: u32 = 16;
const MAX_DISKS_PER_EXPORT: u32 = 16;
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
    /// The metrics recorder, once started (see [`Core::start_metrics`]).
    recorder: OnceLock<RecorderHandle>,
    /// The Prometheus endpoint, managed from the settings only in the
    /// process that called [`Core::run_background`] (the app): `hyperctl
    /// settings set` must not open a port in the short-lived CLI.
    endpoint: EndpointController,
    manages_endpoint: AtomicBool,
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
            recorder: OnceLock::new(),
            endpoint: EndpointController::default(),
            manages_endpoint: AtomicBool::new(false),
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

    /// Reads every page of the database (about a second at 100,000 jobs), which opening
    /// leaves out: see [`Store::check_integrity`]. The store stays usable meanwhile.
    pub async fn check_integrity(&self) -> Result<store::IntegrityReport> {
        self.with_store(|store| store.check_integrity()).await
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
        if !(1..=MAX_DISKS_PER_EXPORT).contains(&settings.disks_per_export) {
            return Err(CoreError::invalid(
                "disks_per_export",
                format!("Disks per export must be between 1 and {MAX_DISKS_PER_EXPORT}"),
            ));
        }
        metrics::endpoint::parse_listen(&settings.metrics_listen)?;
        let mut settings = settings;
        settings.metrics_listen = settings.metrics_listen.trim().to_owned();
        let saved = settings.clone();
        self.with_store(move |store| store.put_settings(&saved))
            .await?;
        self.jobs.set_limits(
            settings.max_concurrent_jobs as usize,
            settings.max_jobs_per_connection as usize,
        );
        // Applied before the event, so a window that re-reads the endpoint
        // status on `SettingsChanged` sees the new state.
        if self.manages_endpoint.load(Ordering::SeqCst) {
            self.endpoint.sync(&self.store).await;
        }
        self.bus.publish(CoreEvent::SettingsChanged);
        Ok(settings)
    }

    /// Starts the metrics recorder on the current Tokio runtime (once; later
    /// calls do nothing). `sample_resources`: also record this process's CPU
    /// and memory — the app does, `hyperctl` records only its jobs.
    pub fn start_metrics(&self, sample_resources: bool) {
        self.recorder.get_or_init(|| {
            metrics::recorder::spawn(Arc::clone(&self.store), self.bus.clone(), sample_resources)
        });
    }

    /// Stores what the recorder has collected so far (before a CLI exits).
    pub async fn flush_metrics(&self) {
        if let Some(recorder) = self.recorder.get() {
            recorder.flush().await;
        }
    }

    /// A metric over a time range, bucketed to at most `metrics::MAX_POINTS`.
    pub async fn metric_series(&self, query: SeriesQuery) -> Result<MetricSeries> {
        let now = metrics::unix_now();
        self.with_store(move |store| metrics::query_series(store, &query, now))
            .await
    }

    /// The app's CPU, memory and write rate over a range (one series each).
    pub async fn app_resource_series(&self, range: TimeRange) -> Result<Vec<MetricSeries>> {
        let now = metrics::unix_now();
        self.with_store(move |store| {
            [
                MetricKind::CpuPercent,
                MetricKind::RssBytes,
                MetricKind::WriteRate,
            ]
            .into_iter()
            .map(|metric| {
                let query = SeriesQuery {
                    metric,
                    range,
                    job_id: None,
                };
                metrics::query_series(store, &query, now)
            })
            .collect()
        })
        .await
    }

    /// Counts, bytes, runs and the weekday × hour heat map for a range.
    pub async fn job_stats(&self, range: TimeRange) -> Result<JobStats> {
        self.with_store(move |store| metrics::query_job_stats(store, range, &metrics::local_zone()))
            .await
    }

    /// Saves chart data the window produced to the file the user chose
    /// (see `metrics::export` for what is refused).
    pub async fn save_chart_export(&self, path: String, content: String) -> Result<String> {
        blocking(move || metrics::export::save_chart_export(&path, &content))
            .await
            .map(|p| p.display().to_string())
    }

    /// Whether the Prometheus endpoint is serving, and where.
    pub async fn metrics_endpoint_status(&self) -> Result<EndpointStatus> {
        if let Some(status) = self.endpoint.status() {
            return Ok(status);
        }
        // Not managed here (or not applied yet): what the settings ask for.
        let settings = self.settings().await?;
        Ok(EndpointStatus {
            enabled: settings.metrics_enabled,
            loopback_only: metrics::endpoint::parse_listen(&settings.metrics_listen)
                .is_ok_and(|a| a.ip().is_loopback()),
            listen: settings.metrics_listen,
            url: None,
            error: None,
        })
    }

    /// Serves `/metrics` on `addr` until the returned server is dropped
    /// (`hyperctl metrics serve`; the app uses the settings instead).
    pub async fn serve_metrics(
        &self,
        addr: std::net::SocketAddr,
    ) -> Result<metrics::endpoint::Server> {
        metrics::endpoint::serve(addr, Arc::clone(&self.store)).await
    }

    /// Makes the endpoint follow the settings from now on (the app).
    async fn manage_metrics_endpoint(self: &Arc<Self>) {
        self.manages_endpoint.store(true, Ordering::SeqCst);
        let mut events = self.bus.subscribe();
        self.endpoint.sync(&self.store).await;
        let core = Arc::clone(self);
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    // Changes made by `hyperctl settings set` arrive this way.
                    // Lagged: a change may be among the lost events.
                    Ok(CoreEvent::SettingsChanged)
                    | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        core.endpoint.sync(&core.store).await
                    }
                    Ok(_) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }

    /// One page of the jobs a query selects (filters, sort, offset and limit), with how many
    /// match. The window asks for the rows in view; `hyperctl jobs list` for one page.
    pub async fn query_jobs(&self, query: JobQuery) -> Result<JobPage> {
        if query.limit > JOB_PAGE_MAX {
            return Err(CoreError::invalid(
                "limit",
                format!("at most {JOB_PAGE_MAX} jobs per page"),
            ));
        }
        if let Some(provider) = query.provider.as_deref()
            && provider != "none"
            && provider.parse::<ProviderKind>().is_err()
        {
            return Err(CoreError::invalid(
                "provider",
                format!(
                    "unknown provider \"{provider}\" (expected none, {})",
                    ProviderKind::ALL
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        self.with_store(move |store| store.query_jobs(&query)).await
    }

    /// The newest jobs, newest first (at most [`JOB_PAGE_MAX`]).
    pub async fn newest_jobs(&self, limit: u32) -> Result<Vec<Job>> {
        Ok(self
            .query_jobs(JobQuery::newest(limit.min(JOB_PAGE_MAX)))
            .await?
            .jobs)
    }

    /// The full id of the job whose id is or starts with `prefix`.
    pub async fn resolve_job_id(&self, prefix: &str) -> Result<String> {
        let prefix = prefix.to_owned();
        self.with_store(move |store| store.resolve_job_id(&prefix))
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
        self.start_metrics(true);
        self.manage_metrics_endpoint().await;
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
        match self.newest_jobs(50).await {
            Ok(jobs) => {
                for job in jobs {
                    self.bus
                        .publish(CoreEvent::JobUpdated { job: Box::new(job) });
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot reload jobs"),
        }
    }
}

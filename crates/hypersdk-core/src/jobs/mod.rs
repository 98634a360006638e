//! The job engine: persisted, bounded, cancellable units of work.
//!
//! A job is a row first (`queued`), then a task. Admission goes through the
//! [`limiter`]; the work gets a [`JobContext`] with a `CancellationToken` it
//! must pass to every await point and a throttled [`ProgressReporter`]. Every
//! state change is committed before its event is published.

mod limiter;
mod progress;
pub(crate) mod runner;

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::error::{ApiError, CoreError, Result};
use crate::events::{CoreEvent, EventBus};
use crate::model::{Job, JobKind, JobState};
use crate::store::{NewJobRow, Store};

pub use limiter::Limiter;
pub use progress::{MIN_EVENT_INTERVAL, ProgressReporter};

/// How long cancelled work gets to clean up after itself (abort a lease,
/// remove a snapshot, delete a `.part`) before its task is dropped.
const CANCEL_GRACE: Duration = Duration::from_secs(30);

pub struct JobContext {
    pub job_id: String,
    pub cancel: CancellationToken,
    pub progress: ProgressReporter,
    pub steps: JobSteps,
}

/// Writes a running job's steps to its event log ("disk 2 finished: …",
/// "verified: …"), so its page tells what happened without the log files.
#[derive(Clone)]
pub struct JobSteps {
    job_id: String,
    store: Option<Arc<Store>>,
    bus: EventBus,
}

impl JobSteps {
    /// Records `message` and announces the job. Awaited, so a step is in the
    /// log before the job's end; a step that cannot be written is only logged.
    pub async fn step(&self, message: impl Into<String>) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let (id, message) = (self.job_id.clone(), message.into());
        let written = tokio::task::spawn_blocking(move || store.add_job_step(&id, &message)).await;
        match written {
            Ok(Ok(Some(job))) => self
                .bus
                .publish(CoreEvent::JobUpdated { job: Box::new(job) }),
            Ok(Ok(None)) => {}
            Ok(Err(e)) => {
                tracing::warn!(job = %self.job_id, error = %e, "cannot record a job step")
            }
            Err(e) => tracing::warn!(job = %self.job_id, error = %e, "job step task failed"),
        }
    }
}

/// What a finished job says about itself, for its event log.
#[derive(Debug, Clone, Default)]
pub struct JobOutcome {
    pub summary: String,
    pub result: Option<crate::model::JobResult>,
}

pub type JobFuture = Pin<Box<dyn Future<Output = Result<JobOutcome>> + Send>>;
pub type JobWork = Box<dyn FnOnce(JobContext) -> JobFuture + Send>;

#[derive(Debug, Clone)]
pub struct NewJob {
    pub name: String,
    pub kind: JobKind,
    pub connection_id: Option<String>,
    /// The full request, kept so an interrupted job can be resumed.
    pub request: serde_json::Value,
}

#[derive(Clone)]
pub struct JobEngine {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<Store>,
    bus: EventBus,
    runner_id: String,
    runners_dir: PathBuf,
    limiter: Arc<Limiter>,
    tokens: Mutex<HashMap<String, CancellationToken>>,
    /// `job.progress` webhook interval in seconds (webhook settings).
    webhook_progress_interval: Arc<AtomicU32>,
}

impl JobEngine {
    pub(crate) fn new(
        store: Arc<Store>,
        bus: EventBus,
        runner_id: String,
        runners_dir: PathBuf,
        max_global: usize,
        max_per_connection: usize,
        webhook_progress_interval_seconds: u32,
    ) -> JobEngine {
        JobEngine {
            inner: Arc::new(Inner {
                store,
                bus,
                runner_id,
                runners_dir,
                limiter: Limiter::new(max_global, max_per_connection),
                tokens: Mutex::new(HashMap::new()),
                webhook_progress_interval: Arc::new(AtomicU32::new(
                    webhook_progress_interval_seconds,
                )),
            }),
        }
    }

    pub fn set_webhook_progress_interval(&self, seconds: u32) {
        self.inner
            .webhook_progress_interval
            .store(seconds, Ordering::Relaxed);
    }

    pub fn set_limits(&self, max_global: usize, max_per_connection: usize) {
        self.inner
            .limiter
            .set_limits(max_global, max_per_connection);
    }

    fn tokens(&self) -> std::sync::MutexGuard<'_, HashMap<String, CancellationToken>> {
        self.inner.tokens.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Persists the job as `queued`, announces it, and starts it as soon as
    /// the limits allow. Must be called inside a Tokio runtime.
    pub async fn submit(&self, new: NewJob, work: JobWork) -> Result<Job> {
        let id = uuid::Uuid::new_v4().to_string();
        let request_json = serde_json::to_string(&new.request)
            .map_err(|e| CoreError::Internal(format!("job request: {e}")))?;
        let store = Arc::clone(&self.inner.store);
        let runner_id = self.inner.runner_id.clone();
        let (job_id, name, kind, conn) = (
            id.clone(),
            new.name.clone(),
            new.kind,
            new.connection_id.clone(),
        );
        let job = blocking(move || {
            store.insert_job(&NewJobRow {
                id: &job_id,
                name: &name,
                kind,
                connection_id: conn.as_deref(),
                request_json: &request_json,
                runner_id: &runner_id,
            })
        })
        .await?;
        self.inner.bus.publish(CoreEvent::JobUpdated {
            job: Box::new(job.clone()),
        });

        let token = CancellationToken::new();
        self.tokens().insert(id.clone(), token.clone());
        let engine = self.clone();
        tokio::spawn(async move { engine.drive(id, new.connection_id, work, token).await });
        Ok(job)
    }

    async fn drive(
        self,
        id: String,
        connection: Option<String>,
        work: JobWork,
        token: CancellationToken,
    ) {
        let permit = match self.inner.limiter.acquire(connection, &token).await {
            Ok(p) => p,
            Err(_) => {
                self.finish(
                    &id,
                    JobState::Cancelled,
                    "cancelled before it started",
                    None,
                )
                .await;
                return;
            }
        };
        if self
            .transition(&id, JobState::Running, "started", None)
            .await
            .is_none()
        {
            // Cancelled from another process between admission and start.
            self.tokens().remove(&id);
            return;
        }
        let progress = ProgressReporter::new(
            id.clone(),
            self.inner.bus.clone(),
            Some(Arc::clone(&self.inner.store)),
            Arc::clone(&self.inner.webhook_progress_interval),
        );
        let ctx = JobContext {
            job_id: id.clone(),
            cancel: token.clone(),
            progress: progress.clone(),
            steps: JobSteps {
                job_id: id.clone(),
                store: Some(Arc::clone(&self.inner.store)),
                bus: self.inner.bus.clone(),
            },
        };
        // Run the work as its own task so a panic in it becomes a failed job
        // instead of a job stuck in `running`.
        let mut handle = tokio::spawn(work(ctx));
        let joined = tokio::select! {
            r = &mut handle => r,
            () = token.cancelled() => match tokio::time::timeout(CANCEL_GRACE, &mut handle).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::warn!(job = %id, "cancelled job did not stop within {CANCEL_GRACE:?}; dropping it");
                    handle.abort();
                    Ok(Err(CoreError::Cancelled))
                }
            },
        };
        progress.flush();
        drop(permit);
        let result =
            joined.unwrap_or_else(|e| Err(CoreError::Internal(format!("job task failed: {e}"))));
        match result {
            Ok(outcome) => {
                let summary = if outcome.summary.is_empty() {
                    "succeeded".to_owned()
                } else {
                    outcome.summary
                };
                self.finish_with(&id, JobState::Succeeded, &summary, None, outcome.result)
                    .await;
            }
            Err(e) if token.is_cancelled() || matches!(e, CoreError::Cancelled) => {
                self.finish(&id, JobState::Cancelled, "cancelled", None)
                    .await;
            }
            Err(e) => {
                tracing::warn!(job = %id, code = e.code(), error = %e, "job failed");
                let api = ApiError::from(&e);
                self.finish(&id, JobState::Failed, &api.message.clone(), Some(api))
                    .await;
            }
        }
    }

    async fn finish(&self, id: &str, state: JobState, message: &str, error: Option<ApiError>) {
        self.finish_with(id, state, message, error, None).await;
    }

    async fn finish_with(
        &self,
        id: &str,
        state: JobState,
        message: &str,
        error: Option<ApiError>,
        result: Option<crate::model::JobResult>,
    ) {
        self.record(id, state, message, error, result).await;
        self.tokens().remove(id);
    }

    /// Commits a state change, then announces it. `None` when the job had
    /// already ended (nothing to announce) or the store failed (logged).
    async fn transition(
        &self,
        id: &str,
        to: JobState,
        message: &str,
        error: Option<ApiError>,
    ) -> Option<Job> {
        self.record(id, to, message, error, None).await
    }

    async fn record(
        &self,
        id: &str,
        to: JobState,
        message: &str,
        error: Option<ApiError>,
        job_result: Option<crate::model::JobResult>,
    ) -> Option<Job> {
        let store = Arc::clone(&self.inner.store);
        let (id_owned, message) = (id.to_owned(), message.to_owned());
        let result = blocking(move || {
            store.finish_job(&id_owned, to, &message, error.as_ref(), job_result.as_ref())
        })
        .await;
        match result {
            Ok(Some(job)) => {
                self.inner.bus.publish(CoreEvent::JobUpdated {
                    job: Box::new(job.clone()),
                });
                Some(job)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::error!(job = %id, error = %e, "cannot record job state {to}");
                None
            }
        }
    }

    /// Cancels a job wherever it runs: here through its token, in another
    /// live process through the `cancel_requested` flag it polls, and if its
    /// process is gone by marking it cancelled directly.
    pub async fn cancel(&self, id: &str) -> Result<()> {
        if let Some(token) = self.tokens().get(id) {
            token.cancel();
            return Ok(());
        }
        let store = Arc::clone(&self.inner.store);
        let id_owned = id.to_owned();
        let job = blocking(move || store.get_job(&id_owned))
            .await?
            .ok_or_else(|| CoreError::NotFound {
                what: "job",
                id: id.to_owned(),
            })?;
        if job.state.is_terminal() {
            return Err(CoreError::JobNotCancellable {
                id: id.to_owned(),
                state: job.state.to_string(),
            });
        }
        let store = Arc::clone(&self.inner.store);
        let active = blocking(move || store.active_jobs()).await?;
        let owner_alive = active
            .iter()
            .find(|a| a.id == id)
            .and_then(|a| a.runner_id.as_deref())
            .is_some_and(|r| runner::is_alive(&self.inner.runners_dir, r));
        if owner_alive {
            let store = Arc::clone(&self.inner.store);
            let id_owned = id.to_owned();
            blocking(move || store.request_cancel(&id_owned)).await
        } else {
            self.transition(
                id,
                JobState::Cancelled,
                "cancelled (its process had already stopped)",
                None,
            )
            .await;
            Ok(())
        }
    }

    /// Picks up cancellations requested by other processes for our jobs.
    pub(crate) async fn poll_cancel_requests(&self) -> Result<()> {
        if self.tokens().is_empty() {
            return Ok(());
        }
        let store = Arc::clone(&self.inner.store);
        let runner_id = self.inner.runner_id.clone();
        let ids = blocking(move || store.cancel_requests(&runner_id)).await?;
        let tokens = self.tokens();
        for id in ids {
            if let Some(token) = tokens.get(&id) {
                tracing::info!(job = %id, "cancel requested by another process");
                token.cancel();
            }
        }
        Ok(())
    }

    /// Marks every queued or running job whose process is gone as
    /// `interrupted` — never as succeeded — and sweeps dead runner files.
    pub(crate) fn reconcile_orphans(&self) -> Result<Vec<Job>> {
        let mut interrupted = Vec::new();
        for active in self.inner.store.active_jobs()? {
            let alive = active.runner_id.as_deref().is_some_and(|r| {
                r == self.inner.runner_id || runner::is_alive(&self.inner.runners_dir, r)
            });
            if alive {
                continue;
            }
            let error = ApiError {
                code: "interrupted".into(),
                message: "HyperSDK stopped before this job finished; it can be run again".into(),
                retryable: true,
            };
            if let Some(job) = self.inner.store.transition_job(
                &active.id,
                JobState::Interrupted,
                "interrupted: the process running it stopped",
                Some(&error),
            )? {
                interrupted.push(job);
            }
        }
        runner::sweep(&self.inner.runners_dir);
        Ok(interrupted)
    }
}

/// Runs a short blocking call (SQLite, keyring) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| CoreError::Internal(format!("blocking task failed: {e}")))?
}

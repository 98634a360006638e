//! The metrics recorder: an event-bus subscriber that writes one batch a
//! second.
//!
//! [`RecorderState`] is the clock-free part (events in, one second's rows
//! out), so downsampling and retention are tested with made-up times; the
//! task around it only adds the ticker, `/proc` readings and the database.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{mpsc, oneshot};

use super::resources::{ResourceSample, ResourceSampler};
use super::{
    JobRate, MINUTE_RETENTION, MetricsSample, PRUNE_EVERY, SECOND_RETENTION,
    SECOND_RETENTION_MARGIN, series, unix_now,
};
use crate::events::{CoreEvent, EventBus};
use crate::jobs::blocking;
use crate::store::{MetricBatch, SampleRow, Store};

const TICK: Duration = Duration::from_secs(1);
/// A tick that comes late still divides by at least this much, so a stalled
/// runtime cannot produce an absurd rate.
const MIN_ELAPSED: f64 = 0.2;

#[derive(Debug)]
struct Tracked {
    /// The latest bytes done the job reported.
    bytes_done: u64,
    /// Bytes done at the previous tick: the baseline for the next delta.
    at_last_tick: u64,
    ended: bool,
}

/// Jobs seen moving bytes in this process and what ended since the last
/// tick. Only jobs whose progress events this process sees are sampled, so
/// a job another process runs (and samples) is never counted twice.
#[derive(Debug, Default)]
pub(crate) struct RecorderState {
    jobs: HashMap<String, Tracked>,
    finished: Vec<String>,
}

impl RecorderState {
    pub(crate) fn on_event(&mut self, event: &CoreEvent) {
        match event {
            CoreEvent::JobProgress { progress } => {
                let job = self
                    .jobs
                    .entry(progress.job_id.clone())
                    // The first report is the baseline: a resumed export
                    // that starts at 40 GiB did not just move 40 GiB.
                    .or_insert(Tracked {
                        bytes_done: progress.bytes_done,
                        at_last_tick: progress.bytes_done,
                        ended: false,
                    });
                job.bytes_done = progress.bytes_done;
            }
            // Scheduler counters for the Prometheus endpoint: the recorder runs
            // where the scheduler runs (the app), so every run is seen once.
            CoreEvent::ScheduleRun { run } if run.finished_at.is_some() => {
                use crate::schedules::ExecutionStatus;
                match run.status {
                    ExecutionStatus::Skipped => crate::metrics::scheduler_skipped(),
                    ExecutionStatus::Succeeded => crate::metrics::scheduler_run("succeeded"),
                    ExecutionStatus::Failed => crate::metrics::scheduler_run("failed"),
                    ExecutionStatus::Partial => crate::metrics::scheduler_run("partial"),
                    ExecutionStatus::Running => {}
                }
            }
            CoreEvent::JobUpdated { job } if job.state.is_terminal() => {
                if let Some(tracked) = self.jobs.get_mut(&job.id) {
                    tracked.ended = true;
                    if let Some(p) = &job.progress {
                        tracked.bytes_done = tracked.bytes_done.max(p.bytes_done);
                    }
                }
                if !self.finished.contains(&job.id) {
                    self.finished.push(job.id.clone());
                }
            }
            _ => {}
        }
    }

    /// Whether a tick has anything to write without resource samples.
    pub(crate) fn is_idle(&self) -> bool {
        self.jobs.is_empty() && self.finished.is_empty()
    }

    /// Closes one second: per job the bytes moved since the previous tick,
    /// their sum, and the resource readings, as rows for second `ts` and as
    /// the live sample. Ended jobs are dropped after their last row.
    pub(crate) fn tick(
        &mut self,
        ts: i64,
        elapsed_seconds: f64,
        resources: Option<&ResourceSample>,
    ) -> (MetricBatch, MetricsSample) {
        let elapsed = elapsed_seconds.max(MIN_ELAPSED);
        let mut samples = Vec::with_capacity(self.jobs.len() + 3);
        let mut rates = Vec::with_capacity(self.jobs.len());
        let mut total_bytes = 0u64;
        let mut ids: Vec<&String> = self.jobs.keys().collect();
        ids.sort();
        for id in ids {
            let Some(job) = self.jobs.get(id) else {
                continue;
            };
            let delta = job.bytes_done.saturating_sub(job.at_last_tick);
            let rate = delta as f64 / elapsed;
            total_bytes = total_bytes.saturating_add(delta);
            samples.push(SampleRow {
                series: series::JOB_BYTES,
                job_id: id.clone(),
                value: delta as f64,
                peak: rate,
            });
            rates.push(JobRate {
                job_id: id.clone(),
                bytes_per_second: rate,
                bytes_done: job.bytes_done,
            });
        }
        for job in self.jobs.values_mut() {
            job.at_last_tick = job.bytes_done;
        }
        self.jobs.retain(|_, j| !j.ended);
        let write_rate = total_bytes as f64 / elapsed;
        samples.push(SampleRow {
            series: series::WRITE_BYTES,
            job_id: String::new(),
            value: total_bytes as f64,
            peak: write_rate,
        });
        if let Some(r) = resources {
            if let Some(cpu) = r.cpu_percent {
                samples.push(gauge(series::CPU_PERCENT, cpu));
            }
            if let Some(rss) = r.rss_bytes {
                samples.push(gauge(series::RSS_BYTES, rss as f64));
            }
        }
        let batch = MetricBatch {
            ts,
            samples,
            finished_jobs: std::mem::take(&mut self.finished),
        };
        let sample = MetricsSample {
            t: ts,
            jobs: rates,
            write_rate,
            cpu_percent: resources.and_then(|r| r.cpu_percent),
            rss_bytes: resources.and_then(|r| r.rss_bytes),
        };
        (batch, sample)
    }
}

fn gauge(series: &'static str, value: f64) -> SampleRow {
    SampleRow {
        series,
        job_id: String::new(),
        value,
        peak: value,
    }
}

/// The running recorder; dropping it does not stop the task (it lives as
/// long as the event bus).
#[derive(Debug)]
pub(crate) struct RecorderHandle {
    flush: mpsc::Sender<oneshot::Sender<()>>,
}

impl RecorderHandle {
    /// Writes what the current second has collected now (before a CLI exits).
    pub(crate) async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.flush.send(done).await.is_ok() {
            let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
        }
    }
}

/// Starts the recorder on the current Tokio runtime. It subscribes before
/// returning, so no event published after this call is missed.
pub(crate) fn spawn(store: Arc<Store>, bus: EventBus, sample_resources: bool) -> RecorderHandle {
    let mut events = bus.subscribe();
    let (flush_tx, mut flush_rx) = mpsc::channel::<oneshot::Sender<()>>(4);
    tokio::spawn(async move {
        // Catch up on jobs that ended while no recorder ran.
        let catch_up = Arc::clone(&store);
        if let Err(e) = blocking(move || catch_up.catch_up_job_metrics()).await {
            tracing::warn!(error = %e, "cannot record finished jobs' metrics");
        }
        let mut state = RecorderState::default();
        let mut sampler = sample_resources.then(ResourceSampler::default);
        if let Some(s) = sampler.as_mut() {
            // The first reading only sets the CPU baseline.
            s.sample();
        }
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_tick = Instant::now();
        let mut last_prune = 0i64;
        loop {
            let flushed = tokio::select! {
                event = events.recv() => {
                    match event {
                        Ok(event) => state.on_event(&event),
                        // Lost progress only makes one delta larger later;
                        // lost job ends are caught up from the jobs table.
                        Err(RecvError::Lagged(n)) => {
                            tracing::debug!(skipped = n, "metrics recorder lagged");
                        }
                        Err(RecvError::Closed) => break,
                    }
                    continue;
                }
                _ = ticker.tick() => None,
                Some(done) = flush_rx.recv() => Some(done),
            };
            let now = unix_now();
            let elapsed = last_tick.elapsed().as_secs_f64();
            last_tick = Instant::now();
            let resources = sampler.as_mut().map(ResourceSampler::sample);
            if sampler.is_none() && state.is_idle() {
                if let Some(done) = flushed {
                    let _ = done.send(());
                }
                continue;
            }
            let (batch, sample) = state.tick(now, elapsed, resources.as_ref());
            let prune = (now - last_prune >= PRUNE_EVERY)
                .then_some((SECOND_RETENTION + SECOND_RETENTION_MARGIN, MINUTE_RETENTION));
            if prune.is_some() {
                last_prune = now;
            }
            let writer = Arc::clone(&store);
            if let Err(e) = blocking(move || writer.write_metrics(&batch, prune, now)).await {
                tracing::warn!(error = %e, "cannot store metrics");
            }
            bus.publish(CoreEvent::MetricsSample { sample });
            if let Some(done) = flushed {
                let _ = done.send(());
            }
        }
    });
    RecorderHandle { flush: flush_tx }
}

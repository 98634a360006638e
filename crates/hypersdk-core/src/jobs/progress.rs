//! Per-job progress: many updates in, a few events out.
//!
//! Work reports bytes as often as it likes (every buffer); the window gets at
//! most five events a second per job and the database one write a second, so
//! twenty parallel exports neither flood the UI nor the disk. Webhook
//! receivers get a `job.progress` event at most once per job per
//! `progress_interval_seconds` (webhook settings), queued in the transaction
//! that saves the snapshot.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::events::{CoreEvent, EventBus};
use crate::model::{DiskProgress, JobProgress};
use crate::store::Store;

pub const MIN_EVENT_INTERVAL: Duration = Duration::from_millis(200);
const MIN_PERSIST_INTERVAL: Duration = Duration::from_secs(1);
/// The rate is measured over this trailing window, so it follows real
/// changes in speed within seconds without jittering on every buffer.
const RATE_WINDOW: Duration = Duration::from_secs(5);
/// The time left is computed from the rate averaged with this time constant:
/// the 5 s rate jumps when a stream crosses a run of zeros or the server
/// stalls, and a time left that leaps from minutes to seconds and back
/// tells a person nothing.
const ETA_SMOOTHING: Duration = Duration::from_secs(20);

#[derive(Clone)]
pub struct ProgressReporter {
    inner: Arc<Inner>,
}

struct Inner {
    job_id: String,
    bus: EventBus,
    store: Option<Arc<Store>>,
    /// Seconds between `job.progress` webhook events; read on every
    /// snapshot so a settings change applies to running jobs too.
    webhook_interval: Arc<AtomicU32>,
    state: Mutex<State>,
}

struct State {
    disks: Vec<DiskProgress>,
    samples: VecDeque<(Instant, u64)>,
    /// The rate the time left is computed from, and when it was last updated.
    eta_rate: Option<(Instant, f64)>,
    last_event: Option<Instant>,
    last_persist: Option<Instant>,
    /// When `job.progress` was last queued; the first one waits a full
    /// interval from the start, as a 0 % event right after `job.started`
    /// tells a receiver nothing.
    last_webhook: Instant,
}

impl std::fmt::Debug for ProgressReporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProgressReporter")
            .field("job_id", &self.inner.job_id)
            .finish()
    }
}

impl ProgressReporter {
    pub(crate) fn new(
        job_id: String,
        bus: EventBus,
        store: Option<Arc<Store>>,
        webhook_interval: Arc<AtomicU32>,
    ) -> Self {
        ProgressReporter {
            inner: Arc::new(Inner {
                job_id,
                bus,
                store,
                webhook_interval,
                state: Mutex::new(State {
                    disks: Vec::new(),
                    samples: VecDeque::new(),
                    eta_rate: None,
                    last_event: None,
                    last_persist: None,
                    last_webhook: Instant::now(),
                }),
            }),
        }
    }

    /// Declares the job's disks (name, size when known) before bytes flow.
    pub fn set_disks(&self, disks: impl IntoIterator<Item = (String, Option<u64>)>) {
        let mut state = self.lock();
        state.disks = disks
            .into_iter()
            .enumerate()
            .map(|(i, (name, total))| DiskProgress {
                index: u32::try_from(i).unwrap_or(u32::MAX),
                name,
                bytes_done: 0,
                bytes_total: total,
            })
            .collect();
        drop(state);
        self.publish(Instant::now(), true);
    }

    /// Sets a disk's bytes done (absolute, so a resumed disk can start high).
    pub fn disk_bytes(&self, index: usize, bytes_done: u64) {
        {
            let mut state = self.lock();
            if let Some(disk) = state.disks.get_mut(index) {
                disk.bytes_done = bytes_done;
            }
        }
        self.publish(Instant::now(), false);
    }

    /// Sends the current figures now, whatever the throttle says (the last
    /// update of a job must never be dropped).
    /// Records a disk's size once the source tells it (a stream of unknown length).
    pub fn disk_total(&self, index: usize, bytes_total: u64) {
        if let Some(disk) = self.lock().disks.get_mut(index) {
            disk.bytes_total = Some(bytes_total);
        }
    }

    /// Share of the known bytes done so far, 0–100 (0 while any size is unknown).
    pub fn percent(&self) -> u8 {
        let state = self.lock();
        let mut done = 0u64;
        let mut total = 0u64;
        for d in &state.disks {
            let Some(t) = d.bytes_total else { return 0 };
            done += d.bytes_done.min(t);
            total += t;
        }
        if total == 0 {
            return 0;
        }
        u8::try_from(done.saturating_mul(100) / total).unwrap_or(100)
    }

    pub fn flush(&self) {
        self.publish(Instant::now(), true);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn publish(&self, now: Instant, force: bool) {
        let (progress, persist, announce) = {
            let mut state = self.lock();
            let done: u64 = state.disks.iter().map(|d| d.bytes_done).sum();
            state.samples.push_back((now, done));
            while state
                .samples
                .front()
                .is_some_and(|(t, _)| now.duration_since(*t) > RATE_WINDOW)
                && state.samples.len() > 2
            {
                state.samples.pop_front();
            }
            let due = state
                .last_event
                .is_none_or(|t| now.duration_since(t) >= MIN_EVENT_INTERVAL);
            if !force && !due {
                return;
            }
            state.last_event = Some(now);
            let persist = force
                || state
                    .last_persist
                    .is_none_or(|t| now.duration_since(t) >= MIN_PERSIST_INTERVAL);
            if persist {
                state.last_persist = Some(now);
            }
            let interval = Duration::from_secs(u64::from(
                self.inner.webhook_interval.load(Ordering::Relaxed),
            ));
            // Decided here, under the lock, so two snapshots racing to the
            // database cannot both announce.
            let announce = persist && now.duration_since(state.last_webhook) >= interval;
            if announce {
                state.last_webhook = now;
            }
            (
                snapshot(&self.inner.job_id, &mut state, now),
                persist,
                announce,
            )
        };
        if persist && let Some(store) = &self.inner.store {
            let store = Arc::clone(store);
            let progress = progress.clone();
            // Off the async threads: a busy database must not stall the copy.
            tokio::task::spawn_blocking(move || {
                let saved = if announce {
                    store
                        .update_job_progress_and_announce(&progress.job_id, &progress)
                        .map(drop)
                } else {
                    store.update_job_progress(&progress.job_id, &progress)
                };
                if let Err(e) = saved {
                    tracing::warn!(job = %progress.job_id, error = %e, "cannot save job progress");
                }
            });
        }
        self.inner.bus.publish(CoreEvent::JobProgress { progress });
    }
}

fn snapshot(job_id: &str, state: &mut State, now: Instant) -> JobProgress {
    let bytes_done: u64 = state.disks.iter().map(|d| d.bytes_done).sum();
    let bytes_total = state
        .disks
        .iter()
        .map(|d| d.bytes_total)
        .sum::<Option<u64>>()
        .filter(|_| !state.disks.is_empty());
    let rate_bps = match (state.samples.front(), state.samples.back()) {
        (Some((t0, b0)), Some((t1, b1))) if t1 > t0 => {
            b1.saturating_sub(*b0) as f64 / t1.duration_since(*t0).as_secs_f64()
        }
        _ => 0.0,
    };
    // An exponential moving average of the windowed rate, weighted by the
    // time since its last update (snapshots come at irregular intervals).
    let smoothed = match state.eta_rate {
        None if rate_bps > 0.0 => rate_bps,
        None => 0.0,
        Some((at, avg)) => {
            let dt = now.saturating_duration_since(at).as_secs_f64();
            avg + (1.0 - (-dt / ETA_SMOOTHING.as_secs_f64()).exp()) * (rate_bps - avg)
        }
    };
    if rate_bps > 0.0 || state.eta_rate.is_some() {
        state.eta_rate = Some((now, smoothed));
    }
    let eta_seconds = bytes_total
        .filter(|_| smoothed > 0.0)
        .map(|total| total.saturating_sub(bytes_done) as f64 / smoothed);
    JobProgress {
        job_id: job_id.to_owned(),
        bytes_done,
        bytes_total,
        rate_bps,
        eta_seconds,
        disks: state.disks.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reporter() -> (
        ProgressReporter,
        tokio::sync::broadcast::Receiver<CoreEvent>,
    ) {
        let bus = EventBus::default();
        let rx = bus.subscribe();
        (
            ProgressReporter::new("job-1".into(), bus, None, Arc::new(AtomicU32::new(60))),
            rx,
        )
    }

    fn drain(rx: &mut tokio::sync::broadcast::Receiver<CoreEvent>) -> Vec<JobProgress> {
        let mut out = Vec::new();
        while let Ok(CoreEvent::JobProgress { progress }) = rx.try_recv() {
            out.push(progress);
        }
        out
    }

    #[test]
    fn bursts_are_throttled_but_the_last_value_is_flushed() {
        let (p, mut rx) = reporter();
        p.set_disks([("disk0".to_owned(), Some(1000)), ("disk1".to_owned(), None)]);
        for i in 1..=10_000u64 {
            p.disk_bytes(0, i / 10);
        }
        p.flush();
        let events = drain(&mut rx);
        // set_disks + at most one throttled event (all within 200 ms) + flush.
        assert!(events.len() <= 3, "{} events", events.len());
        let last = events.last().expect("flushed");
        assert_eq!(last.bytes_done, 1000);
        assert_eq!(last.bytes_total, None, "one disk has an unknown size");
        assert_eq!(last.disks[0].bytes_done, 1000);
    }

    #[test]
    fn rate_and_eta_follow_the_samples() {
        let t0 = Instant::now();
        let mut state = State {
            disks: vec![DiskProgress {
                index: 0,
                name: "d".into(),
                bytes_done: 300,
                bytes_total: Some(1000),
            }],
            samples: VecDeque::from([(t0, 100), (t0 + Duration::from_secs(2), 300)]),
            eta_rate: None,
            last_event: None,
            last_persist: None,
            last_webhook: Instant::now(),
        };
        let s = snapshot("j", &mut state, t0 + Duration::from_secs(2));
        assert!((s.rate_bps - 100.0).abs() < 1e-9);
        assert_eq!(s.eta_seconds, Some(7.0));
    }

    #[test]
    fn the_time_left_is_smoothed_while_the_rate_jumps() {
        // A stream whose 5 s rate swings between 100 B/s and 10 kB/s every 5 s (runs of zeros,
        // stalls): the raw time left would leap 100-fold; the smoothed one moves gently.
        let t0 = Instant::now();
        let mut state = State {
            disks: vec![DiskProgress {
                index: 0,
                name: "d".into(),
                bytes_done: 0,
                bytes_total: Some(10_000_000),
            }],
            samples: VecDeque::new(),
            eta_rate: None,
            last_event: None,
            last_persist: None,
            last_webhook: t0,
        };
        let mut done = 0u64;
        let mut etas = Vec::new();
        for step in 0..60u64 {
            let rate = if (step / 5) % 2 == 0 { 100 } else { 10_000 };
            let now = t0 + Duration::from_secs(step + 1);
            state.samples = VecDeque::from([(now - Duration::from_secs(1), done)]);
            done += rate;
            state.samples.push_back((now, done));
            state.disks[0].bytes_done = done;
            let s = snapshot("j", &mut state, now);
            assert!(
                (s.rate_bps - rate as f64).abs() < 1e-6,
                "the shown rate is not smoothed"
            );
            etas.push(s.eta_seconds.expect("an eta"));
        }
        for pair in etas[20..].windows(2) {
            let ratio = pair[0].max(pair[1]) / pair[0].min(pair[1]);
            assert!(
                ratio < 1.5,
                "time left jumped from {} to {} s",
                pair[0],
                pair[1]
            );
        }
    }

    #[test]
    fn unknown_rate_gives_no_eta() {
        let (p, mut rx) = reporter();
        p.set_disks([("d".to_owned(), Some(10))]);
        let first = drain(&mut rx);
        assert_eq!(first[0].rate_bps, 0.0);
        assert_eq!(first[0].eta_seconds, None);
    }
}

//! Process-wide event counters for the Prometheus endpoint: scheduler runs
//! and skips, webhook deliveries and failures.
//!
//! Free functions rather than methods on `Core`, so the scheduler and the
//! webhook worker can count without holding a handle to the metrics; they
//! count what happens in this process (Prometheus treats a process restart
//! as a counter reset).

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

/// Outcome labels that exist from the start, so dashboards and alert rules
/// find the series (at zero) before the first run.
pub const SCHEDULER_OUTCOMES: [&str; 2] = ["succeeded", "failed"];
const MAX_LABEL_LEN: usize = 32;

#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct CountersSnapshot {
    pub scheduler_runs: BTreeMap<String, u64>,
    pub scheduler_skips: u64,
    pub webhook_deliveries: u64,
    pub webhook_failures: u64,
}

static COUNTERS: Mutex<Counters> = Mutex::new(Counters {
    scheduler_runs: BTreeMap::new(),
    scheduler_skips: 0,
    webhook_deliveries: 0,
    webhook_failures: 0,
});

struct Counters {
    scheduler_runs: BTreeMap<String, u64>,
    scheduler_skips: u64,
    webhook_deliveries: u64,
    webhook_failures: u64,
}

fn lock() -> MutexGuard<'static, Counters> {
    // Counters stay valid whatever a panicking holder did (plain additions).
    COUNTERS.lock().unwrap_or_else(|p| p.into_inner())
}

/// A scheduled run started and ended with `outcome` (e.g. `succeeded`,
/// `failed`). Unusual outcomes are kept as a label if they are short
/// snake_case words, else counted as `other`.
pub fn scheduler_run(outcome: &str) {
    let label = label(outcome);
    *lock().scheduler_runs.entry(label).or_default() += 1;
}

/// A scheduled run was skipped (the previous one still ran, the schedule
/// was paused, a missed window, …).
pub fn scheduler_skipped() {
    lock().scheduler_skips += 1;
}

/// One webhook delivery attempt ended; `ok` when the receiver accepted it.
pub fn webhook_delivery(ok: bool) {
    let mut c = lock();
    c.webhook_deliveries += 1;
    if !ok {
        c.webhook_failures += 1;
    }
}

pub(crate) fn snapshot() -> CountersSnapshot {
    let c = lock();
    let mut scheduler_runs = c.scheduler_runs.clone();
    for outcome in SCHEDULER_OUTCOMES {
        scheduler_runs.entry(outcome.to_owned()).or_default();
    }
    CountersSnapshot {
        scheduler_runs,
        scheduler_skips: c.scheduler_skips,
        webhook_deliveries: c.webhook_deliveries,
        webhook_failures: c.webhook_failures,
    }
}

/// Label values stay a small, safe set: a free-form outcome (an error
/// message by mistake) must not create a series per distinct text.
fn label(outcome: &str) -> String {
    let o = outcome.trim().to_ascii_lowercase();
    let ok = !o.is_empty()
        && o.len() <= MAX_LABEL_LEN
        && o.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok { o } else { "other".to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_kept_small_and_safe() {
        assert_eq!(label("Succeeded"), "succeeded");
        assert_eq!(label("skipped_overlap"), "skipped_overlap");
        assert_eq!(label("failed: disk full"), "other");
        assert_eq!(label(""), "other");
        assert_eq!(label(&"x".repeat(40)), "other");
    }

    #[test]
    fn counters_count() {
        // Other tests in this process may count too: compare differences.
        let before = snapshot();
        scheduler_run("succeeded");
        scheduler_run("failed");
        scheduler_skipped();
        webhook_delivery(true);
        webhook_delivery(false);
        let after = snapshot();
        assert_eq!(
            after.scheduler_runs["succeeded"],
            before.scheduler_runs["succeeded"] + 1
        );
        assert_eq!(
            after.scheduler_runs["failed"],
            before.scheduler_runs["failed"] + 1
        );
        assert_eq!(after.scheduler_skips, before.scheduler_skips + 1);
        assert_eq!(after.webhook_deliveries, before.webhook_deliveries + 2);
        assert_eq!(after.webhook_failures, before.webhook_failures + 1);
    }
}

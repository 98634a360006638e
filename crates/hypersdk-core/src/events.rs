//! The one typed event stream. The window, webhooks and metrics are all
//! subscribers; state is persisted before its event is sent.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::metrics::MetricsSample;
use crate::model::{Job, JobProgress};
use crate::schedules::ScheduleExecution;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "type", rename_all = "snake_case")]
// The shell wraps this in its own `CoreEvent` (the IPC event); the payload
// gets a distinct name in the generated TypeScript (the serde container
// name does not change the JSON of an internally tagged enum).
#[serde(rename = "CoreEventPayload")]
pub enum CoreEvent {
    ConnectionsChanged,
    SettingsChanged,
    /// A webhook was added, changed or removed, or a delivery's status
    /// changed: re-read the hooks and the delivery log.
    WebhooksChanged,
    // Boxed: a job is several times larger than every other event.
    JobUpdated {
        job: Box<Job>,
    },
    JobProgress {
        progress: JobProgress,
    },
    /// A schedule was added, edited, enabled, disabled or removed, or its
    /// next run time moved. `None`: several or all changed (pause/resume,
    /// another process's edits): re-read the list and `scheduler_status`.
    ScheduleChanged {
        schedule_id: Option<String>,
    },
    /// A run started, was skipped, or finished (retention has been applied
    /// by the time a finished run is announced).
    ScheduleRun {
        run: Box<ScheduleExecution>,
    },
    /// Once a second while the metrics recorder runs: live throughput and
    /// resource use for the dashboard (the window never polls for them).
    MetricsSample {
        sample: MetricsSample,
    },
}

/// Slow subscribers lose the oldest events (they see `Lagged`) rather than
/// slowing the jobs down; lifecycle state is always re-readable from the store.
const CAPACITY: usize = 1024;

#[derive(Debug, Clone)]
pub struct EventBus {
    sender: broadcast::Sender<CoreEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus {
            sender: broadcast::channel(CAPACITY).0,
        }
    }
}

impl EventBus {
    pub fn publish(&self, event: CoreEvent) {
        // No subscriber is not an error: hyperctl often has none.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<CoreEvent> {
        self.sender.subscribe()
    }
}

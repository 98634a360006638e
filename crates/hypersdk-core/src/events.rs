//! The one typed event stream. The window, webhooks and metrics are all
//! subscribers; state is persisted before its event is sent.

use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use crate::metrics::MetricsSample;
use crate::model::{Job, JobProgress};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
#[serde(tag = "type", rename_all = "snake_case")]
// The shell wraps this in its own `CoreEvent` (the IPC event); the payload
// gets a distinct name in the generated TypeScript (the serde container
// name does not change the JSON of an internally tagged enum).
#[serde(rename = "CoreEventPayload")]
pub enum CoreEvent {
    ConnectionsChanged,
    SettingsChanged,
    // Boxed: a job is several times larger than every other event.
    JobUpdated {
        job: Box<Job>,
    },
    JobProgress {
        progress: JobProgress,
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

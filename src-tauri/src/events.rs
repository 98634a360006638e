//! Core events, forwarded to the window as one typed `core-event` channel.

use std::sync::Arc;

use hypersdk_core::Core;
use serde::{Deserialize, Serialize};
use tauri::AppHandle;
use tauri_specta::Event as _;
use tokio::sync::broadcast::error::RecvError;

#[derive(Debug, Clone, Serialize, Deserialize, specta::Type, tauri_specta::Event)]
#[serde(transparent)]
pub struct CoreEvent(pub hypersdk_core::CoreEvent);

/// Runs for the life of the app.
pub async fn forward(app: AppHandle, core: Arc<Core>) {
    let mut rx = core.events().subscribe();
    loop {
        match rx.recv().await {
            Ok(event) => {
                if let Err(e) = CoreEvent(event).emit(&app) {
                    tracing::warn!(error = %e, "cannot forward an event to the window");
                }
            }
            // The window fell behind; it re-reads state on the next event.
            Err(RecvError::Lagged(n)) => tracing::debug!(skipped = n, "window events lagged"),
            Err(RecvError::Closed) => break,
        }
    }
}

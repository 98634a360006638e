//! What the shell holds: the open core, or why it could not be opened.

use std::sync::Arc;

use hypersdk_core::{ApiError, Core, Paths};

pub enum AppState {
    Ready(Arc<Core>),
    /// The window still opens and shows this (e.g. a corrupt database file),
    /// instead of the app crashing or silently starting empty.
    Failed {
        error: ApiError,
        paths: Option<Paths>,
    },
}

impl AppState {
    pub fn core(&self) -> Result<&Core, ApiError> {
        match self {
            AppState::Ready(core) => Ok(core),
            AppState::Failed { error, .. } => Err(error.clone()),
        }
    }

    /// The core as an owned handle, for work that outlives the command
    /// (a schedule run started from the window or the tray).
    pub fn shared_core(&self) -> Result<Arc<Core>, ApiError> {
        match self {
            AppState::Ready(core) => Ok(Arc::clone(core)),
            AppState::Failed { error, .. } => Err(error.clone()),
        }
    }

    pub fn core_arc(&self) -> Option<Arc<Core>> {
        match self {
            AppState::Ready(core) => Some(Arc::clone(core)),
            AppState::Failed { .. } => None,
        }
    }

    pub fn paths(&self) -> Option<&Paths> {
        match self {
            AppState::Ready(core) => Some(core.paths()),
            AppState::Failed { paths, .. } => paths.as_ref(),
        }
    }
}

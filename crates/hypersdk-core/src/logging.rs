//! Tracing set-up shared by the app and `hyperctl`: a daily-rolling file in the
//! log dir (kept for two weeks) and a stderr stream.

use std::path::Path;

use tracing_appender::non_blocking::WorkerGuard;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::Layer as _;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::error::{CoreError, Result};

/// Keeps the file writer running; flushes when dropped.
pub type Guard = WorkerGuard;

const KEEP_LOG_FILES: usize = 14;

/// `file_prefix` separates the app's log from `hyperctl`'s; `stderr_level` is
/// the default verbosity on the terminal (`RUST_LOG` overrides both streams).
/// Keep the returned guard alive: dropping it flushes and stops the file writer.
pub fn init(log_dir: &Path, file_prefix: &str, stderr_level: &str) -> Result<WorkerGuard> {
    let appender = tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(file_prefix)
        .filename_suffix("log")
        .max_log_files(KEEP_LOG_FILES)
        .build(log_dir)
        .map_err(|e| {
            CoreError::Internal(format!(
                "cannot open log file in {}: {e}",
                log_dir.display()
            ))
        })?;
    let (file_writer, guard) = tracing_appender::non_blocking(appender);

    let file_filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let stderr_filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(stderr_level));
    let file_layer = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(file_writer)
        .with_filter(file_filter);
    let stderr_layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(stderr_filter);
    // A second init in one process (tests) is harmless: keep the first.
    let _ = tracing_subscriber::registry()
        .with(file_layer)
        .with(stderr_layer)
        .try_init();
    Ok(guard)
}

//! The core's one error type and its wire form.
//!
//! Every failure a user can meet has a stable snake_case `code` (scripts and
//! the UI branch on it), a message written for a person, and whether trying
//! again can help. Detail that is only useful to a developer goes to the log.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub type Result<T, E = CoreError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("{message}")]
    InvalidInput {
        /// The input field at fault, so a form can show the message beside it.
        field: &'static str,
        message: String,
    },
    #[error("a connection named \"{0}\" already exists")]
    ConnectionNameTaken(String),
    #[error("a webhook named \"{0}\" already exists")]
    WebhookNameTaken(String),
    #[error("a schedule named \"{0}\" already exists")]
    ScheduleNameTaken(String),
    #[error(
        "schedule \"{0}\" is running; wait for the run to finish (or cancel its jobs) and try again"
    )]
    ScheduleBusy(String),
    #[error(
        "another HyperSDK process (the app or `hyperctl scheduler`) is running the schedules; \
         it fires them, so there is nothing to do here"
    )]
    SchedulerBusy,
    #[error("{what} \"{id}\" was not found")]
    NotFound { what: &'static str, id: String },
    #[error(
        "the OS keyring is not available ({detail}); start a Secret Service provider \
         such as gnome-keyring or KWallet in your desktop session and try again"
    )]
    KeyringUnavailable { detail: String },
    #[error("the OS keyring is locked or refused access ({detail}); unlock it and try again")]
    KeyringLocked { detail: String },
    #[error("the OS keyring failed: {detail}")]
    Keyring { detail: String },
    #[error(
        "the database file {} is not a valid HyperSDK database ({detail}); it was left untouched — \
         move it aside to start afresh, or restore it from a backup",
        path.display()
    )]
    DatabaseCorrupt { path: PathBuf, detail: String },
    #[error("the database file {} cannot be opened: {detail}", path.display())]
    DatabaseUnreadable { path: PathBuf, detail: String },
    #[error(
        "the database file {} was written by a newer HyperSDK (schema {found}, this build knows up to {known}); \
         update HyperSDK to use it",
        path.display()
    )]
    DatabaseTooNew {
        path: PathBuf,
        found: usize,
        known: usize,
    },
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("sign-in to {endpoint} failed: {detail}")]
    AuthFailed { endpoint: String, detail: String },
    #[error(
        "the certificate of {endpoint} is not trusted ({detail}); its SHA-256 fingerprint is {fingerprint} — \
         pin it on the connection if you trust this server"
    )]
    CertificateUntrusted {
        endpoint: String,
        /// Colon-separated upper-case hex, as browsers show it.
        fingerprint: String,
        detail: String,
    },
    #[error("cannot reach {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("job {id} is already {state} and cannot be cancelled")]
    JobNotCancellable { id: String, state: String },
    #[error("cancelled")]
    Cancelled,
    /// A failure reported by a provider or the export engine that keeps its
    /// own stable code (`permission_denied`, `certificate_changed`,
    /// `destination_full`, `vsphere_fault`, …) and says itself whether trying
    /// again can help.
    #[error("{message}")]
    Remote {
        code: &'static str,
        message: String,
        retryable: bool,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        CoreError::InvalidInput {
            field,
            message: message.into(),
        }
    }

    /// An I/O error with what was being done. A full disk (ENOSPC, EDQUOT)
    /// gets the export engine's `destination_full` code, whoever wrote.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::StorageFull
            || source.kind() == std::io::ErrorKind::QuotaExceeded
        {
            return CoreError::Remote {
                code: "destination_full",
                message: format!("{}: the destination is full ({source})", context.into()),
                retryable: false,
            };
        }
        CoreError::Io {
            context: context.into(),
            source,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            CoreError::InvalidInput { field, .. } => match *field {
                "endpoint" => "invalid_endpoint",
                "name" => "invalid_name",
                "username" => "invalid_username",
                "options" => "invalid_option",
                "cron" => "invalid_cron",
                "timezone" => "invalid_timezone",
                "tls_fingerprint" => "invalid_fingerprint",
                // The export form shows these beside their fields.
                "destination_dir" => "invalid_destination",
                "compression" => "invalid_compression",
                "compression_level" => "invalid_compression_level",
                "disk_format" => "invalid_disk_format",
                "export_options" => "invalid_export_option",
                "vm_ids" => "invalid_vm_selection",
                "url" => "invalid_url",
                "events" => "invalid_event",
                "headers" => "invalid_header",
                "metrics_listen" => "invalid_listen_address",
                _ => "invalid_input",
            },
            CoreError::ConnectionNameTaken(_) => "connection_name_taken",
            CoreError::WebhookNameTaken(_) => "webhook_name_taken",
            CoreError::ScheduleNameTaken(_) => "schedule_name_taken",
            CoreError::ScheduleBusy(_) => "schedule_running",
            CoreError::SchedulerBusy => "scheduler_busy",
            CoreError::NotFound { .. } => "not_found",
            CoreError::KeyringUnavailable { .. } => "keyring_unavailable",
            CoreError::KeyringLocked { .. } => "keyring_locked",
            CoreError::Keyring { .. } => "keyring_error",
            CoreError::DatabaseCorrupt { .. } => "database_corrupt",
            CoreError::DatabaseUnreadable { .. } => "database_unreadable",
            CoreError::DatabaseTooNew { .. } => "database_too_new",
            CoreError::Database(_) => "database_error",
            CoreError::Io { .. } => "io_error",
            CoreError::AuthFailed { .. } => "auth_failed",
            CoreError::CertificateUntrusted { .. } => "certificate_untrusted",
            CoreError::Unreachable { .. } => "unreachable",
            CoreError::Unsupported(_) => "unsupported",
            CoreError::JobNotCancellable { .. } => "job_not_cancellable",
            CoreError::Cancelled => "cancelled",
            CoreError::Remote { code, .. } => code,
            CoreError::Internal(_) => "internal",
        }
    }

    pub fn retryable(&self) -> bool {
        match self {
            CoreError::KeyringUnavailable { .. }
            | CoreError::KeyringLocked { .. }
            | CoreError::ScheduleBusy(_)
            | CoreError::Unreachable { .. } => true,
            CoreError::Remote { retryable, .. } => *retryable,
            CoreError::Database(e) => matches!(
                e.sqlite_error_code(),
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
            ),
            CoreError::Io { source, .. } => matches!(
                source.kind(),
                std::io::ErrorKind::Interrupted
                    | std::io::ErrorKind::TimedOut
                    | std::io::ErrorKind::WouldBlock
            ),
            _ => false,
        }
    }

    /// The field the error is about, when it came from validating a form.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            CoreError::InvalidInput { field, .. } => Some(field),
            CoreError::ConnectionNameTaken(_)
            | CoreError::WebhookNameTaken(_)
            | CoreError::ScheduleNameTaken(_) => Some("name"),
            _ => None,
        }
    }
}

impl From<hypersdk_ovf::Error> for CoreError {
    fn from(err: hypersdk_ovf::Error) -> Self {
        match err {
            hypersdk_ovf::Error::Cancelled => CoreError::Cancelled,
            hypersdk_ovf::Error::Internal(detail) => CoreError::Internal(detail),
            other => CoreError::Remote {
                code: other.code(),
                retryable: other.retryable(),
                message: other.to_string(),
            },
        }
    }
}

/// What crosses a process boundary (IPC, `--json`, webhooks): never a Rust type
/// name or a backtrace, only what a person or a script can act on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub retryable: bool,
}

impl ApiError {
    /// The error with its full message, even for database errors: for
    /// start-up failures, where the person needs the file name and detail.
    pub fn verbatim(err: &CoreError) -> ApiError {
        ApiError {
            code: err.code().to_owned(),
            message: err.to_string(),
            retryable: err.retryable(),
        }
    }
}

impl From<&CoreError> for ApiError {
    fn from(err: &CoreError) -> Self {
        // Internal and raw database errors carry developer detail; the person
        // gets a plain sentence and the detail goes to the log.
        let message = match err {
            CoreError::Internal(_) | CoreError::Database(_) => {
                tracing::error!(error = %err, code = err.code(), "unexpected error");
                format!(
                    "Something went wrong inside HyperSDK ({}). The log has the details.",
                    err.code()
                )
            }
            other => other.to_string(),
        };
        ApiError {
            code: err.code().to_owned(),
            message,
            retryable: err.retryable(),
        }
    }
}

impl From<CoreError> for ApiError {
    fn from(err: CoreError) -> Self {
        ApiError::from(&err)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} [{}]", self.message, self.code)
    }
}

//! The crate's one error type, its stable codes, and its mapping onto the
//! core's error at the provider boundary.

use hypersdk_core::CoreError;
use hypersdk_core::tls::Fingerprint;

pub type Result<T, E = ProxmoxError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum ProxmoxError {
    #[error("{0}")]
    InvalidEndpoint(String),
    #[error("cannot reach {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("no answer from {endpoint} within {seconds} s")]
    Timeout { endpoint: String, seconds: u64 },
    /// Not trusted by the system store and no fingerprint pinned.
    #[error(
        "the certificate of {endpoint} is not trusted ({detail}); its SHA-256 fingerprint is \
         {} — pin it on the connection if you trust this server",
        fingerprint.to_colon_hex()
    )]
    CertificateUntrusted {
        endpoint: String,
        fingerprint: Fingerprint,
        detail: String,
    },
    /// A fingerprint is pinned and the server presented another certificate.
    #[error(
        "the certificate of {endpoint} has changed: it does not match the pinned SHA-256 \
         fingerprint {}; the server presented {}; the connection was refused",
        expected.to_colon_hex(),
        actual.to_colon_hex()
    )]
    CertificateChanged {
        endpoint: String,
        expected: Fingerprint,
        actual: Fingerprint,
    },
    #[error("the pinned certificate fingerprint is not valid: {0}")]
    InvalidFingerprint(String),
    /// A connection option that cannot be used as given.
    #[error("{message}")]
    InvalidOption { key: &'static str, message: String },
    /// PVE answered 401: wrong password, unknown or revoked token.
    #[error("sign-in to {endpoint} failed: {detail}")]
    AuthFailed { endpoint: String, detail: String },
    /// PVE answered 403. `privilege` is what PVE named (`VM.Audit` on `/vms/100`), when it did.
    #[error("permission denied by {endpoint}: {message}")]
    PermissionDenied {
        endpoint: String,
        message: String,
        privilege: Option<String>,
    },
    #[error("{what} \"{id}\" was not found")]
    NotFound { what: &'static str, id: String },
    /// A guest the provider lists but cannot export (an LXC container).
    #[error("{0}")]
    Unsupported(String),
    /// Any other answer PVE gives with an error status.
    #[error("Proxmox VE refused {method} {path}: HTTP {status}: {message}")]
    Api {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
    },
    /// The answer was not what the PVE API promises.
    #[error("{0}")]
    Protocol(String),
    /// The VM holds a lock (another backup, a migration, a snapshot).
    #[error(
        "VM {vmid} is locked ({lock}) on Proxmox VE; wait until that task ends, or run `qm unlock {vmid}` on the node if no task holds it"
    )]
    Locked { vmid: u32, lock: String },
    /// The data path (SSH to the node).
    #[error(transparent)]
    Ssh(#[from] crate::ssh::SshError),
    /// The backup stream itself.
    #[error("the backup stream of VM {vmid} is not usable: {source}")]
    Vma {
        vmid: u32,
        #[source]
        source: crate::vma::VmaError,
    },
    /// `vzdump` on the node failed; `detail` is its own error line.
    #[error("vzdump of VM {vmid} failed on {node}: {detail}")]
    Vzdump {
        vmid: u32,
        node: String,
        detail: String,
    },
    /// `vzdump --stdout` is root's only, and the backup through a storage
    /// (the way round it) failed as well.
    #[error(
        "vzdump --stdout runs only as root over SSH, and {user} is not root; the backup through \
         the storage \"{storage}\" failed too: {source}. Sign in over SSH as root, or let the API \
         user back up into that storage (VM.Backup on the VM, Datastore.AllocateSpace on \
         /storage/{storage}), or choose another storage (backup_storage)"
    )]
    StorageBackup {
        user: String,
        storage: String,
        #[source]
        source: Box<ProxmoxError>,
    },
    /// Writing the unpacked disks.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cancelled")]
    Cancelled,
}

impl ProxmoxError {
    /// Stable snake_case code that scripts and the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ProxmoxError::InvalidEndpoint(_) => "invalid_endpoint",
            ProxmoxError::Unreachable { .. } => "unreachable",
            ProxmoxError::Timeout { .. } => "timeout",
            ProxmoxError::CertificateUntrusted { .. } => "certificate_untrusted",
            ProxmoxError::CertificateChanged { .. } => "certificate_changed",
            ProxmoxError::InvalidFingerprint(_) => "invalid_fingerprint",
            ProxmoxError::InvalidOption { .. } => "invalid_option",
            ProxmoxError::AuthFailed { .. } => "auth_failed",
            ProxmoxError::PermissionDenied { .. } => "permission_denied",
            ProxmoxError::NotFound { .. } => "not_found",
            ProxmoxError::Unsupported(_) => "unsupported",
            ProxmoxError::Api { .. } => "proxmox_error",
            ProxmoxError::Protocol(_) => "protocol_error",
            ProxmoxError::Locked { .. } => "vm_locked",
            ProxmoxError::Ssh(e) => match e {
                crate::ssh::SshError::Cancelled => "cancelled",
                crate::ssh::SshError::AuthFailed { .. } => "ssh_auth_failed",
                crate::ssh::SshError::Unreachable { .. } => "unreachable",
                other => other.code(),
            },
            ProxmoxError::Vma { source, .. } => source.code(),
            ProxmoxError::Vzdump { .. } => "vzdump_failed",
            ProxmoxError::StorageBackup { source, .. } => source.code(),
            ProxmoxError::Io { .. } => "io_error",
            ProxmoxError::Cancelled => "cancelled",
        }
    }

    pub fn retryable(&self) -> bool {
        match self {
            ProxmoxError::Unreachable { .. } | ProxmoxError::Timeout { .. } => true,
            ProxmoxError::Api { status, .. } => *status >= 502 || *status == 429,
            ProxmoxError::Locked { .. } => true,
            ProxmoxError::Ssh(e) => e.is_retryable(),
            // A stream cut short is what a lost connection looks like from the reader.
            ProxmoxError::Vma { source, .. } => source.code() == "vma_truncated",
            _ => false,
        }
    }

    /// The server's certificate fingerprint, when the error is about trust.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        match self {
            ProxmoxError::CertificateUntrusted { fingerprint, .. } => Some(*fingerprint),
            ProxmoxError::CertificateChanged { actual, .. } => Some(*actual),
            _ => None,
        }
    }
}

/// At the provider boundary: authentication, trust, absence and cancellation
/// have core variants; the rest keep their own code through `Remote`.
impl From<ProxmoxError> for CoreError {
    fn from(err: ProxmoxError) -> Self {
        match err {
            ProxmoxError::InvalidEndpoint(message) => CoreError::invalid("endpoint", message),
            ProxmoxError::InvalidFingerprint(message) => {
                CoreError::invalid("tls_fingerprint", message)
            }
            ProxmoxError::InvalidOption { message, .. } => CoreError::invalid("options", message),
            ProxmoxError::Unreachable { endpoint, detail } => {
                CoreError::Unreachable { endpoint, detail }
            }
            ProxmoxError::Timeout { endpoint, seconds } => CoreError::Unreachable {
                endpoint,
                detail: format!("no answer within {seconds} s"),
            },
            ProxmoxError::CertificateUntrusted {
                endpoint,
                fingerprint,
                detail,
            } => CoreError::CertificateUntrusted {
                endpoint,
                fingerprint: fingerprint.to_colon_hex(),
                detail,
            },
            ProxmoxError::AuthFailed { endpoint, detail } => {
                CoreError::AuthFailed { endpoint, detail }
            }
            ProxmoxError::NotFound { what, id } => CoreError::NotFound { what, id },
            ProxmoxError::Unsupported(message) => CoreError::Unsupported(message),
            ProxmoxError::Cancelled | ProxmoxError::Ssh(crate::ssh::SshError::Cancelled) => {
                CoreError::Cancelled
            }
            ProxmoxError::Io { context, source } => CoreError::io(context, source),
            e @ (ProxmoxError::CertificateChanged { .. }
            | ProxmoxError::Locked { .. }
            | ProxmoxError::Ssh(_)
            | ProxmoxError::Vma { .. }
            | ProxmoxError::Vzdump { .. }
            | ProxmoxError::StorageBackup { .. }
            | ProxmoxError::PermissionDenied { .. }
            | ProxmoxError::Api { .. }
            | ProxmoxError::Protocol(_)) => CoreError::Remote {
                code: e.code(),
                retryable: e.retryable(),
                message: e.to_string(),
            },
        }
    }
}

/// The privilege PVE names in a 403 message: `Permission check failed
/// (/vms/100, VM.Audit)` → `VM.Audit on /vms/100`.
pub(crate) fn privilege_of(message: &str) -> Option<String> {
    let inner = message
        .split_once("Permission check failed (")?
        .1
        .split_once(')')?
        .0;
    let (path, privilege) = inner.split_once(',')?;
    let (path, privilege) = (path.trim(), privilege.trim());
    if privilege.is_empty() {
        return None;
    }
    Some(if path.is_empty() {
        privilege.to_owned()
    } else {
        format!("{privilege} on {path}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_privilege_pve_names_is_kept() {
        assert_eq!(
            privilege_of("Permission check failed (/vms/100, VM.Audit)").as_deref(),
            Some("VM.Audit on /vms/100")
        );
        assert_eq!(privilege_of("permission denied - invalid PVE ticket"), None);
    }

    #[test]
    fn codes_survive_the_core_boundary() {
        let fp = Fingerprint::of_der(b"cert");
        let core: CoreError = ProxmoxError::CertificateUntrusted {
            endpoint: "https://pve:8006".into(),
            fingerprint: fp,
            detail: "self-signed".into(),
        }
        .into();
        assert_eq!(core.code(), "certificate_untrusted");
        assert!(core.to_string().contains(&fp.to_colon_hex()), "{core}");
        let changed: CoreError = ProxmoxError::CertificateChanged {
            endpoint: "https://pve:8006".into(),
            expected: Fingerprint::of_der(b"old"),
            actual: fp,
        }
        .into();
        assert_eq!(changed.code(), "certificate_changed");
        let text = changed.to_string();
        assert!(text.contains(&fp.to_colon_hex()), "{text}");
        assert!(
            text.contains(&Fingerprint::of_der(b"old").to_colon_hex()),
            "{text}"
        );
        let denied: CoreError = ProxmoxError::PermissionDenied {
            endpoint: "https://pve:8006".into(),
            message: "Permission check failed (/vms/100, VM.Audit)".into(),
            privilege: Some("VM.Audit on /vms/100".into()),
        }
        .into();
        assert_eq!(denied.code(), "permission_denied");
        assert!(!denied.retryable());
        let lxc: CoreError = ProxmoxError::Unsupported("containers".into()).into();
        assert_eq!(lxc.code(), "unsupported");
    }
}

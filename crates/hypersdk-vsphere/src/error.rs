//! The crate's one error type, its stable codes, and its mapping onto the
//! core's error at the provider boundary.

use hypersdk_core::CoreError;

use hypersdk_core::tls::Fingerprint;

pub type Result<T, E = VsphereError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum VsphereError {
    #[error("{0}")]
    InvalidEndpoint(String),
    #[error("cannot reach {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("no answer from {endpoint} within {seconds} s")]
    Timeout { endpoint: String, seconds: u64 },
    /// The server's certificate is not trusted by the system store and no
    /// fingerprint is pinned. `fingerprint` is what the user may choose to pin.
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
         fingerprint; the server presented {}; the connection was refused",
        actual.to_colon_hex()
    )]
    CertificateChanged {
        endpoint: String,
        expected: Fingerprint,
        actual: Fingerprint,
    },
    #[error("the pinned certificate fingerprint is not valid: {0}")]
    InvalidFingerprint(String),
    /// `InvalidLogin`: wrong user name or password.
    #[error("sign-in to {endpoint} failed: the user name or password is not correct")]
    AuthFailed { endpoint: String },
    /// The session is gone (expired, terminated, server restarted). The pool
    /// signs in again when it sees this; callers rarely do.
    #[error("the vSphere session is no longer valid")]
    NotAuthenticated,
    #[error("permission denied: {0}")]
    NoPermission(String),
    #[error("{what} \"{id}\" was not found")]
    NotFound { what: &'static str, id: String },
    /// Any other SOAP fault, with its vim25 type name (e.g. `InvalidArgument`).
    #[error("vSphere refused {method}: {fault}{}", if message.is_empty() { String::new() } else { format!(" ({message})") })]
    Fault {
        method: String,
        fault: String,
        message: String,
    },
    #[error("HTTP {status} from {endpoint}: {detail}")]
    Http {
        endpoint: String,
        status: u16,
        detail: String,
    },
    /// The answer was not what the vim25 API promises.
    #[error("{0}")]
    Protocol(String),
    #[error("cancelled")]
    Cancelled,
}

impl VsphereError {
    /// Stable snake_case code that scripts and the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            VsphereError::InvalidEndpoint(_) => "invalid_endpoint",
            VsphereError::Unreachable { .. } => "unreachable",
            VsphereError::Timeout { .. } => "timeout",
            VsphereError::CertificateUntrusted { .. } => "certificate_untrusted",
            VsphereError::CertificateChanged { .. } => "certificate_changed",
            VsphereError::InvalidFingerprint(_) => "invalid_fingerprint",
            VsphereError::AuthFailed { .. } => "auth_failed",
            VsphereError::NotAuthenticated => "not_authenticated",
            VsphereError::NoPermission(_) => "permission_denied",
            VsphereError::NotFound { .. } => "not_found",
            VsphereError::Fault { .. } => "vsphere_fault",
            VsphereError::Http { .. } => "http_error",
            VsphereError::Protocol(_) => "protocol_error",
            VsphereError::Cancelled => "cancelled",
        }
    }

    pub fn retryable(&self) -> bool {
        match self {
            VsphereError::Unreachable { .. }
            | VsphereError::Timeout { .. }
            | VsphereError::NotAuthenticated => true,
            VsphereError::Http { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// The server's certificate fingerprint, when the error is about trust.
    pub fn fingerprint(&self) -> Option<Fingerprint> {
        match self {
            VsphereError::CertificateUntrusted { fingerprint, .. } => Some(*fingerprint),
            VsphereError::CertificateChanged { actual, .. } => Some(*actual),
            _ => None,
        }
    }
}

/// At the provider boundary. Authentication and trust have their own core
/// variants; a changed certificate is reported as untrusted (with the new
/// fingerprint and why) since the remedy is the same: compare and re-pin.
/// Remote faults without a core variant become `Internal` (detail logged).
impl From<VsphereError> for CoreError {
    fn from(err: VsphereError) -> Self {
        match err {
            VsphereError::InvalidEndpoint(message) => CoreError::invalid("endpoint", message),
            VsphereError::InvalidFingerprint(message) => {
                CoreError::invalid("tls_fingerprint", message)
            }
            VsphereError::Unreachable { endpoint, detail } => {
                CoreError::Unreachable { endpoint, detail }
            }
            VsphereError::Timeout { endpoint, seconds } => CoreError::Unreachable {
                endpoint,
                detail: format!("no answer within {seconds} s"),
            },
            VsphereError::Http {
                endpoint,
                status,
                detail,
            } => CoreError::Unreachable {
                endpoint,
                detail: format!("HTTP {status}: {detail}"),
            },
            VsphereError::CertificateUntrusted {
                endpoint,
                fingerprint,
                detail,
            } => CoreError::CertificateUntrusted {
                endpoint,
                fingerprint: fingerprint.to_colon_hex(),
                detail,
            },
            e @ VsphereError::CertificateChanged { .. } => CoreError::Remote {
                code: e.code(),
                message: e.to_string(),
                retryable: false,
            },
            VsphereError::AuthFailed { endpoint } => CoreError::AuthFailed {
                endpoint,
                detail: "the user name or password is not correct".into(),
            },
            e @ VsphereError::NoPermission(_) => CoreError::Remote {
                code: e.code(),
                message: e.to_string(),
                retryable: false,
            },
            VsphereError::NotFound { what, id } => CoreError::NotFound { what, id },
            VsphereError::Cancelled => CoreError::Cancelled,
            e @ (VsphereError::NotAuthenticated
            | VsphereError::Fault { .. }
            | VsphereError::Protocol(_)) => CoreError::Remote {
                code: e.code(),
                retryable: e.retryable(),
                message: e.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_trust_errors_carry_the_fingerprint() {
        let fp = Fingerprint::of_der(b"cert");
        let e = VsphereError::CertificateUntrusted {
            endpoint: "https://vc".into(),
            fingerprint: fp,
            detail: "UnknownIssuer".into(),
        };
        assert_eq!(e.code(), "certificate_untrusted");
        assert_eq!(e.fingerprint(), Some(fp));
        assert!(e.to_string().contains(&fp.to_colon_hex()), "{e}");
        let core: CoreError = e.into();
        assert_eq!(core.code(), "certificate_untrusted");
        assert!(core.to_string().contains(&fp.to_colon_hex()), "{core}");
        let auth: CoreError = VsphereError::AuthFailed {
            endpoint: "https://vc".into(),
        }
        .into();
        assert_eq!(auth.code(), "auth_failed");
        assert_eq!(
            VsphereError::AuthFailed {
                endpoint: "https://vc".into()
            }
            .code(),
            "auth_failed"
        );
        assert!(
            VsphereError::Unreachable {
                endpoint: "x".into(),
                detail: "refused".into()
            }
            .retryable()
        );
    }
}

//! The crate's one error type, its stable codes, and how the SDK's errors map
//! onto it (and it onto the core's at the provider boundary).

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use hypersdk_core::CoreError;

pub type Result<T, E = AwsError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// A connection option that cannot be used as given.
    #[error("{message}")]
    InvalidOption { key: &'static str, message: String },
    #[error("cannot reach AWS ({endpoint}): {detail}")]
    Unreachable { endpoint: String, detail: String },
    /// The keys were refused (unknown, wrong secret, expired session token),
    /// or there are none to sign with.
    #[error("AWS refused the credentials: {detail}")]
    AuthFailed { detail: String },
    /// Signed in, but the identity may not do `action`.
    #[error("permission denied: {action} is not allowed for these credentials ({detail})")]
    PermissionDenied { action: String, detail: String },
    /// A region the account has not enabled (opt-in), or one AWS does not know.
    #[error("region {region} is not available to this account: {detail}")]
    RegionUnavailable { region: String, detail: String },
    #[error("AWS is throttling {action} in {region}: {detail}")]
    Throttled {
        action: &'static str,
        region: String,
        detail: String,
    },
    #[error("{what} \"{id}\" was not found{context}")]
    NotFound {
        what: &'static str,
        id: String,
        context: String,
    },
    /// Any other error AWS answered with, by its own code.
    #[error("{action} in {region} failed: {code}: {message}")]
    Api {
        action: &'static str,
        region: String,
        code: String,
        message: String,
    },
    #[error("cancelled")]
    Cancelled,
}

impl AwsError {
    /// Stable snake_case code that scripts and the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            AwsError::InvalidOption { .. } => "invalid_option",
            AwsError::Unreachable { .. } => "unreachable",
            AwsError::AuthFailed { .. } => "auth_failed",
            AwsError::PermissionDenied { .. } => "permission_denied",
            AwsError::RegionUnavailable { .. } => "region_unavailable",
            AwsError::Throttled { .. } => "throttled",
            AwsError::NotFound { .. } => "not_found",
            AwsError::Api { .. } => "aws_error",
            AwsError::Cancelled => "cancelled",
        }
    }

    pub fn retryable(&self) -> bool {
        matches!(
            self,
            AwsError::Unreachable { .. } | AwsError::Throttled { .. }
        )
    }

    /// Maps an SDK error of `action` in `region` (`endpoint` is what the
    /// client talks to, for the unreachable case) by AWS's error code.
    pub fn from_sdk<E, R>(
        err: SdkError<E, R>,
        action: &'static str,
        region: &str,
        endpoint: &str,
    ) -> AwsError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let code = err.code().map(str::to_owned);
        let message = err.message().unwrap_or_default().to_owned();
        match &err {
            SdkError::ServiceError(_) | SdkError::ResponseError(_) => {}
            SdkError::TimeoutError(_) => {
                return AwsError::Unreachable {
                    endpoint: endpoint.to_owned(),
                    detail: format!("{action} timed out"),
                };
            }
            SdkError::DispatchFailure(d) if d.is_io() || d.is_timeout() => {
                return AwsError::Unreachable {
                    endpoint: endpoint.to_owned(),
                    detail: in_words(&err),
                };
            }
            _ => {
                // Construction and other dispatch failures: most often no
                // credentials could be found (no key, no profile).
                let detail = in_words(&err);
                if detail.contains("credentials") {
                    return AwsError::AuthFailed {
                        detail: no_credentials_detail(&detail),
                    };
                }
                return AwsError::Unreachable {
                    endpoint: endpoint.to_owned(),
                    detail,
                };
            }
        }
        let Some(code) = code else {
            return AwsError::Api {
                action,
                region: region.to_owned(),
                code: "unknown".into(),
                message: in_words(&err),
            };
        };
        Self::from_code(&code, message, action, region)
    }

    /// By AWS's error code (the EC2 and common codes the docs list).
    pub fn from_code(code: &str, message: String, action: &'static str, region: &str) -> AwsError {
        match code {
            "AuthFailure"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "UnrecognizedClientException"
            | "InvalidAccessKeyId"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "RequestExpired" => AwsError::AuthFailed {
                detail: format!("{code}: {message}"),
            },
            "UnauthorizedOperation" | "AccessDenied" | "AccessDeniedException" => {
                AwsError::PermissionDenied {
                    // IAM's name for it: `ec2:` unless the caller named the service.
                    action: if action.contains(':') {
                        action.to_owned()
                    } else {
                        format!("ec2:{action}")
                    },
                    detail: message,
                }
            }
            "OptInRequired" | "InvalidRegion" | "UnsupportedOperation"
                if message.to_ascii_lowercase().contains("region") || code == "OptInRequired" =>
            {
                AwsError::RegionUnavailable {
                    region: region.to_owned(),
                    detail: format!("{code}: {message}"),
                }
            }
            "RequestLimitExceeded" | "Throttling" | "ThrottlingException" => AwsError::Throttled {
                action,
                region: region.to_owned(),
                detail: message,
            },
            c if c.starts_with("InvalidInstanceID") => AwsError::NotFound {
                what: "instance",
                id: message,
                context: format!(" in {region}"),
            },
            _ => AwsError::Api {
                action,
                region: region.to_owned(),
                code: code.to_owned(),
                message,
            },
        }
    }
}

/// An error and its causes in words, joined by ": " — the SDK's
/// `DisplayErrorContext` appends its Debug text, which is not for users.
fn in_words(err: &(dyn std::error::Error + 'static)) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        // Wrappers often repeat their cause's text; say each thing once.
        if !text.is_empty() && !words.iter().any(|w| w.contains(&text)) {
            words.push(text);
        }
        next = e.source();
    }
    words.join(": ")
}

fn no_credentials_detail(detail: &str) -> String {
    format!(
        "no credentials to sign with: give an access key, or set up an AWS profile \
         (aws configure, or AWS_PROFILE) ({detail})"
    )
}

/// At the provider boundary: authentication, absence and cancellation have
/// core variants; the rest keep their own code through `Remote`.
impl From<AwsError> for CoreError {
    fn from(err: AwsError) -> Self {
        match err {
            AwsError::InvalidOption { message, .. } => CoreError::invalid("options", message),
            AwsError::Unreachable { endpoint, detail } => {
                CoreError::Unreachable { endpoint, detail }
            }
            AwsError::AuthFailed { detail } => CoreError::AuthFailed {
                endpoint: "AWS".into(),
                detail,
            },
            AwsError::NotFound { what, id, .. } => CoreError::NotFound { what, id },
            AwsError::Cancelled => CoreError::Cancelled,
            e @ (AwsError::PermissionDenied { .. }
            | AwsError::RegionUnavailable { .. }
            | AwsError::Throttled { .. }
            | AwsError::Api { .. }) => CoreError::Remote {
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
    fn aws_codes_map_to_ours() {
        let by = |code: &str, message: &str| {
            AwsError::from_code(code, message.into(), "DescribeInstances", "eu-west-1")
        };
        assert_eq!(by("AuthFailure", "bad key").code(), "auth_failed");
        assert_eq!(by("RequestExpired", "").code(), "auth_failed");
        let denied = by(
            "UnauthorizedOperation",
            "You are not authorized to perform this operation.",
        );
        assert_eq!(denied.code(), "permission_denied");
        assert!(
            denied.to_string().contains("ec2:DescribeInstances"),
            "{denied}"
        );
        assert_eq!(by("OptInRequired", "opt in").code(), "region_unavailable");
        let throttled = by("RequestLimitExceeded", "slow down");
        assert!(throttled.retryable(), "{throttled}");
        let missing = by(
            "InvalidInstanceID.NotFound",
            "The instance ID 'i-1' does not exist",
        );
        assert_eq!(missing.code(), "not_found");
        assert!(missing.to_string().contains("eu-west-1"), "{missing}");
        assert_eq!(by("Unheard", "?").code(), "aws_error");
    }

    #[test]
    fn codes_survive_the_core_boundary() {
        let core: CoreError = AwsError::PermissionDenied {
            action: "ec2:DescribeRegions".into(),
            detail: "no".into(),
        }
        .into();
        assert_eq!(core.code(), "permission_denied");
        let core: CoreError = AwsError::AuthFailed { detail: "x".into() }.into();
        assert_eq!(core.code(), "auth_failed");
    }
}

//! Secrets live in the OS keyring (Secret Service on Linux, Keychain on macOS,
//! Credential Manager on Windows) and nowhere else.
//!
//! There is deliberately no fallback: without a keyring the user gets an error
//! naming what is missing, never a plaintext file or an in-memory store that
//! forgets the password on restart.

use crate::error::{CoreError, Result};
use crate::model::Secret;

/// The keyring "service" every HyperSDK entry is filed under; the account is
/// a reference such as `connection:<uuid>`, `webhook:<uuid>` (a signing
/// secret) or `webhook:<uuid>:header:<name>` (a secret header value), stored
/// in SQLite in its place.
pub const KEYRING_SERVICE: &str = "hypersdk-desktop";

#[derive(Debug, Clone)]
pub struct Keyring {
    service: String,
}

impl Default for Keyring {
    fn default() -> Self {
        Keyring {
            service: KEYRING_SERVICE.to_owned(),
        }
    }
}

impl Keyring {
    pub fn connection_account(connection_id: &str) -> String {
        format!("connection:{connection_id}")
    }

    /// One secret option of a connection (an SSH private key, …).
    pub fn connection_option_account(connection_id: &str, key: &str) -> String {
        format!("connection:{connection_id}:{key}")
    }

    /// A webhook's signing secret.
    pub fn webhook_account(webhook_id: &str) -> String {
        format!("webhook:{webhook_id}")
    }

    /// The value of a webhook's secret header (names are case-insensitive,
    /// so the account uses the lower-case form).
    pub fn webhook_header_account(webhook_id: &str, header: &str) -> String {
        format!(
            "webhook:{webhook_id}:header:{}",
            header.to_ascii_lowercase()
        )
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry> {
        keyring::Entry::new(&self.service, account).map_err(map_error)
    }

    pub fn set(&self, account: &str, secret: &Secret) -> Result<()> {
        self.entry(account)?
            .set_password(secret.expose())
            .map_err(map_error)
    }

    pub fn get(&self, account: &str) -> Result<Option<Secret>> {
        match self.entry(account)?.get_password() {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_error(e)),
        }
    }

    /// Removing an entry that is already gone is success: the goal is that
    /// no secret remains.
    pub fn delete(&self, account: &str) -> Result<()> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_error(e)),
        }
    }
}

fn map_error(err: keyring::Error) -> CoreError {
    match err {
        keyring::Error::PlatformFailure(e) => CoreError::KeyringUnavailable {
            detail: e.to_string(),
        },
        keyring::Error::NoStorageAccess(e) => CoreError::KeyringLocked {
            detail: e.to_string(),
        },
        keyring::Error::TooLong(what, max) => CoreError::invalid(
            "secret",
            format!("the {what} is too long for the keyring (max {max})"),
        ),
        keyring::Error::BadEncoding(_) => CoreError::Keyring {
            detail: "the stored secret is not valid UTF-8".into(),
        },
        other => CoreError::Keyring {
            detail: other.to_string(),
        },
    }
}

//! Adding, editing, testing and removing connections. The row goes to SQLite
//! and the secret to the keyring, together or not at all.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::Core;
use crate::error::{CoreError, Result};
use crate::events::CoreEvent;
use crate::kinds;
use crate::model::{
    Connection, ConnectionInput, ConnectionTestResult, ProviderKind, Secret, Secrets, TestCheck,
    VmFilter, VmInfo,
};
use crate::providers::Provider;
use crate::secrets::Keyring;

const MAX_NAME_CHARS: usize = 100;
const MAX_USERNAME_CHARS: usize = 256;
const MAX_OPTION_CHARS: usize = 1024;
/// Large enough for a GCP service-account JSON key.
const MAX_SECRET_BYTES: usize = 64 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A validated, normalised connection input.
#[derive(Debug)]
struct Valid {
    kind: ProviderKind,
    name: String,
    endpoint: String,
    username: String,
    options: BTreeMap<String, String>,
    secret: Option<Secret>,
    /// Secret options to set (non-empty) or remove (empty).
    secret_options: BTreeMap<String, Secret>,
    tls_fingerprint: Option<String>,
}

fn validate(input: ConnectionInput) -> Result<Valid> {
    let name = input.name.trim().to_owned();
    if name.is_empty() {
        return Err(CoreError::invalid("name", "Name is required"));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(CoreError::invalid(
            "name",
            format!("Name must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "name",
            "Name must not contain control characters",
        ));
    }
    let endpoint = if input.endpoint.trim().is_empty() && kinds::endpoint_optional(input.kind) {
        String::new()
    } else {
        normalize_endpoint(&input.endpoint)?
    };
    let username = input.username.trim().to_owned();
    if username.is_empty() && !kinds::username_optional(input.kind) {
        return Err(CoreError::invalid("username", "Username is required"));
    }
    if username.chars().count() > MAX_USERNAME_CHARS || username.chars().any(char::is_control) {
        return Err(CoreError::invalid(
            "username",
            format!(
                "Username must be at most {MAX_USERNAME_CHARS} characters, without control characters"
            ),
        ));
    }
    let options = validate_options(input.kind, input.options)?;
    let secret = input.secret.filter(|s| !s.is_empty());
    if secret
        .as_ref()
        .is_some_and(|s| s.expose().len() > MAX_SECRET_BYTES)
    {
        return Err(CoreError::invalid(
            "secret",
            "The secret is longer than 64 KiB",
        ));
    }
    let known: Vec<&str> = kinds::secret_option_keys(input.kind).collect();
    for (key, value) in &input.secret_options {
        if !known.contains(&key.as_str()) {
            return Err(CoreError::invalid(
                "secret_options",
                format!(
                    "{} connections have no secret option \"{key}\" (known: {})",
                    kinds::display_name(input.kind),
                    if known.is_empty() {
                        "none".to_owned()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        }
        if value.expose().len() > MAX_SECRET_BYTES {
            return Err(CoreError::invalid(
                "secret_options",
                format!("The secret option \"{key}\" is longer than 64 KiB"),
            ));
        }
    }
    let secret_options = input.secret_options;
    let tls_fingerprint = input
        .tls_fingerprint
        .as_deref()
        .map(normalize_fingerprint)
        .transpose()?
        .flatten();
    Ok(Valid {
        kind: input.kind,
        name,
        endpoint,
        username,
        options,
        secret,
        secret_options,
        tls_fingerprint,
    })
}

/// Writes the keyring side of a connection change: the main secret (when
/// given) and each secret option (set, or removed when empty). On a failure
/// the entries this call set are removed again, so a refused change leaves
/// no secret behind that no row points to.
fn write_secrets(
    keyring: &Keyring,
    id: &str,
    secret: Option<&Secret>,
    options: &BTreeMap<String, Secret>,
) -> Result<()> {
    let mut written: Vec<String> = Vec::new();
    let result = (|| {
        if let Some(s) = secret {
            let account = Keyring::connection_account(id);
            keyring.set(&account, s)?;
            written.push(account);
        }
        for (key, value) in options {
            let account = Keyring::connection_option_account(id, key);
            if value.is_empty() {
                keyring.delete(&account)?;
            } else {
                keyring.set(&account, value)?;
                written.push(account);
            }
        }
        Ok(())
    })();
    if result.is_err() {
        for account in &written {
            let _ = keyring.delete(account);
        }
    }
    result
}

/// The secret option keys saved after applying `changes` to `saved`.
fn merged_option_keys(saved: &[String], changes: &BTreeMap<String, Secret>) -> Vec<String> {
    let mut keys: std::collections::BTreeSet<String> = saved.iter().cloned().collect();
    for (key, value) in changes {
        if value.is_empty() {
            keys.remove(key);
        } else {
            keys.insert(key.clone());
        }
    }
    keys.into_iter().collect()
}

/// Accepts a SHA-256 fingerprint as printed by browsers (`AB:CD:…`) or by
/// `openssl` / `sha256sum` (plain hex) and stores 64 lower-case hex digits.
/// Empty means "no pin".
pub fn normalize_fingerprint(raw: &str) -> Result<Option<String>> {
    let hex: String = raw
        .chars()
        .filter(|c| !c.is_whitespace() && *c != ':')
        .collect::<String>()
        .to_ascii_lowercase();
    if hex.is_empty() {
        return Ok(None);
    }
    if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(CoreError::invalid(
            "tls_fingerprint",
            "A certificate fingerprint is a SHA-256 digest: 64 hexadecimal digits, optionally separated by colons",
        ));
    }
    Ok(Some(hex))
}

/// Accepts `host`, `host:port` or a full `http(s)://host[:port][/path]` URL
/// and returns the canonical URL. Credentials and query strings are refused:
/// they would be stored in the database in clear.
pub fn normalize_endpoint(raw: &str) -> Result<String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(CoreError::invalid("endpoint", "Endpoint is required"));
    }
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("https://{raw}")
    };
    let url = Url::parse(&with_scheme).map_err(|e| match e {
        url::ParseError::InvalidPort => CoreError::invalid(
            "endpoint",
            format!("\"{raw}\" has a port out of range: ports are 1 to 65535"),
        ),
        url::ParseError::EmptyHost => {
            CoreError::invalid("endpoint", format!("\"{raw}\" has no host name"))
        }
        other => CoreError::invalid(
            "endpoint",
            format!("\"{raw}\" is not a valid host name or URL ({other})"),
        ),
    })?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(CoreError::invalid(
            "endpoint",
            format!("\"{raw}\" must use https:// (or http:// for a local test server)"),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(CoreError::invalid(
            "endpoint",
            format!("\"{raw}\" has no host name"),
        ));
    }
    if url.port() == Some(0) {
        return Err(CoreError::invalid(
            "endpoint",
            format!("\"{raw}\" has a port out of range: ports are 1 to 65535"),
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CoreError::invalid(
            "endpoint",
            "Put the user name and password in their own fields, not in the endpoint",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(CoreError::invalid(
            "endpoint",
            "The endpoint must not contain a query string or fragment (tokens there would be stored unencrypted)",
        ));
    }
    let mut text = url.to_string();
    if url.path() == "/" {
        text.pop();
    }
    Ok(text)
}

fn validate_options(
    kind: ProviderKind,
    options: BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>> {
    let known: Vec<(&str, bool)> = kinds::option_keys(kind).collect();
    let mut out = BTreeMap::new();
    for (key, value) in options {
        if !known.iter().any(|(k, _)| *k == key) {
            let names: Vec<&str> = known.iter().map(|(k, _)| *k).collect();
            return Err(CoreError::invalid(
                "options",
                format!(
                    "{} connections have no option \"{key}\" (known: {})",
                    kinds::display_name(kind),
                    if names.is_empty() {
                        "none".to_owned()
                    } else {
                        names.join(", ")
                    }
                ),
            ));
        }
        let value = value.trim().to_owned();
        if value.chars().count() > MAX_OPTION_CHARS || value.chars().any(char::is_control) {
            return Err(CoreError::invalid(
                "options",
                format!(
                    "Option \"{key}\" must be at most {MAX_OPTION_CHARS} characters, without control characters"
                ),
            ));
        }
        if !value.is_empty() {
            out.insert(key, value);
        }
    }
    for (key, required) in known {
        if required && !out.contains_key(key) {
            return Err(CoreError::invalid(
                "options",
                format!(
                    "{} connections need the option \"{key}\"",
                    kinds::display_name(kind)
                ),
            ));
        }
    }
    Ok(out)
}

impl Core {
    pub async fn list_connections(&self) -> Result<Vec<Connection>> {
        self.with_store(move |store| store.list_connections()).await
    }

    /// By id or by name.
    pub async fn connection(&self, id_or_name: &str) -> Result<Connection> {
        let key = id_or_name.to_owned();
        self.with_store(move |store| store.find_connection(&key))
            .await?
            .ok_or_else(|| CoreError::NotFound {
                what: "connection",
                id: id_or_name.to_owned(),
            })
    }

    pub async fn add_connection(&self, input: ConnectionInput) -> Result<Connection> {
        let valid = validate(input)?;
        let now = Utc::now();
        let connection = Connection {
            id: uuid::Uuid::new_v4().to_string(),
            kind: valid.kind,
            name: valid.name,
            endpoint: valid.endpoint,
            username: valid.username,
            options: valid.options,
            has_secret: valid.secret.is_some(),
            secret_options: merged_option_keys(&[], &valid.secret_options),
            tls_fingerprint: valid.tls_fingerprint,
            created_at: now,
            updated_at: now,
        };
        let keyring = self.keyring.clone();
        let secret = valid.secret;
        let secret_options = valid.secret_options;
        let saved = connection.clone();
        self.with_store(move |store| {
            // A cheap early answer before touching the keyring; the UNIQUE
            // constraint is still the real guard against a concurrent add.
            if store.connection_name_taken(&saved.name, None)? {
                return Err(CoreError::ConnectionNameTaken(saved.name.clone()));
            }
            let account = Keyring::connection_account(&saved.id);
            let secret_ref = secret.as_ref().map(|_| account.as_str());
            store.insert_connection(&saved, secret_ref, || {
                write_secrets(&keyring, &saved.id, secret.as_ref(), &secret_options)
            })
        })
        .await?;
        tracing::info!(connection = %connection.id, kind = %connection.kind, name = %connection.name, "connection added");
        self.bus.publish(CoreEvent::ConnectionsChanged);
        Ok(connection)
    }

    /// `input.secret: None` keeps the stored secret.
    pub async fn update_connection(&self, id: &str, input: ConnectionInput) -> Result<Connection> {
        let valid = validate(input)?;
        let existing = self.connection(id).await?;
        let keyring = self.keyring.clone();
        let account = Keyring::connection_account(&existing.id);
        let existing_ref = {
            let id = existing.id.clone();
            self.with_store(move |store| store.connection_secret_ref(&id))
                .await?
        };
        let updated = Connection {
            kind: valid.kind,
            name: valid.name,
            endpoint: valid.endpoint,
            username: valid.username,
            options: valid.options,
            has_secret: valid.secret.is_some() || existing_ref.is_some(),
            secret_options: merged_option_keys(&existing.secret_options, &valid.secret_options),
            tls_fingerprint: valid.tls_fingerprint,
            updated_at: Utc::now(),
            ..existing
        };
        let saved = updated.clone();
        let secret = valid.secret;
        let secret_options = valid.secret_options;
        self.with_store(move |store| {
            if store.connection_name_taken(&saved.name, Some(&saved.id))? {
                return Err(CoreError::ConnectionNameTaken(saved.name.clone()));
            }
            let secret_ref = if secret.is_some() {
                Some(account.clone())
            } else {
                existing_ref
            };
            store.update_connection(&saved, secret_ref.as_deref(), || {
                write_secrets(&keyring, &saved.id, secret.as_ref(), &secret_options)
            })
        })
        .await?;
        tracing::info!(connection = %updated.id, "connection updated");
        self.bus.publish(CoreEvent::ConnectionsChanged);
        Ok(updated)
    }

    pub async fn remove_connection(&self, id_or_name: &str) -> Result<()> {
        let connection = self.connection(id_or_name).await?;
        let keyring = self.keyring.clone();
        let id = connection.id.clone();
        let option_keys = connection.secret_options.clone();
        self.with_store(move |store| {
            let secret_ref = store.connection_secret_ref(&id)?;
            store.delete_connection(&id, || {
                if let Some(account) = &secret_ref {
                    keyring.delete(account)?;
                }
                for key in &option_keys {
                    keyring.delete(&Keyring::connection_option_account(&id, key))?;
                }
                Ok(())
            })
        })
        .await?;
        tracing::info!(connection = %connection.id, "connection removed");
        self.bus.publish(CoreEvent::ConnectionsChanged);
        Ok(())
    }

    pub(crate) async fn connection_secrets(&self, connection: &Connection) -> Result<Secrets> {
        let keyring = self.keyring.clone();
        let id = connection.id.clone();
        let option_keys = connection.secret_options.clone();
        self.with_store(move |store| {
            let main = match store.connection_secret_ref(&id)? {
                Some(account) => keyring.get(&account)?,
                None => None,
            };
            let mut options = BTreeMap::new();
            for key in option_keys {
                if let Some(value) = keyring.get(&Keyring::connection_option_account(&id, &key))? {
                    options.insert(key, value);
                }
            }
            Ok(Secrets { main, options })
        })
        .await
    }

    /// A signed-in provider session for a saved connection, or `unsupported`
    /// when this build has no provider for its kind.
    pub async fn provider(&self, id_or_name: &str) -> Result<Arc<dyn Provider>> {
        let connection = self.connection(id_or_name).await?;
        let secrets = self.connection_secrets(&connection).await?;
        self.registry.connect(&connection, secrets)
    }

    /// Live details of the provider kept for a connection (e.g. vSphere
    /// session pool counters); empty until the connection has been used.
    pub async fn connection_diagnostics(
        &self,
        id_or_name: &str,
    ) -> Result<Vec<crate::providers::Diagnostic>> {
        let connection = self.connection(id_or_name).await?;
        Ok(self.registry.diagnostics(&connection))
    }

    /// Every VM of a connection that matches `filter`, all pages, in the
    /// provider's order (inventory path for vSphere).
    pub async fn list_vms(&self, id_or_name: &str, filter: VmFilter) -> Result<Vec<VmInfo>> {
        let provider = self.provider(id_or_name).await?;
        let filter = VmFilter {
            text: filter
                .text
                .map(|f| f.trim().to_owned())
                .filter(|f| !f.is_empty()),
            ..filter
        };
        let cancel = tokio_util::sync::CancellationToken::new();
        let mut vms = Vec::new();
        let mut cursor = None;
        loop {
            let page = provider.list_vms(&filter, cursor.take(), &cancel).await?;
            vms.extend(page.vms);
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(vms),
            }
        }
    }

    /// [`Core::list_vms`], waiting until no row has `details_pending` (a
    /// provider that answers with the listing first fills the rest in behind
    /// it): for callers that print or use every column, such as `hyperctl`.
    /// Gives up waiting after two minutes and returns the rows as they are.
    pub async fn list_vms_with_details(
        &self,
        id_or_name: &str,
        filter: VmFilter,
    ) -> Result<Vec<VmInfo>> {
        let started = std::time::Instant::now();
        loop {
            let vms = self.list_vms(id_or_name, filter.clone()).await?;
            if !vms.iter().any(|vm| vm.details_pending)
                || started.elapsed() > std::time::Duration::from_secs(120)
            {
                return Ok(vms);
            }
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        }
    }

    /// Checks what can be checked: that the endpoint answers, that the secret
    /// is in the keyring, and — when this build has the provider — that it
    /// signs in. Problems are reported as failed checks, not as errors.
    pub async fn test_connection(&self, id_or_name: &str) -> Result<ConnectionTestResult> {
        let connection = self.connection(id_or_name).await?;
        let mut checks: Vec<TestCheck> = probe_endpoint(&connection).await.into_iter().collect();

        let secrets = match self.connection_secrets(&connection).await {
            Ok(secrets) => {
                let missing: Vec<&str> = connection
                    .secret_options
                    .iter()
                    .filter(|k| !secrets.options.contains_key(*k))
                    .map(String::as_str)
                    .collect();
                let main_missing = connection.has_secret && secrets.main.is_none();
                let detail = if main_missing {
                    "missing: the keyring entry was removed outside HyperSDK; edit the connection to set it again".to_owned()
                } else if !missing.is_empty() {
                    format!(
                        "missing: {} (removed outside HyperSDK); edit the connection to set it again",
                        missing.join(", ")
                    )
                } else if secrets.main.is_some() || !secrets.options.is_empty() {
                    "found".to_owned()
                } else {
                    "none saved for this connection".to_owned()
                };
                let ok = !main_missing && missing.is_empty();
                checks.push(TestCheck {
                    name: "Secret in OS keyring".into(),
                    ok,
                    detail,
                    fingerprint: None,
                    pin_option: None,
                    skipped: false,
                    // Editing the connection is what sets it again.
                    code: (!ok).then(|| "secret_missing".to_owned()),
                });
                secrets
            }
            Err(e) => {
                checks.push(TestCheck {
                    code: Some(e.code().to_owned()),
                    ..TestCheck::failed("Secret in OS keyring", e.to_string())
                });
                Secrets::default()
            }
        };

        checks.extend(self.sign_in_checks(&connection, secrets).await?);
        Ok(ConnectionTestResult {
            ok: checks.iter().all(|c| c.ok),
            checks,
        })
    }

    /// Tests what a connection form holds before it is saved, so saving an
    /// unreachable or refused connection can be asked about first. `id` is the
    /// connection being edited: its stored secrets stand in for those the form
    /// leaves out (as saving would keep them). Nothing is written anywhere.
    pub async fn test_connection_input(
        &self,
        id: Option<&str>,
        input: ConnectionInput,
    ) -> Result<ConnectionTestResult> {
        let valid = validate(input)?;
        // What saving would refuse, it refuses here too, before any network round trip.
        let (name, own) = (valid.name.clone(), id.map(str::to_owned));
        if self
            .with_store(move |store| store.connection_name_taken(&name, own.as_deref()))
            .await?
        {
            return Err(CoreError::ConnectionNameTaken(valid.name));
        }
        let (existing, stored) = match id {
            Some(id) => {
                let existing = self.connection(id).await?;
                let stored = self.connection_secrets(&existing).await?;
                (Some(existing), stored)
            }
            None => (None, Secrets::default()),
        };
        let mut options = stored.options;
        for (key, value) in valid.secret_options {
            if value.is_empty() {
                options.remove(&key);
            } else {
                options.insert(key, value);
            }
        }
        let secrets = Secrets {
            main: valid.secret.or(stored.main),
            options,
        };
        let now = Utc::now();
        let connection = Connection {
            // Providers key their sessions and logs by id; an unsaved one has none yet.
            id: existing
                .as_ref()
                .map_or_else(|| "unsaved".to_owned(), |c| c.id.clone()),
            kind: valid.kind,
            name: valid.name,
            endpoint: valid.endpoint,
            username: valid.username,
            options: valid.options,
            has_secret: secrets.main.is_some(),
            secret_options: secrets.options.keys().cloned().collect(),
            tls_fingerprint: valid.tls_fingerprint,
            created_at: existing.as_ref().map_or(now, |c| c.created_at),
            updated_at: now,
        };
        let mut checks: Vec<TestCheck> = probe_endpoint(&connection).await.into_iter().collect();
        checks.extend(self.sign_in_checks(&connection, secrets).await?);
        Ok(ConnectionTestResult {
            ok: checks.iter().all(|c| c.ok),
            checks,
        })
    }

    /// The provider's own checks (TLS, sign-in, data path), or why they
    /// cannot run in this build.
    async fn sign_in_checks(
        &self,
        connection: &Connection,
        secrets: Secrets,
    ) -> Result<Vec<TestCheck>> {
        if !self.registry.has(connection.kind) {
            return Ok(vec![TestCheck::not_checked(
                "Sign in",
                &format!(
                    "signing in to {} is not available in this build yet",
                    kinds::display_name(connection.kind)
                ),
            )]);
        }
        let provider = self.registry.connect(connection, secrets)?;
        provider.validate(&CancellationToken::new()).await
    }
}

/// `None` for a connection with no endpoint of its own (a cloud's default
/// endpoints, which its provider's own checks reach).
async fn probe_endpoint(connection: &Connection) -> Option<TestCheck> {
    if connection.endpoint.is_empty() {
        return None;
    }
    Some(probe_endpoint_url(connection).await)
}

async fn probe_endpoint_url(connection: &Connection) -> TestCheck {
    let name = "Endpoint reachable".to_owned();
    let url = match Url::parse(&connection.endpoint) {
        Ok(url) => url,
        Err(e) => {
            return TestCheck {
                name,
                ok: false,
                detail: format!("stored endpoint is invalid: {e}"),
                fingerprint: None,
                pin_option: None,
                skipped: false,
                code: None,
            };
        }
    };
    let host = url
        .host_str()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let port = url.port().unwrap_or_else(|| {
        if url.scheme() == "http" {
            80
        } else {
            kinds::default_port(connection.kind)
        }
    });
    let started = Instant::now();
    match tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio::net::TcpStream::connect((host.as_str(), port)),
    )
    .await
    {
        Ok(Ok(_)) => TestCheck {
            name,
            ok: true,
            detail: format!(
                "{host}:{port} answered in {} ms",
                started.elapsed().as_millis()
            ),
            fingerprint: None,
            pin_option: None,
            skipped: false,
            code: None,
        },
        Ok(Err(e)) => TestCheck {
            name,
            ok: false,
            detail: format!("cannot connect to {host}:{port}: {e}"),
            fingerprint: None,
            pin_option: None,
            skipped: false,
            code: None,
        },
        Err(_) => TestCheck {
            name,
            ok: false,
            detail: format!(
                "no answer from {host}:{port} within {} s",
                CONNECT_TIMEOUT.as_secs()
            ),
            fingerprint: None,
            pin_option: None,
            skipped: false,
            code: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_normalised() {
        let ok = [
            ("vc.example.com", "https://vc.example.com"),
            ("  vc.example.com:8443 ", "https://vc.example.com:8443"),
            ("https://vc.example.com/sdk", "https://vc.example.com/sdk"),
            ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
            ("https://[::1]:8006", "https://[::1]:8006"),
        ];
        for (raw, want) in ok {
            assert_eq!(normalize_endpoint(raw).expect(raw), want);
        }
    }

    #[test]
    fn bad_endpoints_are_refused_with_a_reason() {
        let bad = [
            ("", "required"),
            ("   ", "required"),
            ("vc.example.com:70000", "port out of range"),
            ("vc.example.com:0", "port out of range"),
            ("ftp://vc.example.com", "https://"),
            ("https://", "no host"),
            ("https://admin:pw@vc.example.com", "own fields"),
            (
                "https://acct.blob.core.windows.net/?sig=abc",
                "query string",
            ),
            ("vc example.com", "not a valid"),
        ];
        for (raw, want) in bad {
            let err = normalize_endpoint(raw).expect_err(raw);
            assert_eq!(err.code(), "invalid_endpoint", "{raw}");
            assert!(err.to_string().contains(want), "{raw}: {err}");
        }
    }

    fn input(kind: ProviderKind) -> ConnectionInput {
        ConnectionInput {
            kind,
            name: " prod ".into(),
            endpoint: "vc.example.com".into(),
            username: "admin".into(),
            secret: Some(Secret::new("pw")),
            secret_options: Default::default(),
            options: BTreeMap::new(),
            tls_fingerprint: None,
        }
    }

    #[test]
    fn fingerprints_are_normalised_or_refused() {
        let hex = "ab".repeat(32);
        let colons = vec!["AB"; 32].join(":");
        assert_eq!(
            normalize_fingerprint(&colons).expect("colons"),
            Some(hex.clone())
        );
        assert_eq!(
            normalize_fingerprint(&format!(" {hex} ")).expect("plain"),
            Some(hex)
        );
        assert_eq!(normalize_fingerprint("").expect("empty"), None);
        for bad in ["abc", &"zz".repeat(32), &"ab".repeat(20)] {
            assert_eq!(
                normalize_fingerprint(bad).expect_err(bad).code(),
                "invalid_fingerprint"
            );
        }
    }

    #[test]
    fn names_usernames_and_options_are_checked() {
        assert_eq!(
            validate(input(ProviderKind::Vsphere)).expect("valid").name,
            "prod"
        );
        let mut i = input(ProviderKind::Vsphere);
        i.name = "  ".into();
        assert_eq!(validate(i).expect_err("empty").code(), "invalid_name");
        let mut i = input(ProviderKind::Vsphere);
        i.name = "x".repeat(101);
        assert_eq!(validate(i).expect_err("long").code(), "invalid_name");
        let mut i = input(ProviderKind::Vsphere);
        i.username = String::new();
        assert_eq!(validate(i).expect_err("user").code(), "invalid_username");
        let mut i = input(ProviderKind::Vsphere);
        i.options.insert("region".into(), "x".into());
        let err = validate(i).expect_err("unknown option");
        assert!(err.to_string().contains("known: datacenter"), "{err}");
        // Azure needs its tenant and subscription.
        let err = validate(input(ProviderKind::Azure)).expect_err("azure tenant");
        assert_eq!(err.code(), "invalid_option");
        // AWS: values trimmed, empty optional ones dropped.
        let mut i = input(ProviderKind::Aws);
        i.options.insert("regions".into(), " eu-west-1 ".into());
        i.options.insert("profile".into(), "  ".into());
        let v = validate(i).expect("aws");
        assert_eq!(
            v.options.get("regions").map(String::as_str),
            Some("eu-west-1")
        );
        assert!(
            !v.options.contains_key("profile"),
            "empty optional values are dropped"
        );
    }

    #[test]
    fn an_empty_secret_means_no_secret() {
        let mut i = input(ProviderKind::Vsphere);
        i.secret = Some(Secret::new(""));
        assert!(validate(i).expect("valid").secret.is_none());
    }
}

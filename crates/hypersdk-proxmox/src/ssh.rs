//! The SSH data path: `vzdump VMID --stdout …` on a PVE node, its stdout streamed.
//!
//! PVE has no HTTPS endpoint that returns a backup (see `shared/providers/proxmox.md` §2), so
//! the bytes come over an SSH exec channel. This module knows nothing about vzdump itself: it
//! connects (host key pinned like our TLS certificates, trust on first use), runs one command
//! per channel and hands back
//!
//! * stdout as a [`tokio::io::AsyncRead`] with bounded buffering, so a slow consumer slows the
//!   node down instead of filling our memory;
//! * stderr line by line (vzdump's `INFO:  42% (…)` progress) on a channel, the last lines
//!   kept for error messages;
//! * the exit status, where a channel that ends without one (sshd killed, network gone) is an
//!   error, never a success;
//! * cancellation that closes the channel, which makes a watcher on the node send SIGTERM to
//!   the command's process group ([`WATCHDOG`]), and drops the connection.
//!
//! An SFTP download with resume is the fallback when `--stdout` is not allowed (§5b).
//!
//! Built on russh (pure Rust, async) with the `ring` backend the workspace already compiles
//! for rustls; no C SSH library.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use russh::client::{self, AuthResult, KeyboardInteractiveAuthResponse};
use russh::keys::{HashAlg, PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};
use russh::{ChannelMsg, Disconnect, Sig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, DropGuard};

pub type Result<T, E = SshError> = std::result::Result<T, E>;

/// The port sshd listens on unless the connection says otherwise.
pub const DEFAULT_PORT: u16 = 22;
/// TCP connect, key exchange and authentication together must finish within this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);
/// A keepalive goes out after this long without traffic from the server …
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// … and this many unanswered ones in a row end the session: a dead node is noticed within
/// about a minute, while a node busy snapshotting a large VM (silent for a while) is not cut off.
const KEEPALIVE_MAX: usize = 4;
/// How many stdout chunks (at most one SSH packet, 32 KiB, each) wait for the consumer. With
/// russh's own per-channel queue this bounds what a slow consumer makes us hold to a few MiB;
/// beyond that russh stops reading the socket and TCP pushes back on the node.
const STDOUT_QUEUE: usize = 16;
/// russh's per-channel message queue (its default is 100 packets, 3 MiB).
const CHANNEL_BUFFER: usize = 32;
/// stderr lines queued for the caller; a caller that does not keep up loses lines (counted),
/// never blocks stdout.
const STDERR_QUEUE: usize = 256;
/// stderr lines kept for error messages.
const STDERR_TAIL: usize = 20;
/// A stderr "line" longer than this is cut, so a peer that never sends a newline cannot make
/// us buffer without bound.
const STDERR_LINE_MAX: usize = 4096;
/// Closing a channel or a session is best effort: a node that does not take the message
/// within this long is left to its TCP timeout.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);
/// SFTP reads per request; russh-sftp pipelines several of them.
const SFTP_CHUNK: usize = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// Target

/// Where to connect and how to sign in.
#[derive(Clone, PartialEq, Eq)]
pub struct SshTarget {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub auth: SshAuth,
    /// The pinned host key fingerprint, `SHA256:<base64>` as `ssh-keygen -lf` prints it, or
    /// 64 hex digits (colons optional). `None` refuses every key, reporting the one presented
    /// ([`SshError::HostKeyUntrusted`]) so the UI can ask the user to pin it.
    pub host_key: Option<String>,
}

impl SshTarget {
    pub fn new(host: impl Into<String>, user: impl Into<String>, auth: SshAuth) -> Self {
        SshTarget {
            host: host.into(),
            port: DEFAULT_PORT,
            user: user.into(),
            auth,
            host_key: None,
        }
    }

    pub fn with_port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    pub fn with_host_key(mut self, fingerprint: impl Into<String>) -> Self {
        self.host_key = Some(fingerprint.into());
        self
    }

    /// `host:port`, with brackets around an IPv6 address, for messages.
    pub fn endpoint(&self) -> String {
        endpoint(&self.host, self.port)
    }
}

// Secrets never reach logs: only the method and whether a passphrase is set are shown.
impl fmt::Debug for SshTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("auth", &self.auth)
            .field("host_key", &self.host_key)
            .finish()
    }
}

/// How to authenticate. Both hold secrets: their `Debug` shows neither.
#[derive(Clone, PartialEq, Eq)]
pub enum SshAuth {
    /// A private key in OpenSSH, PEM (PKCS#1/PKCS#8) or PuTTY format.
    Key {
        pem: String,
        passphrase: Option<String>,
    },
    Password(String),
}

impl SshAuth {
    /// The SSH method name, as the server and `ssh -v` call it.
    pub fn method(&self) -> &'static str {
        match self {
            SshAuth::Key { .. } => "publickey",
            SshAuth::Password(_) => "password",
        }
    }
}

impl fmt::Debug for SshAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SshAuth::Key { passphrase, .. } => f
                .debug_struct("Key")
                .field("pem", &"<redacted>")
                .field("passphrase", &passphrase.as_ref().map(|_| "<redacted>"))
                .finish(),
            SshAuth::Password(_) => f.debug_tuple("Password").field(&"<redacted>").finish(),
        }
    }
}

fn endpoint(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SshError {
    #[error("invalid SSH connection settings: {0}")]
    InvalidTarget(String),
    #[error("the pinned SSH host key fingerprint is not valid: {0}")]
    InvalidFingerprint(String),
    /// The private key could not be read: not a key, or the passphrase is wrong or missing.
    #[error("the SSH private key cannot be used: {0}")]
    InvalidKey(String),
    #[error("cannot reach {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("no answer from {endpoint} within {seconds} s ({stage})")]
    Timeout {
        endpoint: String,
        seconds: u64,
        stage: &'static str,
    },
    /// No fingerprint pinned: the key is shown so the user can check and pin it.
    #[error(
        "the SSH host key of {endpoint} is not trusted yet: its {algorithm} key has the \
         fingerprint {fingerprint}; pin it on the connection if it matches the node's \
         (`ssh-keygen -lf /etc/ssh/ssh_host_{}_key.pub` on the node)",
        key_file_stem(algorithm)
    )]
    HostKeyUntrusted {
        endpoint: String,
        algorithm: String,
        fingerprint: String,
    },
    /// A fingerprint is pinned and the server presented another key.
    #[error(
        "the SSH host key of {endpoint} has changed: the pinned fingerprint is {pinned}, the \
         server presented {presented}; the connection was refused"
    )]
    HostKeyChanged {
        endpoint: String,
        pinned: String,
        presented: String,
    },
    #[error("SSH sign-in to {endpoint} as {user} with {method} failed: {detail}")]
    AuthFailed {
        endpoint: String,
        user: String,
        method: &'static str,
        detail: String,
    },
    /// The server refused a channel, a command or a subsystem.
    #[error("{0}")]
    Channel(String),
    /// The peer broke the SSH protocol or sent something unusable.
    #[error("SSH protocol error: {0}")]
    Protocol(String),
    /// The connection ended before the command reported how it exited. Retryable.
    #[error("the SSH connection to {endpoint} was lost: {detail}")]
    Disconnected { endpoint: String, detail: String },
    #[error("cancelled")]
    Cancelled,
    /// The remote command exited non-zero or was killed by a signal.
    #[error("{}", exit_message(command, *status, signal.as_deref(), stderr_tail))]
    ExitStatus {
        command: String,
        status: Option<u32>,
        signal: Option<String>,
        stderr_tail: Vec<String>,
    },
    /// An SFTP request failed (no such file, permission denied, …).
    #[error("SFTP: {0}")]
    Sftp(String),
    /// A local file could not be written.
    #[error("{path}: {detail}")]
    Io { path: String, detail: String },
}

impl SshError {
    /// Stable snake_case code that scripts and the UI can branch on.
    pub fn code(&self) -> &'static str {
        match self {
            SshError::InvalidTarget(_) => "invalid_target",
            SshError::InvalidFingerprint(_) => "invalid_fingerprint",
            SshError::InvalidKey(_) => "invalid_key",
            SshError::Unreachable { .. } => "unreachable",
            SshError::Timeout { .. } => "timeout",
            SshError::HostKeyUntrusted { .. } => "host_key_untrusted",
            SshError::HostKeyChanged { .. } => "host_key_changed",
            SshError::AuthFailed { .. } => "auth_failed",
            SshError::Channel(_) => "channel",
            SshError::Protocol(_) => "protocol",
            SshError::Disconnected { .. } => "disconnected",
            SshError::Cancelled => "cancelled",
            SshError::ExitStatus { .. } => "exit_status",
            SshError::Sftp(_) => "sftp",
            SshError::Io { .. } => "io",
        }
    }

    /// The fingerprint the server presented, for the errors that carry one.
    pub fn fingerprint(&self) -> Option<&str> {
        match self {
            SshError::HostKeyUntrusted { fingerprint, .. } => Some(fingerprint),
            SshError::HostKeyChanged { presented, .. } => Some(presented),
            _ => None,
        }
    }

    /// Whether trying the same thing again later may work (network trouble, not settings).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            SshError::Unreachable { .. } | SshError::Timeout { .. } | SshError::Disconnected { .. }
        )
    }

    /// The `SshError` inside an error returned by [`ExecStream`]'s `AsyncRead`, if any.
    pub fn from_io(err: &io::Error) -> Option<&SshError> {
        err.get_ref()
            .and_then(|inner| inner.downcast_ref::<SshError>())
    }

    fn into_io(self) -> io::Error {
        let kind = match self {
            SshError::Disconnected { .. } => io::ErrorKind::ConnectionAborted,
            // Not `Interrupted`: `read_to_end` and friends retry that one.
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

fn key_file_stem(algorithm: &str) -> &'static str {
    match algorithm {
        a if a.starts_with("ssh-ed25519") => "ed25519",
        a if a.starts_with("ecdsa") => "ecdsa",
        a if a.starts_with("rsa") || a.starts_with("ssh-rsa") => "rsa",
        _ => "*",
    }
}

fn exit_message(
    command: &str,
    status: Option<u32>,
    signal: Option<&str>,
    stderr_tail: &[String],
) -> String {
    let how = match (status, signal) {
        (_, Some(sig)) => format!("was killed by signal {sig}"),
        (Some(code), None) => format!("exited with status {code}"),
        (None, None) => "ended without an exit status".to_owned(),
    };
    // The line that says why: vzdump (like most PVE tools) prefixes it with `ERROR:` and
    // follows it with bookkeeping (`INFO: Failed at …`, `job errors`), so the last such line
    // beats the last lines. Otherwise the last few lines, which is where errors end up.
    let why: Vec<&str> = match stderr_tail
        .iter()
        .rev()
        .find(|l| l.trim_start().to_ascii_lowercase().starts_with("error"))
    {
        Some(line) => vec![line.as_str()],
        None => {
            let mut last: Vec<&str> = stderr_tail
                .iter()
                .rev()
                .filter(|l| !l.trim().is_empty())
                .take(3)
                .map(String::as_str)
                .collect();
            last.reverse();
            last
        }
    };
    let program = command.split_whitespace().next().unwrap_or(command);
    if why.is_empty() {
        format!("`{program}` on the node {how}")
    } else {
        format!("`{program}` on the node {how}: {}", why.join(" / "))
    }
}

// ---------------------------------------------------------------------------------------------
// Host key fingerprints

/// The SHA-256 fingerprint of a host key, as OpenSSH prints it: `SHA256:<base64, no padding>`.
fn fingerprint_string(digest: &[u8; 32]) -> String {
    russh::keys::ssh_key::Fingerprint::Sha256(*digest).to_string()
}

/// Parses a pinned fingerprint: `SHA256:<base64>` (the `SHA256:` may be left out) or 64 hex
/// digits, colons and case not mattering (`AB:CD:…` as some tools show SHA-256 digests).
pub fn parse_fingerprint(text: &str) -> Result<[u8; 32]> {
    let text = text.trim();
    let invalid = |why: &str| SshError::InvalidFingerprint(format!("{why}: {text:?}"));
    if text.starts_with("MD5:") {
        return Err(invalid(
            "MD5 fingerprints are not accepted, use the SHA256 one (`ssh-keygen -lf`)",
        ));
    }
    let hex_digits: String = text.chars().filter(|c| *c != ':').collect();
    if hex_digits.len() == 64 && hex_digits.chars().all(|c| c.is_ascii_hexdigit()) {
        let mut digest = [0u8; 32];
        hex::decode_to_slice(&hex_digits, &mut digest)
            .map_err(|e| invalid(&format!("bad hex ({e})")))?;
        return Ok(digest);
    }
    let with_prefix = if text.starts_with("SHA256:") {
        text.to_owned()
    } else {
        format!("SHA256:{text}")
    };
    match with_prefix.parse::<russh::keys::ssh_key::Fingerprint>() {
        Ok(fp) => fp
            .sha256()
            .ok_or_else(|| invalid("not a SHA-256 fingerprint")),
        Err(_) => Err(invalid(
            "expected SHA256:<base64> as `ssh-keygen -lf` prints it, or 64 hex digits",
        )),
    }
}

/// Prints a fingerprint in the one canonical form the app stores and shows.
pub fn normalize_fingerprint(text: &str) -> Result<String> {
    parse_fingerprint(text).map(|d| fingerprint_string(&d))
}

/// The key a server presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeyInfo {
    /// `ssh-ed25519`, `ecdsa-sha2-nistp256`, `rsa-sha2-512`, …
    pub algorithm: String,
    /// `SHA256:<base64>`.
    pub fingerprint: String,
}

fn presented_key(key: &PublicKeyOrCertificate) -> Option<([u8; 32], String)> {
    let (fp, algorithm) = match key {
        PublicKeyOrCertificate::PublicKey { key, .. } => (
            key.fingerprint(HashAlg::Sha256),
            key.algorithm().to_string(),
        ),
        // A host certificate: pin the key it certifies (what `ssh-keygen -lf` shows for it).
        PublicKeyOrCertificate::Certificate(cert) => (
            cert.public_key().fingerprint(HashAlg::Sha256),
            cert.algorithm().to_string(),
        ),
    };
    fp.sha256().map(|d| (d, algorithm))
}

// ---------------------------------------------------------------------------------------------
// Connection

/// What the russh handler found out, shared with the code that awaits it.
#[derive(Default)]
struct Shared {
    /// Why the session ended, as russh or the server told us.
    disconnect: Mutex<Option<String>>,
}

impl Shared {
    fn disconnect_reason(&self) -> Option<String> {
        self.disconnect.lock().ok().and_then(|g| g.clone())
    }
}

/// The handler's error: ours (host key verdicts) or russh's, which [`connect`] turns into an
/// [`SshError`] with the endpoint it lacks here.
#[derive(Debug)]
enum HandlerError {
    Ssh(SshError),
    Russh(russh::Error),
}

impl From<russh::Error> for HandlerError {
    fn from(e: russh::Error) -> Self {
        HandlerError::Russh(e)
    }
}

struct Handler {
    endpoint: String,
    pin: Option<[u8; 32]>,
    shared: Arc<Shared>,
}

impl client::Handler for Handler {
    type Error = HandlerError;

    async fn check_server_key(
        &mut self,
        server_public_key: &PublicKeyOrCertificate,
    ) -> Result<bool, Self::Error> {
        let Some((digest, algorithm)) = presented_key(server_public_key) else {
            return Err(HandlerError::Ssh(SshError::Protocol(
                "could not compute the host key's SHA-256 fingerprint".into(),
            )));
        };
        let presented = fingerprint_string(&digest);
        match self.pin {
            // Constant-time comparison is not needed: the presented key is public.
            Some(pin) if pin == digest => Ok(true),
            Some(pin) => Err(HandlerError::Ssh(SshError::HostKeyChanged {
                endpoint: self.endpoint.clone(),
                pinned: fingerprint_string(&pin),
                presented,
            })),
            None => Err(HandlerError::Ssh(SshError::HostKeyUntrusted {
                endpoint: self.endpoint.clone(),
                algorithm,
                fingerprint: presented,
            })),
        }
    }

    async fn disconnected(
        &mut self,
        reason: client::DisconnectReason<Self::Error>,
    ) -> Result<(), Self::Error> {
        let (text, result) = match reason {
            client::DisconnectReason::ReceivedDisconnect(info) => (
                format!("the server closed the connection ({})", info.message),
                Ok(()),
            ),
            client::DisconnectReason::Error(e) => (describe_handler_error(&e), Err(e)),
        };
        if let Ok(mut slot) = self.shared.disconnect.lock() {
            slot.get_or_insert(text);
        }
        result
    }
}

fn describe_handler_error(e: &HandlerError) -> String {
    match e {
        HandlerError::Ssh(e) => e.to_string(),
        HandlerError::Russh(russh::Error::KeepaliveTimeout) => {
            "the node stopped answering keepalives".into()
        }
        HandlerError::Russh(russh::Error::IO(io)) => describe_io(io),
        HandlerError::Russh(russh::Error::HUP) => "the node closed the connection".into(),
        HandlerError::Russh(e) => e.to_string(),
    }
}

/// Socket errors in words a user can act on; the OS text stays in brackets.
fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::UnexpectedEof => {
            format!(
                "the connection ended without a goodbye: sshd was stopped or the network dropped ({e})"
            )
        }
        io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe => {
            format!("the connection was reset ({e})")
        }
        _ => e.to_string(),
    }
}

fn map_handler_error(endpoint: &str, e: HandlerError) -> SshError {
    match e {
        HandlerError::Ssh(e) => e,
        HandlerError::Russh(e) => map_russh(endpoint, e),
    }
}

fn map_russh(endpoint: &str, e: russh::Error) -> SshError {
    let disconnected = |detail: String| SshError::Disconnected {
        endpoint: endpoint.to_owned(),
        detail,
    };
    match e {
        russh::Error::IO(io) => disconnected(describe_io(&io)),
        russh::Error::Disconnect | russh::Error::HUP => {
            disconnected("the node closed the connection".into())
        }
        russh::Error::KeepaliveTimeout => {
            disconnected("the node stopped answering keepalives".into())
        }
        russh::Error::ConnectionTimeout | russh::Error::InactivityTimeout => {
            disconnected(e.to_string())
        }
        russh::Error::SendError | russh::Error::RecvError => {
            disconnected("the SSH session has ended".into())
        }
        russh::Error::ChannelOpenFailure(reason) => {
            SshError::Channel(format!("{endpoint} refused to open a channel: {reason:?}"))
        }
        other => SshError::Protocol(format!("{endpoint}: {other}")),
    }
}

fn client_config() -> client::Config {
    client::Config {
        keepalive_interval: Some(KEEPALIVE_INTERVAL),
        keepalive_max: KEEPALIVE_MAX,
        channel_buffer_size: CHANNEL_BUFFER,
        // Bulk data, but small control messages (close, signal) should not wait for Nagle.
        nodelay: true,
        ..client::Config::default()
    }
}

/// Runs `fut` unless `cancel` fires or [`CONNECT_TIMEOUT`] passes first.
async fn bounded<T>(
    endpoint: &str,
    stage: &'static str,
    cancel: &CancellationToken,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(SshError::Cancelled),
        r = tokio::time::timeout(CONNECT_TIMEOUT, fut) => r.unwrap_or_else(|_| Err(SshError::Timeout {
            endpoint: endpoint.to_owned(),
            seconds: CONNECT_TIMEOUT.as_secs(),
            stage,
        })),
    }
}

/// TCP connect and SSH handshake, with the host key checked against `pin`.
async fn handshake(
    host: &str,
    port: u16,
    pin: Option<[u8; 32]>,
    shared: Arc<Shared>,
) -> Result<client::Handle<Handler>> {
    let endpoint = endpoint(host, port);
    let tcp = tokio::net::TcpStream::connect((host, port))
        .await
        .map_err(|e| SshError::Unreachable {
            endpoint: endpoint.clone(),
            detail: e.to_string(),
        })?;
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!(%endpoint, "set_nodelay failed: {e}");
    }
    let handler = Handler {
        endpoint: endpoint.clone(),
        pin,
        shared,
    };
    client::connect_stream(Arc::new(client_config()), tcp, handler)
        .await
        .map_err(|e| match map_handler_error(&endpoint, e) {
            // A server that drops us during key exchange is reachable, but not speaking SSH
            // the way we need: say so rather than "connection lost".
            SshError::Disconnected { detail, .. } => SshError::Protocol(format!(
                "{endpoint}: the SSH handshake failed ({detail}); is this an SSH server?"
            )),
            other => other,
        })
}

fn decode_key(pem: &str, passphrase: Option<&str>) -> Result<PrivateKey> {
    russh::keys::decode_secret_key(pem, passphrase).map_err(|e| {
        SshError::InvalidKey(match e {
            russh::keys::Error::KeyIsEncrypted => {
                "the key is encrypted and no passphrase was given".into()
            }
            // The decryption fails the same way for a wrong passphrase and a damaged key.
            other if passphrase.is_some() => {
                format!("the passphrase is wrong, or the key is damaged ({other})")
            }
            other => {
                format!("not a private key in OpenSSH, PEM or PuTTY format, or damaged ({other})")
            }
        })
    })
}

fn describe_methods(methods: &russh::MethodSet) -> String {
    let names: Vec<&'static str> = methods.iter().map(<&'static str>::from).collect();
    if names.is_empty() {
        "the server accepts no further method".into()
    } else {
        format!("the server accepts: {}", names.join(", "))
    }
}

async fn authenticate(
    handle: &mut client::Handle<Handler>,
    target: &SshTarget,
    key: Option<PrivateKey>,
) -> Result<()> {
    let endpoint = target.endpoint();
    let russh_err = |e| map_russh(&endpoint, e);
    let failed = |method: &'static str, detail: String| SshError::AuthFailed {
        endpoint: endpoint.clone(),
        user: target.user.clone(),
        method,
        detail,
    };
    let result = match (&target.auth, key) {
        (SshAuth::Key { .. }, Some(key)) => {
            // RSA keys sign with SHA-2 when the server says it can (OpenSSH ≥ 7.2 does):
            // OpenSSH ≥ 8.8 refuses the old SHA-1 `ssh-rsa` signatures.
            let hash = handle
                .best_supported_rsa_hash()
                .await
                .map_err(russh_err)?
                .flatten();
            handle
                .authenticate_publickey(
                    target.user.clone(),
                    PrivateKeyWithHashAlg::new(Arc::new(key), hash),
                )
                .await
                .map_err(russh_err)?
        }
        (SshAuth::Password(password), _) => {
            let first = handle
                .authenticate_password(target.user.clone(), password.clone())
                .await
                .map_err(russh_err)?;
            match first {
                // An sshd with `PasswordAuthentication no` but PAM behind
                // `KbdInteractiveAuthentication yes` takes passwords only as a
                // keyboard-interactive prompt: answer that with the password.
                AuthResult::Failure {
                    remaining_methods, ..
                } if remaining_methods.contains(&russh::MethodKind::KeyboardInteractive) => {
                    keyboard_interactive(handle, &target.user, password)
                        .await
                        .map_err(russh_err)?
                }
                other => other,
            }
        }
        (SshAuth::Key { .. }, None) => {
            return Err(SshError::InvalidKey("the key was not loaded".into()));
        }
    };
    match result {
        AuthResult::Success => Ok(()),
        AuthResult::Failure {
            remaining_methods,
            partial_success: true,
        } => Err(failed(
            target.auth.method(),
            format!(
                "the server wants a second factor ({}), which HyperSDK cannot provide",
                describe_methods(&remaining_methods)
            ),
        )),
        AuthResult::Failure {
            remaining_methods, ..
        } => Err(failed(
            target.auth.method(),
            format!(
                "the server refused the {}; {}",
                match target.auth {
                    SshAuth::Key { .. } => "key (is it in the user's authorized_keys?)",
                    SshAuth::Password(_) => "password",
                },
                describe_methods(&remaining_methods)
            ),
        )),
    }
}

async fn keyboard_interactive(
    handle: &mut client::Handle<Handler>,
    user: &str,
    password: &str,
) -> Result<AuthResult, russh::Error> {
    let mut reply = handle
        .authenticate_keyboard_interactive_start(user.to_owned(), None)
        .await?;
    // PAM may send an empty info request before the prompt; a few rounds are plenty, and a
    // server that keeps asking is not asking for a password.
    for _ in 0..4 {
        match reply {
            KeyboardInteractiveAuthResponse::Success => return Ok(AuthResult::Success),
            KeyboardInteractiveAuthResponse::Failure {
                remaining_methods,
                partial_success,
            } => {
                return Ok(AuthResult::Failure {
                    remaining_methods,
                    partial_success,
                });
            }
            KeyboardInteractiveAuthResponse::InfoRequest { prompts, .. } => {
                let answers = prompts
                    .iter()
                    .map(|p| {
                        if p.echo {
                            String::new()
                        } else {
                            password.to_owned()
                        }
                    })
                    .collect();
                reply = handle
                    .authenticate_keyboard_interactive_respond(answers)
                    .await?;
            }
        }
    }
    Ok(AuthResult::Failure {
        remaining_methods: russh::MethodSet::empty(),
        partial_success: false,
    })
}

/// Connects, checks the host key against `target.host_key`, and signs in.
///
/// Cancelling `cancel` aborts the attempt and, once connected, closes the session and every
/// command running on it.
pub async fn connect(target: &SshTarget, cancel: &CancellationToken) -> Result<SshSession> {
    if target.host.trim().is_empty() {
        return Err(SshError::InvalidTarget("no host given".into()));
    }
    if target.user.trim().is_empty() {
        return Err(SshError::InvalidTarget("no user given".into()));
    }
    if target.port == 0 {
        return Err(SshError::InvalidTarget("port 0".into()));
    }
    let pin = target
        .host_key
        .as_deref()
        .filter(|s| !s.trim().is_empty())
        .map(parse_fingerprint)
        .transpose()?;
    // The key is decoded before any network traffic: a wrong passphrase is a settings error,
    // reported the same whether or not the node is up.
    let key = match &target.auth {
        SshAuth::Key { pem, passphrase } => Some(decode_key(pem, passphrase.as_deref())?),
        SshAuth::Password(_) => None,
    };
    let endpoint = target.endpoint();
    let shared = Arc::new(Shared::default());
    let mut handle = bounded(
        &endpoint,
        "connect",
        cancel,
        handshake(&target.host, target.port, pin, shared.clone()),
    )
    .await?;
    bounded(
        &endpoint,
        "authentication",
        cancel,
        authenticate(&mut handle, target, key),
    )
    .await?;

    let handle = Arc::new(handle);
    let token = cancel.child_token();
    // Closes the session when the caller cancels or the last user of it goes away (the guard
    // in `Inner` fires on drop), so the node's sshd and the command see the end promptly.
    tokio::spawn({
        let handle = handle.clone();
        let token = token.clone();
        async move {
            token.cancelled().await;
            let _ = tokio::time::timeout(
                CLOSE_TIMEOUT,
                handle.disconnect(Disconnect::ByApplication, "closed by HyperSDK", "en"),
            )
            .await;
        }
    });
    Ok(SshSession {
        inner: Arc::new(Inner {
            handle,
            endpoint,
            shared,
            user_cancel: cancel.clone(),
            token: token.clone(),
            _guard: token.drop_guard(),
        }),
    })
}

/// Connects only far enough to see the host key: for a connection test on first contact,
/// to show the user the fingerprint to pin.
pub async fn fingerprint_of(
    host: &str,
    port: u16,
    cancel: &CancellationToken,
) -> Result<HostKeyInfo> {
    let endpoint = endpoint(host, port);
    let shared = Arc::new(Shared::default());
    match bounded(
        &endpoint,
        "connect",
        cancel,
        handshake(host, port, None, shared),
    )
    .await
    {
        Err(SshError::HostKeyUntrusted {
            algorithm,
            fingerprint,
            ..
        }) => Ok(HostKeyInfo {
            algorithm,
            fingerprint,
        }),
        Err(e) => Err(e),
        // With no pin every key is refused, so this cannot happen; if it ever did the key
        // was not seen, which is an error for a probe.
        Ok(_) => Err(SshError::Protocol(format!(
            "{endpoint}: the handshake finished without showing a host key"
        ))),
    }
}

struct Inner {
    handle: Arc<client::Handle<Handler>>,
    endpoint: String,
    shared: Arc<Shared>,
    /// The caller's token: its firing is reported as [`SshError::Cancelled`].
    user_cancel: CancellationToken,
    /// Fires on user cancel and when the session is dropped.
    token: CancellationToken,
    _guard: DropGuard,
}

/// A signed-in SSH connection. Cheap to clone; the connection closes when the last clone and
/// the last [`ExecStream`] are gone, or when the token given to [`connect`] fires.
#[derive(Clone)]
pub struct SshSession {
    inner: Arc<Inner>,
}

impl fmt::Debug for SshSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshSession")
            .field("endpoint", &self.inner.endpoint)
            .finish_non_exhaustive()
    }
}

impl SshSession {
    pub fn endpoint(&self) -> &str {
        &self.inner.endpoint
    }

    /// Whether the connection has ended (cancelled, closed by the node, network gone).
    pub fn is_closed(&self) -> bool {
        self.inner.handle.is_closed()
    }

    fn lost(&self, fallback: &str) -> SshError {
        if self.inner.user_cancel.is_cancelled() {
            return SshError::Cancelled;
        }
        SshError::Disconnected {
            endpoint: self.inner.endpoint.clone(),
            detail: self
                .inner
                .shared
                .disconnect_reason()
                .unwrap_or_else(|| fallback.to_owned()),
        }
    }

    async fn open_channel(&self) -> Result<russh::Channel<client::Msg>> {
        let fut = async {
            self.inner.handle.channel_open_session().await.map_err(|e| {
                match map_russh(&self.inner.endpoint, e) {
                    SshError::Disconnected { .. } => self.lost("the SSH session has ended"),
                    other => other,
                }
            })
        };
        bounded(&self.inner.endpoint, "open channel", &self.inner.token, fut)
            .await
            .map_err(|e| self.cancelled_or(e))
    }

    fn cancelled_or(&self, e: SshError) -> SshError {
        match e {
            // The session token also fires when the session is dropped; only the caller's
            // token means "cancelled" to the caller.
            SshError::Cancelled if !self.inner.user_cancel.is_cancelled() => {
                self.lost("the SSH session was closed")
            }
            other => other,
        }
    }

    /// Runs `command` on the node and returns its output streams. Build `command` from
    /// validated parts with [`shell_quote`].
    ///
    /// The command runs under `sh` with [`WATCHDOG`], so closing the channel (cancel, drop,
    /// lost connection) stops it and everything it started in its process group. Its stdin is
    /// `/dev/null`.
    pub async fn exec(&self, command: &str) -> Result<ExecStream> {
        let mut channel = self.open_channel().await?;
        let endpoint = self.inner.endpoint.clone();
        let wrapped = with_watchdog(command);
        let started = async {
            channel
                .exec(true, wrapped.as_str())
                .await
                .map_err(|e| map_russh(&endpoint, e))?;
            // Wait for sshd's verdict so a refused exec is an error here, not an empty stream.
            let mut early = Vec::new();
            loop {
                match channel.wait().await {
                    Some(ChannelMsg::Success) => break Ok(early),
                    Some(ChannelMsg::Failure) => {
                        break Err(SshError::Channel(format!(
                            "{endpoint} refused to run the command"
                        )));
                    }
                    Some(ChannelMsg::WindowAdjusted { .. }) => {}
                    // Nothing else should come before the reply; keep it for the pump anyway.
                    Some(other) => early.push(other),
                    None => break Err(self.lost("the channel closed before the command started")),
                }
            }
        };
        let early = bounded(&self.inner.endpoint, "exec", &self.inner.token, started)
            .await
            .map_err(|e| self.cancelled_or(e))?;

        let (stdout_tx, stdout_rx) = mpsc::channel(STDOUT_QUEUE);
        let (stderr_tx, stderr_rx) = mpsc::channel(STDERR_QUEUE);
        let end = Arc::new(OnceLock::new());
        let token = self.inner.token.child_token();
        let pump = Pump {
            session: self.clone(),
            command: command.to_owned(),
            stdout: Some(stdout_tx),
            end: end.clone(),
            stderr: StderrLines::new(stderr_tx),
            token: token.clone(),
        };
        let join = tokio::spawn(pump.run(channel, early));
        Ok(ExecStream {
            stdout: Some(stdout_rx),
            current: Bytes::new(),
            end,
            stderr: Some(stderr_rx),
            join: Some(join),
            guard: Some(token.drop_guard()),
        })
    }

    /// Runs `command`, discards its stdout and returns how it exited: for short checks
    /// (`command -v vzdump`, `id -u`).
    pub async fn run(&self, command: &str) -> Result<ExitInfo> {
        self.exec(command).await?.wait().await
    }

    /// Downloads `remote_path` over SFTP to `local_path`. With `resume`, an existing local
    /// file shorter than the remote one is continued from its end (a longer one, or one
    /// without `resume`, is started over). `progress` gets the bytes on disk so far.
    pub async fn download(
        &self,
        remote_path: &str,
        local_path: &Path,
        resume: bool,
        mut progress: impl FnMut(u64) + Send,
    ) -> Result<DownloadInfo> {
        let channel = self.open_channel().await?;
        let endpoint = self.inner.endpoint.clone();
        let sftp_err = |e: russh_sftp::client::error::Error| SshError::Sftp(sftp_message(&e));
        let local_err = |e: io::Error| SshError::Io {
            path: local_path.display().to_string(),
            detail: e.to_string(),
        };
        let work = async {
            channel
                .request_subsystem(true, "sftp")
                .await
                .map_err(|e| map_russh(&endpoint, e))?;
            let sftp = russh_sftp::client::SftpSession::new(channel.into_stream())
                .await
                .map_err(sftp_err)?;
            let mut remote = sftp.open(remote_path).await.map_err(|e| {
                SshError::Sftp(format!(
                    "cannot open {remote_path} on {endpoint}: {}",
                    sftp_message(&e)
                ))
            })?;
            let total = remote.metadata().await.map_err(sftp_err)?.size;
            let have = if resume {
                match tokio::fs::metadata(local_path).await {
                    Ok(m) => m.len(),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
                    Err(e) => return Err(local_err(e)),
                }
            } else {
                0
            };
            // A local file longer than the remote one is not a prefix of it: start over.
            let offset = match total {
                Some(total) if have <= total => have,
                None => have,
                Some(_) => 0,
            };
            let mut local = tokio::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(offset == 0)
                .open(local_path)
                .await
                .map_err(local_err)?;
            if offset > 0 {
                local
                    .seek(io::SeekFrom::Start(offset))
                    .await
                    .map_err(local_err)?;
                // Drop anything past the offset (a partial write after a crash).
                local.set_len(offset).await.map_err(local_err)?;
                remote
                    .seek(io::SeekFrom::Start(offset))
                    .await
                    .map_err(|e| SshError::Sftp(e.to_string()))?;
            }
            let mut done = offset;
            progress(done);
            let mut buf = vec![0u8; SFTP_CHUNK];
            loop {
                let n = remote
                    .read(&mut buf)
                    .await
                    .map_err(|e| SshError::Sftp(format!("reading {remote_path}: {e}")))?;
                if n == 0 {
                    break;
                }
                local
                    .write_all(buf.get(..n).unwrap_or_default())
                    .await
                    .map_err(local_err)?;
                done += n as u64;
                progress(done);
            }
            local.flush().await.map_err(local_err)?;
            local.sync_all().await.map_err(local_err)?;
            if let Some(total) = total
                && done != total
            {
                return Err(SshError::Sftp(format!(
                    "{remote_path} ended at {done} bytes of {total}"
                )));
            }
            let _ = sftp.close().await;
            Ok(DownloadInfo {
                bytes_total: done,
                resumed_from: offset,
            })
        };
        tokio::select! {
            biased;
            _ = self.inner.token.cancelled() => Err(self.cancelled_or(SshError::Cancelled)),
            r = work => r.map_err(|e| match e {
                // russh-sftp reports a dead channel as an I/O error; say what it means.
                SshError::Sftp(_) if self.is_closed() => self.lost("the SSH session has ended"),
                other => other,
            }),
        }
    }
}

/// An SFTP error without the status code repeated (`No such file: No such file`).
fn sftp_message(e: &russh_sftp::client::error::Error) -> String {
    match e {
        russh_sftp::client::error::Error::Status(status) if !status.error_message.is_empty() => {
            status.error_message.clone()
        }
        other => other.to_string(),
    }
}

/// What [`SshSession::download`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownloadInfo {
    /// Size of the local file now.
    pub bytes_total: u64,
    /// Where the transfer started (0 unless resumed).
    pub resumed_from: u64,
}

// ---------------------------------------------------------------------------------------------
// Exec streams

/// How a remote command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    pub command: String,
    /// The exit status; `None` when a signal killed it.
    pub status: Option<u32>,
    /// The signal that killed it (`TERM`, `KILL`, …).
    pub signal: Option<String>,
    /// The last stderr lines (up to 20), for error messages.
    pub stderr_tail: Vec<String>,
    /// stderr lines the caller's receiver missed because it did not keep up.
    pub stderr_lines_dropped: u64,
}

impl ExitInfo {
    pub fn success(&self) -> bool {
        self.status == Some(0) && self.signal.is_none()
    }

    /// `Ok(self)` for exit status 0, else [`SshError::ExitStatus`] with the stderr tail.
    pub fn ensure_success(self) -> Result<ExitInfo> {
        if self.success() {
            Ok(self)
        } else {
            Err(SshError::ExitStatus {
                command: self.command,
                status: self.status,
                signal: self.signal,
                stderr_tail: self.stderr_tail,
            })
        }
    }
}

/// A running remote command.
///
/// Read stdout through `AsyncRead`; take the stderr lines with [`ExecStream::take_stderr`];
/// then [`ExecStream::wait`] for the exit status. Dropping it (or cancelling the session's
/// token) closes the channel, and the command's process group gets SIGTERM ([`WATCHDOG`]).
///
/// A read that ends with `Ok(0)` means the command closed its stdout normally. If the
/// connection is lost first, the read fails with an `io::Error` wrapping
/// [`SshError::Disconnected`] (see [`SshError::from_io`]), never with a clean end of file.
pub struct ExecStream {
    stdout: Option<mpsc::Receiver<Bytes>>,
    current: Bytes,
    /// Set by the pump before it closes the stdout queue: how stdout ended.
    end: Arc<OnceLock<Result<(), SshError>>>,
    stderr: Option<mpsc::Receiver<String>>,
    join: Option<JoinHandle<Result<ExitInfo>>>,
    guard: Option<DropGuard>,
}

impl fmt::Debug for ExecStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecStream").finish_non_exhaustive()
    }
}

impl ExecStream {
    /// The command's stderr, one line per item (no line terminator, invalid UTF-8 replaced).
    /// Lines arrive as they are written, while stdout is being read. `None` once taken.
    pub fn take_stderr(&mut self) -> Option<mpsc::Receiver<String>> {
        self.stderr.take()
    }

    /// Waits for the command to exit. Unread stdout is discarded (the command is not stopped:
    /// drop the stream to stop it). A connection that ends before sshd reports the exit is
    /// [`SshError::Disconnected`]; the caller's cancellation is [`SshError::Cancelled`].
    pub async fn wait(mut self) -> Result<ExitInfo> {
        // Closing our end makes the pump discard further stdout instead of waiting for us.
        self.stdout = None;
        let Some(join) = self.join.take() else {
            return Err(SshError::Protocol("wait called twice".into()));
        };
        // If this future is dropped half way, `self` (and its guard) goes with it and the
        // command is cancelled, as for a dropped stream.
        let result = match join.await {
            Ok(result) => result,
            Err(e) => Err(SshError::Protocol(format!(
                "the SSH reader task failed: {e}"
            ))),
        };
        if let Some(guard) = self.guard.take() {
            // Finished: nothing left to cancel.
            guard.disarm();
        }
        result
    }
}

impl AsyncRead for ExecStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if !self.current.is_empty() {
                let n = self.current.len().min(buf.remaining());
                if let Some(bytes) = self.current.get(..n) {
                    buf.put_slice(bytes);
                }
                self.current.advance(n);
                return Poll::Ready(Ok(()));
            }
            let Some(rx) = self.stdout.as_mut() else {
                return Poll::Ready(Ok(()));
            };
            match rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(chunk)) => self.current = chunk,
                Poll::Ready(None) => {
                    // The pump sets `end` before dropping its sender, so it is set here unless
                    // the pump itself died.
                    return Poll::Ready(match self.end.get() {
                        Some(Ok(())) => Ok(()),
                        Some(Err(e)) => Err(e.clone().into_io()),
                        None => Err(SshError::Protocol(
                            "the SSH reader stopped without saying why".into(),
                        )
                        .into_io()),
                    });
                }
            }
        }
    }
}

/// Splits stderr into lines, keeps the tail, and forwards lines without ever blocking.
struct StderrLines {
    partial: Vec<u8>,
    tail: VecDeque<String>,
    tx: Option<mpsc::Sender<String>>,
    dropped: u64,
}

impl StderrLines {
    fn new(tx: mpsc::Sender<String>) -> Self {
        StderrLines {
            partial: Vec::new(),
            tail: VecDeque::with_capacity(STDERR_TAIL),
            tx: Some(tx),
            dropped: 0,
        }
    }

    fn push(&mut self, data: &[u8]) {
        for &b in data {
            // `\r` ends a line too: progress meters redraw with it.
            if b == b'\n' || b == b'\r' {
                self.finish_line();
            } else {
                self.partial.push(b);
                if self.partial.len() >= STDERR_LINE_MAX {
                    self.finish_line();
                }
            }
        }
    }

    fn finish_line(&mut self) {
        if self.partial.is_empty() {
            return;
        }
        let line = String::from_utf8_lossy(&self.partial).into_owned();
        self.partial.clear();
        if self.tail.len() == STDERR_TAIL {
            self.tail.pop_front();
        }
        self.tail.push_back(line.clone());
        if let Some(tx) = &self.tx {
            match tx.try_send(line) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => self.dropped += 1,
                // Nobody listens (receiver dropped or never taken and dropped): stop sending.
                Err(mpsc::error::TrySendError::Closed(_)) => self.tx = None,
            }
        }
    }
}

/// Moves channel messages to the stdout queue and the stderr lines; owns the channel.
struct Pump {
    session: SshSession,
    command: String,
    stdout: Option<mpsc::Sender<Bytes>>,
    end: Arc<OnceLock<Result<(), SshError>>>,
    stderr: StderrLines,
    /// Fires when the stream is dropped, the session is closed or the caller cancels.
    token: CancellationToken,
}

enum Step {
    Continue,
    Closed,
}

impl Pump {
    async fn run(
        mut self,
        channel: russh::Channel<client::Msg>,
        early: Vec<ChannelMsg>,
    ) -> Result<ExitInfo> {
        let (mut read, write) = channel.split();
        let mut status = None;
        let mut signal = None;
        let mut outcome: Option<SshError> = None;
        for msg in early {
            if let Step::Closed = self.handle(msg, &mut status, &mut signal).await {
                break;
            }
        }
        // A clone, so `self` is free for `handle` inside the selects below.
        let token = self.token.clone();
        loop {
            let msg = tokio::select! {
                biased;
                _ = token.cancelled() => {
                    outcome = Some(self.cancel_error());
                    break;
                }
                msg = read.wait() => msg,
            };
            let Some(msg) = msg else {
                // russh dropped the channel: the session is gone.
                break;
            };
            let step = tokio::select! {
                biased;
                _ = token.cancelled() => {
                    outcome = Some(self.cancel_error());
                    break;
                }
                step = self.handle(msg, &mut status, &mut signal) => step,
            };
            if let Step::Closed = step {
                break;
            }
        }
        self.stderr.finish_line();

        if outcome.is_some() {
            // Stop reading first: russh may be blocked handing us a packet, and our EOF and
            // close queue behind it otherwise.
            drop(read);
            // EOF on the command's stdin is what stops it: see `WATCHDOG`. (An SSH "signal"
            // request would be the obvious way, but OpenSSH refuses it for root sessions,
            // "session signalling requires privilege separation", and PVE means root.)
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, write.eof()).await;
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, write.close()).await;
        } else if status.is_none() && signal.is_none() {
            outcome = Some(
                self.session
                    .lost("the channel closed before the command reported its exit status"),
            );
        }

        if let Some(err) = outcome {
            // The reader sees the error rather than a clean end of file.
            let _ = self.end.set(Err(err.clone()));
            drop(self.stdout.take());
            return Err(err);
        }
        let _ = self.end.set(Ok(()));
        drop(self.stdout.take());
        Ok(ExitInfo {
            command: self.command,
            status,
            signal,
            stderr_tail: self.stderr.tail.into_iter().collect(),
            stderr_lines_dropped: self.stderr.dropped,
        })
    }

    fn cancel_error(&self) -> SshError {
        self.session.cancelled_or(SshError::Cancelled)
    }

    async fn handle(
        &mut self,
        msg: ChannelMsg,
        status: &mut Option<u32>,
        signal: &mut Option<String>,
    ) -> Step {
        match msg {
            ChannelMsg::Data { data } => {
                if let Some(tx) = &self.stdout
                    && tx.send(data).await.is_err()
                {
                    // The reader is gone (`wait` was called): discard the rest.
                    self.stdout = None;
                }
            }
            ChannelMsg::ExtendedData { data, ext: 1 } => self.stderr.push(&data),
            ChannelMsg::Eof => {
                // stdout is complete: the reader gets its end of file now, while the exit
                // status may still be on its way. `end` first: the reader looks at it once
                // the queue closes.
                let _ = self.end.set(Ok(()));
                self.stdout = None;
            }
            ChannelMsg::ExitStatus { exit_status } => *status = Some(exit_status),
            ChannelMsg::ExitSignal { signal_name, .. } => {
                *signal = Some(match signal_name {
                    Sig::Custom(name) => name,
                    other => format!("{other:?}"),
                });
            }
            ChannelMsg::Close => return Step::Closed,
            _ => {}
        }
        Step::Continue
    }
}

// ---------------------------------------------------------------------------------------------
// Stopping the remote command

/// The `sh` script every exec'd command runs under (`$1` is the command).
///
/// sshd does not stop a command when its channel or connection closes (only a pty would
/// get a SIGHUP, and a pty mixes stderr into stdout); a command that writes keeps dying of
/// SIGPIPE, but one that is stuck (vzdump waiting on storage, holding `lock: backup`) would
/// live on. So the command's stdin is kept aside for a watcher: sshd closes it when the
/// channel closes, or when the command has exited and sshd is done with the channel, and the
/// watcher then sends SIGTERM to the process group (`kill 0`: the command, its children, the
/// watcher; never another process, unlike a remembered pid). vzdump handles TERM by killing
/// its worker and releasing the VM lock. One line, so csh-like login shells take it too.
pub const WATCHDOG: &str = "exec 3<&0 </dev/null; \
    (cat <&3 >/dev/null 2>&1; kill -TERM 0) >/dev/null 2>&1 & exec 3<&-; eval \"$1\"";

/// The command line sent to sshd: the login shell hands over to `/bin/sh` running
/// [`WATCHDOG`].
fn with_watchdog(command: &str) -> String {
    format!(
        // `/bin/sh`, not `sh`: the user's PATH is not ours to trust for this.
        "exec /bin/sh -c {} hypersdk-exec {}",
        shell_quote(WATCHDOG),
        shell_quote(command)
    )
}

// ---------------------------------------------------------------------------------------------
// Shell quoting

/// Quotes `arg` for a POSIX shell (the node runs the command through the user's login shell,
/// as `ssh host command` does). Plain words stay as they are, anything else is put in single
/// quotes.
pub fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'_' | b'-' | b'.' | b'/' | b':' | b',' | b'=' | b'@' | b'%' | b'+'
                )
        });
    if plain {
        arg.to_owned()
    } else {
        // Inside single quotes only `'` is special; close, emit an escaped quote, reopen.
        format!("'{}'", arg.replace('\'', r"'\''"))
    }
}

/// Joins quoted arguments into one command line.
pub fn command_line<S: AsRef<str>>(args: &[S]) -> String {
    args.iter()
        .map(|a| shell_quote(a.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_quote_leaves_plain_words() {
        assert_eq!(shell_quote("vzdump"), "vzdump");
        assert_eq!(shell_quote("100"), "100");
        assert_eq!(shell_quote("--stdout"), "--stdout");
        assert_eq!(
            shell_quote("/var/lib/vz/dump/a.vma.zst"),
            "/var/lib/vz/dump/a.vma.zst"
        );
        assert_eq!(
            shell_quote("local-lvm:vm-100-disk-0"),
            "local-lvm:vm-100-disk-0"
        );
    }

    #[test]
    fn shell_quote_quotes_everything_else() {
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote("$(reboot)"), "'$(reboot)'");
        assert_eq!(shell_quote("a;b|c&d"), "'a;b|c&d'");
        assert_eq!(shell_quote("`x`"), "'`x`'");
        assert_eq!(shell_quote("*"), "'*'");
        assert_eq!(shell_quote("~root"), "'~root'");
        assert_eq!(shell_quote("new\nline"), "'new\nline'");
        assert_eq!(shell_quote("ü"), "'ü'");
    }

    #[test]
    fn shell_quote_round_trips_through_sh() {
        let nasty = [
            "",
            "plain",
            "a b",
            "it's",
            "'",
            "''",
            "\"double\"",
            "$HOME",
            "$(id)",
            "back\\slash",
            "tab\tand\nnewline",
            "-n",
            "ü ß",
        ];
        let script = format!("printf '%s\\0' {}", command_line(&nasty));
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(&script)
            .output()
            .expect("sh runs");
        assert!(out.status.success());
        let got: Vec<String> = out
            .stdout
            .split(|b| *b == 0)
            .map(|s| String::from_utf8_lossy(s).into_owned())
            .collect();
        // printf's trailing NUL leaves one empty element at the end.
        assert_eq!(got.len(), nasty.len() + 1);
        for (want, got) in nasty.iter().zip(&got) {
            assert_eq!(want, got);
        }
    }

    #[test]
    fn command_line_joins() {
        assert_eq!(
            command_line(&["vzdump", "100", "--stdout", "--mode", "snapshot"]),
            "vzdump 100 --stdout --mode snapshot"
        );
        assert_eq!(command_line(&["echo", "a b"]), "echo 'a b'");
    }

    const DIGEST: [u8; 32] = [
        0xb3, 0x76, 0x04, 0x3a, 0x8a, 0x37, 0x0d, 0xcb, 0x08, 0xea, 0x64, 0x34, 0x0e, 0x8f, 0xf1,
        0xd0, 0xa4, 0x3d, 0x40, 0x42, 0x7b, 0x6a, 0x4f, 0xea, 0x0c, 0xdb, 0x9d, 0x4e, 0xdf, 0x27,
        0x29, 0x9c,
    ];

    #[test]
    fn fingerprints_in_every_accepted_form() {
        let b64 = fingerprint_string(&DIGEST);
        assert!(b64.starts_with("SHA256:"));
        // 32 bytes in unpadded base64 are 43 characters.
        assert_eq!(b64.len(), 7 + 43);
        assert!(!b64.ends_with('='));
        assert_eq!(parse_fingerprint(&b64).ok(), Some(DIGEST));
        assert_eq!(parse_fingerprint(&format!("  {b64}\n")).ok(), Some(DIGEST));
        assert_eq!(
            parse_fingerprint(&b64["SHA256:".len()..]).ok(),
            Some(DIGEST)
        );
        let hex = hex::encode(DIGEST);
        assert_eq!(parse_fingerprint(&hex).ok(), Some(DIGEST));
        assert_eq!(parse_fingerprint(&hex.to_uppercase()).ok(), Some(DIGEST));
        let colons = DIGEST
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(parse_fingerprint(&colons).ok(), Some(DIGEST));
        assert_eq!(normalize_fingerprint(&colons).ok(), Some(b64));
    }

    #[test]
    fn bad_fingerprints_are_refused() {
        for bad in [
            "",
            "SHA256:",
            "SHA256:abc",
            "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48",
            "SHA512:abc",
            "zz",
            &"a".repeat(63),
        ] {
            let err = parse_fingerprint(bad).expect_err(bad);
            assert_eq!(err.code(), "invalid_fingerprint", "{bad:?}");
        }
    }

    #[test]
    fn debug_hides_secrets() {
        let t = SshTarget::new(
            "pve1",
            "root",
            SshAuth::Key {
                pem: "-----BEGIN OPENSSH PRIVATE KEY-----\nSECRETKEY".into(),
                passphrase: Some("hunter2".into()),
            },
        );
        let s = format!("{t:?}");
        assert!(!s.contains("SECRETKEY") && !s.contains("hunter2"), "{s}");
        assert!(
            s.contains("pve1") && s.contains("root") && s.contains("22"),
            "{s}"
        );
        let p = format!("{:?}", SshAuth::Password("hunter2".into()));
        assert!(!p.contains("hunter2"), "{p}");
    }

    #[test]
    fn stderr_lines_split_keep_tail_and_never_block() {
        let (tx, mut rx) = mpsc::channel(2);
        let mut lines = StderrLines::new(tx);
        lines.push(b"INFO: starting\nINFO:   0% (0.0 B of 4");
        lines.push(b".0 GiB) in 0s\r\nINFO: a\nINFO: b\n");
        assert_eq!(rx.try_recv().ok().as_deref(), Some("INFO: starting"));
        assert_eq!(
            rx.try_recv().ok().as_deref(),
            Some("INFO:   0% (0.0 B of 4.0 GiB) in 0s")
        );
        // Queue of 2 was full for the last two lines: dropped, counted, still in the tail.
        assert_eq!(lines.dropped, 2);
        assert_eq!(lines.tail.len(), 4);
        for i in 0..30 {
            lines.push(format!("line {i}\n").as_bytes());
        }
        assert_eq!(lines.tail.len(), STDERR_TAIL);
        assert_eq!(lines.tail.back().map(String::as_str), Some("line 29"));
        lines.push(&vec![b'x'; STDERR_LINE_MAX + 10]);
        assert_eq!(lines.tail.back().map(String::len), Some(STDERR_LINE_MAX));
        assert_eq!(lines.partial.len(), 10);
    }

    #[test]
    fn exit_errors_name_the_program_and_the_reason() {
        let info = ExitInfo {
            command: "vzdump 100 --stdout".into(),
            status: Some(255),
            signal: None,
            stderr_tail: vec![
                "INFO: status = running".into(),
                "ERROR: Backup of VM 100 failed - VM is locked (backup)".into(),
                "INFO: Backup job finished with errors".into(),
                "job errors".into(),
            ],
            stderr_lines_dropped: 0,
        };
        assert!(!info.success());
        let err = info.ensure_success().expect_err("255 is a failure");
        assert_eq!(err.code(), "exit_status");
        let msg = err.to_string();
        assert!(
            msg.contains("`vzdump` on the node exited with status 255"),
            "{msg}"
        );
        assert!(msg.contains("VM is locked (backup)"), "{msg}");
    }

    #[test]
    fn codes_and_accessors() {
        let e = SshError::HostKeyChanged {
            endpoint: "pve:22".into(),
            pinned: "SHA256:old".into(),
            presented: "SHA256:new".into(),
        };
        assert_eq!(e.code(), "host_key_changed");
        assert_eq!(e.fingerprint(), Some("SHA256:new"));
        assert!(!e.is_retryable());
        let d = SshError::Disconnected {
            endpoint: "pve:22".into(),
            detail: "reset".into(),
        };
        assert!(d.is_retryable());
        let io = d.clone().into_io();
        assert_eq!(io.kind(), io::ErrorKind::ConnectionAborted);
        assert_eq!(SshError::from_io(&io), Some(&d));
        assert_eq!(endpoint("::1", 22), "[::1]:22");
        assert_eq!(endpoint("pve", 2222), "pve:2222");
    }
}

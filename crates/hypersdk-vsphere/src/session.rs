//! Sessions reused per connection: at most `max_sessions` at once, idle ones
//! logged out after `idle_timeout`, an idle session checked with
//! `SessionIsActive` before reuse once it has rested `health_check_after`,
//! and a transparent second sign-in when the server says `NotAuthenticated`.
//!
//! Counters (created, reused, re-logins, health checks) are exposed through
//! [`SessionPool::stats`] for the connection's details, and logged when the
//! pool is closed or dropped.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hypersdk_core::model::Secret;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use crate::error::{Result, VsphereError};
use crate::soap::{
    Fetched, MoRef, ObjectContent, RetrieveResult, ServiceContent, SessionCookie, SoapClient,
    UserSession, fetched_bytes,
};
use crate::xml::{Element, esc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolConfig {
    /// Sessions open at once for this connection; more callers wait.
    pub max_sessions: usize,
    /// An idle session older than this is logged out (vCenter's own default
    /// session timeout is 30 minutes).
    pub idle_timeout: Duration,
    /// An idle session that rested longer than this is checked with
    /// `SessionIsActive` before it is handed out again.
    pub health_check_after: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_sessions: 4,
            idle_timeout: Duration::from_secs(10 * 60),
            health_check_after: Duration::from_secs(60),
        }
    }
}

/// What the pool has done so far; shown in the connection's details.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, specta::Type)]
pub struct PoolStats {
    /// Successful sign-ins (each opens a server session).
    pub created: u64,
    /// Times an idle session was handed out again instead of signing in.
    pub reused: u64,
    /// Sign-ins made because the server said a session was no longer valid
    /// (also counted in `created`).
    pub relogins: u64,
    pub health_checks: u64,
    /// Health checks that found the session gone.
    pub health_check_failures: u64,
    /// Idle sessions logged out after the idle timeout.
    pub expired: u64,
    pub idle: u32,
    pub in_use: u32,
    pub max_sessions: u32,
}

struct Session {
    cookie: SessionCookie,
    user: UserSession,
}

struct Idle {
    session: Session,
    since: Instant,
    /// When the server last confirmed the session (a successful call or a
    /// health check).
    confirmed: Instant,
}

#[derive(Default)]
struct Counters {
    created: AtomicU64,
    reused: AtomicU64,
    relogins: AtomicU64,
    health_checks: AtomicU64,
    health_check_failures: AtomicU64,
    expired: AtomicU64,
}

struct Inner {
    client: Arc<SoapClient>,
    username: String,
    password: Secret,
    config: PoolConfig,
    service_content: OnceCell<Arc<ServiceContent>>,
    permits: Arc<Semaphore>,
    idle: Mutex<Vec<Idle>>,
    counters: Counters,
    /// For log lines: which connection this pool belongs to.
    label: String,
}

/// A session pool for one connection. Cheap to clone.
#[derive(Clone)]
pub struct SessionPool {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SessionPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionPool")
            .field("label", &self.inner.label)
            .field("username", &self.inner.username)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// What an operation gets: the client, the server's service content and one
/// signed-in session. Cheap to clone.
#[derive(Clone)]
pub struct SessionCtx {
    pub client: Arc<SoapClient>,
    pub sc: Arc<ServiceContent>,
    cookie: SessionCookie,
}

impl std::fmt::Debug for SessionCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionCtx").finish_non_exhaustive()
    }
}

/// A session held outside the pool; it goes back (still signed in) on drop.
pub struct CheckedOut {
    pub ctx: SessionCtx,
    _lease: Lease,
}

impl std::fmt::Debug for CheckedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedOut").finish_non_exhaustive()
    }
}

/// Aborts a spawned task when dropped (a cancelled discovery must not leave
/// a page download running).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> AbortOnDrop<T> {
    async fn join(mut self) -> Result<T> {
        (&mut self.0)
            .await
            .map_err(|e| VsphereError::Protocol(format!("a retrieval task failed: {e}")))
    }
}

impl SessionCtx {
    /// Every page of a retrieval. Pipelined: while page N is parsed (on a
    /// blocking thread), page N+1 is already being fetched, so the parse
    /// hides behind the server's time instead of adding to it.
    pub async fn retrieve_all(&self, spec_set: &str, page_size: u32) -> Result<Vec<ObjectContent>> {
        let first = format!("{spec_set}<options><maxObjects>{page_size}</maxObjects></options>");
        let mut method = "RetrievePropertiesEx";
        let mut pending = self.spawn_fetch(method, first);
        let mut objects = Vec::new();
        loop {
            let fetched = pending.join().await??;
            let scanned = crate::soap::scan_token(fetched_bytes(&fetched));
            let next_method = "ContinueRetrievePropertiesEx";
            let prefetch = scanned
                .as_ref()
                .map(|t| self.spawn_fetch(next_method, format!("<token>{}</token>", esc(t))));
            let endpoint = self.client.endpoint().to_owned();
            let page = AbortOnDrop(tokio::task::spawn_blocking(move || {
                crate::soap::decode_retrieve(&endpoint, method, fetched)
            }))
            .join()
            .await??;
            objects.extend(page.objects);
            method = next_method;
            pending = match (page.token, scanned, prefetch) {
                (None, _, _) => break,
                (Some(token), Some(seen), Some(prefetch)) if token == seen => prefetch,
                (Some(token), _, _) => {
                    self.spawn_fetch(next_method, format!("<token>{}</token>", esc(&token)))
                }
            };
        }
        Ok(objects)
    }

    fn spawn_fetch(&self, method: &'static str, args: String) -> AbortOnDrop<Result<Fetched>> {
        let client = Arc::clone(&self.client);
        let cookie = self.cookie.clone();
        let pc = self.sc.property_collector.clone();
        AbortOnDrop(tokio::spawn(async move {
            client.fetch(Some(&cookie), method, &pc, &args).await
        }))
    }

    pub async fn retrieve_properties_ex(
        &self,
        spec_set: &str,
        max_objects: u32,
    ) -> Result<RetrieveResult> {
        self.client
            .retrieve_properties_ex(&self.sc, &self.cookie, spec_set, max_objects)
            .await
    }

    pub async fn continue_retrieve_properties_ex(&self, token: &str) -> Result<RetrieveResult> {
        self.client
            .continue_retrieve_properties_ex(&self.sc, &self.cookie, token)
            .await
    }

    pub async fn create_container_view(
        &self,
        container: &MoRef,
        kinds: &[&str],
        recursive: bool,
    ) -> Result<MoRef> {
        self.client
            .create_container_view(&self.sc, &self.cookie, container, kinds, recursive)
            .await
    }

    pub async fn destroy_view(&self, view: &MoRef) -> Result<()> {
        self.client.destroy_view(&self.cookie, view).await
    }

    /// Any method on any object, answered by its `<methodResponse>` element
    /// (the export's task and lease calls).
    pub async fn call(&self, method: &str, this: &MoRef, args: &str) -> Result<Element> {
        self.client
            .invoke(Some(&self.cookie), method, this, args)
            .await
            .map(|(el, _)| el)
    }

    /// The `Cookie` header value that authorises HTTP requests (NFC
    /// downloads) as this session. Never logged.
    pub fn cookie_header(&self) -> &str {
        self.cookie.as_str()
    }

    pub async fn current_session(&self) -> Result<Option<UserSession>> {
        self.client.current_session(&self.sc, &self.cookie).await
    }

    pub async fn terminate_sessions(&self, keys: &[&str]) -> Result<()> {
        self.client
            .terminate_sessions(&self.sc, &self.cookie, keys)
            .await
    }
}

/// A session taken from the pool; goes back to the idle list when dropped
/// unless it was found dead.
struct Lease {
    pool: Arc<Inner>,
    session: Option<Session>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let now = Instant::now();
            if let Ok(mut idle) = self.pool.idle.lock() {
                idle.push(Idle {
                    session,
                    since: now,
                    confirmed: now,
                });
            }
        }
    }
}

impl SessionPool {
    pub fn new(
        client: Arc<SoapClient>,
        username: impl Into<String>,
        password: Secret,
        config: PoolConfig,
        label: impl Into<String>,
    ) -> SessionPool {
        let max = config.max_sessions.max(1);
        SessionPool {
            inner: Arc::new(Inner {
                client,
                username: username.into(),
                password,
                config: PoolConfig {
                    max_sessions: max,
                    ..config
                },
                service_content: OnceCell::new(),
                permits: Arc::new(Semaphore::new(max)),
                idle: Mutex::new(Vec::new()),
                counters: Counters::default(),
                label: label.into(),
            }),
        }
    }

    pub fn username(&self) -> &str {
        &self.inner.username
    }

    pub fn client(&self) -> &Arc<SoapClient> {
        &self.inner.client
    }

    /// The server's `ServiceContent`, fetched once (no session needed).
    pub async fn service_content(&self) -> Result<Arc<ServiceContent>> {
        self.inner.service_content().await
    }

    pub fn stats(&self) -> PoolStats {
        self.inner.stats()
    }

    /// Keys of the idle sessions (not their cookies): an administrator can
    /// end a session by key; tests use this to expire the pool's session.
    pub fn idle_session_keys(&self) -> Vec<String> {
        self.inner
            .idle
            .lock()
            .map(|idle| idle.iter().map(|i| i.session.user.key.clone()).collect())
            .unwrap_or_default()
    }

    /// Runs `op` with a pooled session. When the server answers
    /// `NotAuthenticated` (expired or terminated session), the session is
    /// dropped, a new one is signed in and `op` runs once more — so `op` must
    /// be safe to restart (discovery is: it only reads).
    pub async fn with_session<T, F, Fut>(&self, op: F) -> Result<T>
    where
        F: Fn(SessionCtx) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let mut lease = self.acquire().await?;
        let sc = self.inner.service_content().await?;
        let ctx = |lease: &Lease| -> Result<SessionCtx> {
            let session = lease
                .session
                .as_ref()
                .ok_or_else(|| VsphereError::Protocol("session lease is empty".into()))?;
            Ok(SessionCtx {
                client: Arc::clone(&self.inner.client),
                sc: Arc::clone(&sc),
                cookie: session.cookie.clone(),
            })
        };
        match op(ctx(&lease)?).await {
            Err(VsphereError::NotAuthenticated) => {
                tracing::info!(pool = %self.inner.label, "vSphere session expired; signing in again");
                lease.session = None;
                let fresh = self.inner.login().await?;
                self.inner.counters.relogins.fetch_add(1, Ordering::Relaxed);
                lease.session = Some(fresh);
                let result = op(ctx(&lease)?).await;
                if matches!(result, Err(VsphereError::NotAuthenticated)) {
                    lease.session = None;
                }
                result
            }
            other => other,
        }
    }

    async fn acquire(&self) -> Result<Lease> {
        let permit = Arc::clone(&self.inner.permits)
            .acquire_owned()
            .await
            .map_err(|_| VsphereError::Protocol("the session pool is closed".into()))?;
        self.inner.expire_idle();
        loop {
            let candidate = self.inner.idle.lock().ok().and_then(|mut idle| idle.pop());
            let Some(idle) = candidate else { break };
            if idle.confirmed.elapsed() >= self.inner.config.health_check_after {
                match self.inner.health_check(&idle.session).await {
                    Ok(true) => {}
                    Ok(false) => {
                        self.inner
                            .counters
                            .health_check_failures
                            .fetch_add(1, Ordering::Relaxed);
                        tracing::info!(pool = %self.inner.label, "idle vSphere session no longer valid; dropped");
                        continue;
                    }
                    Err(e) => {
                        // The server is unreachable or refuses: keep the
                        // session for later and report the error now.
                        if let Ok(mut list) = self.inner.idle.lock() {
                            list.push(idle);
                        }
                        return Err(e);
                    }
                }
            }
            self.inner.counters.reused.fetch_add(1, Ordering::Relaxed);
            return Ok(Lease {
                pool: Arc::clone(&self.inner),
                session: Some(idle.session),
                _permit: permit,
            });
        }
        let session = self.inner.login().await?;
        Ok(Lease {
            pool: Arc::clone(&self.inner),
            session: Some(session),
            _permit: permit,
        })
    }

    /// Takes one session out of the pool until the returned guard drops: for
    /// work that must stay on one session (an export's lease and its NFC
    /// downloads are tied to the session that opened it).
    pub async fn checkout(&self) -> Result<CheckedOut> {
        let lease = self.acquire().await?;
        let sc = self.inner.service_content().await?;
        let session = lease
            .session
            .as_ref()
            .ok_or_else(|| VsphereError::Protocol("session lease is empty".into()))?;
        let ctx = SessionCtx {
            client: Arc::clone(&self.inner.client),
            sc,
            cookie: session.cookie.clone(),
        };
        Ok(CheckedOut { ctx, _lease: lease })
    }

    /// Makes sure a signed-in session exists (reusing an idle one when it
    /// can); the session stays in the pool. Connection tests use it to report
    /// "Sign in" separately from "Inventory readable".
    pub async fn sign_in(&self) -> Result<()> {
        let _lease = self.acquire().await?;
        Ok(())
    }

    /// Logs out every idle session and logs the counters. Sessions in use
    /// are returned to the idle list and logged out when the pool drops.
    pub async fn close(&self) {
        let idle: Vec<Idle> = self
            .inner
            .idle
            .lock()
            .map(|mut list| std::mem::take(&mut *list))
            .unwrap_or_default();
        if let Ok(sc) = self.inner.service_content().await {
            for i in idle {
                if let Err(e) = self.inner.client.logout(&sc, &i.session.cookie).await {
                    tracing::debug!(pool = %self.inner.label, error = %e, "logout failed");
                }
            }
        }
        self.inner.log_stats("closed");
    }
}

impl Inner {
    async fn service_content(&self) -> Result<Arc<ServiceContent>> {
        self.service_content
            .get_or_try_init(|| async {
                self.client.retrieve_service_content().await.map(Arc::new)
            })
            .await
            .cloned()
    }

    async fn login(&self) -> Result<Session> {
        let sc = self.service_content().await?;
        let (cookie, user) = self
            .client
            .login(&sc, &self.username, self.password.expose())
            .await?;
        self.counters.created.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(pool = %self.label, user = %self.username, "vSphere session created");
        Ok(Session { cookie, user })
    }

    /// `Ok(false)`: the session is gone. `SessionIsActive` needs a privilege
    /// some accounts lack and ESXi does not implement it; then reading
    /// `SessionManager.currentSession` with the session answers the same.
    async fn health_check(&self, session: &Session) -> Result<bool> {
        self.counters.health_checks.fetch_add(1, Ordering::Relaxed);
        let sc = self.service_content().await?;
        match self
            .client
            .session_is_active(&sc, &session.cookie, &session.user)
            .await
        {
            Ok(active) => Ok(active),
            Err(VsphereError::NotAuthenticated) => Ok(false),
            Err(VsphereError::NoPermission(_)) | Err(VsphereError::Fault { .. }) => {
                match self.client.current_session(&sc, &session.cookie).await {
                    Ok(current) => Ok(current.is_some()),
                    Err(VsphereError::NotAuthenticated) => Ok(false),
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Drops idle sessions past the idle timeout and logs them out in the
    /// background.
    fn expire_idle(&self) {
        let expired: Vec<Idle> = match self.idle.lock() {
            Ok(mut idle) => {
                let (old, keep): (Vec<Idle>, Vec<Idle>) = idle
                    .drain(..)
                    .partition(|i| i.since.elapsed() >= self.config.idle_timeout);
                *idle = keep;
                old
            }
            Err(_) => return,
        };
        if expired.is_empty() {
            return;
        }
        self.counters
            .expired
            .fetch_add(expired.len() as u64, Ordering::Relaxed);
        self.logout_in_background(expired);
    }

    fn logout_in_background(&self, sessions: Vec<Idle>) {
        let Some(sc) = self.service_content.get().cloned() else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let client = Arc::clone(&self.client);
        handle.spawn(async move {
            for i in sessions {
                let _ = client.logout(&sc, &i.session.cookie).await;
            }
        });
    }

    fn stats(&self) -> PoolStats {
        let idle = self.idle.lock().map(|i| i.len()).unwrap_or_default() as u32;
        let max = self.config.max_sessions as u32;
        let free = self.permits.available_permits() as u32;
        let c = &self.counters;
        PoolStats {
            created: c.created.load(Ordering::Relaxed),
            reused: c.reused.load(Ordering::Relaxed),
            relogins: c.relogins.load(Ordering::Relaxed),
            health_checks: c.health_checks.load(Ordering::Relaxed),
            health_check_failures: c.health_check_failures.load(Ordering::Relaxed),
            expired: c.expired.load(Ordering::Relaxed),
            idle,
            in_use: max.saturating_sub(free),
            max_sessions: max,
        }
    }

    fn log_stats(&self, when: &str) {
        let s = self.stats();
        tracing::info!(
            pool = %self.label,
            created = s.created,
            reused = s.reused,
            relogins = s.relogins,
            health_checks = s.health_checks,
            health_check_failures = s.health_check_failures,
            expired = s.expired,
            "vSphere session pool {when}"
        );
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let idle: Vec<Idle> = self.idle.get_mut().map(std::mem::take).unwrap_or_default();
        // Best effort: log out what is left when a runtime is still there.
        self.logout_in_background(idle);
        self.log_stats("dropped");
    }
}

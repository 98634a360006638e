//! The core's `Provider` for vSphere, and the factory the shell registers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hypersdk_core::model::{
    Connection, ProviderKind, Secret, Secrets, TestCheck, VmFilter, VmInfo,
};
use hypersdk_core::providers::{
    Capabilities, Diagnostic, ExportPlan, Provider, ProviderFactory, VmPage, cancellable,
};
use hypersdk_core::{CoreError, Result as CoreResult};
use tokio_util::sync::CancellationToken;

use crate::error::{Result, VsphereError};
use crate::inventory::{self, DiscoveryOptions, Inventory};
use crate::session::{PoolConfig, PoolStats, SessionPool};
use crate::soap::{SoapClient, Timeouts};
use hypersdk_core::tls::Fingerprint;

/// A cursor older than this re-reads the inventory instead of paging a stale copy.
const SNAPSHOT_TTL: Duration = Duration::from_secs(10 * 60);

/// Everything tunable about a vSphere provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct VsphereSettings {
    pub pool: PoolConfig,
    pub timeouts: Timeouts,
    pub discovery: DiscoveryOptions,
}

/// Builds providers for saved vSphere connections. Keeps one provider (and
/// so one session pool) per connection, so sessions are reused across
/// commands; an edited connection (endpoint, user, pin, options or password
/// changed) gets a fresh one.
#[derive(Default)]
pub struct VsphereFactory {
    settings: VsphereSettings,
    providers: Mutex<HashMap<String, Cached>>,
}

struct Cached {
    connection: Connection,
    secret: Option<Secret>,
    provider: Arc<VsphereProvider>,
}

impl std::fmt::Debug for VsphereFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VsphereFactory")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl VsphereFactory {
    pub fn new(settings: VsphereSettings) -> VsphereFactory {
        VsphereFactory {
            settings,
            providers: Mutex::default(),
        }
    }

    /// The concrete provider (for what the `Provider` trait does not carry
    /// yet: the inventory tree and the pool's counters).
    pub fn connect_vsphere(
        &self,
        connection: &Connection,
        secret: Option<Secret>,
    ) -> CoreResult<Arc<VsphereProvider>> {
        let mut cache = self
            .providers
            .lock()
            .map_err(|_| CoreError::Internal("vSphere provider cache poisoned".into()))?;
        if let Some(c) = cache.get(&connection.id)
            && same_connection(&c.connection, connection)
            && same_secret(c.secret.as_ref(), secret.as_ref())
        {
            return Ok(Arc::clone(&c.provider));
        }
        let provider = Arc::new(VsphereProvider::new(
            connection,
            secret.clone(),
            self.settings,
        )?);
        cache.insert(
            connection.id.clone(),
            Cached {
                connection: connection.clone(),
                secret,
                provider: Arc::clone(&provider),
            },
        );
        Ok(provider)
    }

    /// Pool counters of every connection used so far, by connection id.
    pub fn pool_stats(&self) -> Vec<(String, PoolStats)> {
        self.providers
            .lock()
            .map(|c| {
                c.iter()
                    .map(|(id, p)| (id.clone(), p.provider.pool_stats()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Logs out every idle session and logs each pool's counters; for the
    /// application's shutdown.
    pub async fn shutdown(&self) {
        let providers: Vec<Arc<VsphereProvider>> = self
            .providers
            .lock()
            .map(|mut c| c.drain().map(|(_, p)| p.provider).collect())
            .unwrap_or_default();
        for p in providers {
            p.pool.close().await;
        }
    }
}

fn same_connection(a: &Connection, b: &Connection) -> bool {
    a.endpoint == b.endpoint
        && a.username == b.username
        && a.options == b.options
        && a.tls_fingerprint == b.tls_fingerprint
        && a.updated_at == b.updated_at
}

fn same_secret(a: Option<&Secret>, b: Option<&Secret>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.expose() == b.expose(),
        _ => false,
    }
}

#[async_trait]
impl ProviderFactory for VsphereFactory {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Vsphere
    }

    fn connect(&self, connection: &Connection, secrets: Secrets) -> CoreResult<Arc<dyn Provider>> {
        let p: Arc<dyn Provider> = self.connect_vsphere(connection, secrets.main)?;
        Ok(p)
    }

    fn diagnostics(&self, connection_id: &str) -> Vec<Diagnostic> {
        let Some(stats) = self
            .pool_stats()
            .into_iter()
            .find(|(id, _)| id == connection_id)
            .map(|(_, s)| s)
        else {
            return Vec::new();
        };
        let line = |label: &str, value: u64| Diagnostic {
            label: label.to_owned(),
            value: value.to_string(),
        };
        vec![
            line("Sessions created", stats.created),
            line("Sessions reused", stats.reused),
            line("Re-logins after expiry", stats.relogins),
            line("Health checks", stats.health_checks),
            line("Health check failures", stats.health_check_failures),
            line("Idle sessions expired", stats.expired),
            line("Sessions idle", u64::from(stats.idle)),
            line("Sessions in use", u64::from(stats.in_use)),
        ]
    }

    async fn shutdown(&self) {
        VsphereFactory::shutdown(self).await;
    }
}

/// One vSphere connection: its session pool and the last inventory read.
pub struct VsphereProvider {
    pool: SessionPool,
    pinned: Option<Fingerprint>,
    has_password: bool,
    datacenter: Option<String>,
    discovery: DiscoveryOptions,
    snapshot: Mutex<Option<(Instant, Arc<Inventory>)>>,
}

impl std::fmt::Debug for VsphereProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VsphereProvider")
            .field("pool", &self.pool)
            .field("pinned", &self.pinned)
            .finish_non_exhaustive()
    }
}

impl VsphereProvider {
    pub fn new(
        connection: &Connection,
        secret: Option<Secret>,
        settings: VsphereSettings,
    ) -> Result<VsphereProvider> {
        let pinned = connection
            .tls_fingerprint
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                Fingerprint::parse(t).map_err(|e| VsphereError::InvalidFingerprint(e.to_string()))
            })
            .transpose()?;
        let client = Arc::new(SoapClient::new(
            &connection.endpoint,
            pinned,
            settings.timeouts,
        )?);
        let has_password = secret.as_ref().is_some_and(|s| !s.is_empty());
        let pool = SessionPool::new(
            client,
            connection.username.clone(),
            secret.unwrap_or_else(|| Secret::new("")),
            settings.pool,
            connection.name.clone(),
        );
        Ok(VsphereProvider {
            pool,
            pinned,
            has_password,
            datacenter: connection
                .options
                .get("datacenter")
                .map(|d| d.trim().to_owned())
                .filter(|d| !d.is_empty()),
            discovery: settings.discovery,
            snapshot: Mutex::new(None),
        })
    }

    pub fn pool(&self) -> &SessionPool {
        &self.pool
    }

    pub fn pool_stats(&self) -> PoolStats {
        self.pool.stats()
    }

    fn require_password(&self) -> Result<()> {
        if self.has_password {
            Ok(())
        } else {
            Err(VsphereError::AuthFailed {
                endpoint: self.pool.client().endpoint().to_owned(),
            })
        }
    }

    /// Reads the whole inventory now (tree + VM rows) and keeps it for paging.
    pub async fn refresh_inventory(&self) -> Result<Arc<Inventory>> {
        self.require_password()?;
        let started = Instant::now();
        let inv = Arc::new(
            inventory::discover(&self.pool, self.datacenter.as_deref(), self.discovery).await?,
        );
        tracing::info!(
            datacenters = inv.datacenters.len(),
            vms = inv.vms.len(),
            ms = started.elapsed().as_millis() as u64,
            "vSphere inventory read"
        );
        if let Ok(mut snap) = self.snapshot.lock() {
            *snap = Some((Instant::now(), Arc::clone(&inv)));
        }
        Ok(inv)
    }

    /// The inventory tree for the UI, with cancellation.
    pub async fn inventory(&self, cancel: &CancellationToken) -> CoreResult<Arc<Inventory>> {
        cancellable(cancel, self.refresh_inventory()).await
    }

    fn cached_snapshot(&self) -> Option<Arc<Inventory>> {
        let snap = self.snapshot.lock().ok()?;
        let (at, inv) = snap.as_ref()?;
        (at.elapsed() < SNAPSHOT_TTL).then(|| Arc::clone(inv))
    }

    async fn check_tls(&self) -> TestCheck {
        let name = "TLS certificate".to_owned();
        // A fresh request (not the pool's cached ServiceContent), so a
        // certificate that changed since the last call is seen.
        match self.pool.client().retrieve_service_content().await {
            Ok(sc) => TestCheck {
                name,
                ok: true,
                detail: format!(
                    "{} — {}; {}",
                    if self.pool.client().endpoint().starts_with("http://") {
                        "plain HTTP, no certificate (local test server)".to_owned()
                    } else if let Some(pin) = self.pinned {
                        format!(
                            "matches the pinned SHA-256 fingerprint {}",
                            pin.to_colon_hex()
                        )
                    } else {
                        "trusted by this computer's certificate authorities".to_owned()
                    },
                    if sc.about.full_name.is_empty() {
                        sc.about.name.clone()
                    } else {
                        sc.about.full_name.clone()
                    },
                    format_args!("API {}", sc.about.api_version)
                ),
                fingerprint: None,
                pin_option: None,
                skipped: false,
                code: None,
            },
            Err(e) => TestCheck {
                name,
                ok: false,
                fingerprint: e.fingerprint().map(|f| f.to_colon_hex()),
                pin_option: None,
                skipped: false,
                code: None,
                detail: e.to_string(),
            },
        }
    }
}

#[async_trait]
impl Provider for VsphereProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Vsphere
    }

    fn capabilities(&self) -> Capabilities {
        // Live: a powered-on VM is exported from a snapshot over NFC.
        Capabilities {
            live_export: true,
            incremental: false,
            formats: ["ova", "ovf"].map(String::from).to_vec(),
        }
    }

    async fn validate(&self, cancel: &CancellationToken) -> CoreResult<Vec<TestCheck>> {
        let work = async {
            let mut checks = Vec::with_capacity(3);
            let tls = self.check_tls().await;
            let tls_ok = tls.ok;
            checks.push(tls);
            if !tls_ok {
                checks.push(TestCheck::not_checked("Sign in", "the TLS check failed"));
                checks.push(TestCheck::not_checked(
                    "Inventory readable",
                    "the TLS check failed",
                ));
                return Ok(checks);
            }
            if !self.has_password {
                checks.push(TestCheck::failed_with(
                    "Sign in",
                    "secret_missing",
                    "no password is saved for this connection; edit it to set one",
                ));
                checks.push(TestCheck::not_checked(
                    "Inventory readable",
                    "not signed in",
                ));
                return Ok(checks);
            }
            match self.pool.sign_in().await {
                Ok(()) => checks.push(TestCheck::passed(
                    "Sign in",
                    format!("signed in as {}", self.pool.username()),
                )),
                Err(e) => {
                    checks.push(TestCheck::failed_with("Sign in", e.code(), e.to_string()));
                    checks.push(TestCheck::not_checked(
                        "Inventory readable",
                        "not signed in",
                    ));
                    return Ok(checks);
                }
            }
            checks.push(match self.refresh_inventory().await {
                Ok(inv) => TestCheck::passed(
                    "Inventory readable",
                    format!(
                        "{} datacenter(s), {} VM(s)",
                        inv.datacenters.len(),
                        inv.vms.len()
                    ),
                ),
                Err(e) => TestCheck::failed_with("Inventory readable", e.code(), e.to_string()),
            });
            Ok::<_, VsphereError>(checks)
        };
        cancellable(cancel, work).await
    }

    async fn list_vms(
        &self,
        filter: &VmFilter,
        cursor: Option<String>,
        cancel: &CancellationToken,
    ) -> CoreResult<VmPage> {
        let inv = match (&cursor, self.cached_snapshot()) {
            (Some(_), Some(inv)) => inv,
            _ => cancellable(cancel, self.refresh_inventory()).await?,
        };
        let vms: Vec<VmInfo> = inv.vms.iter().map(VmInfo::from).collect();
        VmPage::of_sorted(&vms, filter, cursor.as_deref())
    }

    async fn get_vm(&self, id: &str, cancel: &CancellationToken) -> CoreResult<VmInfo> {
        let work = async {
            self.require_password()?;
            inventory::fetch_vm(
                &self.pool,
                id,
                self.datacenter.as_deref(),
                self.discovery.device_counts,
            )
            .await
        };
        cancellable(cancel, work).await.map(|r| VmInfo::from(&r))
    }

    async fn export(
        &self,
        vm_id: &str,
        tag: &str,
        // vSphere offers no per-export choices (its kind declares none).
        _options: &hypersdk_core::providers::PlatformOptions,
        cancel: &CancellationToken,
    ) -> CoreResult<ExportPlan> {
        self.require_password()?;
        // Not wrapped in `cancellable`: dropping `begin` half-way could leave
        // a snapshot behind; it checks the token between steps and cleans up.
        crate::export::begin(&self.pool, vm_id, tag, cancel)
            .await
            .map_err(CoreError::from)
    }

    async fn cleanup_export(
        &self,
        vm_id: &str,
        tag: &str,
        cancel: &CancellationToken,
    ) -> CoreResult<u32> {
        self.require_password()?;
        cancellable(cancel, crate::export::cleanup(&self.pool, vm_id, tag)).await
    }
}

//! The core's `Provider` for Proxmox VE, and the factory the shell registers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use hypersdk_core::model::{
    Connection, ProviderKind, Secret, Secrets, TestCheck, VmFilter, VmInfo,
};
use hypersdk_core::providers::{
    Capabilities, ExportPlan, PlatformOptions, Provider, ProviderCache, ProviderFactory, VmPage,
    cancellable,
};
use hypersdk_core::tls::Fingerprint;
use hypersdk_core::{CoreError, Result as CoreResult};
use tokio_util::sync::CancellationToken;

use crate::api::{ApiClient, Credentials, Timeouts};
use crate::error::{ProxmoxError, Result};
use crate::export::{BackupMode, LockCheck, SshSettings, VzdumpUnpack, vm_spec};
use crate::inventory::{self, Inventory};

/// A cursor older than this re-reads the cluster instead of paging a stale copy.
const SNAPSHOT_TTL: Duration = Duration::from_secs(10 * 60);

/// Up to this many VMs, a listing waits for their configs; above it, the
/// listing is answered first and the configs are read behind it.
const CONFIGS_INLINE: usize = 64;

/// Everything tunable about a Proxmox provider.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProxmoxSettings {
    pub timeouts: Timeouts,
}

/// Builds providers for saved Proxmox connections, one per connection so a
/// ticket and the last inventory are reused across commands; an edited
/// connection gets a fresh one.
#[derive(Default)]
pub struct ProxmoxFactory {
    settings: ProxmoxSettings,
    providers: ProviderCache<ProxmoxProvider>,
}

impl std::fmt::Debug for ProxmoxFactory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxmoxFactory")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl ProxmoxFactory {
    pub fn new(settings: ProxmoxSettings) -> ProxmoxFactory {
        ProxmoxFactory {
            settings,
            providers: ProviderCache::default(),
        }
    }

    /// The concrete provider, for callers that need more than the trait.
    pub fn connect_proxmox(
        &self,
        connection: &Connection,
        secrets: Secrets,
    ) -> CoreResult<Arc<ProxmoxProvider>> {
        let settings = self.settings;
        self.providers
            .get_or_connect(connection, secrets, |connection, secrets| {
                Ok(ProxmoxProvider::new(connection, secrets.clone(), settings)?)
            })
    }
}

#[async_trait]
impl ProviderFactory for ProxmoxFactory {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Proxmox
    }

    fn connect(&self, connection: &Connection, secrets: Secrets) -> CoreResult<Arc<dyn Provider>> {
        let p: Arc<dyn Provider> = self.connect_proxmox(connection, secrets)?;
        Ok(p)
    }
}

/// One Proxmox connection: its API client and the last inventory read.
pub struct ProxmoxProvider {
    api: Arc<ApiClient>,
    ssh: SshSettings,
    pinned: Option<Fingerprint>,
    has_secret: bool,
    node: Option<String>,
    snapshot: Arc<Mutex<Snapshot>>,
}

/// Reads the configs behind a listing into the snapshot.
struct ConfigFill {
    api: Arc<ApiClient>,
    slot: Arc<Mutex<Snapshot>>,
    listed: Arc<Inventory>,
}

impl ConfigFill {
    fn spawn(self) {
        tokio::spawn(async move {
            let started = Instant::now();
            let mut full = (*self.listed).clone();
            inventory::fill_configs(&self.api, &mut full).await;
            tracing::info!(
                guests = full.guests.len(),
                ms = started.elapsed().as_millis() as u64,
                "Proxmox VM configs read behind the listing"
            );
            if let Ok(mut snap) = self.slot.lock() {
                // Only if no newer listing replaced the one these configs belong to.
                if snap
                    .current
                    .as_ref()
                    .is_some_and(|(_, c)| Arc::ptr_eq(c, &self.listed))
                {
                    snap.current = Some((Instant::now(), Arc::new(full)));
                    snap.unseen_details = true;
                }
                snap.filling = false;
            }
        });
    }
}

/// The inventory pages are read from, and the full read behind a listing.
#[derive(Default)]
struct Snapshot {
    /// When it was read, and it.
    current: Option<(Instant, Arc<Inventory>)>,
    /// The configs of `current` are being read.
    filling: bool,
    /// They were read, and no first page has shown them yet.
    unseen_details: bool,
}

impl std::fmt::Debug for ProxmoxProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProxmoxProvider")
            .field("api", &self.api)
            .field("node", &self.node)
            .finish_non_exhaustive()
    }
}

impl ProxmoxProvider {
    pub fn new(
        connection: &Connection,
        secrets: Secrets,
        settings: ProxmoxSettings,
    ) -> Result<ProxmoxProvider> {
        let secret = secrets.main.clone();
        let pinned = connection
            .tls_fingerprint
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(|t| {
                Fingerprint::parse(t).map_err(|e| ProxmoxError::InvalidFingerprint(e.to_string()))
            })
            .transpose()?;
        let has_secret = secret.as_ref().is_some_and(|s| !s.is_empty());
        let credentials = Credentials::from_login(
            &connection.username,
            secret.unwrap_or_else(|| Secret::new("")),
        );
        let api = Arc::new(ApiClient::new(
            &connection.endpoint,
            pinned,
            credentials,
            settings.timeouts,
        )?);
        let ssh = SshSettings::from_connection(&connection.options, &secrets)?;
        Ok(ProxmoxProvider {
            api,
            ssh,
            pinned,
            has_secret,
            node: connection
                .options
                .get("node")
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty()),
            snapshot: Arc::default(),
        })
    }

    pub fn api(&self) -> &ApiClient {
        &self.api
    }

    fn require_secret(&self) -> Result<()> {
        if self.has_secret {
            Ok(())
        } else {
            Err(ProxmoxError::AuthFailed {
                endpoint: self.api.endpoint().to_owned(),
                detail: format!(
                    "no password or API token secret is saved for {}; edit the connection to set one",
                    self.api.credentials().user()
                ),
            })
        }
    }

    /// Reads the whole cluster now and keeps it for paging.
    pub async fn refresh_inventory(&self) -> Result<Arc<Inventory>> {
        self.require_secret()?;
        let started = Instant::now();
        let inv = Arc::new(
            inventory::discover(&self.api, self.node.as_deref(), inventory::Configs::All).await?,
        );
        tracing::info!(
            guests = inv.guests.len(),
            ms = started.elapsed().as_millis() as u64,
            "Proxmox inventory read"
        );
        if let Ok(mut snap) = self.snapshot.lock() {
            snap.current = Some((Instant::now(), Arc::clone(&inv)));
        }
        Ok(inv)
    }

    /// What a first page is read from. A new listing, unless the configs of
    /// the last one are still being read (its rows say `details_pending`),
    /// or have just been and no first page has shown them yet. A listing of
    /// more than [`CONFIGS_INLINE`] VMs is answered at once and the configs
    /// read behind it (the [`ConfigFill`] returned, for the caller to start
    /// once its page is built), so a large cluster's VMs show without waiting
    /// for one request per VM.
    async fn first_page_inventory(&self) -> Result<(Arc<Inventory>, Option<ConfigFill>)> {
        self.require_secret()?;
        if let Ok(mut snap) = self.snapshot.lock()
            && (snap.filling || std::mem::take(&mut snap.unseen_details))
            && let Some((_, inv)) = &snap.current
        {
            return Ok((Arc::clone(inv), None));
        }
        let started = Instant::now();
        let mut listing =
            inventory::discover(&self.api, self.node.as_deref(), inventory::Configs::None).await?;
        let vms = listing.guests.iter().filter(|g| g.is_qemu()).count();
        if vms <= CONFIGS_INLINE {
            inventory::fill_configs(&self.api, &mut listing).await;
        }
        let inv = Arc::new(listing);
        tracing::info!(
            guests = inv.guests.len(),
            details_pending = inv.details_pending,
            ms = started.elapsed().as_millis() as u64,
            "Proxmox inventory listed"
        );
        let Ok(mut snap) = self.snapshot.lock() else {
            return Ok((inv, None));
        };
        snap.current = Some((Instant::now(), Arc::clone(&inv)));
        snap.unseen_details = false;
        snap.filling = inv.details_pending;
        let fill = inv.details_pending.then(|| ConfigFill {
            api: Arc::clone(&self.api),
            slot: Arc::clone(&self.snapshot),
            listed: Arc::clone(&inv),
        });
        Ok((inv, fill))
    }

    fn cached_snapshot(&self) -> Option<Arc<Inventory>> {
        let snap = self.snapshot.lock().ok()?;
        let (at, inv) = snap.current.as_ref()?;
        (at.elapsed() < SNAPSHOT_TTL).then(|| Arc::clone(inv))
    }

    /// The guest `vmid` as it is now (a fresh listing: the VM may have
    /// migrated to another node since the last inventory), with only its own
    /// config read. Not kept as the paging snapshot, which needs every config.
    pub async fn find_guest(&self, vmid: &str) -> Result<(Inventory, usize)> {
        let wanted: u32 = vmid.trim().parse().map_err(|_| ProxmoxError::NotFound {
            what: "VM",
            id: vmid.to_owned(),
        })?;
        self.require_secret()?;
        let inv = inventory::discover(
            &self.api,
            self.node.as_deref(),
            inventory::Configs::Only(wanted),
        )
        .await?;
        let index = inv
            .guests
            .iter()
            .position(|g| g.resource.vmid == wanted)
            .ok_or_else(|| ProxmoxError::NotFound {
                what: "VM",
                id: vmid.to_owned(),
            })?;
        Ok((inv, index))
    }

    /// Where vzdump for a guest on `node` runs: the connection's SSH host,
    /// else the node's cluster address, else the API's host.
    fn ssh_host(&self, inv: &Inventory, node: &str) -> String {
        let api_host = url::Url::parse(self.api.endpoint())
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_default();
        self.ssh.host_for(node, &inv.node_addresses, &api_host)
    }

    /// The data path: SSH to a node that holds guests (the first one, or the
    /// connection's SSH host), host key pinned, and vzdump there.
    async fn check_ssh(&self, inv: &Inventory, cancel: &CancellationToken) -> TestCheck {
        let name = "SSH data path (vzdump)";
        let node = inv
            .guests
            .iter()
            .find(|g| g.is_qemu())
            .map(|g| g.resource.node.clone())
            .or_else(|| inv.node_addresses.keys().next().cloned())
            .unwrap_or_default();
        let host = self.ssh_host(inv, &node);
        let session = match self.ssh.connect(&host, cancel).await {
            Ok(s) => s,
            Err(e) => {
                let fingerprint = match &e {
                    ProxmoxError::Ssh(s) => s.fingerprint().map(str::to_owned),
                    _ => None,
                };
                return TestCheck {
                    name: name.into(),
                    ok: false,
                    detail: e.to_string(),
                    pin_option: fingerprint.as_ref().map(|_| "ssh_host_keys".to_owned()),
                    skipped: false,
                    code: Some(e.code().to_owned()),
                    fingerprint,
                };
            }
        };
        // `command -v` is POSIX; PVE installs vzdump as /usr/bin/vzdump.
        let found = session.run("command -v vzdump").await;
        // vzdump's CLI runs for root only; anyone else's exports go through a storage.
        let root = match &found {
            Ok(exit) if exit.success() => session
                .run("test \"$(id -u)\" = 0")
                .await
                .is_ok_and(|e| e.success()),
            _ => false,
        };
        check(
            name,
            match found {
                Ok(exit) if exit.success() && root => Ok(format!(
                    "signed in to {} as {}; vzdump is there (node {node})",
                    session.endpoint(),
                    self.ssh.user
                )),
                Ok(exit) if exit.success() => Ok(format!(
                    "signed in to {} as {}; vzdump is there (node {node}), but runs only for root: \
                     exports back up into the storage \"{}\" through the API and read the file over SFTP",
                    session.endpoint(),
                    self.ssh.user,
                    self.ssh.backup_storage
                )),
                Ok(_) => Err(format!(
                    "signed in to {} as {}, but vzdump is not on that user's PATH: is this a Proxmox VE node?",
                    session.endpoint(),
                    self.ssh.user
                )),
                Err(e) => Err(e.to_string()),
            },
        )
    }

    async fn check_tls(&self) -> TestCheck {
        let name = "TLS certificate".to_owned();
        let trust = if self.api.endpoint().starts_with("http://") {
            "plain HTTP, no certificate (local test server)".to_owned()
        } else if let Some(pin) = self.pinned {
            format!(
                "matches the pinned SHA-256 fingerprint {}",
                pin.to_colon_hex()
            )
        } else {
            "trusted by this computer's certificate authorities".to_owned()
        };
        // `/version` needs credentials, but the handshake comes first: a
        // refused sign-in still proves the certificate was accepted.
        match self.api.version().await {
            Ok(v) => TestCheck {
                name,
                ok: true,
                detail: format!("{trust}; Proxmox VE {}", v.version),
                fingerprint: None,
                pin_option: None,
                skipped: false,
                code: None,
            },
            Err(ProxmoxError::AuthFailed { .. } | ProxmoxError::PermissionDenied { .. }) => {
                TestCheck {
                    name,
                    ok: true,
                    detail: trust,
                    fingerprint: None,
                    pin_option: None,
                    skipped: false,
                    code: None,
                }
            }
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

fn check(name: &str, result: std::result::Result<String, String>) -> TestCheck {
    match result {
        Ok(detail) => TestCheck::passed(name, detail),
        Err(detail) => TestCheck::failed(name, detail),
    }
}

#[async_trait]
impl Provider for ProxmoxProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Proxmox
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            live_export: true,
            incremental: false,
            formats: ["ova", "ovf"].map(String::from).to_vec(),
        }
    }

    /// vzdump's own name, so the file sits among a storage's backups and
    /// `qmrestore` takes it as it is (the time is this machine's, where
    /// vzdump uses the node's).
    fn native_archive_name(
        &self,
        vm: &VmInfo,
        at: chrono::DateTime<chrono::Local>,
    ) -> Option<String> {
        let vmid: u32 = vm.id.parse().ok()?;
        Some(format!(
            "vzdump-qemu-{vmid}-{}.vma.zst",
            at.format("%Y_%m_%d-%H_%M_%S")
        ))
    }

    async fn validate(&self, cancel: &CancellationToken) -> CoreResult<Vec<TestCheck>> {
        let work = async {
            let mut checks = Vec::with_capacity(4);
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
            if let Err(e) = self.require_secret() {
                checks.push(TestCheck::failed_with("Sign in", e.code(), e.to_string()));
                checks.push(TestCheck::not_checked(
                    "Inventory readable",
                    "not signed in",
                ));
                return Ok(checks);
            }
            let user = self.api.credentials().user().to_owned();
            let how = match self.api.credentials() {
                Credentials::Token { .. } => "API token",
                Credentials::Password { .. } => "password",
            };
            match self.api.sign_in().await.and(self.api.version().await) {
                Ok(v) => checks.push(check(
                    "Sign in",
                    Ok(format!(
                        "signed in as {user} ({how}); Proxmox VE {}",
                        v.version
                    )),
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
            let inventory = self.refresh_inventory().await;
            checks.push(check(
                "Inventory readable",
                inventory
                    .as_ref()
                    .map(|inv| {
                        let mut nodes: Vec<&str> = inv
                            .guests
                            .iter()
                            .map(|g| g.resource.node.as_str())
                            .collect();
                        nodes.sort_unstable();
                        nodes.dedup();
                        format!(
                            "{}: {} guest(s) on {} node(s)",
                            inv.datacenter,
                            inv.guests.len(),
                            nodes.len()
                        )
                    })
                    .map_err(|e| e.to_string()),
            ));
            if let Ok(inv) = &inventory {
                checks.push(self.check_ssh(inv, cancel).await);
            }
            Ok::<_, ProxmoxError>(checks)
        };
        cancellable(cancel, work).await
    }

    async fn list_vms(
        &self,
        filter: &VmFilter,
        cursor: Option<String>,
        cancel: &CancellationToken,
    ) -> CoreResult<VmPage> {
        let (inv, fill) = match (&cursor, self.cached_snapshot()) {
            (Some(_), Some(inv)) => (inv, None),
            _ => cancellable(cancel, self.first_page_inventory()).await?,
        };
        let page = VmPage::of_sorted(&inv.vm_infos(), filter, cursor.as_deref());
        // After the page is built: the configs' reads then compete with nothing of it.
        if let Some(fill) = fill {
            fill.spawn();
        }
        page
    }

    async fn get_vm(&self, id: &str, cancel: &CancellationToken) -> CoreResult<VmInfo> {
        let (inv, index) = cancellable(cancel, self.find_guest(id)).await?;
        let vmid = inv.guests[index].resource.vmid.to_string();
        inv.vm_infos()
            .into_iter()
            .find(|vm| vm.id == vmid)
            .ok_or_else(|| CoreError::NotFound {
                what: "VM",
                id: id.to_owned(),
            })
    }

    async fn export(
        &self,
        vm_id: &str,
        tag: &str,
        options: &PlatformOptions,
        cancel: &CancellationToken,
    ) -> CoreResult<ExportPlan> {
        let mode = BackupMode::parse(options.get("mode").map_or("", String::as_str))?;
        let (inv, index) = cancellable(cancel, self.find_guest(vm_id)).await?;
        let guest = &inv.guests[index];
        let r = &guest.resource;
        if !guest.is_qemu() {
            return Err(CoreError::Unsupported(format!(
                "{} ({}) is an LXC container; this version exports QEMU virtual machines only",
                r.name.as_deref().unwrap_or("?"),
                r.vmid
            )));
        }
        if let Some(lock) = r.lock.as_deref().filter(|l| !l.is_empty()) {
            return Err(ProxmoxError::Locked {
                vmid: r.vmid,
                lock: lock.to_owned(),
            }
            .into());
        }
        let config = match &guest.config {
            Some(c) => c.clone(),
            None => cancellable(cancel, inventory::read_config(&self.api, &r.node, r.vmid)).await?,
        };
        let name = r.name.clone().unwrap_or_else(|| format!("vm-{}", r.vmid));
        let host = self.ssh_host(&inv, &r.node);
        tracing::info!(vmid = r.vmid, node = %r.node, %host, job = tag, "Proxmox export planned");
        let planned = format!(
            "vzdump {} (mode {}) on node {} over SSH to {host}",
            r.vmid,
            mode.as_str(),
            r.node
        );
        Ok(ExportPlan {
            vm: vm_spec(&name, &config),
            disks: Vec::new(),
            unpack: Some(Box::new(VzdumpUnpack {
                api: Arc::clone(&self.api),
                vmid: r.vmid,
                node: r.node.clone(),
                vm_name: name,
                host,
                mode,
                settings: self.ssh.clone(),
                config,
            })),
            session: Box::new(LockCheck {
                api: Arc::clone(&self.api),
                node: r.node.clone(),
                vmid: r.vmid,
            }),
            steps: vec![planned],
        })
    }
}

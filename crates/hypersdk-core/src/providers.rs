//! The one shape every platform takes, and the registry the shell fills.
//!
//! Provider crates depend on this trait, never the other way round. A kind
//! with no registered provider can still have connections saved and tested
//! for reachability; browsing and exporting it is a typed `Unsupported` error.

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use crate::error::{CoreError, Result};
use crate::model::{Connection, ProviderKind, Secrets, TestCheck, VmFilter, VmInfo};

/// What a provider hands the export engine for one VM: its hardware, a byte
/// source per disk, and the server-side session (a vSphere NFC lease and
/// snapshot, a cloud export task) that must be kept alive while the bytes
/// flow and then completed or aborted.
pub struct ExportPlan {
    /// The VM's hardware as the OVF descriptor will describe it (disks are
    /// rebuilt from `disks`).
    pub vm: hypersdk_ovf::VmSpec,
    pub disks: Vec<hypersdk_ovf::ExportDisk>,
    /// Set when the platform sends every disk multiplexed in one stream (a
    /// backup archive such as Proxmox's VMA): the engine runs it first, into
    /// a staging folder beside the destination, and packages the local disk
    /// files it returns instead of `disks` (then empty).
    pub unpack: Option<Box<dyn Unpack>>,
    pub session: Box<dyn ExportSession>,
    /// What the platform did to make the export ready (a snapshot taken, a
    /// lease granted), in order, for the job's log.
    pub steps: Vec<String>,
}

/// An export's platform options (`ExportFormat::platform_options`).
pub type PlatformOptions = std::collections::BTreeMap<String, String>;

/// Progress of an unpack: (disk index, bytes of that disk done).
pub type UnpackProgress = Arc<dyn Fn(usize, u64) + Send + Sync>;

/// A multiplexed disk source (see [`ExportPlan::unpack`]).
#[async_trait]
pub trait Unpack: Send {
    /// The disks the archive will yield (name, size), known before it is
    /// read, so progress shows them from the start.
    fn disks(&self) -> Vec<(String, Option<u64>)>;
    /// Reads the whole stream into `dir` (an empty folder on the
    /// destination's file system, removed by the engine afterwards), checking
    /// it as it goes. Returns local disks to package and, when the archive
    /// carries the VM's configuration, the hardware it describes.
    async fn run(
        self: Box<Self>,
        dir: &std::path::Path,
        progress: UnpackProgress,
        cancel: &CancellationToken,
    ) -> Result<Unpacked>;
    /// Writes the archive itself into `out` (created or truncated; on the
    /// destination's file system, synced and renamed by the engine), reading
    /// it through as [`Unpack::run`] does so that a damaged archive fails
    /// here; nothing is unpacked (`PackageKind::Native`). Returns its bytes.
    async fn keep(
        self: Box<Self>,
        out: &std::path::Path,
        progress: UnpackProgress,
        cancel: &CancellationToken,
    ) -> Result<u64> {
        let _ = (out, progress, cancel);
        Err(CoreError::Unsupported(
            "this platform's archive cannot be kept as it is; export an OVA or OVF".into(),
        ))
    }
}

/// What an [`Unpack`] produced.
#[derive(Debug)]
pub struct Unpacked {
    /// The hardware from the archive's own configuration, if it has one
    /// (it describes the VM as backed up, which the live API may not).
    pub vm: Option<hypersdk_ovf::VmSpec>,
    /// The disks, as local files in the staging folder.
    pub disks: Vec<hypersdk_ovf::ExportDisk>,
}

impl std::fmt::Debug for ExportPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportPlan")
            .field("vm", &self.vm.name)
            .field("disks", &self.disks)
            .field("unpack", &self.unpack.is_some())
            .finish_non_exhaustive()
    }
}

/// The server side of one export. Exactly one of `complete` or `abort` is
/// called, whatever happens to the download; both release everything the
/// provider created for the export (lease, snapshot, temporary image).
#[async_trait]
pub trait ExportSession: Send + Sync {
    /// How often `keep_alive` must be called so the server does not time
    /// the export out.
    fn keep_alive_interval(&self) -> std::time::Duration;
    /// Tells the server the export is still going, with its progress.
    async fn keep_alive(&self, percent: u8) -> Result<()>;
    /// What `complete` does, in the job log's words once it has succeeded
    /// ("snapshot … removed"); asked before it runs, as it consumes the session.
    fn released_step(&self) -> String {
        "the server side of the export is released".to_owned()
    }
    /// All bytes are safely written: release the server side.
    async fn complete(self: Box<Self>) -> Result<()>;
    /// The export failed or was cancelled: release the server side.
    async fn abort(self: Box<Self>, reason: &str) -> Result<()>;
}

/// What a provider can do, so the UI offers only what will work.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, specta::Type)]
pub struct Capabilities {
    pub live_export: bool,
    pub incremental: bool,
    pub formats: Vec<String>,
}

/// One page of a VM listing; `next` is an opaque cursor for the next page.
#[derive(Debug, Clone, PartialEq, serde::Serialize, specta::Type)]
pub struct VmPage {
    pub vms: Vec<VmInfo>,
    pub next: Option<String>,
}

/// VMs per `list_vms` page.
pub const PAGE_SIZE: usize = 1000;

impl VmPage {
    /// The page after `cursor` of `vms`, which must be sorted by (path, id),
    /// as every provider's inventory snapshot is. The cursor is the (path,
    /// id) of the last VM returned, hex-encoded, so paging stays stable when
    /// VMs are added or removed between pages.
    pub fn of_sorted(vms: &[VmInfo], filter: &VmFilter, cursor: Option<&str>) -> Result<VmPage> {
        let after = cursor.map(decode_cursor).transpose()?;
        let start = match &after {
            Some((path, id)) => vms.partition_point(|v| (&v.path, &v.id) <= (path, id)),
            None => 0,
        };
        let mut out = Vec::new();
        let mut next = None;
        for vm in vms[start..].iter().filter(|v| filter.matches(v)) {
            if out.len() == PAGE_SIZE {
                next = out.last().map(encode_cursor);
                break;
            }
            out.push(vm.clone());
        }
        Ok(VmPage { vms: out, next })
    }
}

fn encode_cursor(vm: &VmInfo) -> String {
    hex::encode(format!("{}\n{}", vm.path, vm.id))
}

fn decode_cursor(cursor: &str) -> Result<(String, String)> {
    let invalid = || CoreError::invalid("cursor", "invalid cursor");
    let bytes = hex::decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let (path, id) = text.rsplit_once('\n').ok_or_else(invalid)?;
    Ok((path.to_owned(), id.to_owned()))
}

#[async_trait]
pub trait Provider: Send + Sync {
    fn kind(&self) -> ProviderKind;
    fn capabilities(&self) -> Capabilities;
    /// Signs in and checks what a connection test should check (reachability,
    /// certificate, credentials, permissions), one `TestCheck` each.
    async fn validate(&self, cancel: &CancellationToken) -> Result<Vec<TestCheck>>;
    async fn list_vms(
        &self,
        filter: &VmFilter,
        cursor: Option<String>,
        cancel: &CancellationToken,
    ) -> Result<VmPage>;
    async fn get_vm(&self, id: &str, cancel: &CancellationToken) -> Result<VmInfo>;
    /// Prepares the export of one VM (see [`ExportPlan`]). `tag` identifies
    /// the job, so whatever the provider creates for it on the server can be
    /// found again by [`Provider::cleanup_export`] after a crash. `options`
    /// are the kind's export options, already checked against its choices.
    async fn export(
        &self,
        vm_id: &str,
        tag: &str,
        options: &PlatformOptions,
        cancel: &CancellationToken,
    ) -> Result<ExportPlan> {
        let _ = (vm_id, tag, options, cancel);
        Err(CoreError::Unsupported(format!(
            "exporting {} VMs is not available yet",
            crate::kinds::display_name(self.kind())
        )))
    }
    /// The file name of the platform's own backup archive of `vm`, started
    /// at `at` (`PackageKind::Native`), for providers whose export plan can
    /// keep one ([`Unpack::keep`]); `None` when the platform has none.
    fn native_archive_name(
        &self,
        vm: &VmInfo,
        at: chrono::DateTime<chrono::Local>,
    ) -> Option<String> {
        let _ = (vm, at);
        None
    }
    /// Removes what an export tagged `tag` left on the server (a snapshot
    /// after a crash). Returns how many objects were removed.
    async fn cleanup_export(
        &self,
        vm_id: &str,
        tag: &str,
        cancel: &CancellationToken,
    ) -> Result<u32> {
        let _ = (vm_id, tag, cancel);
        Ok(0)
    }
}

/// Runs a provider call unless `cancel` fires first (the call is dropped),
/// its error turned into the core's.
pub async fn cancellable<T, E: Into<CoreError>>(
    cancel: &CancellationToken,
    fut: impl std::future::Future<Output = std::result::Result<T, E>>,
) -> Result<T> {
    tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(CoreError::Cancelled),
        r = fut => r.map_err(|e| {
            let e = e.into();
            tracing::debug!(code = e.code(), error = %e, "provider call failed");
            e
        }),
    }
}

/// One line of a connection's live details (session pool counters, …).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, specta::Type)]
pub struct Diagnostic {
    pub label: String,
    pub value: String,
}

/// Builds a provider session for a saved connection and its secret.
#[async_trait]
pub trait ProviderFactory: Send + Sync {
    fn kind(&self) -> ProviderKind;
    fn connect(&self, connection: &Connection, secrets: Secrets) -> Result<Arc<dyn Provider>>;
    /// Live details of the provider this process keeps for a connection, if any.
    fn diagnostics(&self, connection_id: &str) -> Vec<Diagnostic> {
        let _ = connection_id;
        Vec::new()
    }
    /// Signs out and releases what the factory keeps; called once at process exit.
    async fn shutdown(&self) {}
}

/// One provider per connection, kept while the connection and its secrets
/// stay the same (its sessions, tickets, last inventory) and rebuilt when
/// either changes: what a factory holds.
pub struct ProviderCache<P> {
    entries: std::sync::Mutex<HashMap<String, CacheEntry<P>>>,
}

struct CacheEntry<P> {
    connection: Connection,
    secrets: Secrets,
    provider: Arc<P>,
}

impl<P> Default for ProviderCache<P> {
    fn default() -> Self {
        ProviderCache {
            entries: std::sync::Mutex::default(),
        }
    }
}

impl<P> ProviderCache<P> {
    /// The provider kept for `connection`, or a new one from `connect`.
    pub fn get_or_connect(
        &self,
        connection: &Connection,
        secrets: Secrets,
        connect: impl FnOnce(&Connection, &Secrets) -> Result<P>,
    ) -> Result<Arc<P>> {
        let mut entries = self.entries.lock().map_err(|_| {
            CoreError::Internal(format!(
                "the {} provider cache is poisoned",
                crate::kinds::display_name(connection.kind)
            ))
        })?;
        if let Some(e) = entries.get(&connection.id)
            && e.connection == *connection
            && e.secrets.same_as(&secrets)
        {
            return Ok(Arc::clone(&e.provider));
        }
        let provider = Arc::new(connect(connection, &secrets)?);
        entries.insert(
            connection.id.clone(),
            CacheEntry {
                connection: connection.clone(),
                secrets,
                provider: Arc::clone(&provider),
            },
        );
        Ok(provider)
    }
}

#[derive(Default, Clone)]
pub struct ProviderRegistry {
    factories: HashMap<ProviderKind, Arc<dyn ProviderFactory>>,
}

impl std::fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.factories.keys()).finish()
    }
}

impl ProviderRegistry {
    pub fn register(&mut self, factory: Arc<dyn ProviderFactory>) {
        self.factories.insert(factory.kind(), factory);
    }

    pub fn has(&self, kind: ProviderKind) -> bool {
        self.factories.contains_key(&kind)
    }

    pub fn connect(&self, connection: &Connection, secrets: Secrets) -> Result<Arc<dyn Provider>> {
        let factory = self.factories.get(&connection.kind).ok_or_else(|| {
            CoreError::Unsupported(format!(
                "browsing and exporting {} VMs is not available in this build",
                crate::kinds::display_name(connection.kind)
            ))
        })?;
        factory.connect(connection, secrets)
    }

    pub fn diagnostics(&self, connection: &Connection) -> Vec<Diagnostic> {
        self.factories
            .get(&connection.kind)
            .map(|f| f.diagnostics(&connection.id))
            .unwrap_or_default()
    }

    /// Every factory's [`ProviderFactory::shutdown`].
    pub async fn shutdown(&self) {
        for factory in self.factories.values() {
            factory.shutdown().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provider_is_kept_until_its_connection_or_secrets_change() {
        let cache: ProviderCache<u32> = ProviderCache::default();
        let mut connection = Connection {
            id: "c1".into(),
            kind: ProviderKind::Aws,
            name: "aws".into(),
            endpoint: String::new(),
            username: "AKIA1".into(),
            options: Default::default(),
            has_secret: true,
            secret_options: Vec::new(),
            tls_fingerprint: None,
            created_at: Default::default(),
            updated_at: Default::default(),
        };
        let built = std::cell::Cell::new(0);
        let connect = |_: &Connection, _: &Secrets| {
            built.set(built.get() + 1);
            Ok(built.get())
        };
        let first = cache
            .get_or_connect(&connection, Secrets::main("a"), connect)
            .expect("first");
        let again = cache
            .get_or_connect(&connection, Secrets::main("a"), connect)
            .expect("again");
        assert!(Arc::ptr_eq(&first, &again), "the same connection: kept");
        let new_secret = cache
            .get_or_connect(&connection, Secrets::main("b"), connect)
            .expect("secret");
        assert_eq!(*new_secret, 2, "a changed secret: rebuilt");
        connection.endpoint = "https://vpce.example".into();
        let edited = cache
            .get_or_connect(&connection, Secrets::main("b"), connect)
            .expect("edited");
        assert_eq!(*edited, 3, "an edited connection: rebuilt");
        let failed = cache.get_or_connect(&connection, Secrets::main("c"), |_, _| {
            Err(CoreError::Unsupported("no".into()))
        });
        assert!(failed.is_err(), "a failed connect is the caller's error");
    }
    use crate::model::PowerState;

    fn vm(i: usize) -> VmInfo {
        VmInfo {
            id: format!("vm-{i}"),
            name: format!("VM{i:05}"),
            path: format!("/DC0/vm/VM{i:05}"),
            power_state: if i.is_multiple_of(2) {
                PowerState::PoweredOn
            } else {
                PowerState::PoweredOff
            },
            guest_os: String::new(),
            cpus: 1,
            memory_mib: 32,
            disks: 1,
            disk_capacity_bytes: None,
            disk_used_bytes: None,
            storage: Vec::new(),
            nics: 1,
            template: false,
            tools_status: None,
            datacenter: Some("DC0".into()),
            cluster: None,
            host: None,
            resource_pool: None,
            tags: Vec::new(),
            not_exportable: None,
            details_pending: false,
        }
    }

    #[test]
    fn paging_walks_every_vm_once_with_a_filter() {
        let vms: Vec<VmInfo> = (0..2500).map(vm).collect();
        let filter = VmFilter {
            text: None,
            power_state: Some(PowerState::PoweredOn),
        };
        let mut cursor = None;
        let mut seen = Vec::new();
        loop {
            let p = VmPage::of_sorted(&vms, &filter, cursor.as_deref()).expect("page");
            assert!(p.vms.len() <= PAGE_SIZE);
            seen.extend(p.vms.into_iter().map(|v| v.id));
            match p.next {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        assert_eq!(seen.len(), 1250);
        let unique: std::collections::HashSet<_> = seen.iter().collect();
        assert_eq!(unique.len(), 1250);
        let err = VmPage::of_sorted(&vms, &filter, Some("zz")).expect_err("bad cursor");
        assert_eq!(err.code(), "invalid_input");
    }
}

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
use crate::model::{Connection, ProviderKind, Secret, TestCheck, VmFilter, VmInfo};

/// What a provider hands the export engine for one VM: its hardware, a byte
/// source per disk, and the server-side session (a vSphere NFC lease and
/// snapshot, a cloud export task) that must be kept alive while the bytes
/// flow and then completed or aborted.
pub struct ExportPlan {
    /// The VM's hardware as the OVF descriptor will describe it (disks are
    /// rebuilt from `disks`).
    pub vm: hypersdk_ovf::VmSpec,
    pub disks: Vec<hypersdk_ovf::ExportDisk>,
    pub session: Box<dyn ExportSession>,
}

impl std::fmt::Debug for ExportPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportPlan")
            .field("vm", &self.vm.name)
            .field("disks", &self.disks)
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
    /// found again by [`Provider::cleanup_export`] after a crash.
    async fn export(
        &self,
        vm_id: &str,
        tag: &str,
        cancel: &CancellationToken,
    ) -> Result<ExportPlan> {
        let _ = (vm_id, tag, cancel);
        Err(CoreError::Unsupported(format!(
            "exporting {} VMs is not available yet",
            crate::kinds::display_name(self.kind())
        )))
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
    fn connect(&self, connection: &Connection, secret: Option<Secret>)
    -> Result<Arc<dyn Provider>>;
    /// Live details of the provider this process keeps for a connection, if any.
    fn diagnostics(&self, connection_id: &str) -> Vec<Diagnostic> {
        let _ = connection_id;
        Vec::new()
    }
    /// Signs out and releases what the factory keeps; called once at process exit.
    async fn shutdown(&self) {}
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

    pub fn connect(
        &self,
        connection: &Connection,
        secret: Option<Secret>,
    ) -> Result<Arc<dyn Provider>> {
        let factory = self.factories.get(&connection.kind).ok_or_else(|| {
            CoreError::Unsupported(format!(
                "browsing and exporting {} VMs is not available in this build",
                crate::kinds::display_name(connection.kind)
            ))
        })?;
        factory.connect(connection, secret)
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

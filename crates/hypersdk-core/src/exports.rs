//! "This VM, to there, in this format": export requests become jobs.
//!
//! A request names a connection, one or more VMs and a destination folder;
//! each VM becomes its own job (so one slow VM never holds the others back,
//! and each can be cancelled or retried alone). The job asks the provider for
//! an [`ExportPlan`](crate::providers::ExportPlan), streams it through the
//! export engine (`hypersdk-ovf`) while keeping the server side alive, and
//! completes or aborts the server side whatever happens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::Core;
use crate::error::{CoreError, Result};
use crate::jobs::{JobContext, JobOutcome, NewJob};
use crate::model::{DiskCheck, Job, JobKind, JobResult, JobState, VmFilter, VmInfo};
use crate::providers::{ExportPlan, Provider};

/// Package layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum PackageKind {
    /// One `.ova` archive (optionally `.ova.gz` / `.ova.zst`).
    #[default]
    Ova,
    /// A folder with the `.ovf`, the disks and the `.mf`.
    Ovf,
    /// The platform's own backup archive, kept as the platform wrote it once
    /// the provider has read it through and checked it (Proxmox VE: a
    /// `vzdump-qemu-….vma.zst` that `qmrestore` restores). Only for kinds
    /// that have one (`ProviderKindInfo::native_archive`).
    Native,
}

/// Whole-archive compression (OVA only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum CompressionKind {
    #[default]
    None,
    Gzip,
    Zstd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum ManifestAlgorithm {
    #[default]
    Sha256,
    Sha1,
}

/// Disk format inside the package; converted with `qemu-img` when the source differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum DiskFormatChoice {
    /// VMDK streamOptimized (what vSphere imports).
    Vmdk,
    Qcow2,
    Vhd,
    Vhdx,
    Vdi,
    Raw,
}

impl From<DiskFormatChoice> for hypersdk_ovf::DiskFormat {
    fn from(c: DiskFormatChoice) -> Self {
        use hypersdk_ovf::DiskFormat as F;
        match c {
            DiskFormatChoice::Vmdk => F::VmdkStreamOptimized,
            DiskFormatChoice::Qcow2 => F::Qcow2,
            DiskFormatChoice::Vhd => F::Vhd,
            DiskFormatChoice::Vhdx => F::Vhdx,
            DiskFormatChoice::Vdi => F::Vdi,
            DiskFormatChoice::Raw => F::Raw,
        }
    }
}

/// How the artefact is written; shared by one-off exports and schedules.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
pub struct ExportFormat {
    pub package: PackageKind,
    pub compression: CompressionKind,
    /// gzip 0–9 (default 6), zstd 1–22 (default 3).
    pub compression_level: Option<i32>,
    pub manifest: ManifestAlgorithm,
    /// `None` keeps the format the platform exports (streamOptimized VMDK for vSphere).
    pub disk_format: Option<DiskFormatChoice>,
    /// The platform's own choices for this export (`ProviderKindInfo::export_options`,
    /// e.g. Proxmox's `mode`); a key left out takes its first choice.
    #[serde(default)]
    pub platform_options: std::collections::BTreeMap<String, String>,
}

impl ExportFormat {
    pub fn validate(&self) -> Result<()> {
        if self.package == PackageKind::Native {
            if self.compression != CompressionKind::None || self.compression_level.is_some() {
                return Err(CoreError::invalid(
                    "compression",
                    "The platform's backup archive is kept as it is; choose no compression",
                ));
            }
            if self.disk_format.is_some() {
                return Err(CoreError::invalid(
                    "disk_format",
                    "The platform's backup archive keeps its disks as they are; choose OVA or OVF to convert them",
                ));
            }
        }
        if self.package == PackageKind::Ovf && self.compression != CompressionKind::None {
            return Err(CoreError::invalid(
                "compression",
                "Compression applies to OVA archives only; choose OVA or no compression",
            ));
        }
        match (self.compression, self.compression_level) {
            (CompressionKind::Gzip, Some(l)) if !(0..=9).contains(&l) => Err(CoreError::invalid(
                "compression_level",
                "The gzip level must be between 0 and 9",
            )),
            (CompressionKind::Zstd, Some(l)) if !(1..=22).contains(&l) => Err(CoreError::invalid(
                "compression_level",
                "The zstd level must be between 1 and 22",
            )),
            (CompressionKind::None, Some(_)) => Err(CoreError::invalid(
                "compression_level",
                "A compression level needs gzip or zstd compression",
            )),
            _ => Ok(()),
        }
    }

    fn compression(&self) -> hypersdk_ovf::Compression {
        match self.compression {
            CompressionKind::None => hypersdk_ovf::Compression::None,
            CompressionKind::Gzip => hypersdk_ovf::Compression::Gzip {
                level: self
                    .compression_level
                    .and_then(|l| u32::try_from(l).ok())
                    .unwrap_or(6),
            },
            CompressionKind::Zstd => hypersdk_ovf::Compression::Zstd {
                level: self.compression_level.unwrap_or(3),
                threads: 0,
            },
        }
    }

    /// The artefact's file name for a VM (sanitised; never escapes the folder).
    pub fn artefact_name(&self, vm_name: &str) -> String {
        let stem = hypersdk_ovf::names::sanitize_component(vm_name, "vm", 200);
        let ext = match (self.package, self.compression) {
            (PackageKind::Ovf | PackageKind::Native, _) => "",
            (PackageKind::Ova, CompressionKind::None) => ".ova",
            (PackageKind::Ova, CompressionKind::Gzip) => ".ova.gz",
            (PackageKind::Ova, CompressionKind::Zstd) => ".ova.zst",
        };
        format!("{stem}{ext}")
    }
}

/// What the window or `hyperctl export` asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ExportSpec {
    /// Connection id or name.
    pub connection_id: String,
    /// VM inventory paths (`/DC0/vm/web01`), ids (`vm-42`) or unique names.
    pub vm_ids: Vec<String>,
    /// An existing folder; each VM's artefact is created inside it.
    pub destination_dir: String,
    pub format: ExportFormat,
}

/// One VM's export as a job stores it, so it can be retried after a failure
/// or a crash (resuming from the engine's checkpoint where the source allows).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExportJobRequest {
    pub connection_id: String,
    pub vm_id: String,
    pub vm_name: String,
    pub vm_path: String,
    pub destination: PathBuf,
    pub format: ExportFormat,
}

impl Core {
    /// Validates the request and submits one export job per VM.
    pub async fn start_export(&self, spec: ExportSpec) -> Result<Vec<Job>> {
        spec.format.validate()?;
        if spec.vm_ids.is_empty() {
            return Err(CoreError::invalid(
                "vm_ids",
                "Choose at least one VM to export",
            ));
        }
        let dir = check_destination_dir(&spec.destination_dir)?;
        let connection = self.connection(&spec.connection_id).await?;
        crate::kinds::check_export_options(connection.kind, &spec.format.platform_options)?;
        let provider = self.provider(&connection.id).await?;
        let cancel = CancellationToken::new();
        let started = chrono::Local::now();
        let mut requests = Vec::with_capacity(spec.vm_ids.len());
        for id in &spec.vm_ids {
            let vm = resolve_vm(provider.as_ref(), id, &cancel).await?;
            if let Some(reason) = &vm.not_exportable {
                return Err(CoreError::Unsupported(format!("{}: {reason}", vm.path)));
            }
            let name = match spec.format.package {
                PackageKind::Native => provider
                    .native_archive_name(&vm, started)
                    // The provider's name is a file name: it stays in the folder.
                    .map(|n| hypersdk_ovf::names::sanitize_component(&n, "backup", 200))
                    .ok_or_else(|| {
                        CoreError::Unsupported(format!(
                            "{}: {} has no backup archive of its own to keep; export an OVA or OVF",
                            vm.path,
                            crate::kinds::display_name(connection.kind)
                        ))
                    })?,
                PackageKind::Ova | PackageKind::Ovf => spec.format.artefact_name(&vm.name),
            };
            let destination = dir.join(name);
            if requests
                .iter()
                .any(|r: &ExportJobRequest| r.destination == destination)
            {
                return Err(CoreError::invalid(
                    "vm_ids",
                    format!(
                        "Two of the chosen VMs would both be written to {}; export them to different folders",
                        destination.display()
                    ),
                ));
            }
            if std::fs::symlink_metadata(&destination).is_ok() {
                return Err(CoreError::Remote {
                    code: "destination_exists",
                    message: format!(
                        "{} already exists; exports never overwrite — choose another folder or remove it",
                        destination.display()
                    ),
                    retryable: false,
                });
            }
            requests.push(ExportJobRequest {
                connection_id: connection.id.clone(),
                vm_id: vm.id,
                vm_name: vm.name,
                vm_path: vm.path,
                destination,
                format: spec.format.clone(),
            });
        }
        let mut jobs = Vec::with_capacity(requests.len());
        for request in requests {
            jobs.push(
                self.submit_export(Arc::clone(&provider), request, None)
                    .await?,
            );
        }
        Ok(jobs)
    }

    /// Runs a failed, cancelled or interrupted export again as a new job. The
    /// engine's checkpoint lets it continue where the source allows.
    pub async fn retry_job(&self, id: &str) -> Result<Job> {
        let id_owned = id.to_owned();
        let (job, request) = self
            .with_store(move |store| {
                let job = store
                    .get_job(&id_owned)?
                    .ok_or_else(|| CoreError::NotFound {
                        what: "job",
                        id: id_owned.clone(),
                    })?;
                Ok((job, store.job_request(&id_owned)?))
            })
            .await?;
        if job.kind != JobKind::Export {
            return Err(CoreError::Unsupported(
                "only export jobs can be retried".into(),
            ));
        }
        if !matches!(
            job.state,
            JobState::Failed | JobState::Cancelled | JobState::Interrupted
        ) {
            return Err(CoreError::invalid(
                "job",
                format!("job {id} is {} and cannot be retried", job.state),
            ));
        }
        let request: ExportJobRequest = request
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| CoreError::Internal(format!("job {id} request: {e}")))?
            .ok_or_else(|| CoreError::Internal(format!("job {id} has no request")))?;
        let provider = self.provider(&request.connection_id).await?;
        self.submit_export(provider, request, Some(job.id)).await
    }

    async fn submit_export(
        &self,
        provider: Arc<dyn Provider>,
        request: ExportJobRequest,
        retry_of: Option<String>,
    ) -> Result<Job> {
        let name = match &retry_of {
            Some(_) => format!("Export {} (retry)", request.vm_name),
            None => format!("Export {}", request.vm_name),
        };
        let new = NewJob {
            name,
            kind: JobKind::Export,
            connection_id: Some(request.connection_id.clone()),
            request: serde_json::to_value(&request)
                .map_err(|e| CoreError::Internal(format!("export request: {e}")))?,
        };
        let parallel_disks = self.settings().await?.disks_per_export as usize;
        self.submit_job(
            new,
            Box::new(move |ctx| Box::pin(run_export(provider, request, parallel_disks, ctx))),
        )
        .await
    }

    /// Removes what exports interrupted by a crash left on the servers
    /// (vSphere snapshots tagged with their job id). Failures are logged: the
    /// server may be down, and the next start tries again while the job stays
    /// interrupted.
    pub async fn cleanup_interrupted_exports(&self) {
        let pending = match self
            .with_store(|store| store.interrupted_exports_needing_cleanup())
            .await
        {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list interrupted exports");
                return;
            }
        };
        let cancel = CancellationToken::new();
        for (job_id, request_json) in pending {
            let Ok(request) = serde_json::from_str::<ExportJobRequest>(&request_json) else {
                continue;
            };
            remove_scratch(&request.destination, &job_id).await;
            let outcome = async {
                let provider = self.provider(&request.connection_id).await?;
                provider
                    .cleanup_export(&request.vm_id, &job_id, &cancel)
                    .await
            }
            .await;
            match outcome {
                Ok(removed) => {
                    if removed > 0 {
                        tracing::info!(job = %job_id, removed, "removed what an interrupted export left on the server");
                    }
                    let id = job_id.clone();
                    if let Err(e) = self
                        .with_store(move |store| store.mark_export_cleaned(&id))
                        .await
                    {
                        tracing::warn!(job = %job_id, error = %e, "cannot record export clean-up");
                    }
                }
                Err(e) => {
                    tracing::warn!(job = %job_id, error = %e, "cannot clean up an interrupted export yet")
                }
            }
        }
    }
}

/// How much a destination folder can still take.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, specta::Type)]
pub struct DestinationSpace {
    /// Bytes this user may still write there.
    pub free_bytes: u64,
    /// The file system's size.
    pub total_bytes: u64,
}

impl Core {
    /// Free space at an export destination, for the export dialog's warning
    /// before an export that will not fit. The folder is checked as starting
    /// an export checks it (absolute, existing, a folder).
    pub async fn destination_space(&self, dir: &str) -> Result<DestinationSpace> {
        let raw = dir.to_owned();
        tokio::task::spawn_blocking(move || read_destination_space(&raw))
            .await
            .map_err(|e| CoreError::Internal(format!("free-space task failed: {e}")))?
    }
}

fn read_destination_space(raw: &str) -> Result<DestinationSpace> {
    // No write probe: the dialog asks as the folder is typed.
    let path = existing_dir(raw)?;
    let st = rustix::fs::statvfs(&path)
        .map_err(|e| CoreError::io(format!("cannot read the free space of {raw}"), e.into()))?;
    Ok(DestinationSpace {
        // f_bavail: what an unprivileged writer may use (not the root reserve).
        free_bytes: st.f_bavail.saturating_mul(st.f_frsize),
        total_bytes: st.f_blocks.saturating_mul(st.f_frsize),
    })
}

/// An absolute path to an existing folder, or why not (`destination_dir`).
fn existing_dir(raw: &str) -> Result<PathBuf> {
    let field = "destination_dir";
    if raw.trim().is_empty() {
        return Err(CoreError::invalid(field, "Choose a destination folder"));
    }
    let dir = PathBuf::from(raw);
    if !dir.is_absolute() {
        return Err(CoreError::invalid(
            field,
            format!("The destination must be an absolute path, not {raw}"),
        ));
    }
    match std::fs::metadata(&dir) {
        Ok(m) if m.is_dir() => Ok(dir),
        Ok(_) => Err(CoreError::invalid(
            field,
            format!("{raw} is a file, not a folder"),
        )),
        Err(_) => Err(CoreError::invalid(
            field,
            format!("The folder {raw} does not exist"),
        )),
    }
}

/// The folder must exist, be a folder and take a new file: checked before any
/// job starts, so a typo never leaves a queue of doomed jobs.
pub(crate) fn check_destination_dir(raw: &str) -> Result<PathBuf> {
    let field = "destination_dir";
    let dir = existing_dir(raw)?;
    let probe = dir.join(format!(".hypersdk-write-test-{}", uuid::Uuid::new_v4()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(dir)
        }
        Err(e) => Err(CoreError::invalid(
            field,
            format!("Cannot write to {raw}: {e}"),
        )),
    }
}

/// A VM by inventory path (starts with `/`), id, or — when no VM has that
/// id — by name, which must then be unique.
pub(crate) async fn resolve_vm(
    provider: &dyn Provider,
    reference: &str,
    cancel: &CancellationToken,
) -> Result<VmInfo> {
    if !reference.starts_with('/') {
        match provider.get_vm(reference, cancel).await {
            Err(CoreError::NotFound { .. }) => {}
            other => return other,
        }
    }
    let filter = VmFilter {
        text: Some(reference.to_owned()),
        power_state: None,
    };
    let mut matches = Vec::new();
    let mut cursor = None;
    loop {
        let page = provider.list_vms(&filter, cursor, cancel).await?;
        matches.extend(
            page.vms
                .into_iter()
                .filter(|vm| vm.path == reference || vm.name == reference),
        );
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    match matches.len() {
        0 => Err(CoreError::NotFound {
            what: "VM",
            id: reference.to_owned(),
        }),
        1 => Ok(matches.remove(0)),
        n => Err(CoreError::invalid(
            "vm_ids",
            format!(
                "{n} VMs are named \"{reference}\" ({}); name one by its path",
                matches
                    .iter()
                    .map(|v| v.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

async fn run_export(
    provider: Arc<dyn Provider>,
    request: ExportJobRequest,
    parallel_disks: usize,
    ctx: JobContext,
) -> Result<JobOutcome> {
    let JobContext {
        job_id,
        cancel,
        progress,
        steps,
    } = ctx;
    let plan = provider
        .export(
            &request.vm_id,
            &job_id,
            &request.format.platform_options,
            &cancel,
        )
        .await?;
    let ExportPlan {
        mut vm,
        mut disks,
        unpack,
        session,
        steps: platform_steps,
    } = plan;
    for step in platform_steps {
        steps.step(step).await;
    }
    let first_step = match &unpack {
        Some(_) => "the server is sending the VM's backup archive".to_owned(),
        None => {
            let known: Option<u64> = disks.iter().map(|d| d.source_len()).sum();
            format!(
                "the server is ready: {} disk{} to read{}",
                disks.len(),
                if disks.len() == 1 { "" } else { "s" },
                known
                    .map(|b| format!(", {}", human_bytes(b)))
                    .unwrap_or_default()
            )
        }
    };
    steps.step(first_step).await;
    if request.format.package == PackageKind::Native {
        let Some(unpack) = unpack else {
            let e = CoreError::Unsupported(
                "this platform sends disks, not an archive to keep; export an OVA or OVF".into(),
            );
            abort(session, false, e.to_string(), &job_id).await;
            return Err(e);
        };
        return keep_native(unpack, session, &request, &job_id, &progress, &cancel).await;
    }
    let staging = match unpack {
        None => {
            progress.set_disks(disks.iter().map(|d| (d.name.clone(), d.source_len())));
            None
        }
        Some(unpack) => {
            progress.set_disks(unpack.disks());
            match run_unpack(unpack, &request.destination, &job_id, &progress, &cancel).await {
                Ok((dir, unpacked)) => {
                    steps
                        .step(format!(
                            "archive read through and checked: {} disk{} unpacked",
                            unpacked.disks.len(),
                            if unpacked.disks.len() == 1 { "" } else { "s" }
                        ))
                        .await;
                    if let Some(spec) = unpacked.vm {
                        vm = spec;
                    }
                    disks = unpacked.disks;
                    Some(dir)
                }
                Err(e) => {
                    abort(session, cancel.is_cancelled(), e.to_string(), &job_id).await;
                    return Err(if cancel.is_cancelled() {
                        CoreError::Cancelled
                    } else {
                        e
                    });
                }
            }
        }
    };
    let result = package(
        vm,
        disks,
        session,
        &request,
        parallel_disks,
        &job_id,
        &progress,
        &steps,
        &cancel,
    )
    .await;
    if let Some(dir) = staging {
        // The unpacked disks are only a step: gone whatever the outcome.
        if let Err(e) = tokio::fs::remove_dir_all(&dir.0).await {
            tracing::warn!(job = %job_id, dir = %dir.0.display(), error = %e, "cannot remove the staging folder");
        }
    }
    result
}

/// A staging folder (removed by the caller).
struct Staging(PathBuf);

/// What a job writes beside its destination while it runs, hidden and named
/// after the job, so the clean-up after a crash finds exactly these.
struct Scratch {
    /// An archive's unpacked disks (`.NAME.unpack-JOB/`).
    unpack: PathBuf,
    /// A kept archive before its final name (`.NAME.part-JOB`).
    part: PathBuf,
}

fn scratch_paths(destination: &Path, job_id: &str) -> Option<Scratch> {
    let parent = destination.parent()?;
    let name = destination.file_name()?.to_string_lossy();
    Some(Scratch {
        unpack: parent.join(format!(".{name}.unpack-{job_id}")),
        part: parent.join(format!(".{name}.part-{job_id}")),
    })
}

/// Removes what a crashed job left beside its destination.
/// Removes the engine's `DEST.part` and `DEST.part.d/` of a failed, cancelled
/// or crashed export (not while another export writes there).
async fn discard_partial(destination: &Path, job_id: &str) {
    let d = destination.to_path_buf();
    match tokio::task::spawn_blocking(move || hypersdk_ovf::discard_partial(&d)).await {
        Ok(Ok(true)) => {
            tracing::info!(job = %job_id, destination = %destination.display(), "removed the unfinished export's partial files")
        }
        Ok(Ok(false)) => {}
        Ok(Err(e)) => {
            tracing::warn!(job = %job_id, error = %e, "cannot remove the unfinished export's partial files")
        }
        Err(e) => tracing::warn!(job = %job_id, error = %e, "partial-file clean-up failed"),
    }
}

async fn remove_scratch(destination: &Path, job_id: &str) {
    discard_partial(destination, job_id).await;
    let Some(scratch) = scratch_paths(destination, job_id) else {
        return;
    };
    for (path, dir) in [(scratch.unpack, true), (scratch.part, false)] {
        let removed = if dir {
            tokio::fs::remove_dir_all(&path).await
        } else {
            tokio::fs::remove_file(&path).await
        };
        match removed {
            Ok(()) => {
                tracing::info!(job = %job_id, path = %path.display(), "removed what an interrupted export left")
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(job = %job_id, path = %path.display(), error = %e, "cannot remove what an interrupted export left")
            }
        }
    }
}

/// Keeps the platform's own archive (`PackageKind::Native`): written to
/// `.NAME.part-JOB` beside the destination while the provider reads it
/// through, synced, then given its name. The provider's full read is the
/// verification (every checksum of the format); a failure removes the part.
async fn keep_native(
    unpack: Box<dyn crate::providers::Unpack>,
    session: Box<dyn crate::providers::ExportSession>,
    request: &ExportJobRequest,
    job_id: &str,
    progress: &crate::jobs::ProgressReporter,
    cancel: &CancellationToken,
) -> Result<JobOutcome> {
    let destination = &request.destination;
    let (parent, name, part) = match (
        destination.parent(),
        destination.file_name(),
        scratch_paths(destination, job_id),
    ) {
        (Some(p), Some(n), Some(scratch)) => (
            p.to_path_buf(),
            n.to_string_lossy().into_owned(),
            scratch.part,
        ),
        _ => return Err(CoreError::Internal("the destination has no folder".into())),
    };
    progress.set_disks(unpack.disks());
    let reporter = progress.clone();
    let on_progress: crate::providers::UnpackProgress =
        Arc::new(move |disk, bytes| reporter.disk_bytes(disk, bytes));
    let kept = async {
        let bytes = unpack.keep(&part, on_progress, cancel).await?;
        let (part2, dest2, parent2) = (part.clone(), destination.clone(), parent.clone());
        tokio::task::spawn_blocking(move || -> Result<()> {
            let ctx = |what: &str, p: &Path| format!("cannot {what} {}", p.display());
            std::fs::File::open(&part2)
                .and_then(|f| f.sync_all())
                .map_err(|e| CoreError::io(ctx("sync", &part2), e))?;
            if std::fs::symlink_metadata(&dest2).is_ok() {
                return Err(CoreError::Remote {
                    code: "destination_exists",
                    message: format!(
                        "{} appeared while the export ran; nothing was overwritten",
                        dest2.display()
                    ),
                    retryable: false,
                });
            }
            std::fs::rename(&part2, &dest2).map_err(|e| CoreError::io(ctx("rename", &part2), e))?;
            std::fs::File::open(&parent2)
                .and_then(|d| d.sync_all())
                .map_err(|e| CoreError::io(ctx("sync", &parent2), e))
        })
        .await
        .map_err(|e| CoreError::Internal(format!("the final rename failed: {e}")))??;
        Ok::<u64, CoreError>(bytes)
    }
    .await;
    match kept {
        Ok(bytes) => {
            let mut summary = format!(
                "kept the backup archive of {} ({}) as {}",
                request.vm_name,
                human_bytes(bytes),
                destination.display()
            );
            if let Err(e) = session.complete().await {
                tracing::warn!(job = %job_id, error = %e, "export finished but the server side was not released");
                summary.push_str(&format!(
                    "; warning: the server-side export was not released cleanly ({e})"
                ));
            }
            Ok(JobOutcome {
                summary,
                result: Some(JobResult {
                    path: destination.display().to_string(),
                    files: vec![name],
                    bytes,
                    // No manifest: the archive's own checksums were verified.
                    manifest_algorithm: String::new(),
                    verified: true,
                    disk_checks: Vec::new(),
                }),
            })
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&part).await;
            abort(session, cancel.is_cancelled(), e.to_string(), job_id).await;
            Err(if cancel.is_cancelled() {
                CoreError::Cancelled
            } else {
                e
            })
        }
    }
}

/// Runs an [`Unpack`] into `.NAME.unpack-JOB` beside the destination: the
/// same file system, so the disks are not copied twice across devices, and
/// hidden, so nobody takes it for the result. A failed unpack removes it.
async fn run_unpack(
    unpack: Box<dyn crate::providers::Unpack>,
    destination: &Path,
    job_id: &str,
    progress: &crate::jobs::ProgressReporter,
    cancel: &CancellationToken,
) -> Result<(Staging, crate::providers::Unpacked)> {
    let dir = scratch_paths(destination, job_id)
        .ok_or_else(|| CoreError::Internal("the destination has no folder".into()))?
        .unpack;
    if tokio::fs::symlink_metadata(&dir).await.is_ok() {
        // Left by a crashed run of this job: its content cannot be trusted.
        let _ = tokio::fs::remove_dir_all(&dir).await;
    }
    tokio::fs::create_dir(&dir)
        .await
        .map_err(|e| CoreError::io(format!("cannot create {}", dir.display()), e))?;
    let reporter = progress.clone();
    let on_progress: crate::providers::UnpackProgress =
        Arc::new(move |disk, bytes| reporter.disk_bytes(disk, bytes));
    match unpack.run(&dir, on_progress, cancel).await {
        Ok(unpacked) => Ok((Staging(dir), unpacked)),
        Err(e) => {
            let _ = tokio::fs::remove_dir_all(&dir).await;
            Err(e)
        }
    }
}

/// When one disk's bytes came, from the engine's progress calls: what the job
/// log's per-disk rate is worked out from.
#[derive(Debug, Clone)]
struct DiskTiming {
    /// The first call: bytes kept from a resumed run are not this run's reading.
    start: std::time::Instant,
    start_bytes: u64,
    last: std::time::Instant,
    last_bytes: u64,
    announced: bool,
}

impl DiskTiming {
    fn new(bytes: u64) -> DiskTiming {
        let now = std::time::Instant::now();
        DiskTiming {
            start: now,
            start_bytes: bytes,
            last: now,
            last_bytes: bytes,
            announced: false,
        }
    }

    /// Records a progress call; true the first time the disk has bytes.
    fn seen(&mut self, bytes: u64) -> bool {
        self.last = std::time::Instant::now();
        self.last_bytes = bytes;
        let first = bytes > 0 && !self.announced;
        self.announced |= first;
        first
    }

    /// `; 304.0 MiB read in 12 s, 25.3 MiB/s` (this run's bytes only), or
    /// nothing for a disk whose bytes all came in one call.
    fn describe(&self) -> String {
        let read = self.last_bytes.saturating_sub(self.start_bytes);
        let secs = self.last.duration_since(self.start).as_secs_f64();
        if read == 0 || secs < 0.001 {
            return String::new();
        }
        let precision = if secs < 10.0 { 1 } else { 0 };
        format!(
            "; {} read in {secs:.precision$} s, {}/s",
            human_bytes(read),
            human_bytes((read as f64 / secs) as u64)
        )
    }
}

/// Packages the disks (streamed or unpacked) and releases the server side.
#[allow(clippy::too_many_arguments)]
async fn package(
    vm: hypersdk_ovf::VmSpec,
    mut disks: Vec<hypersdk_ovf::ExportDisk>,
    session: Box<dyn crate::providers::ExportSession>,
    request: &ExportJobRequest,
    parallel_disks: usize,
    job_id: &str,
    progress: &crate::jobs::ProgressReporter,
    steps: &crate::jobs::JobSteps,
    cancel: &CancellationToken,
) -> Result<JobOutcome> {
    let convert = request
        .format
        .disk_format
        .map(hypersdk_ovf::DiskFormat::from);
    // The user's choice wins; otherwise the provider's (raw disks unpacked
    // from an archive become streamOptimized VMDKs, what OVF consumers expect).
    if let Some(convert) = convert {
        for d in &mut disks {
            d.convert_to = Some(convert.clone());
        }
    }
    let reporter = progress.clone();
    let names: Vec<String> = disks.iter().map(|d| d.name.clone()).collect();
    let started = std::time::Instant::now();
    let timings: Arc<std::sync::Mutex<std::collections::HashMap<usize, DiskTiming>>> =
        Arc::default();
    let disk_timings = timings.clone();
    let disk_steps = steps.clone();
    let runtime = tokio::runtime::Handle::current();
    let on_progress: hypersdk_ovf::ProgressFn = Arc::new(move |p: hypersdk_ovf::Progress| {
        if let Some(total) = p.bytes_total {
            reporter.disk_total(p.disk_index, total);
        }
        let first_bytes = disk_timings.lock().is_ok_and(|mut timings| {
            let timing = timings
                .entry(p.disk_index)
                .or_insert_with(|| DiskTiming::new(p.bytes_done));
            timing.seen(p.bytes_done)
        });
        // Once per disk, with its first bytes. (When a disk ends is said after the
        // export: a stream of unknown length only knows it then.)
        if first_bytes {
            let steps = disk_steps.clone();
            let message = format!(
                "disk {} ({}) started{}",
                p.disk_index + 1,
                names.get(p.disk_index).map_or("", String::as_str),
                p.bytes_total
                    .map(|t| format!(": {} to read", human_bytes(t)))
                    .unwrap_or_default()
            );
            // The callback may run on the engine's copy threads, outside the runtime.
            runtime.spawn(async move { steps.step(message).await });
        }
        reporter.disk_bytes(p.disk_index, p.bytes_done);
    });
    let export_request = hypersdk_ovf::ExportRequest {
        vm,
        disks,
        destination: request.destination.clone(),
        package: match request.format.package {
            PackageKind::Ova => hypersdk_ovf::PackageFormat::Ova,
            PackageKind::Ovf => hypersdk_ovf::PackageFormat::Ovf,
            PackageKind::Native => {
                return Err(CoreError::Internal("a kept archive is not packaged".into()));
            }
        },
        compression: request.format.compression(),
        manifest: match request.format.manifest {
            ManifestAlgorithm::Sha256 => hypersdk_ovf::DigestAlgorithm::Sha256,
            ManifestAlgorithm::Sha1 => hypersdk_ovf::DigestAlgorithm::Sha1,
        },
        options: hypersdk_ovf::ExportOptions {
            parallel_disks,
            ..hypersdk_ovf::ExportOptions::default()
        },
    };

    // The download and the server's keep-alive run side by side: a long
    // export never lets the lease time out.
    let interval = session.keep_alive_interval();
    let keep_alive = async {
        loop {
            tokio::time::sleep(interval).await;
            if let Err(e) = session.keep_alive(progress.percent()).await {
                tracing::warn!(job = %job_id, error = %e, "export keep-alive failed");
            }
        }
    };
    let exported = tokio::select! {
        r = hypersdk_ovf::export(export_request, Some(on_progress), cancel.clone()) => r,
        () = keep_alive => unreachable!("the keep-alive loop never ends"),
    };
    match exported {
        Ok(outcome) => {
            let secs = started.elapsed().as_secs_f64().max(0.001);
            let timings = timings.lock().map(|t| t.clone()).unwrap_or_default();
            for (k, d) in outcome.vm.disks.iter().enumerate() {
                let read = timings
                    .get(&k)
                    .map(DiskTiming::describe)
                    .unwrap_or_default();
                steps
                    .step(format!(
                        "disk {} written as {}: {}{read}",
                        k + 1,
                        d.href,
                        d.file_size.map(human_bytes).unwrap_or_else(|| "?".into())
                    ))
                    .await;
            }
            steps
                .step(format!(
                    "{} written in {:.0} s, {}/s on average",
                    human_bytes(outcome.bytes),
                    secs,
                    human_bytes((outcome.bytes as f64 / secs) as u64)
                ))
                .await;
            let disk_checks = outcome
                .verification
                .as_ref()
                .map(DiskCheck::from_report)
                .unwrap_or_default();
            if let Some(v) = &outcome.verification {
                let checks = &disk_checks;
                let skipped = checks.iter().filter(|c| c.skipped.is_some()).count();
                let message = format!(
                    "verified: descriptor first, {} files match their {} digests, {} disk \
                     check{} passed{}",
                    v.files.len(),
                    v.algorithm.tag(),
                    checks.len() - skipped,
                    if checks.len() - skipped == 1 { "" } else { "s" },
                    if skipped > 0 {
                        format!(", {skipped} skipped")
                    } else {
                        String::new()
                    }
                );
                steps.step(message).await;
            }
            let released = session.released_step();
            let cleanup = session.complete().await;
            if cleanup.is_ok() {
                steps.step(released).await;
            }
            let mut summary = format!(
                "exported {} ({}) to {}",
                request.vm_name,
                human_bytes(outcome.bytes),
                outcome.path.display()
            );
            if let Err(e) = cleanup {
                tracing::warn!(job = %job_id, error = %e, "export finished but the server side was not released");
                summary.push_str(&format!(
                    "; warning: the server-side export was not released cleanly ({e})"
                ));
            }
            let mut files = vec![outcome.descriptor_name.clone()];
            files.extend(
                outcome
                    .manifest
                    .entries
                    .iter()
                    .map(|e| e.file.clone())
                    .filter(|f| *f != outcome.descriptor_name),
            );
            files.push(manifest_name(&outcome.descriptor_name));
            Ok(JobOutcome {
                summary,
                result: Some(JobResult {
                    path: outcome.path.display().to_string(),
                    files,
                    bytes: outcome.bytes,
                    manifest_algorithm: outcome.manifest.algorithm.tag().to_lowercase(),
                    verified: outcome.verification.is_some(),
                    disk_checks,
                }),
            })
        }
        Err(e) => {
            let cancelled = matches!(e, hypersdk_ovf::Error::Cancelled) || cancel.is_cancelled();
            abort(session, cancelled, e.to_string(), job_id).await;
            // A retry reads a new snapshot, so it could not resume these: leave no
            // `.part` to be mistaken for a backup or to fill the disk.
            discard_partial(&request.destination, job_id).await;
            Err(e.into())
        }
    }
}

/// Releases the server side of a failed or cancelled export, telling it why.
async fn abort(
    session: Box<dyn crate::providers::ExportSession>,
    cancelled: bool,
    error: String,
    job_id: &str,
) {
    let reason = if cancelled {
        "cancelled by the user".to_owned()
    } else {
        error
    };
    if let Err(e) = session.abort(&reason).await {
        tracing::warn!(job = %job_id, error = %e, "cannot abort the server-side export");
    }
}

fn manifest_name(descriptor: &str) -> String {
    Path::new(descriptor)
        .with_extension("mf")
        .display()
        .to_string()
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_disks_rate_counts_only_this_runs_bytes() {
        // Resumed with 100 MiB kept: the first call reports them, the rate leaves them out.
        let mut t = DiskTiming::new(100 << 20);
        assert!(t.seen(100 << 20), "kept bytes are the disk's first bytes");
        assert!(!t.seen(150 << 20), "announced once");
        t.last = t.start + std::time::Duration::from_secs(2);
        t.last_bytes = 300 << 20;
        assert_eq!(t.describe(), "; 200.0 MiB read in 2.0 s, 100.0 MiB/s");
        t.last = t.start + std::time::Duration::from_secs(40);
        assert_eq!(t.describe(), "; 200.0 MiB read in 40 s, 5.0 MiB/s");
        // Everything came in the first call (a tiny disk): no rate to speak of.
        assert_eq!(DiskTiming::new(4096).describe(), "");
        let mut empty = DiskTiming::new(0);
        assert!(!empty.seen(0), "no bytes yet: not started");
    }

    #[test]
    fn formats_are_checked() {
        let mut f = ExportFormat::default();
        assert!(f.validate().is_ok());
        f.package = PackageKind::Ovf;
        f.compression = CompressionKind::Gzip;
        assert_eq!(
            f.validate().map_err(|e| e.code()),
            Err("invalid_compression")
        );
        f.package = PackageKind::Ova;
        f.compression_level = Some(12);
        let err = f.validate().expect_err("gzip 12");
        assert_eq!(err.field(), Some("compression_level"));
        f.compression = CompressionKind::Zstd;
        assert!(f.validate().is_ok());
        f.compression_level = Some(0);
        assert!(f.validate().is_err());
    }

    #[test]
    fn a_kept_archive_takes_no_compression_and_no_conversion() {
        let mut f = ExportFormat {
            package: PackageKind::Native,
            ..ExportFormat::default()
        };
        assert!(f.validate().is_ok());
        f.compression = CompressionKind::Zstd;
        assert_eq!(
            f.validate().map_err(|e| e.code()),
            Err("invalid_compression")
        );
        f.compression = CompressionKind::None;
        f.disk_format = Some(DiskFormatChoice::Qcow2);
        assert_eq!(
            f.validate().map_err(|e| e.code()),
            Err("invalid_disk_format")
        );
    }

    #[test]
    fn artefact_names_are_safe_and_carry_the_extension() {
        let mut f = ExportFormat::default();
        assert_eq!(f.artefact_name("web01"), "web01.ova");
        f.compression = CompressionKind::Zstd;
        assert_eq!(f.artefact_name("web01"), "web01.ova.zst");
        let hostile = f.artefact_name("../../etc/passwd");
        assert!(!hostile.contains('/'), "{hostile}");
        f.package = PackageKind::Ovf;
        f.compression = CompressionKind::None;
        assert_eq!(f.artefact_name("db"), "db");
        assert!(!f.artefact_name("..").contains(".."));
    }

    #[test]
    fn a_destination_says_how_much_it_can_take() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let space = read_destination_space(&tmp.path().display().to_string()).expect("space");
        assert!(
            space.free_bytes > 0 && space.free_bytes <= space.total_bytes,
            "{space:?}"
        );
        for bad in ["relative/dir", "/no/such/folder/here"] {
            let err = read_destination_space(bad).expect_err(bad);
            assert_eq!(err.code(), "invalid_destination", "{err}");
        }
    }

    #[test]
    fn destination_folders_are_checked_before_jobs_start() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ok = check_destination_dir(&tmp.path().display().to_string());
        assert!(ok.is_ok(), "{ok:?}");
        for bad in ["", "relative/dir"] {
            let err = check_destination_dir(bad).expect_err(bad);
            assert_eq!(err.field(), Some("destination_dir"));
            assert_eq!(err.code(), "invalid_destination");
        }
        let missing = tmp.path().join("nope").display().to_string();
        let err = check_destination_dir(&missing).expect_err("missing");
        assert!(err.to_string().contains("does not exist"), "{err}");
        let file = tmp.path().join("f");
        std::fs::write(&file, b"x").expect("write");
        let err = check_destination_dir(&file.display().to_string()).expect_err("file");
        assert!(err.to_string().contains("not a folder"), "{err}");
        // Nothing is left behind by the write probe.
        let left: Vec<_> = std::fs::read_dir(tmp.path())
            .expect("list")
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }

    #[test]
    fn sizes_read_like_a_person_wrote_them() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 * 1024 * 1024 * 1024 / 2), "1.5 GiB");
    }
}

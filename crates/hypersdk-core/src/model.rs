//! The domain model shared by the app, `hyperctl` and every provider.
//!
//! These types are also the IPC contract: the shell exports them to
//! TypeScript with specta, so a field renamed here is renamed in the UI.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub type Timestamp = DateTime<Utc>;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, specta::Type,
)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Vsphere,
    Aws,
    Azure,
    Gcp,
    Hyperv,
    Proxmox,
}

impl ProviderKind {
    pub const ALL: [ProviderKind; 6] = [
        ProviderKind::Vsphere,
        ProviderKind::Aws,
        ProviderKind::Azure,
        ProviderKind::Gcp,
        ProviderKind::Hyperv,
        ProviderKind::Proxmox,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Vsphere => "vsphere",
            ProviderKind::Aws => "aws",
            ProviderKind::Azure => "azure",
            ProviderKind::Gcp => "gcp",
            ProviderKind::Hyperv => "hyperv",
            ProviderKind::Proxmox => "proxmox",
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ProviderKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProviderKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                format!(
                    "unknown provider kind \"{s}\" (expected one of: vsphere, aws, azure, gcp, hyperv, proxmox)"
                )
            })
    }
}

/// A password, token or key on its way to the keyring. It has no `Serialize`
/// and its `Debug` is redacted, so it cannot leak into JSON, events or logs by
/// accident; `expose()` is the one door out, used by the keyring and providers.
#[derive(Clone, Deserialize, specta::Type)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Everything the keyring holds for one connection, as its provider gets it:
/// the main secret (password, token secret) and the secret options.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    pub main: Option<Secret>,
    pub options: BTreeMap<String, Secret>,
}

impl Secrets {
    /// Just a main secret (what most providers and tests need).
    pub fn main(secret: impl Into<String>) -> Secrets {
        Secrets {
            main: Some(Secret::new(secret)),
            options: BTreeMap::new(),
        }
    }

    /// A non-empty secret option.
    pub fn option(&self, key: &str) -> Option<&Secret> {
        self.options.get(key).filter(|s| !s.is_empty())
    }

    /// Same values (providers cache sessions per connection and secrets).
    pub fn same_as(&self, other: &Secrets) -> bool {
        self.main.as_ref().map(Secret::expose) == other.main.as_ref().map(Secret::expose)
            && self.options.len() == other.options.len()
            && self
                .options
                .iter()
                .zip(&other.options)
                .all(|((ka, a), (kb, b))| ka == kb && a.expose() == b.expose())
    }
}

/// A saved connection: everything but the secret, which lives in the keyring.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Connection {
    pub id: String,
    pub kind: ProviderKind,
    pub name: String,
    pub endpoint: String,
    pub username: String,
    pub options: BTreeMap<String, String>,
    pub has_secret: bool,
    /// The secret options saved in the keyring for this connection (an SSH
    /// private key, …): their keys only, never their values.
    #[serde(default)]
    pub secret_options: Vec<String>,
    /// SHA-256 of the server's certificate the user chose to trust (64
    /// lower-case hex digits), instead of a global "insecure" switch.
    pub tls_fingerprint: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// What the user submits to add or edit a connection. On edit, `secret: None`
/// keeps the stored secret.
#[derive(Debug, Clone, Deserialize, specta::Type)]
pub struct ConnectionInput {
    pub kind: ProviderKind,
    pub name: String,
    pub endpoint: String,
    pub username: String,
    pub secret: Option<Secret>,
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    /// Secret options to save in the keyring (the kind's fields marked
    /// `secret`). A key left out keeps what is saved; an empty value removes it.
    #[serde(default)]
    pub secret_options: BTreeMap<String, Secret>,
    /// The certificate pin to keep (None: verify against the system's CAs).
    #[serde(default)]
    pub tls_fingerprint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct TestCheck {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// The SHA-256 fingerprint of a certificate this check could not trust
    /// (colon-separated hex), so the window can offer to pin it.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Where the window pins `fingerprint`: the connection option that holds
    /// such pins (an SSH host key list); `None` is the certificate pin.
    #[serde(default)]
    pub pin_option: Option<String>,
    /// Not run because an earlier check failed (or the kind cannot run it):
    /// neither passed nor a problem of its own. `ok` is false.
    #[serde(default)]
    pub skipped: bool,
    /// The error code of a failed check (`auth_failed`, `secret_missing`, …),
    /// so the window can offer what fixes it (edit the connection).
    #[serde(default)]
    pub code: Option<String>,
}

impl TestCheck {
    /// A check that passed, with what it found.
    pub fn passed(name: impl Into<String>, detail: impl Into<String>) -> TestCheck {
        TestCheck {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fingerprint: None,
            pin_option: None,
            skipped: false,
            code: None,
        }
    }

    /// A check that failed, saying why.
    pub fn failed(name: impl Into<String>, detail: impl Into<String>) -> TestCheck {
        TestCheck {
            ok: false,
            ..TestCheck::passed(name, detail)
        }
    }

    /// A check that failed with an error's code, saying why.
    pub fn failed_with(
        name: impl Into<String>,
        code: &str,
        detail: impl Into<String>,
    ) -> TestCheck {
        TestCheck {
            code: Some(code.to_owned()),
            ..TestCheck::failed(name, detail)
        }
    }

    /// A check skipped because an earlier one failed.
    pub fn not_checked(name: impl Into<String>, why: &str) -> TestCheck {
        TestCheck {
            skipped: true,
            ..TestCheck::failed(name, format!("not checked: {why}"))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ConnectionTestResult {
    /// True only when every check passed.
    pub ok: bool,
    pub checks: Vec<TestCheck>,
}

/// One provider-specific connection option, described for the UI's form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct FieldSpec {
    pub key: String,
    pub label: String,
    pub help: String,
    pub required: bool,
    pub placeholder: String,
    /// Kept in the OS keyring, never shown again once saved (an SSH key).
    #[serde(default)]
    pub secret: bool,
    /// Several lines (a PEM private key).
    #[serde(default)]
    pub multiline: bool,
}

/// A choice a platform offers for each export (Proxmox's backup mode), shown
/// in the export dialog; the first choice is the default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ExportOptionSpec {
    pub key: String,
    pub label: String,
    pub help: String,
    /// (value, label) pairs; the first is what an export gets when not told.
    pub choices: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct ProviderKindInfo {
    pub kind: ProviderKind,
    pub display_name: String,
    pub default_port: u16,
    pub endpoint_hint: String,
    /// Set when the endpoint may be left empty: what empty means.
    pub endpoint_optional: Option<String>,
    /// Set when the username may be left empty: where credentials come from then.
    pub username_optional: Option<String>,
    pub username_label: String,
    pub secret_label: String,
    pub options: Vec<FieldSpec>,
    /// Choices this platform offers for each export (`ExportFormat::platform_options`).
    pub export_options: Vec<ExportOptionSpec>,
    /// The platform's own backup archive, when an export can keep it instead
    /// of an OVA (`PackageKind::Native`): how the export dialog names it.
    pub native_archive: Option<String>,
    /// Whether this build can browse and export this kind's VMs, or only
    /// store the connection for later.
    pub discovery_available: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    /// The process running the job ended before the job did; the job can be
    /// resumed from its checkpoint, and is never reported as succeeded.
    Interrupted,
}

impl JobState {
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Running => "running",
            JobState::Succeeded => "succeeded",
            JobState::Failed => "failed",
            JobState::Cancelled => "cancelled",
            JobState::Interrupted => "interrupted",
        }
    }

    pub fn is_terminal(self) -> bool {
        !matches!(self, JobState::Queued | JobState::Running)
    }

    pub fn parse(s: &str) -> Option<JobState> {
        [
            JobState::Queued,
            JobState::Running,
            JobState::Succeeded,
            JobState::Failed,
            JobState::Cancelled,
            JobState::Interrupted,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Export,
    OvaPackage,
}

impl JobKind {
    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Export => "export",
            JobKind::OvaPackage => "ova_package",
        }
    }
    pub fn parse(s: &str) -> Option<JobKind> {
        [JobKind::Export, JobKind::OvaPackage]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct DiskProgress {
    pub index: u32,
    pub name: String,
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct JobProgress {
    pub job_id: String,
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
    /// Bytes per second, smoothed over the last few seconds.
    pub rate_bps: f64,
    pub eta_seconds: Option<f64>,
    pub disks: Vec<DiskProgress>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Job {
    pub id: String,
    pub name: String,
    pub kind: JobKind,
    pub connection_id: Option<String>,
    pub state: JobState,
    pub created_at: Timestamp,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub progress: Option<JobProgress>,
    pub error: Option<ApiError>,
    /// What a succeeded job produced.
    pub result: Option<JobResult>,
}

/// The most jobs one [`JobQuery`] returns: the window asks for the rows in view (a few pages of
/// 100 while scrolling), `hyperctl jobs list` for one page.
pub const JOB_PAGE_MAX: u32 = 1000;

/// How the jobs list is ordered; ties are broken newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum JobSortKey {
    #[default]
    CreatedAt,
    Name,
    /// Running, queued, failed, interrupted, cancelled, succeeded: what needs attention first.
    State,
    Provider,
    Connection,
}

/// Which jobs to list, in what order, and which page of them. Filters combine with AND.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct JobQuery {
    /// Empty: every state.
    pub states: Vec<JobState>,
    /// A provider kind (`vsphere`, …), or `none` for jobs without a connection.
    pub provider: Option<String>,
    pub connection_id: Option<String>,
    /// Words, all of which must appear (any case) in the job's name, id, connection name or
    /// error message.
    pub text: String,
    pub sort: JobSortKey,
    /// Descending; the default (newest first) is `sort: created_at, desc: true`.
    pub desc: bool,
    pub offset: u32,
    /// At most [`JOB_PAGE_MAX`].
    pub limit: u32,
}

impl JobQuery {
    /// Every job, newest first.
    pub fn newest(limit: u32) -> JobQuery {
        JobQuery {
            states: Vec::new(),
            provider: None,
            connection_id: None,
            text: String::new(),
            sort: JobSortKey::CreatedAt,
            desc: true,
            offset: 0,
            limit,
        }
    }
}

/// One page of a [`JobQuery`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct JobPage {
    pub jobs: Vec<Job>,
    /// How many jobs match the filters (all pages).
    pub matched: u32,
    /// How many jobs there are.
    pub total: u32,
}

/// When the desktop says how a scheduled run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum NotifyRuns {
    Never,
    FailuresOnly,
    #[default]
    Always,
}

/// Settings only the desktop app acts on (the CLI shows and edits them too).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, specta::Type)]
pub struct DesktopSettings {
    #[serde(default)]
    pub notify_runs: NotifyRuns,
}

/// What the tray and status lines summarise: jobs under way and how the last one ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct Activity {
    pub running: u32,
    pub queued: u32,
    /// State of the most recently finished job, if any.
    pub last_outcome: Option<JobState>,
    pub last_finished_at: Option<Timestamp>,
}

/// The artefact a finished export left behind, and what proves it whole.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct JobResult {
    /// The final `.ova` / `.ova.gz` / `.ova.zst` file or OVF folder.
    pub path: String,
    /// Every file of the package (for a folder: its files, for an archive: its members).
    pub files: Vec<String>,
    /// Bytes of the artefact on disk.
    pub bytes: u64,
    /// `sha256` or `sha1`: the manifest's algorithm.
    pub manifest_algorithm: String,
    /// Whether the finished package passed verification (descriptor first, every manifest digest
    /// and size, every disk read as an image) before it was given its final name.
    pub verified: bool,
    /// The image checks each disk went through, passed or skipped (empty for archives in a
    /// platform's own format, whose checksums were verified instead).
    #[serde(default)]
    pub disk_checks: Vec<DiskCheck>,
}

/// One check of one exported disk, read as an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct DiskCheck {
    /// The disk's file in the package.
    pub disk: String,
    /// What was checked, in words (`format header`, `qemu-img check`, …).
    pub check: String,
    /// Why it could not run here; `None`: it ran and passed.
    pub skipped: Option<String>,
}

impl DiskCheck {
    /// Every check of a verification report, disk by disk.
    pub fn from_report(report: &hypersdk_ovf::VerifyReport) -> Vec<DiskCheck> {
        report
            .disks
            .iter()
            .flat_map(|d| {
                d.checks.iter().map(|c| DiskCheck {
                    disk: d.file.clone(),
                    check: c.check.clone(),
                    skipped: match &c.outcome {
                        hypersdk_ovf::CheckOutcome::Passed => None,
                        hypersdk_ovf::CheckOutcome::Skipped { reason } => Some(reason.clone()),
                    },
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct JobEvent {
    pub job_id: String,
    pub at: Timestamp,
    pub state: JobState,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct JobDetail {
    pub job: Job,
    pub events: Vec<JobEvent>,
}

/// User settings, persisted in the `settings` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
pub struct Settings {
    pub max_concurrent_jobs: u32,
    pub max_jobs_per_connection: u32,
    /// Disks one export downloads at once (1–16). More finish sooner when the
    /// server limits each stream (a remote ESXi host); 1 writes every disk
    /// of an OVA exactly once, which is faster when the local disk is the
    /// limit (docs/PERFORMANCE.md, "vSphere export").
    pub disks_per_export: u32,
    /// Serve Prometheus metrics (off by default).
    pub metrics_enabled: bool,
    /// Where to serve them: an IP address and port, loopback by default.
    pub metrics_listen: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_concurrent_jobs: 4,
            max_jobs_per_connection: 2,
            disks_per_export: 4,
            metrics_enabled: false,
            metrics_listen: crate::metrics::endpoint::DEFAULT_LISTEN.to_owned(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, specta::Type)]
#[serde(rename_all = "snake_case")]
pub enum PowerState {
    PoweredOn,
    PoweredOff,
    Suspended,
    Unknown,
}

/// A VM as discovery reports it, whatever the platform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct VmInfo {
    /// Provider-stable identifier (vSphere managed object id, EC2 instance id, …).
    pub id: String,
    pub name: String,
    /// Inventory path, e.g. `/DC0/vm/prod/db01`.
    pub path: String,
    pub power_state: PowerState,
    pub guest_os: String,
    pub cpus: u32,
    pub memory_mib: u64,
    pub disks: u32,
    /// What the VM's disks hold at most, when the platform says: vSphere's
    /// provisioned space (committed + uncommitted), Proxmox's disk sizes.
    #[serde(default)]
    pub disk_capacity_bytes: Option<u64>,
    /// What they take on the platform's storage now, when the platform says
    /// (thin disks use less than their capacity).
    #[serde(default)]
    pub disk_used_bytes: Option<u64>,
    /// Where the disks are stored, in the platform's own words (vSphere
    /// datastores, Proxmox storages), sorted and unique; empty when unknown.
    #[serde(default)]
    pub storage: Vec<String>,
    pub nics: u32,
    pub template: bool,
    /// Guest tools state as the platform words it (`guestToolsRunning`, …).
    pub tools_status: Option<String>,
    /// Facets the inventory groups by, as display names.
    pub datacenter: Option<String>,
    pub cluster: Option<String>,
    pub host: Option<String>,
    pub resource_pool: Option<String>,
    /// Labels the platform lets users put on VMs (Proxmox tags, cloud tags as
    /// `key=value`), sorted and unique; a facet of the inventory. Empty where
    /// the platform has none.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Why this build cannot export this VM (a Proxmox LXC container), so
    /// the window can say so instead of offering a drag that fails; `None`
    /// for every VM that can be exported.
    #[serde(default)]
    pub not_exportable: Option<String>,
    /// The listing came first and what it lacks (OS, disks, NICs) is still
    /// being read: list again shortly for the full row (Proxmox reads one
    /// config per VM, which a large cluster should not wait for).
    #[serde(default)]
    pub details_pending: bool,
}

/// How to narrow a VM listing; empty means everything.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, specta::Type)]
pub struct VmFilter {
    /// Case-insensitive substring of name or path.
    pub text: Option<String>,
    pub power_state: Option<PowerState>,
}

impl VmFilter {
    pub fn matches(&self, vm: &VmInfo) -> bool {
        let text_ok = self.text.as_deref().is_none_or(|t| {
            let t = t.to_lowercase();
            vm.name.to_lowercase().contains(&t) || vm.path.to_lowercase().contains(&t)
        });
        let power_ok = self.power_state.is_none_or(|p| p == vm.power_state);
        text_ok && power_ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_debug_is_redacted() {
        let input = ConnectionInput {
            kind: ProviderKind::Vsphere,
            name: "vc".into(),
            endpoint: "vc.example.com".into(),
            username: "admin".into(),
            secret: Some(Secret::new("hunter2-very-secret")),
            secret_options: Default::default(),
            options: BTreeMap::new(),
            tls_fingerprint: None,
        };
        let dbg = format!("{input:?}");
        assert!(!dbg.contains("hunter2"), "{dbg}");
        assert!(dbg.contains("<redacted>"));
    }

    #[test]
    fn provider_kind_round_trips_through_text() {
        for kind in ProviderKind::ALL {
            assert_eq!(kind.as_str().parse::<ProviderKind>(), Ok(kind));
        }
        assert!("VSPHERE".parse::<ProviderKind>().is_ok());
        let err = "esx".parse::<ProviderKind>().expect_err("unknown kind");
        assert!(err.contains("vsphere, aws"), "{err}");
    }

    #[test]
    fn job_state_terminality() {
        assert!(!JobState::Queued.is_terminal());
        assert!(!JobState::Running.is_terminal());
        for s in [
            JobState::Succeeded,
            JobState::Failed,
            JobState::Cancelled,
            JobState::Interrupted,
        ] {
            assert!(s.is_terminal());
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn vm_filter_matches_name_path_and_power() {
        let vm = VmInfo {
            id: "vm-1".into(),
            name: "DB01".into(),
            path: "/DC0/vm/prod/DB01".into(),
            power_state: PowerState::PoweredOn,
            guest_os: "linux".into(),
            cpus: 2,
            memory_mib: 4096,
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
        };
        assert!(VmFilter::default().matches(&vm));
        assert!(
            VmFilter {
                text: Some("prod/db".into()),
                power_state: None
            }
            .matches(&vm)
        );
        assert!(
            !VmFilter {
                text: None,
                power_state: Some(PowerState::PoweredOff)
            }
            .matches(&vm)
        );
    }
}

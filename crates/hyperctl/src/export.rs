//! `hyperctl export`: export VMs of a connection into a folder, as the app does, with a progress
//! bar. Each VM is its own job (visible in the app and in `hyperctl jobs`); Ctrl-C cancels them
//! and waits while the server side (lease, snapshot) is released.

use std::collections::{BTreeMap, HashSet};
use std::io::{IsTerminal, Write as _};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hypersdk_core::exports::{
    CompressionKind, DiskFormatChoice, ExportFormat, ExportSpec, ManifestAlgorithm, PackageKind,
};
use hypersdk_core::model::{Job, JobProgress, JobState, VmFilter};
use hypersdk_core::{ApiError, Core, CoreEvent};
use tokio::sync::broadcast::error::RecvError;

use crate::ova::{CompressArg, DiskFormatArg, ManifestArg};

/// What an export writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PackageArg {
    /// A single .ova archive.
    Ova,
    /// A folder with the .ovf, the disks and the .mf.
    Ovf,
    /// The platform's own backup archive, checked and kept as it came (Proxmox VE:
    /// vzdump-qemu-VMID-….vma.zst, restored with qmrestore).
    Native,
}

/// How an export is written; shared by `export` and `schedule add`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportFormatArgs {
    /// Package layout.
    #[arg(long, value_enum, default_value_t = PackageArg::Ova)]
    pub format: PackageArg,
    /// Convert disks to this format with qemu-img [default: keep the platform's format —
    /// streamOptimized VMDK for vSphere].
    #[arg(long, value_enum)]
    pub disk_format: Option<DiskFormatArg>,
    /// Whole-archive compression (OVA only).
    #[arg(long, value_enum, default_value_t = CompressArg::None)]
    pub compress: CompressArg,
    /// Compression level (gzip 0–9, default 6; zstd 1–22, default 3).
    #[arg(long)]
    pub level: Option<i32>,
    /// Manifest digest algorithm.
    #[arg(long, value_enum, default_value_t = ManifestArg::Sha256)]
    pub manifest: ManifestArg,
    /// The platform's own export choice as KEY=VALUE (repeatable), e.g. Proxmox's
    /// --export-option mode=stop (snapshot, suspend or stop; default snapshot).
    #[arg(long = "export-option", value_name = "KEY=VALUE", value_parser = crate::connection::parse_option)]
    pub export_options: Vec<(String, String)>,
}

impl ExportFormatArgs {
    pub fn to_format(&self) -> ExportFormat {
        ExportFormat {
            package: match self.format {
                PackageArg::Ova => PackageKind::Ova,
                PackageArg::Ovf => PackageKind::Ovf,
                PackageArg::Native => PackageKind::Native,
            },
            compression: match self.compress {
                CompressArg::None => CompressionKind::None,
                CompressArg::Gzip => CompressionKind::Gzip,
                CompressArg::Zstd => CompressionKind::Zstd,
            },
            compression_level: self.level,
            manifest: match self.manifest {
                ManifestArg::Sha256 => ManifestAlgorithm::Sha256,
                ManifestArg::Sha1 => ManifestAlgorithm::Sha1,
            },
            disk_format: self.disk_format.map(|d| match d {
                DiskFormatArg::Vmdk => DiskFormatChoice::Vmdk,
                DiskFormatArg::Qcow2 => DiskFormatChoice::Qcow2,
                DiskFormatArg::Vhd => DiskFormatChoice::Vhd,
                DiskFormatArg::Vhdx => DiskFormatChoice::Vhdx,
                DiskFormatArg::Vdi => DiskFormatChoice::Vdi,
                DiskFormatArg::Raw => DiskFormatChoice::Raw,
            }),
            platform_options: self.export_options.iter().cloned().collect(),
        }
    }
}

/// `hyperctl export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Connection name or id.
    #[arg(long)]
    pub connection: String,
    /// A VM by inventory path (`/DC0/vm/web01`), id (`vm-42`) or unique name; repeat for several.
    #[arg(long = "vm", value_name = "PATH|ID|NAME", required = true)]
    pub vms: Vec<String>,
    /// An existing folder; each VM becomes `NAME.ova` (or `NAME/` for OVF) inside it.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub output: PathBuf,
    #[command(flatten)]
    pub format: ExportFormatArgs,
}

pub async fn run(core: Arc<Core>, args: ExportArgs, json: bool) -> Result<(), ApiError> {
    let cleanup = spawn_cleanup(&core);
    let outcome = export(&core, args, json).await;
    // Also after a refused request: an unfinished clean-up would be cut off mid-way.
    finish_cleanup(cleanup).await;
    outcome
}

async fn export(core: &Arc<Core>, args: ExportArgs, json: bool) -> Result<(), ApiError> {
    let destination = std::path::absolute(&args.output).map_err(|e| ApiError {
        code: "invalid_input".into(),
        message: format!("cannot resolve {}: {e}", args.output.display()),
        retryable: false,
    })?;
    let events = core.events().subscribe();
    // Throughput history of CLI exports, as the window records its own.
    core.start_metrics(false);
    let started = core
        .start_export(ExportSpec {
            connection_id: args.connection.clone(),
            vm_ids: args.vms.clone(),
            destination_dir: destination.display().to_string(),
            format: args.format.to_format(),
        })
        .await;
    let jobs = match started {
        Ok(jobs) => jobs,
        Err(e) if e.code() == "not_found" => {
            let mut e = ApiError::from(e);
            e.message
                .push_str(&close_matches(core, &args.connection, &args.vms).await);
            return Err(e);
        }
        Err(e) => return Err(e.into()),
    };
    watch(core, jobs, events, json).await
}

/// Most VMs to suggest for a name that was not found.
const SUGGESTIONS: usize = 5;

/// For `--vm` names that match no VM exactly: the VMs whose name or path contains them (as
/// govc users type partial names), as "; did you mean …?" — or nothing.
async fn close_matches(core: &Core, connection: &str, vms: &[String]) -> String {
    let mut out = String::new();
    for reference in vms {
        let filter = VmFilter {
            text: Some(reference.clone()),
            power_state: None,
        };
        let Ok(found) = core.list_vms(connection, filter).await else {
            continue;
        };
        if found.is_empty()
            || found
                .iter()
                .any(|v| v.path == *reference || v.name == *reference || v.id == *reference)
        {
            continue;
        }
        let shown: Vec<&str> = found
            .iter()
            .take(SUGGESTIONS)
            .map(|v| v.path.as_str())
            .collect();
        let more = found.len().saturating_sub(SUGGESTIONS);
        out.push_str(&format!(
            "; for \"{reference}\" did you mean {}{}?",
            shown.join(", "),
            if more > 0 {
                format!(" (or {more} more: hyperctl vms list --filter {reference})")
            } else {
                String::new()
            }
        ));
    }
    out
}

/// Whatever an earlier crash left on a server (a snapshot) is cleaned up beside this command.
pub fn spawn_cleanup(core: &Arc<Core>) -> tokio::task::JoinHandle<()> {
    let cleaner = Arc::clone(core);
    tokio::spawn(async move { cleaner.cleanup_interrupted_exports().await })
}

/// Lets the clean-up finish before the process ends (bounded: a server that does not answer
/// is tried again next time).
pub async fn finish_cleanup(handle: tokio::task::JoinHandle<()>) {
    let _ = tokio::time::timeout(Duration::from_secs(60), handle).await;
}

/// Follows jobs this process runs until each has ended, drawing progress; Ctrl-C cancels them
/// (and waits for their clean-up). Fails when any did not succeed.
pub async fn watch(
    core: &Arc<Core>,
    jobs: Vec<Job>,
    mut events: tokio::sync::broadcast::Receiver<CoreEvent>,
    json: bool,
) -> Result<(), ApiError> {
    let ids: HashSet<String> = jobs.iter().map(|j| j.id.clone()).collect();
    let mut finished: BTreeMap<String, Job> = BTreeMap::new();
    let mut progress: BTreeMap<String, JobProgress> = BTreeMap::new();
    let mut bar = Bar::new(!json && std::io::stderr().is_terminal());
    if !json {
        for j in &jobs {
            eprintln!("{} (job {})", j.name, j.id);
        }
    }
    let mut cancelled = false;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    // One listener for the whole watch. A `ctrl_c()` written inside the `select!` would be a new
    // listener on every turn of the loop, and a Ctrl-C that came while a branch ran (between two
    // listeners) was lost: the export went on to the end.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    while finished.len() < ids.len() {
        tokio::select! {
            ev = events.recv() => match ev {
                Ok(CoreEvent::JobProgress { progress: p }) if ids.contains(&p.job_id) => {
                    progress.insert(p.job_id.clone(), p);
                    bar.draw(&progress, ids.len(), finished.len(), false);
                }
                Ok(CoreEvent::JobUpdated { job }) if ids.contains(&job.id) && job.state.is_terminal() => {
                    bar.clear();
                    if !json {
                        report(&job);
                    }
                    finished.insert(job.id.clone(), *job);
                }
                Ok(_) => {}
                // Missed events: the store has the truth (read on the next tick).
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => break,
            },
            _ = &mut interrupted, if !cancelled => {
                cancelled = true;
                bar.clear();
                eprintln!("cancelling — releasing the server side (press Ctrl-C again to quit at once)");
                for id in &ids {
                    if !finished.contains_key(id) {
                        let _ = core.cancel_job(id).await;
                    }
                }
                tokio::spawn(async {
                    let _ = tokio::signal::ctrl_c().await;
                    std::process::exit(130);
                });
            }
            _ = ticker.tick() => {
                // Events can be missed (a lagging receiver, or a job that ended before we
                // subscribed): the store is the truth.
                for id in &ids {
                    if finished.contains_key(id) {
                        continue;
                    }
                    if let Ok(detail) = core.job(id).await
                        && detail.job.state.is_terminal()
                    {
                        bar.clear();
                        if !json {
                            report(&detail.job);
                        }
                        finished.insert(id.clone(), detail.job);
                    }
                }
                bar.draw(&progress, ids.len(), finished.len(), true);
            }
        }
    }
    bar.clear();
    let results: Vec<Job> = finished.into_values().collect();
    if json {
        crate::output::json(&results)?;
    }
    let failed: Vec<&Job> = results
        .iter()
        .filter(|j| j.state != JobState::Succeeded)
        .collect();
    match failed.first() {
        None => Ok(()),
        Some(first) => {
            let error = first.error.clone().unwrap_or_else(|| ApiError {
                code: first.state.to_string(),
                message: format!("{} {}", first.name, first.state),
                retryable: true,
            });
            Err(ApiError {
                message: format!(
                    "{} of {} exports did not succeed; first: {}",
                    failed.len(),
                    results.len(),
                    error.message
                ),
                ..error
            })
        }
    }
}

fn report(job: &Job) {
    match (&job.state, &job.result, &job.error) {
        (JobState::Succeeded, Some(r), _) => eprintln!(
            "{}: done — {} ({}, {} manifest{})",
            job.name,
            r.path,
            crate::output::bytes(r.bytes),
            r.manifest_algorithm.to_uppercase(),
            if r.verified { ", verified" } else { "" }
        ),
        (_, _, Some(e)) => eprintln!("{}: {} — {} [{}]", job.name, job.state, e.message, e.code),
        _ => eprintln!("{}: {}", job.name, job.state),
    }
}

/// One line on stderr: a bar on a terminal (redrawn in place), a plain line every
/// few seconds otherwise (logs and CI).
struct Bar {
    tty: bool,
    drawn: bool,
    last: Option<Instant>,
}

impl Bar {
    fn new(tty: bool) -> Bar {
        Bar {
            tty,
            drawn: false,
            last: None,
        }
    }

    fn draw(
        &mut self,
        progress: &BTreeMap<String, JobProgress>,
        jobs: usize,
        finished: usize,
        tick: bool,
    ) {
        let every = if self.tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        if self.last.is_some_and(|t| t.elapsed() < every) && !tick {
            return;
        }
        if !self.tty && self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        if progress.is_empty() {
            return;
        }
        self.last = Some(Instant::now());
        let done: u64 = progress.values().map(|p| p.bytes_done).sum();
        let total: Option<u64> = progress.values().map(|p| p.bytes_total).sum();
        let rate: f64 = progress.values().map(|p| p.rate_bps).sum();
        let eta = progress
            .values()
            .filter_map(|p| p.eta_seconds)
            .fold(None, |m: Option<f64>, e| Some(m.map_or(e, |m| m.max(e))));
        let pct = total
            .filter(|t| *t > 0)
            .map(|t| (done as f64 / t as f64 * 100.0).min(100.0));
        let width = 24usize;
        let filled = pct.map_or(0, |p| (p / 100.0 * width as f64) as usize);
        let line = format!(
            "[{}{}] {} {}{} {}/s{} ({finished}/{jobs} done)",
            "#".repeat(filled),
            " ".repeat(width - filled),
            pct.map_or("  ?%".to_owned(), |p| format!("{p:>3.0}%")),
            crate::output::bytes(done),
            total
                .map(|t| format!(" / {}", crate::output::bytes(t)))
                .unwrap_or_default(),
            crate::output::bytes(rate as u64),
            eta.map(|e| format!(", ETA {}", human_duration(e)))
                .unwrap_or_default(),
        );
        let mut err = std::io::stderr();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{line}");
            let _ = err.flush();
            self.drawn = true;
        } else {
            let _ = writeln!(err, "{line}");
        }
    }

    fn clear(&mut self) {
        if self.tty && self.drawn {
            let mut err = std::io::stderr();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
            self.drawn = false;
        }
    }
}

fn human_duration(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(human_duration(4.4), "4 s");
        assert_eq!(human_duration(125.0), "2 min 5 s");
        assert_eq!(human_duration(7300.0), "2 h 1 min");
    }

    #[test]
    fn format_arguments_map_onto_the_core_format() {
        let args = ExportFormatArgs {
            format: PackageArg::Ova,
            disk_format: Some(DiskFormatArg::Qcow2),
            compress: CompressArg::Zstd,
            level: Some(5),
            manifest: ManifestArg::Sha1,
            export_options: vec![("mode".into(), "stop".into())],
        };
        let f = args.to_format();
        assert_eq!(f.package, PackageKind::Ova);
        assert_eq!(f.compression, CompressionKind::Zstd);
        assert_eq!(f.compression_level, Some(5));
        assert_eq!(f.manifest, ManifestAlgorithm::Sha1);
        assert_eq!(f.disk_format, Some(DiskFormatChoice::Qcow2));
        assert_eq!(
            f.platform_options.get("mode").map(String::as_str),
            Some("stop")
        );
        assert!(f.validate().is_ok());
    }
}

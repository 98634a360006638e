//! `hyperctl ova …`: package local disk images into an OVA / OVF folder, verify and inspect packages.
//!
//! Needs no database: it works on local files only. A `verify` failure is an
//! `Err` whose message names the first mismatch (a non-zero exit code).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hypersdk_ovf::{
    CancellationToken, Compression, DigestAlgorithm, DiskFormat, Error, ExportDisk, ExportOptions,
    ExportRequest, Firmware, NetworkSpec, PackageFormat, Progress, ProgressFn, VmSpec,
};

/// `hyperctl ova` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum OvaCommand {
    /// Package local disk images (raw, qcow2, vmdk, vhd, vhdx, vdi) into an OVA or OVF folder.
    Create(CreateArgs),
    /// Check an OVA / OVF folder / .ova.gz / .ova.zst: descriptor first, every manifest entry
    /// present with the right digest and size, references matching. Fails on the first mismatch.
    Verify {
        /// The package.
        path: PathBuf,
    },
    /// Show the VM a package describes: name, CPUs, memory, firmware, disks, networks, manifest.
    Inspect {
        /// The package (or a bare .ovf descriptor).
        path: PathBuf,
    },
}

/// Output package layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatArg {
    /// A single .ova archive.
    Ova,
    /// A folder with the .ovf, the disks and the .mf.
    Ovf,
}

/// Disk format inside the package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DiskFormatArg {
    /// VMDK streamOptimized (vSphere, VirtualBox, virt-v2v).
    Vmdk,
    /// QEMU qcow2.
    Qcow2,
    /// Microsoft VHD (dynamic; qemu `vpc` with force_size).
    Vhd,
    /// Microsoft VHDX.
    Vhdx,
    /// VirtualBox VDI.
    Vdi,
    /// Raw image.
    Raw,
}

impl From<DiskFormatArg> for DiskFormat {
    fn from(a: DiskFormatArg) -> Self {
        match a {
            DiskFormatArg::Vmdk => DiskFormat::VmdkStreamOptimized,
            DiskFormatArg::Qcow2 => DiskFormat::Qcow2,
            DiskFormatArg::Vhd => DiskFormat::Vhd,
            DiskFormatArg::Vhdx => DiskFormat::Vhdx,
            DiskFormatArg::Vdi => DiskFormat::Vdi,
            DiskFormatArg::Raw => DiskFormat::Raw,
        }
    }
}

/// Whole-archive compression.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompressArg {
    /// Plain .ova.
    None,
    /// .ova.gz (levels 0–9, default 6).
    Gzip,
    /// .ova.zst, multi-threaded (levels 1–22, default 3).
    Zstd,
}

/// Manifest digest algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ManifestArg {
    /// SHA-256 (default).
    Sha256,
    /// SHA-1 (for old importers).
    Sha1,
}

/// Boot firmware.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FirmwareArg {
    /// Legacy BIOS.
    Bios,
    /// UEFI.
    Efi,
}

/// `hyperctl ova create`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// VM name (file names derived from it are sanitised).
    #[arg(long)]
    pub name: String,
    /// Virtual CPUs.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=768))]
    pub cpus: u32,
    /// Memory in MiB.
    #[arg(long, value_name = "MiB", value_parser = clap::value_parser!(u64).range(1..))]
    pub memory: u64,
    /// Boot firmware.
    #[arg(long, value_enum, default_value_t = FirmwareArg::Bios)]
    pub firmware: FirmwareArg,
    /// A network to attach a NIC to (repeat for several NICs).
    #[arg(long = "nic", value_name = "NET")]
    pub nics: Vec<String>,
    /// Disk images, in boot order.
    #[arg(value_name = "DISK", required = true)]
    pub disks: Vec<PathBuf>,
    /// Output: the .ova (.ova.gz/.ova.zst) file or the OVF folder, which must not exist; or an
    /// existing folder, which gets NAME.ova (NAME/ with --format ovf).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,
    /// Package layout [default: ova when OUT ends in .ova/.ova.gz/.ova.zst, else ovf].
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Disk format inside the package (converted with qemu-img when different).
    #[arg(long, value_enum, default_value_t = DiskFormatArg::Vmdk)]
    pub disk_format: DiskFormatArg,
    /// Whole-archive compression [default: from OUT's extension, else none].
    #[arg(long, value_enum)]
    pub compress: Option<CompressArg>,
    /// Compression level (gzip 0–9, zstd 1–22).
    #[arg(long)]
    pub level: Option<i32>,
    /// Manifest digest algorithm.
    #[arg(long, value_enum, default_value_t = ManifestArg::Sha256)]
    pub manifest: ManifestArg,
}

fn lower_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Works out layout, compression and the final path from the arguments.
fn plan_output(a: &CreateArgs) -> Result<(PackageFormat, Compression, PathBuf), Error> {
    // An existing folder is where the package goes, named after the VM, as `export -o DIR` does.
    let requested = if a.output.is_dir() {
        let stem = hypersdk_ovf::names::sanitize_component(&a.name, "vm", 200);
        a.output.join(match a.format {
            Some(FormatArg::Ovf) => stem,
            _ => format!("{stem}.ova"),
        })
    } else {
        a.output.clone()
    };
    let name = lower_name(&requested);
    let ext_comp = if name.ends_with(".ova.gz") {
        Some(CompressArg::Gzip)
    } else if name.ends_with(".ova.zst") {
        Some(CompressArg::Zstd)
    } else {
        None
    };
    let looks_ova = name.ends_with(".ova") || ext_comp.is_some();
    let format = a.format.unwrap_or(if looks_ova {
        FormatArg::Ova
    } else {
        FormatArg::Ovf
    });
    let compress = a.compress.or(ext_comp).unwrap_or(CompressArg::None);
    if format == FormatArg::Ovf && compress != CompressArg::None {
        return Err(Error::InvalidSpec(
            "--compress applies to --format ova only".into(),
        ));
    }
    let compression = match compress {
        CompressArg::None => {
            if a.level.is_some() {
                return Err(Error::InvalidSpec(
                    "--level needs --compress gzip|zstd".into(),
                ));
            }
            Compression::None
        }
        CompressArg::Gzip => {
            let level = a.level.unwrap_or(6);
            if !(0..=9).contains(&level) {
                return Err(Error::InvalidSpec(format!(
                    "gzip level {level} is outside 0–9"
                )));
            }
            Compression::Gzip {
                level: level as u32,
            }
        }
        CompressArg::Zstd => {
            let level = a.level.unwrap_or(3);
            if !(1..=22).contains(&level) {
                return Err(Error::InvalidSpec(format!(
                    "zstd level {level} is outside 1–22"
                )));
            }
            Compression::Zstd { level, threads: 0 }
        }
    };
    // Keep the extension honest: a compressed archive gets .gz/.zst appended if missing.
    let mut output = requested;
    let suffix = match compress {
        CompressArg::Gzip if !name.ends_with(".gz") => Some(".gz"),
        CompressArg::Zstd if !name.ends_with(".zst") => Some(".zst"),
        _ => None,
    };
    if let Some(s) = suffix {
        output = hypersdk_ovf::fsutil::with_suffix(&output, s);
    }
    let package = match format {
        FormatArg::Ova => PackageFormat::Ova,
        FormatArg::Ovf => PackageFormat::Ovf,
    };
    Ok((package, compression, output))
}

/// Progress on stderr, at most once a second per disk.
fn stderr_progress() -> ProgressFn {
    let last: Mutex<Option<(usize, Instant)>> = Mutex::new(None);
    Arc::new(move |p: Progress| {
        let Ok(mut l) = last.lock() else { return };
        let done = p.bytes_total.is_some_and(|t| t == p.bytes_done);
        let due = match *l {
            Some((i, t)) => i != p.disk_index || t.elapsed() >= Duration::from_secs(1),
            None => true,
        };
        if !(due || done) {
            return;
        }
        *l = Some((p.disk_index, Instant::now()));
        let total = p
            .bytes_total
            .map(|t| format!(" / {}", crate::output::bytes(t)))
            .unwrap_or_default();
        let mut e = std::io::stderr();
        let _ = writeln!(
            e,
            "  {}: {}{total}",
            p.file,
            crate::output::bytes(p.bytes_done)
        );
    })
}

async fn create(a: CreateArgs, json: bool) -> Result<(), Error> {
    let (package, compression, output) = plan_output(&a)?;
    let mut vm = VmSpec::new(a.name.clone(), a.cpus, a.memory);
    vm.firmware = match a.firmware {
        FirmwareArg::Bios => Firmware::Bios,
        FirmwareArg::Efi => Firmware::Efi,
    };
    vm.networks = a
        .nics
        .iter()
        .map(|n| NetworkSpec {
            name: n.clone(),
            adapter: None,
        })
        .collect();
    let target: DiskFormat = a.disk_format.into();
    let mut disks = Vec::with_capacity(a.disks.len());
    for (i, path) in a.disks.iter().enumerate() {
        if !path.is_file() {
            return Err(Error::InvalidSpec(format!(
                "disk {} is not a file",
                path.display()
            )));
        }
        let mut d = ExportDisk::local(path);
        d.name = format!("{}-disk{}", a.name, i + 1);
        d.convert_to = Some(target.clone());
        disks.push(d);
    }
    let req = ExportRequest {
        vm,
        disks,
        destination: output.clone(),
        package,
        compression,
        manifest: match a.manifest {
            ManifestArg::Sha256 => DigestAlgorithm::Sha256,
            ManifestArg::Sha1 => DigestAlgorithm::Sha1,
        },
        options: ExportOptions::default(),
    };
    let progress = if json { None } else { Some(stderr_progress()) };
    if !json {
        eprintln!("creating {} …", output.display());
    }
    let out = hypersdk_ovf::export(req, progress, CancellationToken::new()).await?;
    if json {
        println!("{}", to_json(&out)?);
    } else {
        println!(
            "created {} ({})",
            out.path.display(),
            crate::output::bytes(out.bytes)
        );
        for d in &out.vm.disks {
            println!(
                "  {}  {}  capacity {}  file {}",
                d.href,
                d.format.short_name(),
                crate::output::bytes(d.capacity_bytes),
                d.file_size
                    .map(crate::output::bytes)
                    .unwrap_or_else(|| "?".into())
            );
        }
        println!(
            "  manifest {} ({})",
            out.descriptor_name.trim_end_matches(".ovf").to_string() + ".mf",
            out.manifest.algorithm.tag()
        );
    }
    Ok(())
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String, Error> {
    serde_json::to_string_pretty(v).map_err(|e| Error::Internal(format!("serialising output: {e}")))
}

/// Runs one `hyperctl ova` command. `json` is the global `--json` flag.
pub async fn run(cmd: OvaCommand, json: bool) -> Result<(), Error> {
    match cmd {
        OvaCommand::Create(a) => create(a, json).await,
        OvaCommand::Verify { path } => {
            let rep = hypersdk_ovf::verify(&path).await?;
            if json {
                println!("{}", to_json(&rep)?);
            } else {
                println!(
                    "OK {} ({:?}): descriptor {} first, {} files match their {} digests",
                    path.display(),
                    rep.kind,
                    rep.descriptor,
                    rep.files.len(),
                    rep.algorithm.tag()
                );
                for d in &rep.disks {
                    let size = d
                        .virtual_size
                        .map(|s| format!(", virtual size {}", crate::output::bytes(s)))
                        .unwrap_or_default();
                    println!("  disk {} ({}{size}):", d.file, d.format);
                    for c in &d.checks {
                        match &c.outcome {
                            hypersdk_ovf::CheckOutcome::Passed => println!("    ok    {}", c.check),
                            hypersdk_ovf::CheckOutcome::Skipped { reason } => {
                                println!("    skip  {}: {reason}", c.check)
                            }
                        }
                    }
                }
            }
            Ok(())
        }
        OvaCommand::Inspect { path } => {
            let ins = hypersdk_ovf::inspect(&path).await?;
            if json {
                println!("{}", to_json(&ins)?);
                return Ok(());
            }
            let vm = &ins.vm;
            println!("name:      {}", vm.name);
            println!("cpus:      {}", vm.cpus);
            println!("memory:    {} MiB", vm.memory_mib);
            println!(
                "firmware:  {}",
                match vm.firmware {
                    Firmware::Bios => "bios",
                    Firmware::Efi => "efi",
                }
            );
            if let Some(os) = &vm.os {
                println!(
                    "os:        {} {}",
                    os.id,
                    os.description.as_deref().unwrap_or("")
                );
            }
            println!("disks:");
            for d in &vm.disks {
                println!(
                    "  {:<12} {:<10} capacity {:>10}  {}  ({})",
                    d.disk_id,
                    d.format.short_name(),
                    crate::output::bytes(d.capacity_bytes),
                    d.href,
                    d.controller
                );
            }
            println!("networks:");
            for n in &vm.networks {
                println!(
                    "  {}{}",
                    n.name,
                    n.adapter
                        .as_deref()
                        .map(|a| format!(" ({a})"))
                        .unwrap_or_default()
                );
            }
            match &ins.manifest {
                Some((name, alg)) => println!("manifest:  {name} ({})", alg.tag()),
                None => println!("manifest:  none"),
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        cmd: OvaCommand,
    }

    fn create(args: &[&str]) -> CreateArgs {
        let mut v = vec!["t", "create"];
        v.extend_from_slice(args);
        match Cli::try_parse_from(v).map(|c| c.cmd) {
            Ok(OvaCommand::Create(a)) => a,
            other => panic!("unexpected parse: {other:?}"),
        }
    }

    #[test]
    fn an_existing_folder_gets_the_package_named_after_the_vm() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().to_str().expect("utf-8");
        let base = [
            "--name", "web 01/x", "--cpus", "1", "--memory", "512", "d.qcow2", "-o", out,
        ];
        let plan = |extra: &[&str]| {
            let mut args = base.to_vec();
            args.extend_from_slice(extra);
            let (p, _, o) = plan_output(&create(&args)).expect("plan");
            (
                p,
                o.strip_prefix(dir.path())
                    .expect("inside")
                    .display()
                    .to_string(),
            )
        };
        let (p, name) = plan(&[]);
        assert_eq!(p, PackageFormat::Ova);
        assert!(name.ends_with(".ova") && !name.contains('/'), "{name}");
        assert!(plan(&["--compress", "zstd"]).1.ends_with(".ova.zst"));
        let (p, name) = plan(&["--format", "ovf"]);
        assert_eq!(p, PackageFormat::Ovf);
        assert!(!name.contains('.') && !name.contains('/'), "{name}");
    }

    #[test]
    fn output_planning() {
        let a = create(&[
            "--name",
            "vm",
            "--cpus",
            "2",
            "--memory",
            "1024",
            "d.qcow2",
            "-o",
            "x.ova.zst",
        ]);
        let (p, c, o) = plan_output(&a).expect("plan");
        assert_eq!(
            (p, c, o),
            (
                PackageFormat::Ova,
                Compression::Zstd {
                    level: 3,
                    threads: 0
                },
                PathBuf::from("x.ova.zst")
            )
        );
        let a = create(&[
            "--name",
            "vm",
            "--cpus",
            "2",
            "--memory",
            "1024",
            "d",
            "-o",
            "x.ova",
            "--compress",
            "gzip",
            "--level",
            "9",
        ]);
        let (_, c, o) = plan_output(&a).expect("plan");
        assert_eq!(
            (c, o),
            (Compression::Gzip { level: 9 }, PathBuf::from("x.ova.gz"))
        );
        let a = create(&[
            "--name", "vm", "--cpus", "1", "--memory", "1", "d", "-o", "dir",
        ]);
        assert_eq!(plan_output(&a).expect("plan").0, PackageFormat::Ovf);
        let a = create(&[
            "--name",
            "vm",
            "--cpus",
            "1",
            "--memory",
            "1",
            "d",
            "-o",
            "dir",
            "--compress",
            "zstd",
        ]);
        assert_eq!(plan_output(&a).map_err(|e| e.code()), Err("invalid_spec"));
        let a = create(&[
            "--name",
            "vm",
            "--cpus",
            "1",
            "--memory",
            "1",
            "d",
            "-o",
            "x.ova",
            "--compress",
            "zstd",
            "--level",
            "40",
        ]);
        assert_eq!(plan_output(&a).map_err(|e| e.code()), Err("invalid_spec"));
        assert!(
            Cli::try_parse_from([
                "t", "create", "--name", "v", "--cpus", "0", "--memory", "1", "d", "-o", "x"
            ])
            .is_err()
        );
        assert!(
            Cli::try_parse_from([
                "t", "create", "--name", "v", "--cpus", "1", "--memory", "1", "-o", "x"
            ])
            .is_err()
        );
        let a = create(&[
            "--name",
            "vm",
            "--cpus",
            "4",
            "--memory",
            "8",
            "--nic",
            "a",
            "--nic",
            "b",
            "--firmware",
            "efi",
            "--disk-format",
            "vhdx",
            "--manifest",
            "sha1",
            "d1",
            "d2",
            "-o",
            "x.ova",
        ]);
        assert_eq!(a.nics, vec!["a", "b"]);
        assert_eq!(a.disks.len(), 2);
        assert_eq!(
            (a.firmware, a.disk_format, a.manifest),
            (FirmwareArg::Efi, DiskFormatArg::Vhdx, ManifestArg::Sha1)
        );
    }
}

//! Writes a VMA archive (what `vzdump --stdout` produces for a QEMU guest)
//! from raw disk images, for the fake `vzdump` of the tests and for
//! benchmarks.
//!
//! ```text
//! make_vma --out FILE|- [--zstd] --disk drive-scsi0=disk.raw [--disk ...]
//!          [--config qemu-server.conf=PATH ...]
//!          [--order sequential|interleaved|shuffled] [--seed N]
//!          [--store-zero-blocks] [--clusters-per-extent N] [--ctime SECS]
//! ```
//!
//! `--zstd` (implied by an `--out` ending in `.zst`) compresses the output
//! as `vzdump --compress zstd` does. `--out -` writes to stdout. A summary
//! goes to stderr.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use hypersdk_proxmox::vma_writer::{ClusterOrder, DiskSource, VmaWriter};

const USAGE: &str = "usage: make_vma --out FILE|- [--zstd] --disk NAME=RAW_IMAGE [--disk ...] \
[--config NAME=PATH ...] [--order sequential|interleaved|shuffled] [--seed N] \
[--store-zero-blocks] [--clusters-per-extent N] [--ctime SECS]";

struct Args {
    out: String,
    zstd: bool,
    writer: VmaWriter,
    disks: usize,
}

fn split_pair(flag: &str, v: &str) -> Result<(String, PathBuf), String> {
    match v.split_once('=') {
        Some((k, p)) if !k.is_empty() && !p.is_empty() => Ok((k.to_owned(), PathBuf::from(p))),
        _ => Err(format!("{flag} wants NAME=PATH, got {v:?}")),
    }
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag} wants a number, got {v:?}"))
}

/// `None`: help was asked for.
fn parse(mut argv: impl Iterator<Item = String>) -> Result<Option<Args>, String> {
    let mut out = None;
    let mut zstd = false;
    let mut writer = VmaWriter::new();
    let mut disks = 0;
    let mut order = "sequential".to_owned();
    let mut seed = 1u64;
    while let Some(flag) = argv.next() {
        // --flag=value and --flag value both work.
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (flag, None),
        };
        let takes_value = match flag.as_str() {
            "--zstd" | "--store-zero-blocks" | "--help" | "-h" => false,
            "--out"
            | "--disk"
            | "--config"
            | "--order"
            | "--seed"
            | "--clusters-per-extent"
            | "--ctime" => true,
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        };
        let value = if takes_value {
            match inline {
                Some(v) => v,
                None => argv.next().ok_or_else(|| format!("{flag} needs a value"))?,
            }
        } else {
            String::new()
        };
        match flag.as_str() {
            "--out" => out = Some(value),
            "--zstd" => zstd = true,
            "--disk" => {
                let (name, path) = split_pair("--disk", &value)?;
                // Fail before the output file is created.
                std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                writer = writer.disk(name, DiskSource::File(path));
                disks += 1;
            }
            "--config" => {
                let (name, path) = split_pair("--config", &value)?;
                let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                writer = writer.config(name, data);
            }
            "--order" => order = value,
            "--seed" => seed = number("--seed", &value)?,
            "--store-zero-blocks" => writer = writer.skip_zero_blocks(false),
            "--clusters-per-extent" => {
                let n: usize = number("--clusters-per-extent", &value)?;
                if !(1..=59).contains(&n) {
                    return Err("--clusters-per-extent must be 1 to 59".to_owned());
                }
                writer = writer.clusters_per_extent(n);
            }
            "--ctime" => writer = writer.ctime(number("--ctime", &value)?),
            "--help" | "-h" => return Ok(None),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    let order = match order.as_str() {
        "sequential" => ClusterOrder::Sequential,
        "interleaved" => ClusterOrder::Interleaved,
        "shuffled" => ClusterOrder::Shuffled { seed },
        other => return Err(format!("--order: unknown order {other:?}")),
    };
    let out = out.ok_or_else(|| format!("--out is required\n{USAGE}"))?;
    if disks == 0 {
        return Err(format!("at least one --disk is required\n{USAGE}"));
    }
    let zstd = zstd || out.ends_with(".zst");
    // The uuid follows the seed, so two fixtures of one run can differ.
    let mut uuid = [0u8; 16];
    hypersdk_proxmox::vma_writer::SplitMix64::new(seed ^ 0x564d_4100).fill(&mut uuid);
    Ok(Some(Args {
        out,
        zstd,
        writer: writer.order(order).uuid(uuid),
        disks,
    }))
}

fn run(args: Args) -> io::Result<()> {
    let sink: Box<dyn Write> = if args.out == "-" {
        Box::new(io::stdout().lock())
    } else {
        let f = File::create(&args.out)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", args.out)))?;
        Box::new(f)
    };
    let sink = BufWriter::with_capacity(1 << 20, sink);
    let stats = if args.zstd {
        let mut enc = zstd::Encoder::new(sink, 3)?;
        // vzdump runs `zstd`, which writes frame checksums.
        enc.include_checksum(true)?;
        let stats = args.writer.write_to(&mut enc)?;
        enc.finish()?.flush()?;
        stats
    } else {
        let mut sink = sink;
        let stats = args.writer.write_to(&mut sink)?;
        sink.flush()?;
        stats
    };
    eprintln!(
        "make_vma: {} disk(s), {} bytes of VMA, {} extents, {} clusters, {} data blocks{}",
        args.disks,
        stats.bytes,
        stats.extents,
        stats.clusters,
        stats.data_blocks,
        if args.zstd { ", zstd" } else { "" }
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(a)) => a,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("make_vma: {msg}");
            return ExitCode::from(2);
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("make_vma: {e}");
            ExitCode::FAILURE
        }
    }
}

//! Benchmark driver for `bench/ova-export.sh`: packages one disk served over HTTP(S) into an OVA
//! (SHA-256 manifest, fsynced) and prints one JSON line with bytes, seconds, throughput and the
//! process's peak RSS (VmHWM).
//!
//! `cargo run --release -p hypersdk-ovf --example ova_bench -- URL OUT [none|gzip[:N]|zstd[:N]] [CA.pem] [verify]`
#![allow(clippy::unwrap_used)]

use std::time::Instant;

use hypersdk_ovf::*;

fn peak_rss_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: ova_bench URL OUT [none|gzip[:N]|zstd[:N]] [CA.pem] [verify]");
        std::process::exit(2);
    }
    let (url, out) = (&args[1], std::path::PathBuf::from(&args[2]));
    // `zstd` / `gzip` at the product's default level (3 / 6), or `zstd:N` / `gzip:N`.
    let kind = args.get(3).map(String::as_str).unwrap_or("none");
    let (kind, level) = match kind.split_once(':') {
        Some((k, l)) => (k, Some(l.parse::<i32>()?)),
        None => (kind, None),
    };
    let compression = match kind {
        "gzip" => Compression::Gzip {
            level: level.unwrap_or(6) as u32,
        },
        "zstd" => Compression::Zstd {
            level: level.unwrap_or(3),
            threads: 0,
        },
        _ => Compression::None,
    };
    let mut client = reqwest::Client::builder();
    if let Some(ca) = args.get(4).filter(|s| !s.is_empty()) {
        client = client.add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(ca)?)?);
    }
    let verify_after = args.get(5).is_some_and(|s| s == "verify");
    let client = client.build()?;
    let disk = ExportDisk {
        name: "disk1".into(),
        source: DiskSource::http(url.clone(), client),
        format: Some(DiskFormat::Raw),
        capacity_bytes: None,
        controller: Controller::Scsi {
            subtype: "lsilogic".into(),
        },
        convert_to: None,
    };
    let req = ExportRequest {
        vm: VmSpec::new("bench", 2, 2048),
        disks: vec![disk],
        destination: out.clone(),
        package: PackageFormat::Ova,
        compression,
        manifest: DigestAlgorithm::Sha256,
        options: ExportOptions {
            resume: false,
            verify: verify_after,
            ..ExportOptions::default()
        },
    };
    let t = Instant::now();
    let res = export(req, None, CancellationToken::new()).await?;
    let secs = t.elapsed().as_secs_f64();
    let disk_bytes = res.vm.disks[0].file_size.unwrap_or(0);
    println!(
        "{{\"disk_bytes\":{disk_bytes},\"out_bytes\":{},\"seconds\":{secs:.3},\"mb_per_s\":{:.1},\"peak_rss_kib\":{}}}",
        res.bytes,
        disk_bytes as f64 / secs / 1e6,
        peak_rss_kib().unwrap_or(0)
    );
    Ok(())
}

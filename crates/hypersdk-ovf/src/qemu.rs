//! Disk conversion and inspection through `qemu-img` (Debian/Ubuntu package `qemu-utils`).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::model::DiskFormat;
use crate::{Error, Result};

/// How to run `qemu-img`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QemuImg {
    /// Program to run (default `qemu-img`, looked up on `PATH`).
    pub program: PathBuf,
}

impl Default for QemuImg {
    fn default() -> Self {
        QemuImg {
            program: PathBuf::from("qemu-img"),
        }
    }
}

/// What `qemu-img info` says about an image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// qemu's format name (`raw`, `qcow2`, `vmdk`, `vpc`, `vhdx`, `vdi`, …).
    pub format: String,
    /// Virtual size (guest-visible capacity) in bytes.
    pub virtual_size: u64,
    /// Allocated size on the host, when reported.
    pub actual_size: Option<u64>,
    /// VMDK create type (`streamOptimized`, `monolithicSparse`, …), when the image is a VMDK.
    pub vmdk_subformat: Option<String>,
}

impl ImageInfo {
    /// The [`DiskFormat`] of this image.
    pub fn disk_format(&self) -> DiskFormat {
        match self.format.as_str() {
            "vmdk" if self.vmdk_subformat.as_deref() == Some("streamOptimized") => {
                DiskFormat::VmdkStreamOptimized
            }
            "vmdk" => DiskFormat::Vmdk,
            "qcow2" => DiskFormat::Qcow2,
            "vpc" => DiskFormat::Vhd,
            "vhdx" => DiskFormat::Vhdx,
            "vdi" => DiskFormat::Vdi,
            "raw" => DiskFormat::Raw,
            other => DiskFormat::Other(other.to_string()),
        }
    }
}

/// Options for VHD output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VhdKind {
    /// Dynamic (sparse) VHD.
    #[default]
    Dynamic,
    /// Fixed VHD (what Azure requires).
    Fixed,
}

impl QemuImg {
    /// Uses a specific binary.
    pub fn at(program: impl Into<PathBuf>) -> Self {
        QemuImg {
            program: program.into(),
        }
    }

    async fn run(
        &self,
        action: &str,
        args: &[&std::ffi::OsStr],
        cancel: &CancellationToken,
    ) -> Result<Vec<u8>> {
        let mut cmd = tokio::process::Command::new(&self.program);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let child = cmd.spawn().map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::QemuImgMissing
            } else {
                Error::io(format!("starting {}", self.program.display()), e)
            }
        })?;
        let out = tokio::select! {
            biased;
            _ = cancel.cancelled() => return Err(Error::Cancelled), // kill_on_drop ends the child
            r = child.wait_with_output() => r.map_err(|e| Error::io(format!("waiting for qemu-img {action}"), e))?,
        };
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr)
                .trim()
                .chars()
                .take(2000)
                .collect();
            return Err(Error::QemuImg {
                action: action.to_string(),
                status: out.status.to_string(),
                stderr,
            });
        }
        Ok(out.stdout)
    }

    /// `qemu-img info --output=json` (format probed, as the tool does; pass `format` to skip
    /// probing, which matters for untrusted raw images).
    pub async fn info(
        &self,
        path: &Path,
        format: Option<&str>,
        cancel: &CancellationToken,
    ) -> Result<ImageInfo> {
        let mut args: Vec<&std::ffi::OsStr> = vec!["info".as_ref(), "--output=json".as_ref()];
        if let Some(f) = format {
            args.push("-f".as_ref());
            args.push(f.as_ref());
        }
        args.push(path.as_os_str());
        let out = self.run("info", &args, cancel).await?;
        let v: serde_json::Value = serde_json::from_slice(&out).map_err(|e| Error::QemuImg {
            action: "info".into(),
            status: "ok".into(),
            stderr: format!("unparseable JSON: {e}"),
        })?;
        let bad = |what: &str| Error::QemuImg {
            action: "info".into(),
            status: "ok".into(),
            stderr: format!("JSON lacks {what}"),
        };
        Ok(ImageInfo {
            format: v
                .get("format")
                .and_then(|f| f.as_str())
                .ok_or_else(|| bad("format"))?
                .to_string(),
            virtual_size: v
                .get("virtual-size")
                .and_then(|f| f.as_u64())
                .ok_or_else(|| bad("virtual-size"))?,
            actual_size: v.get("actual-size").and_then(|f| f.as_u64()),
            vmdk_subformat: v
                .pointer("/format-specific/data/create-type")
                .and_then(|f| f.as_str())
                .map(str::to_string),
        })
    }

    /// Converts `input` (of qemu format `input_format`) to `output` in `target`.
    ///
    /// VMDK is written streamOptimized; VHD uses `force_size=on` so the virtual size is exactly the
    /// source's (no CHS rounding); `vhd` selects dynamic or fixed.
    pub async fn convert(
        &self,
        input: &Path,
        input_format: &str,
        output: &Path,
        target: &DiskFormat,
        vhd: VhdKind,
        cancel: &CancellationToken,
    ) -> Result<()> {
        let out_fmt = target
            .qemu_name()
            .ok_or_else(|| Error::Unsupported(format!("qemu-img cannot write {}", target.uri())))?;
        let opts = match target {
            DiskFormat::VmdkStreamOptimized => Some("subformat=streamOptimized"),
            DiskFormat::Vmdk => Some("subformat=monolithicSparse"),
            DiskFormat::Vhd => Some(match vhd {
                VhdKind::Dynamic => "subformat=dynamic,force_size=on",
                VhdKind::Fixed => "subformat=fixed,force_size=on",
            }),
            _ => None,
        };
        let mut args: Vec<&std::ffi::OsStr> = vec![
            "convert".as_ref(),
            "-f".as_ref(),
            input_format.as_ref(),
            "-O".as_ref(),
            out_fmt.as_ref(),
        ];
        if let Some(o) = opts {
            args.push("-o".as_ref());
            args.push(o.as_ref());
        }
        args.push(input.as_os_str());
        args.push(output.as_os_str());
        self.run("convert", &args, cancel).await.map(|_| ())
    }
}

//! # hypersdk-ovf — the export engine
//!
//! Turns a VM's hardware description and disk byte streams into an OVF folder or an OVA
//! (optionally `.ova.gz` / `.ova.zst`) with a verified manifest; verifies and inspects packages;
//! converts disks with `qemu-img`. Knows nothing about Tauri or the providers (they depend on it).
//!
//! - Model: [`VmSpec`], [`DiskSpec`], [`NetworkSpec`], [`Firmware`], [`DiskFormat`], [`Controller`].
//! - Descriptor: [`write_descriptor`] (OVF 1.1, validates against DSP8023) and
//!   [`parse_descriptor`] (tolerant, never panics).
//! - Manifest: [`Manifest`], [`DigestAlgorithm`].
//! - Safe names: [`names`].
//! - Export: [`export()`] with [`ExportRequest`], [`DiskSource`], progress and cancellation.
//! - Verification: [`verify()`] (digests, and every disk read as an image), [`inspect()`].
//! - Conversion: [`QemuImg`].

mod checkpoint;
mod disk_image;
mod error;
mod export;
pub mod fsutil;
mod manifest;
mod model;
pub mod names;
mod ovf_read;
mod ovf_write;
mod pipeline;
mod qemu;
mod source;
mod tarfmt;
mod verify;

pub use checkpoint::{Checkpoint, DiskCheckpoint};
pub use disk_image::{CheckOutcome, DiskReport, ImageCheck};
pub use error::{Error, Result};
pub use export::{
    Compression, ExportDisk, ExportOptions, ExportOutcome, ExportRequest, PackageFormat,
    discard_partial, export,
};
pub use manifest::{DigestAlgorithm, Hasher, Manifest, ManifestEntry};
pub use model::{Controller, DiskFormat, DiskSpec, Firmware, NetworkSpec, OsInfo, VmSpec};
pub use ovf_read::{Descriptor, FileRef, MAX_DESCRIPTOR_BYTES, parse_descriptor};
pub use ovf_write::{write_descriptor, xml_escape, xml_safe_text};
pub use pipeline::{CHUNK, DEFAULT_CHECKPOINT_BYTES, Progress, ProgressFn};
pub use qemu::{ImageInfo, QemuImg, VhdKind};
pub use source::{BoxRead, DiskSource, Opened, redact_url};
pub use verify::{
    Inspection, PackageKind, VerifyReport, inspect, inspect_blocking, verify, verify_blocking,
    verify_path,
};

/// Re-exported so callers need not depend on tokio-util for the token type.
pub use tokio_util::sync::CancellationToken;

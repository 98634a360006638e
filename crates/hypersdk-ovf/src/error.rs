//! The crate's single error type. Every variant has a stable snake_case [`Error::code`] that the
//! shell and the CLI map to `{code, message, retryable}`; messages never contain URL query strings.

use std::path::PathBuf;

/// Result alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in the OVF/OVA engine.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation failed; `context` says what was being done and to which path.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The destination cannot hold more data (ENOSPC / EDQUOT).
    #[error("destination is full while {context}")]
    DestinationFull {
        /// What was being written.
        context: String,
    },
    /// The caller's export request or VM spec is not usable.
    #[error("invalid export request: {0}")]
    InvalidSpec(String),
    /// A name could not be made safe (e.g. empty after sanitising is impossible to avoid).
    #[error("unsafe file name: {0}")]
    UnsafeName(String),
    /// A path would resolve outside the destination directory.
    #[error("path escapes the destination: {}", .0.display())]
    PathEscape(PathBuf),
    /// The final destination already exists; exports never overwrite.
    #[error("destination already exists: {}", .0.display())]
    DestinationExists(PathBuf),
    /// Another export is writing to the same destination right now.
    #[error("another export is writing to {}", .0.display())]
    DestinationBusy(PathBuf),
    /// The OVF descriptor is not well-formed XML or is structurally unusable.
    #[error("malformed OVF descriptor: {0}")]
    OvfMalformed(String),
    /// The manifest (`.mf`) has a line that cannot be parsed.
    #[error("malformed manifest: {0}")]
    ManifestMalformed(String),
    /// The package has no manifest, so its integrity cannot be proven.
    #[error("package has no manifest (.mf)")]
    ManifestMissing,
    /// The archive is not a readable tar / gzip / zstd stream, or has an unsupported layout.
    #[error("malformed archive: {0}")]
    ArchiveMalformed(String),
    /// The first member of an OVA is not the OVF descriptor.
    #[error("first archive member is {0:?}, not the OVF descriptor")]
    DescriptorNotFirst(String),
    /// A file named by the manifest or the descriptor's References is not in the package.
    #[error("file {0:?} is referenced but missing from the package")]
    MissingFile(String),
    /// A package member is listed neither in the manifest nor is the manifest/certificate itself.
    #[error("file {0:?} is in the package but not listed in the manifest")]
    UnlistedFile(String),
    /// A file's digest differs from the manifest.
    #[error("digest mismatch for {file:?}: manifest says {expected}, file has {actual}")]
    DigestMismatch {
        /// Package-relative file name.
        file: String,
        /// Digest from the manifest.
        expected: String,
        /// Digest computed from the bytes.
        actual: String,
    },
    /// A file's size differs from what the descriptor (References/@ovf:size) states.
    #[error("size mismatch for {file:?}: descriptor says {expected} bytes, file has {actual}")]
    SizeMismatch {
        /// Package-relative file name.
        file: String,
        /// Size from the descriptor.
        expected: u64,
        /// Actual size.
        actual: u64,
    },
    /// A disk of the package is not a usable image of the format its descriptor declares.
    #[error("disk {file:?} is not a usable image: {problem}")]
    DiskImage {
        /// Package-relative file name.
        file: String,
        /// What is wrong with it, in words.
        problem: String,
    },
    /// The disk source ended before its announced length.
    #[error("source for {disk:?} ended after {got} of {expected} bytes")]
    SourceTruncated {
        /// Disk name.
        disk: String,
        /// Announced length.
        expected: u64,
        /// Bytes received.
        got: u64,
    },
    /// The disk source produced more bytes than announced.
    #[error("source for {disk:?} is longer than its announced {expected} bytes")]
    SourceTooLong {
        /// Disk name.
        disk: String,
        /// Announced length.
        expected: u64,
    },
    /// Reading the disk source failed.
    #[error("reading source for {disk:?} failed: {message}")]
    Source {
        /// Disk name.
        disk: String,
        /// Description (no URL query strings).
        message: String,
        /// Whether retrying may help (network errors, 5xx).
        retryable: bool,
    },
    /// An HTTP source answered with an unexpected status.
    #[error("HTTP {status} from {url}")]
    HttpStatus {
        /// Status code.
        status: u16,
        /// URL without its query string.
        url: String,
    },
    /// The operation was cancelled through its `CancellationToken`.
    #[error("cancelled")]
    Cancelled,
    /// `qemu-img` is not installed or not on `PATH`.
    #[error("qemu-img not found on PATH (install the `qemu-utils` package)")]
    QemuImgMissing,
    /// `qemu-img` ran but failed.
    #[error("qemu-img {action} failed ({status}): {stderr}")]
    QemuImg {
        /// `info`, `convert`, …
        action: String,
        /// Exit status description.
        status: String,
        /// Its standard error (trimmed).
        stderr: String,
    },
    /// A resume checkpoint exists but cannot be used.
    #[error("checkpoint unusable: {0}")]
    Checkpoint(String),
    /// A feature or format combination that is not supported.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A worker thread panicked or vanished (a bug, not an input problem).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Stable machine-readable code (snake_case), one per variant.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::DestinationFull { .. } => "destination_full",
            Error::InvalidSpec(_) => "invalid_spec",
            Error::UnsafeName(_) => "unsafe_name",
            Error::PathEscape(_) => "path_escape",
            Error::DestinationExists(_) => "destination_exists",
            Error::DestinationBusy(_) => "destination_busy",
            Error::OvfMalformed(_) => "ovf_malformed",
            Error::ManifestMalformed(_) => "manifest_malformed",
            Error::ManifestMissing => "manifest_missing",
            Error::ArchiveMalformed(_) => "archive_malformed",
            Error::DescriptorNotFirst(_) => "descriptor_not_first",
            Error::MissingFile(_) => "missing_file",
            Error::UnlistedFile(_) => "unlisted_file",
            Error::DigestMismatch { .. } => "digest_mismatch",
            Error::SizeMismatch { .. } => "size_mismatch",
            Error::DiskImage { .. } => "disk_image_invalid",
            Error::SourceTruncated { .. } => "source_truncated",
            Error::SourceTooLong { .. } => "source_too_long",
            Error::Source { .. } => "source_failed",
            Error::HttpStatus { .. } => "http_status",
            Error::Cancelled => "cancelled",
            Error::QemuImgMissing => "qemu_img_missing",
            Error::QemuImg { .. } => "qemu_img_failed",
            Error::Checkpoint(_) => "checkpoint_invalid",
            Error::Unsupported(_) => "unsupported",
            Error::Internal(_) => "internal",
        }
    }

    /// Whether retrying the same operation later may succeed.
    pub fn retryable(&self) -> bool {
        match self {
            Error::Source { retryable, .. } => *retryable,
            Error::HttpStatus { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            Error::Io { .. } | Error::SourceTruncated { .. } => true,
            _ => false,
        }
    }

    /// True for the verification failures (the package is not what its manifest/descriptor claim).
    pub fn is_integrity_failure(&self) -> bool {
        matches!(
            self,
            Error::DescriptorNotFirst(_)
                | Error::MissingFile(_)
                | Error::UnlistedFile(_)
                | Error::DigestMismatch { .. }
                | Error::SizeMismatch { .. }
                | Error::DiskImage { .. }
                | Error::ManifestMissing
                | Error::ManifestMalformed(_)
                | Error::OvfMalformed(_)
                | Error::ArchiveMalformed(_)
        )
    }

    /// Wraps an I/O error with context; ENOSPC/EDQUOT become [`Error::DestinationFull`].
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::StorageFull || source.raw_os_error() == Some(122) {
            return Error::DestinationFull {
                context: context.into(),
            };
        }
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Extension to attach context to `std::io::Result`.
pub(crate) trait IoContext<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::io(what(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_snake_case_and_enospc_maps_to_full() {
        let e = Error::io("writing x", std::io::Error::from_raw_os_error(28));
        assert_eq!(e.code(), "destination_full");
        let e = Error::io("writing x", std::io::Error::other("boom"));
        assert_eq!(e.code(), "io");
        for e in [
            Error::Cancelled,
            Error::QemuImgMissing,
            Error::ManifestMissing,
            Error::DiskImage {
                file: "d.vmdk".into(),
                problem: "truncated".into(),
            },
        ] {
            assert!(e.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
    }
}

//! HyperSDK's Proxmox VE provider.
//!
//! PVE has no HTTPS endpoint that returns a backup or a disk (see
//! `shared/providers/proxmox.md`): inventory and control go over the REST
//! API, the bytes over SSH as `vzdump VMID --stdout`, a VMA stream.
//!
//! ```text
//! api.rs        the REST client (API token, or ticket + CSRF), errors mapped to codes
//! config.rs     qemu-server.conf / the config API: drives, NICs, CPUs, memory
//! export.rs     vzdump --stdout over SSH → VMA → sparse disks (the core's Unpack)
//! inventory.rs  discovery: /cluster/resources joined with each VM's config
//! provider.rs   the core's Provider and ProviderFactory
//! ssh.rs        the SSH data path (russh): host-key pinning, exec, SFTP
//! vma.rs        the VMA format: a streaming reader (header and extent MD5s
//!               checked, clusters written to one sparse file per device)
//! vma_writer.rs a writer for test fixtures (feature `fixtures`)
//! ```

pub mod api;
pub mod config;
pub mod error;
pub mod export;
pub mod inventory;
pub mod provider;
pub mod ssh;
pub mod storage_backup;
pub mod vma;
#[cfg(feature = "fixtures")]
pub mod vma_writer;

pub use error::{ProxmoxError, Result};
pub use provider::{ProxmoxFactory, ProxmoxProvider, ProxmoxSettings};

//! Minimal ustar writing: a header per member, data streamed by the caller, 512-byte padding, and
//! the two zero blocks at the end. (The `tar` crate's `Builder` wants a `Read` per member; we
//! stream data from the pipeline instead, so we only borrow its header type.)

use crate::{Error, Result};

/// Tar block size.
pub const BLOCK: u64 = 512;

/// Padding after `size` bytes of member data.
pub fn padding(size: u64) -> u64 {
    (BLOCK - size % BLOCK) % BLOCK
}

/// Space a member takes: header + data + padding.
pub fn member_len(size: u64) -> u64 {
    BLOCK + size + padding(size)
}

/// A ustar header for a regular file. `name` must fit the 100-byte name field (names are
/// allocated with that limit, see [`crate::names::NameSet::with_max_bytes`]).
pub fn header(name: &str, size: u64, mtime: u64) -> Result<[u8; 512]> {
    if name.len() > 100 || name.contains('/') || name.is_empty() {
        return Err(Error::UnsafeName(format!(
            "{name:?} cannot be a ustar member name"
        )));
    }
    let mut h = tar::Header::new_ustar();
    h.set_path(name)
        .map_err(|e| Error::UnsafeName(format!("{name:?}: {e}")))?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(mtime);
    h.set_entry_type(tar::EntryType::Regular);
    if let Some(u) = h.as_ustar_mut() {
        // "someone"/"someone" is what ovftool writes; any name works, an empty one confuses some tools.
        u.uname[..4].copy_from_slice(b"root");
        u.gname[..4].copy_from_slice(b"root");
    }
    h.set_cksum();
    let mut out = [0u8; 512];
    out.copy_from_slice(h.as_bytes());
    Ok(out)
}

/// Seconds since the epoch (0 if the clock is before 1970).
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

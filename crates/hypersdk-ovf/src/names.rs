//! Safe file names for everything derived from a VM or disk name.
//!
//! A name produced here contains no path separator, no `..` component, no NUL or control
//! character, is not a reserved Windows device name (CON, NUL, COM1, …, also with an extension),
//! has no trailing dot or space, is at most [`MAX_NAME_BYTES`] bytes (cut on a char boundary) and,
//! through [`NameSet`], is unique (case-insensitively) within one export.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// Longest file name produced, in bytes (well under the 255-byte limit of common file systems,
/// leaving room for `.part` and similar suffixes).
pub const MAX_NAME_BYTES: usize = 200;

const RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM0", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7",
    "COM8", "COM9", "LPT0", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
    "CONIN$", "CONOUT$",
];

fn is_reserved(name: &str) -> bool {
    let stem = name.split('.').next().unwrap_or(name).trim_end_matches(' ');
    RESERVED.iter().any(|r| r.eq_ignore_ascii_case(stem))
}

/// Cuts `s` to at most `max` bytes without splitting a character.
pub fn truncate_on_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Makes one file-name component out of arbitrary text (a VM or disk name).
///
/// Separators (`/`, `\`), characters Windows forbids (`<>:"|?*`), control characters and NUL
/// become `_`; leading dots and spaces are dropped (so `..` and hidden names cannot result);
/// trailing dots and spaces are dropped; reserved device names get a `_` prefix; an empty result
/// becomes `fallback`. The result is at most `max_bytes` bytes.
pub fn sanitize_component(raw: &str, fallback: &str, max_bytes: usize) -> String {
    let mut out: String = raw
        .chars()
        .map(|c| match c {
            '/' | '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            c if c.is_control() => '_',
            // Unicode line/paragraph separators and BOM-like invisibles are as bad as control chars
            // in a file manager.
            '\u{2028}'
            | '\u{2029}'
            | '\u{feff}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}' => '_',
            c => c,
        })
        .collect();
    out = out.trim_start_matches(['.', ' ']).to_string();
    let max_bytes = max_bytes.max(8);
    out = truncate_on_char_boundary(&out, max_bytes).to_string();
    out = out.trim_end_matches(['.', ' ']).to_string();
    if out.chars().all(|c| c == '_') && !raw.is_empty() && out.len() < 2 {
        // "/" or "\0" alone: keep it recognisable but avoid a bare underscore collision storm.
        out.clear();
    }
    if out.is_empty() {
        out = fallback.to_string();
    }
    if is_reserved(&out) {
        out.insert(0, '_');
        out = truncate_on_char_boundary(&out, max_bytes).to_string();
    }
    out
}

/// Builds a file name from a stem and an extension (`ext` without the dot), sanitising the stem
/// so that `stem.ext` fits in [`MAX_NAME_BYTES`].
pub fn safe_file_name(stem: &str, ext: &str, fallback: &str) -> String {
    safe_file_name_max(stem, ext, fallback, MAX_NAME_BYTES)
}

/// [`safe_file_name`] with a custom byte limit (e.g. 100 for ustar member names); at least 32.
pub fn safe_file_name_max(stem: &str, ext: &str, fallback: &str, max: usize) -> String {
    let max = max.max(32);
    let ext = sanitize_component(ext, "bin", 16);
    let budget = max - ext.len() - 1;
    let stem = sanitize_component(stem, fallback, budget);
    format!("{stem}.{ext}")
}

/// Allocates unique safe names within one export (case-insensitive, as on Windows/macOS).
#[derive(Debug, Clone)]
pub struct NameSet {
    taken: HashSet<String>,
    max: usize,
}

impl Default for NameSet {
    fn default() -> Self {
        NameSet {
            taken: HashSet::new(),
            max: MAX_NAME_BYTES,
        }
    }
}

impl NameSet {
    /// An empty set producing names of at most [`MAX_NAME_BYTES`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty set producing names of at most `max` bytes (at least 32).
    pub fn with_max_bytes(max: usize) -> Self {
        NameSet {
            taken: HashSet::new(),
            max: max.clamp(32, MAX_NAME_BYTES),
        }
    }

    /// Marks a name as used (e.g. the descriptor's and manifest's names).
    pub fn reserve(&mut self, name: &str) -> bool {
        self.taken.insert(name.to_lowercase())
    }

    /// A safe, unique `stem.ext`: `-2`, `-3`, … is appended to the stem on collision.
    pub fn allocate(&mut self, stem: &str, ext: &str, fallback: &str) -> String {
        let first = safe_file_name_max(stem, ext, fallback, self.max);
        if self.reserve(&first) {
            return first;
        }
        let ext_s = sanitize_component(ext, "bin", 16);
        for n in 2u64.. {
            let suffix = format!("-{n}");
            let budget = self.max - ext_s.len() - 1 - suffix.len();
            let base = sanitize_component(stem, fallback, budget);
            let cand = format!("{base}{suffix}.{ext_s}");
            if self.reserve(&cand) {
                return cand;
            }
        }
        // u64 exhaustion is unreachable in practice; keep the type checker happy without panicking.
        first
    }
}

/// Joins `name` (a single component) to `dir` and checks the result stays inside `dir`.
///
/// Rejects names with separators, `.`/`..`, absolute paths or NUL; if `dir` exists, also checks
/// that an existing target is not a symlink pointing elsewhere.
pub fn join_inside(dir: &Path, name: &str) -> Result<PathBuf> {
    let bad = || Error::PathEscape(dir.join(name.replace('\0', "\\0")));
    if name.is_empty() || name.contains('\0') || name.contains('/') || name.contains('\\') {
        return Err(bad());
    }
    let rel = Path::new(name);
    let mut comps = rel.components();
    match (comps.next(), comps.next()) {
        (Some(Component::Normal(_)), None) => {}
        _ => return Err(bad()),
    }
    let joined = dir.join(rel);
    if let Ok(meta) = std::fs::symlink_metadata(&joined)
        && meta.file_type().is_symlink()
    {
        return Err(bad());
    }
    if let (Ok(d), Some(parent)) = (dir.canonicalize(), joined.parent())
        && let Ok(p) = parent.canonicalize()
        && !p.starts_with(&d)
    {
        return Err(bad());
    }
    Ok(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names() {
        let cases = [
            "../../etc/x",
            "..",
            ".",
            "a\0b",
            "CON",
            "con.txt",
            "Com1",
            "lpt9.vmdk",
            "name. . ",
            "\u{202e}gpj.exe",
            "/",
            "",
            "C:\\Windows\\system32",
            "tab\there",
        ];
        for c in cases {
            let s = sanitize_component(c, "vm", MAX_NAME_BYTES);
            assert!(!s.is_empty(), "{c:?}");
            assert!(
                !s.contains('/') && !s.contains('\\') && !s.contains('\0'),
                "{c:?} -> {s:?}"
            );
            assert!(!s.starts_with('.'), "{c:?} -> {s:?}");
            assert!(!s.ends_with('.') && !s.ends_with(' '), "{c:?} -> {s:?}");
            assert!(!is_reserved(&s), "{c:?} -> {s:?}");
            assert!(s.chars().all(|ch| !ch.is_control()), "{c:?} -> {s:?}");
            let dir = std::env::temp_dir();
            let p = join_inside(&dir, &s).expect("sanitised name must join");
            assert_eq!(p.parent(), Some(dir.as_path()));
        }
        assert_eq!(sanitize_component("CON", "vm", 200), "_CON");
        assert_eq!(sanitize_component("../../etc/x", "vm", 200), "_.._etc_x");
    }

    #[test]
    fn long_and_unicode_names_cut_on_char_boundary() {
        let long = "é".repeat(4096); // 8 KiB of two-byte chars
        let s = safe_file_name(&long, "vmdk", "disk");
        assert!(s.len() <= MAX_NAME_BYTES, "{}", s.len());
        assert!(s.ends_with(".vmdk"));
        let s = safe_file_name("日本語の仮想マシン", "ovf", "vm");
        assert_eq!(s, "日本語の仮想マシン.ovf");
        let mut set = NameSet::new();
        let a = set.allocate(&"x".repeat(4096), "vmdk", "disk");
        let b = set.allocate(&"x".repeat(4096), "vmdk", "disk");
        assert_ne!(a, b);
        assert!(a.len() <= MAX_NAME_BYTES && b.len() <= MAX_NAME_BYTES);
    }

    #[test]
    fn unique_case_insensitive() {
        let mut set = NameSet::new();
        set.reserve("vm.ovf");
        assert_eq!(set.allocate("VM", "ovf", "vm"), "VM-2.ovf");
        assert_eq!(set.allocate("disk", "vmdk", "d"), "disk.vmdk");
        assert_eq!(set.allocate("Disk", "vmdk", "d"), "Disk-2.vmdk");
        assert_eq!(set.allocate("disk", "vmdk", "d"), "disk-3.vmdk");
    }

    #[test]
    fn join_inside_rejects_escapes() {
        let dir = std::env::temp_dir();
        for bad in ["../x", "/etc/passwd", "..", ".", "a/b", "a\\b", "a\0b", ""] {
            assert_eq!(
                join_inside(&dir, bad).map_err(|e| e.code()),
                Err("path_escape"),
                "{bad:?}"
            );
        }
    }
}

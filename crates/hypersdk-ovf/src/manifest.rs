//! OVF manifest (`NAME.mf`): one line per file, `SHA256(file)= hex` or `SHA1(file)= hex`.

use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// Digest algorithm of a manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DigestAlgorithm {
    /// SHA-256 (OVF 1.1+/2.0, what vSphere writes today).
    #[default]
    Sha256,
    /// SHA-1 (OVF 1.0; older importers only accept this).
    Sha1,
}

impl DigestAlgorithm {
    /// The manifest tag: `SHA256` / `SHA1`.
    pub fn tag(self) -> &'static str {
        match self {
            DigestAlgorithm::Sha256 => "SHA256",
            DigestAlgorithm::Sha1 => "SHA1",
        }
    }

    /// Hex digest length.
    pub fn hex_len(self) -> usize {
        match self {
            DigestAlgorithm::Sha256 => 64,
            DigestAlgorithm::Sha1 => 40,
        }
    }

    /// A fresh incremental hasher.
    pub fn hasher(self) -> Hasher {
        match self {
            DigestAlgorithm::Sha256 => Hasher::Sha256(Box::default()),
            DigestAlgorithm::Sha1 => Hasher::Sha1(Box::default()),
        }
    }

    /// Hex digest of a byte slice.
    pub fn digest_hex(self, data: &[u8]) -> String {
        let mut h = self.hasher();
        h.update(data);
        h.finish_hex()
    }
}

impl std::str::FromStr for DigestAlgorithm {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().replace('-', "").as_str() {
            "sha256" => Ok(DigestAlgorithm::Sha256),
            "sha1" => Ok(DigestAlgorithm::Sha1),
            other => Err(Error::InvalidSpec(format!(
                "unknown digest algorithm {other:?}"
            ))),
        }
    }
}

/// Incremental SHA-256 / SHA-1.
#[derive(Clone)]
pub enum Hasher {
    /// SHA-256 state.
    Sha256(Box<Sha256>),
    /// SHA-1 state.
    Sha1(Box<Sha1>),
}

impl Hasher {
    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha1(h) => h.update(data),
        }
    }

    /// Lower-case hex digest.
    pub fn finish_hex(self) -> String {
        match self {
            Hasher::Sha256(h) => hex::encode(h.finalize()),
            Hasher::Sha1(h) => hex::encode(h.finalize()),
        }
    }
}

/// One manifest line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestEntry {
    /// Package-relative file name.
    pub file: String,
    /// Lower-case hex digest.
    pub digest: String,
}

/// A parsed or to-be-written manifest. All entries use one algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Algorithm of every entry.
    pub algorithm: DigestAlgorithm,
    /// Entries in file order.
    pub entries: Vec<ManifestEntry>,
}

impl Manifest {
    /// An empty manifest.
    pub fn new(algorithm: DigestAlgorithm) -> Self {
        Manifest {
            algorithm,
            entries: Vec::new(),
        }
    }

    /// Adds an entry.
    pub fn push(&mut self, file: impl Into<String>, digest: impl Into<String>) {
        self.entries.push(ManifestEntry {
            file: file.into(),
            digest: digest.into(),
        });
    }

    /// Looks up a file's digest.
    pub fn get(&self, file: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.file == file)
            .map(|e| e.digest.as_str())
    }

    /// Text form: `SHA256(name)= hex\n` per entry (the format ovftool and virt-v2v read).
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for e in &self.entries {
            s.push_str(&format!(
                "{}({})= {}\n",
                self.algorithm.tag(),
                e.file,
                e.digest
            ));
        }
        s
    }

    /// Parses a manifest. Accepts `\r\n`, blank lines, `SHA256 (name) = hex` spacing variants
    /// and upper-case hex; rejects mixed algorithms, bad hex, duplicate names and anything else.
    pub fn parse(text: &str) -> Result<Manifest> {
        let mut algorithm: Option<DigestAlgorithm> = None;
        let mut entries: Vec<ManifestEntry> = Vec::new();
        for (no, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let bad = |why: &str| Error::ManifestMalformed(format!("line {}: {why}", no + 1));
            let open = line
                .find('(')
                .ok_or_else(|| bad("expected ALG(file)= digest"))?;
            let close = line
                .rfind(")")
                .ok_or_else(|| bad("expected ALG(file)= digest"))?;
            if close < open {
                return Err(bad("expected ALG(file)= digest"));
            }
            let alg: DigestAlgorithm = line[..open]
                .trim()
                .parse()
                .map_err(|_| bad("unknown algorithm (only SHA256 and SHA1)"))?;
            let file = &line[open + 1..close];
            let rest = line[close + 1..].trim_start();
            let digest = rest
                .strip_prefix('=')
                .ok_or_else(|| bad("missing '='"))?
                .trim()
                .to_ascii_lowercase();
            if file.is_empty() {
                return Err(bad("empty file name"));
            }
            if digest.len() != alg.hex_len() || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad("digest is not valid hex of the right length"));
            }
            match algorithm {
                None => algorithm = Some(alg),
                Some(a) if a != alg => return Err(bad("mixed digest algorithms")),
                _ => {}
            }
            if entries.iter().any(|e| e.file == file) {
                return Err(bad("file listed twice"));
            }
            entries.push(ManifestEntry {
                file: file.to_string(),
                digest,
            });
        }
        let algorithm = algorithm.ok_or_else(|| Error::ManifestMalformed("no entries".into()))?;
        Ok(Manifest { algorithm, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_known_digest() {
        let mut m = Manifest::new(DigestAlgorithm::Sha256);
        m.push("vm.ovf", DigestAlgorithm::Sha256.digest_hex(b"abc"));
        m.push("vm-disk1.vmdk", DigestAlgorithm::Sha256.digest_hex(b""));
        let text = m.to_text();
        assert!(text.starts_with(
            "SHA256(vm.ovf)= ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n"
        ));
        assert_eq!(Manifest::parse(&text).expect("parse"), m);
        let sha1 = format!(
            "SHA1 (a b.vmdk) = {}\r\n",
            "A9993E364706816ABA3E25717850C26C9CD0D89D"
        );
        let p = Manifest::parse(&sha1).expect("parse sha1");
        assert_eq!(p.algorithm, DigestAlgorithm::Sha1);
        assert_eq!(
            p.get("a b.vmdk"),
            Some("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
    }

    #[test]
    fn manifest_parser_is_total() {
        let mut m = Manifest::new(DigestAlgorithm::Sha256);
        m.push("a.ovf", "1".repeat(64));
        m.push("b (1).vmdk", "2".repeat(64));
        let good = m.to_text().into_bytes();
        let mut seed: u64 = 0x2545f4914f6cdd1d;
        for _ in 0..5000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut v = good.clone();
            let pos = (seed as usize) % v.len();
            v[pos] = (seed >> 40) as u8;
            let cut = ((seed >> 20) as usize) % (v.len() + 1);
            let _ = Manifest::parse(&String::from_utf8_lossy(&v[..cut]));
        }
    }

    #[test]
    fn malformed_manifests_rejected() {
        let h = "0".repeat(64);
        for bad in [
            "".to_string(),
            "garbage".to_string(),
            format!("MD5(x)= {}", "0".repeat(32)),
            "SHA256(x)= abc".to_string(),
            format!("SHA256(x) {h}"),
            format!("SHA256()= {h}"),
            format!("SHA256(x)= {}", "g".repeat(64)),
            format!("SHA256(x)= {h}\nSHA1(y)= {}", "0".repeat(40)),
            format!("SHA256(x)= {h}\nSHA256(x)= {h}"),
            ")SHA256(".to_string(),
        ] {
            assert_eq!(
                Manifest::parse(&bad).map_err(|e| e.code()),
                Err("manifest_malformed"),
                "{bad:?}"
            );
        }
    }
}

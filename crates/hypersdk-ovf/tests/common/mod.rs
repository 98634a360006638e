//! Shared helpers for the integration tests: image makers, a tiny HTTP server with Range support,
//! faulty sources, tar listing through the real `tar` tool.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::process::Command;
use std::task::{Context, Poll};

use hypersdk_ovf::*;
use tokio::io::{AsyncRead, ReadBuf};

pub const XSD: &str = "../../../shared/ovf-schema/dsp8023_1.1.1.xsd";

/// Path of the shared OVF schema (next to the repository, as laid out for developers and CI).
pub fn xsd() -> Option<PathBuf> {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        here.join(XSD),
        PathBuf::from("/work/shared/ovf-schema/dsp8023_1.1.1.xsd"),
    ]
    .into_iter()
    .find(|c| c.is_file())
    // xmllint resolves the schema's relative imports lexically: hand it a real path.
    .and_then(|c| c.canonicalize().ok())
}

pub fn run(cmd: &mut Command) -> std::process::Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

pub fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Validates a descriptor with xmllint against the DSP8023 schema.
pub fn xmllint_validate(ovf: &Path) {
    let xsd = xsd().expect("shared/ovf-schema/dsp8023_1.1.1.xsd not found");
    let out = run(Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(&xsd)
        .arg(ovf));
    assert!(
        out.status.success(),
        "xmllint rejected {}:\n{}",
        ovf.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deterministic pseudo-random bytes.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..len)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

/// A raw file of `len` bytes of patterned data.
pub fn raw_file(dir: &Path, name: &str, len: usize, seed: u64) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, pattern(len, seed)).unwrap();
    p
}

/// A qcow2 image of `size` (e.g. "64M") with some non-zero data written by qemu-io at a few offsets.
pub fn qcow2_with_data(dir: &Path, name: &str, size: &str) -> PathBuf {
    let p = dir.join(name);
    run_ok(
        Command::new("qemu-img")
            .args(["create", "-q", "-f", "qcow2"])
            .arg(&p)
            .arg(size),
    );
    for (pat, off, len) in [
        ("0xab", "0", "1M"),
        ("0x5c", "3M", "512k"),
        ("0x01", "17M", "64k"),
    ] {
        run_ok(
            Command::new("qemu-io")
                .args(["-f", "qcow2", "-c", &format!("write -P {pat} {off} {len}")])
                .arg(&p),
        );
    }
    p
}

/// Members of a tar (optionally compressed) as listed by GNU tar, in archive order.
pub fn tar_members(path: &Path) -> Vec<String> {
    let s = path.to_string_lossy();
    let out = if s.ends_with(".zst") {
        run_ok(Command::new("tar").args(["--zstd", "-tf"]).arg(path))
    } else if s.ends_with(".gz") {
        run_ok(Command::new("tar").args(["-tzf"]).arg(path))
    } else {
        run_ok(Command::new("tar").args(["-tf"]).arg(path))
    };
    out.lines().map(str::to_string).collect()
}

/// Extracts an OVA into `dir` with GNU tar.
pub fn untar(path: &Path, dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    run_ok(Command::new("tar").arg("-xf").arg(path).arg("-C").arg(dir));
}

pub fn base_vm(name: &str) -> VmSpec {
    let mut vm = VmSpec::new(name, 2, 1024);
    vm.networks = vec![NetworkSpec {
        name: "VM Network".into(),
        adapter: Some("VmxNet3".into()),
    }];
    vm
}

pub fn raw_disk(name: &str, path: &Path) -> ExportDisk {
    let len = std::fs::metadata(path).unwrap().len();
    ExportDisk {
        name: name.into(),
        source: DiskSource::file(path),
        format: Some(DiskFormat::Raw),
        capacity_bytes: Some(len),
        controller: Controller::Scsi {
            subtype: "lsilogic".into(),
        },
        convert_to: None,
    }
}

pub fn request(
    vm: VmSpec,
    disks: Vec<ExportDisk>,
    dest: &Path,
    package: PackageFormat,
) -> ExportRequest {
    ExportRequest {
        vm,
        disks,
        destination: dest.to_path_buf(),
        package,
        compression: Compression::None,
        manifest: DigestAlgorithm::Sha256,
        options: ExportOptions::default(),
    }
}

/// Names in `dir` (recursively) relative to it.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    fn walk(base: &Path, d: &Path, v: &mut Vec<String>) {
        if let Ok(rd) = std::fs::read_dir(d) {
            for e in rd.flatten() {
                let p = e.path();
                v.push(p.strip_prefix(base).unwrap().to_string_lossy().into_owned());
                if p.is_dir() {
                    walk(base, &p, v);
                }
            }
        }
    }
    walk(dir, dir, &mut v);
    v.sort();
    v
}

/// Flips one byte at `offset` of a file.
pub fn flip_byte(path: &Path, offset: u64) {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    let mut b = [0u8; 1];
    f.read_exact(&mut b).unwrap();
    f.seek(SeekFrom::Start(offset)).unwrap();
    f.write_all(&[b[0] ^ 0xff]).unwrap();
}

/// (name, data offset, size) of each member of a plain tar, by walking its headers.
pub fn tar_layout(path: &Path) -> Vec<(String, u64, u64)> {
    let f = std::fs::File::open(path).unwrap();
    let mut ar = tar::Archive::new(f);
    ar.entries_with_seek()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                e.raw_file_position(),
                e.size(),
            )
        })
        .collect()
}

/// A source that yields `data` in small pieces, then fails (`fail: true`) or ends early.
pub struct FaultyReader {
    pub data: Vec<u8>,
    pub pos: usize,
    pub stop_at: usize,
    pub fail: bool,
    pub delay: Option<std::time::Duration>,
    pub sleeping: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl FaultyReader {
    pub fn new(data: Vec<u8>, stop_at: usize, fail: bool) -> Self {
        FaultyReader {
            data,
            pos: 0,
            stop_at,
            fail,
            delay: None,
            sleeping: None,
        }
    }
}

impl AsyncRead for FaultyReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(d) = self.delay {
            if self.sleeping.is_none() {
                self.sleeping = Some(Box::pin(tokio::time::sleep(d)));
            }
            if let Some(s) = self.sleeping.as_mut()
                && s.as_mut().poll(cx).is_pending()
            {
                return Poll::Pending;
            }
            self.sleeping = None;
        }
        if self.pos >= self.stop_at {
            if self.fail {
                return Poll::Ready(Err(std::io::Error::other("simulated network reset")));
            }
            return Poll::Ready(Ok(()));
        }
        let end = (self.pos + 64 * 1024)
            .min(self.stop_at)
            .min(self.data.len());
        let n = (end - self.pos).min(buf.remaining());
        let start = self.pos;
        buf.put_slice(&self.data[start..start + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

use std::future::Future;

/// A minimal HTTP/1.1 file server on 127.0.0.1 supporting HEAD and `Range: bytes=N-`.
/// `honour_range: false` simulates servers that ignore Range (always 200 with the whole body).
pub struct HttpServer {
    pub url: String,
    pub requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn serve_file(path: PathBuf, honour_range: bool) -> HttpServer {
    serve_file_opts(path, honour_range, false).await
}

/// [`serve_file`]; `head_forbidden` answers 403 to HEAD (like pre-signed GET URLs).
pub async fn serve_file_opts(
    path: PathBuf,
    honour_range: bool,
    head_forbidden: bool,
) -> HttpServer {
    use tokio::io::{AsyncBufReadExt, AsyncSeekExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reqs = requests.clone();
    let task = tokio::spawn(async move {
        // Bounded: a test server accepts at most 64 connections, then stops by itself.
        for _ in 0..64 {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let path = path.clone();
            let reqs = reqs.clone();
            tokio::spawn(async move {
                let (rd, mut wr) = sock.into_split();
                let mut rd = BufReader::new(rd);
                let mut first = String::new();
                if rd.read_line(&mut first).await.is_err() {
                    return;
                }
                let mut range: Option<u64> = None;
                let mut range_end: Option<u64> = None;
                loop {
                    let mut line = String::new();
                    if rd.read_line(&mut line).await.unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    let l = line.to_ascii_lowercase();
                    if let Some(v) = l.strip_prefix("range: bytes=") {
                        let mut it = v.trim().splitn(2, '-');
                        range = it.next().and_then(|a| a.parse().ok());
                        range_end = it.next().and_then(|b| b.parse().ok());
                    }
                }
                reqs.lock()
                    .unwrap()
                    .push(format!("{} range={range:?}", first.trim()));
                let len = std::fs::metadata(&path).unwrap().len();
                let head = first.starts_with("HEAD");
                if head && head_forbidden {
                    let _ = wr
                        .write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .await;
                    return;
                }
                let start = if honour_range { range.unwrap_or(0) } else { 0 };
                let end = if honour_range {
                    range_end.unwrap_or(len - 1).min(len - 1)
                } else {
                    len - 1
                };
                let partial = honour_range && range.is_some() && (start > 0 || end < len - 1);
                let hdr = if partial {
                    format!(
                        "HTTP/1.1 206 Partial Content\r\nContent-Length: {}\r\nContent-Range: bytes {start}-{end}/{len}\r\nConnection: close\r\n\r\n",
                        end + 1 - start,
                    )
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nAccept-Ranges: bytes\r\nConnection: close\r\n\r\n"
                    )
                };
                if wr.write_all(hdr.as_bytes()).await.is_err() || head {
                    return;
                }
                let mut f = tokio::fs::File::open(&path).await.unwrap();
                f.seek(std::io::SeekFrom::Start(start)).await.unwrap();
                let mut body = tokio::io::AsyncReadExt::take(f, end + 1 - start);
                let _ = tokio::io::copy(&mut body, &mut wr).await;
                let _ = wr.shutdown().await;
            });
        }
    });
    HttpServer {
        url: format!("http://{addr}/disk.img?sig=SECRET"),
        requests,
        task,
    }
}

/// A tmpfs mounted on a fresh directory, unmounted on drop. `None` (with the reason) when mounting
/// is not permitted here.
pub struct TmpfsMount {
    pub dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl TmpfsMount {
    pub fn new(opts: &str) -> Result<Self, String> {
        let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
        let dir = tmp.path().join("mnt");
        std::fs::create_dir(&dir).map_err(|e| e.to_string())?;
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", opts, "tmpfs"])
            .arg(&dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "mount not permitted: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(TmpfsMount { dir, _tmp: tmp })
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

pub fn flush_stdout(msg: &str) {
    let mut so = std::io::stdout();
    let _ = writeln!(so, "{msg}");
    let _ = so.flush();
}

/// For tests that need an external tool or privilege: fails loudly unless `HYPERSDK_ALLOW_SKIP=1`,
/// in which case it prints why it skipped. Returns true when the caller should return early.
pub fn unavailable(why: &str) -> bool {
    if std::env::var_os("HYPERSDK_ALLOW_SKIP").is_some() {
        flush_stdout(&format!("SKIPPED (HYPERSDK_ALLOW_SKIP set): {why}"));
        true
    } else {
        panic!("{why} — install it / run as root, or set HYPERSDK_ALLOW_SKIP=1 to skip explicitly");
    }
}

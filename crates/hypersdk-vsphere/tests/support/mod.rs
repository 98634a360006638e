//! Test peer: a real govmomi vcsim (built by `scripts/lib/vcsim.sh` into
//! `.tools/bin`) on 127.0.0.1 with TLS on a free port and credentials,
//! stopped when the handle drops. Also runs govc against it, so tests can
//! compare with an independent client.
//!
//! Tests that need vcsim fail (they do not skip) when it is missing, naming
//! the script that builds it.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const USERNAME: &str = "hyper-user";
pub const PASSWORD: &str = "s3cret&<pw>";

pub fn tools_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../.tools/bin")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.tools/bin"))
}

fn tool(name: &str) -> PathBuf {
    let path = tools_bin().join(name);
    assert!(
        path.is_file(),
        "{} is missing: these tests run against govmomi's vcsim. Build it (and govc) with \
         `bash scripts/lib/vcsim.sh` from the repository root, then run the tests again.",
        path.display()
    );
    path
}

pub struct Vcsim {
    child: Child,
    /// vcsim's TMPDIR: it keeps its datastores there and does not remove them when killed, so
    /// every test's vcsim gets its own, removed (after the kill) when this is dropped.
    _tmp: tempfile::TempDir,
    /// `https://127.0.0.1:PORT` (what a user types as the endpoint).
    pub endpoint: String,
    /// `https://127.0.0.1:PORT/sdk`
    pub sdk_url: String,
    pub username: String,
    pub password: String,
}

impl Vcsim {
    /// Starts vcsim with the test credentials and `args` (e.g. `-dc 2`).
    pub fn start(args: &[&str]) -> Vcsim {
        Vcsim::start_with(args, USERNAME, PASSWORD)
    }

    pub fn start_with(args: &[&str], username: &str, password: &str) -> Vcsim {
        let bin = tool("vcsim");
        let tmp = tempfile::tempdir().expect("a temporary directory for vcsim");
        let mut child = Command::new(&bin)
            .env("TMPDIR", tmp.path())
            .args([
                "-l",
                "127.0.0.1:0",
                "-username",
                username,
                "-password",
                password,
            ])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            // vcsim logs every refused TLS handshake (the trust tests make
            // several); set VCSIM_STDERR=1 to see its log.
            .stderr(if std::env::var_os("VCSIM_STDERR").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let stdout = child.stdout.take().expect("vcsim stdout");
        // vcsim prints `export GOVC_URL=https://127.0.0.1:PORT/sdk GOVC_SIM_PID=…`
        // once its listener is up; a big inventory takes a while to build.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(600)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("vcsim did not print its URL within 600 s");
            }
        };
        let sdk_url = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("GOVC_URL="))
            .unwrap_or_else(|| {
                let _ = child.kill();
                panic!("unexpected first line from vcsim: {line:?}")
            })
            .to_owned();
        let endpoint = sdk_url.trim_end_matches("/sdk").to_owned();
        let sim = Vcsim {
            child,
            _tmp: tmp,
            endpoint,
            sdk_url,
            username: username.to_owned(),
            password: password.to_owned(),
        };
        sim.wait_until_listening();
        sim
    }

    fn wait_until_listening(&self) {
        let addr = self
            .endpoint
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_owned();
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(Instant::now() < deadline, "vcsim at {addr} does not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs govc against this vcsim (certificate not checked: govc is the
    /// reference client here, not the code under test) and returns stdout.
    pub fn govc(&self, args: &[&str]) -> String {
        let out = Command::new(tool("govc"))
            .args(args)
            .env("GOVC_URL", &self.sdk_url)
            .env("GOVC_USERNAME", &self.username)
            .env("GOVC_PASSWORD", &self.password)
            .env("GOVC_INSECURE", "1")
            .output()
            .expect("run govc");
        assert!(
            out.status.success(),
            "govc {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("govc output is UTF-8")
    }

    /// The server certificate's SHA-256, as govc reports it (`AB:CD:…`),
    /// turned into 64 lower-case hex digits.
    pub fn fingerprint(&self) -> String {
        // Read as text: the JSON also holds the certificate's serial number,
        // too big for serde_json's numbers.
        let text = self.govc(&["about.cert", "-k", "-json"]);
        let key = "\"thumbprintSHA256\": \"";
        let start = text.find(key).expect("thumbprintSHA256 in govc's output") + key.len();
        let end = start + text[start..].find('"').expect("closing quote");
        text[start..end].replace(':', "").to_ascii_lowercase()
    }
}

impl Drop for Vcsim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

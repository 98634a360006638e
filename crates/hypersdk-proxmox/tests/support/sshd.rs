//! Test peer: Debian's real OpenSSH server (`/usr/sbin/sshd`, apt `openssh-server`, installed by
//! `scripts/lib/deps.sh`), one private instance per test on a free 127.0.0.1 port, stopped when
//! the handle drops. Not the system service: its own config, host key, `authorized_keys` and
//! PID file in a temporary directory.
//!
//! Exec commands find the fake `vzdump` (`tests/peers/vzdump`) through `SetEnv PATH=…` (OpenSSH
//! ≥ 8.7) and its fixtures through `SetEnv VZDUMP_FIXTURE_DIR=…`; a test picks a behaviour by
//! writing the fixture directory's `mode` file, since a running sshd cannot change its env.
//!
//! sshd signs in only the user running the tests (it cannot switch users unless root), with
//! public keys: password sign-in needs PAM or a shadow password for that user, neither of which
//! a test should set up. As root, sshd insists on its privilege separation directory
//! `/run/sshd`, which is created if missing (the package's systemd unit normally does that).
//!
//! Tests fail (they do not skip) when sshd is missing.

#![allow(dead_code)]

use std::fs;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hypersdk_proxmox::ssh::{SshAuth, SshTarget};

pub const SSHD: &str = "/usr/sbin/sshd";

pub struct Sshd {
    dir: tempfile::TempDir,
    pub port: u16,
    /// The user sshd lets in: the one running the tests.
    pub user: String,
    /// `SHA256:…` of the host key, as `ssh-keygen -lf host_key.pub -E sha256` prints it.
    pub host_fingerprint: String,
    /// An ed25519 key in `authorized_keys`.
    pub client_key: String,
    /// An RSA key in `authorized_keys` (checks the rsa-sha2 signatures OpenSSH ≥ 8.8 needs).
    pub rsa_key: String,
    /// An ed25519 key in `authorized_keys`, encrypted with [`Sshd::PASSPHRASE`].
    pub encrypted_key: String,
    /// A key sshd does not know.
    pub stranger_key: String,
    /// Where the fake vzdump finds `<vmid>.vma.zst` and `mode`, and leaves `vzdump.pid`.
    pub fixture_dir: PathBuf,
    child: Child,
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn keygen(path: &Path, kind: &str, passphrase: &str) -> String {
    let mut cmd = Command::new("ssh-keygen");
    cmd.args([
        "-q",
        "-t",
        kind,
        "-N",
        passphrase,
        "-C",
        "hypersdk-test",
        "-f",
    ])
    .arg(path);
    if kind == "rsa" {
        cmd.args(["-b", "2048"]);
    }
    run(&mut cmd);
    fs::read_to_string(path).expect("read the new key")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Pids of every process below `root`, parents before children.
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // The command name (field 2) may hold spaces and parentheses: skip past its last ')'.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut out = vec![];
    let mut frontier = vec![root];
    while let Some(p) = frontier.pop() {
        for &(pid, ppid) in &parent_of {
            if ppid == p {
                out.push(pid);
                frontier.push(pid);
            }
        }
    }
    out
}

fn comm(pid: u32) -> String {
    fs::read_to_string(format!("/proc/{pid}/comm"))
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

fn kill(signal: &str, pids: &[u32]) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// Whether `pid` is a live process (a zombie counts as gone).
pub fn process_alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next()),
            Some("Z") | Some("X") | None
        ),
        Err(_) => false,
    }
}

impl Sshd {
    pub const PASSPHRASE: &str = "correct horse";

    pub fn start() -> Sshd {
        assert!(
            Path::new(SSHD).is_file(),
            "{SSHD} is missing: these tests run against Debian's OpenSSH server. Install it with \
             `apt-get install openssh-server` (scripts/lib/deps.sh does), then run them again."
        );
        let dir = tempfile::Builder::new()
            .prefix("hypersdk-sshd-")
            .tempdir()
            .expect("temp dir");
        let d = dir.path();
        let bin = d.join("bin");
        let fixture_dir = d.join("fixtures");
        fs::create_dir_all(&bin).expect("bin dir");
        fs::create_dir_all(&fixture_dir).expect("fixture dir");

        // A copy, so the script's mode bits in git do not matter.
        // Relative to crates/: this file is shared with the hyperctl tests.
        let fake =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../hypersdk-proxmox/tests/peers/vzdump");
        let vzdump = bin.join("vzdump");
        fs::copy(&fake, &vzdump).expect("copy the fake vzdump");
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&vzdump, fs::Permissions::from_mode(0o755)).expect("chmod");
        }

        let host_key = d.join("host_ed25519");
        keygen(&host_key, "ed25519", "");
        let fp_line = run(Command::new("ssh-keygen")
            .args(["-l", "-E", "sha256", "-f"])
            .arg(host_key.with_extension("pub")));
        let host_fingerprint = fp_line
            .split_whitespace()
            .nth(1)
            .expect("ssh-keygen -l prints `bits fingerprint comment (type)`")
            .to_owned();

        let client_key = keygen(&d.join("client_ed25519"), "ed25519", "");
        let rsa_key = keygen(&d.join("client_rsa"), "rsa", "");
        let encrypted_key = keygen(&d.join("client_encrypted"), "ed25519", Self::PASSPHRASE);
        let stranger_key = keygen(&d.join("stranger_ed25519"), "ed25519", "");
        let mut authorized = String::new();
        for name in ["client_ed25519", "client_rsa", "client_encrypted"] {
            authorized
                .push_str(&fs::read_to_string(d.join(format!("{name}.pub"))).expect("pub key"));
        }
        fs::write(d.join("authorized_keys"), authorized).expect("authorized_keys");

        let user = run(Command::new("id").arg("-un")).trim().to_owned();
        if run(Command::new("id").arg("-u")).trim() == "0" {
            // sshd started as root refuses to run without its privsep chroot directory.
            fs::create_dir_all("/run/sshd").expect("create /run/sshd");
        }

        // A port found free may be taken before sshd binds it: try a few.
        let mut last_log = String::new();
        for _ in 0..3 {
            let port = free_port();
            let config = d.join("sshd_config");
            fs::write(
                &config,
                format!(
                    "Port {port}\n\
                     ListenAddress 127.0.0.1\n\
                     HostKey {host_key}\n\
                     PidFile {pid}\n\
                     AuthorizedKeysFile {dir}/authorized_keys\n\
                     StrictModes no\n\
                     UsePAM no\n\
                     PasswordAuthentication no\n\
                     KbdInteractiveAuthentication no\n\
                     PubkeyAuthentication yes\n\
                     PermitRootLogin prohibit-password\n\
                     UseDNS no\n\
                     PrintMotd no\n\
                     MaxStartups 64\n\
                     LogLevel VERBOSE\n\
                     SetEnv PATH={bin}:/usr/local/bin:/usr/bin:/bin VZDUMP_FIXTURE_DIR={fixtures}\n\
                     Subsystem sftp internal-sftp\n",
                    host_key = host_key.display(),
                    pid = d.join("sshd.pid").display(),
                    dir = d.display(),
                    bin = bin.display(),
                    fixtures = fixture_dir.display(),
                ),
            )
            .expect("sshd_config");
            let log = fs::File::create(d.join("sshd.log")).expect("sshd.log");
            let mut child = Command::new(SSHD)
                .args(["-D", "-e", "-f"])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start sshd");
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Sshd {
                        dir,
                        port,
                        user,
                        host_fingerprint,
                        client_key,
                        rsa_key,
                        encrypted_key,
                        stranger_key,
                        fixture_dir,
                        child,
                    };
                }
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            last_log = fs::read_to_string(d.join("sshd.log")).unwrap_or_default();
        }
        panic!("sshd did not start listening: {last_log}");
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A target for the authorised ed25519 key with the host key pinned.
    pub fn target(&self) -> SshTarget {
        self.target_with(SshAuth::Key {
            pem: self.client_key.clone(),
            passphrase: None,
        })
        .with_host_key(self.host_fingerprint.clone())
    }

    /// A target with `auth` and no pinned host key.
    pub fn target_with(&self, auth: SshAuth) -> SshTarget {
        SshTarget::new("127.0.0.1", self.user.clone(), auth).with_port(self.port)
    }

    /// Chooses the fake vzdump's behaviour for the next runs.
    pub fn set_mode(&self, mode: &str) {
        fs::write(self.fixture_dir.join("mode"), format!("{mode}\n")).expect("write mode");
    }

    pub fn write_fixture(&self, vmid: u32, bytes: &[u8]) {
        fs::write(self.fixture_dir.join(format!("{vmid}.vma.zst")), bytes).expect("fixture");
    }

    /// The pid the fake vzdump last wrote, once it has.
    pub fn vzdump_pid(&self) -> Option<u32> {
        fs::read_to_string(self.fixture_dir.join("vzdump.pid"))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    }

    /// The arguments the fake vzdump was last run with.
    pub fn vzdump_args(&self) -> Option<String> {
        fs::read_to_string(self.fixture_dir.join("vzdump.args"))
            .ok()
            .map(|s| s.trim().to_owned())
    }

    /// Kills the per-connection sshd processes (not the listener), as if the node's sshd died
    /// or the network dropped: every open connection ends without a goodbye.
    pub fn kill_connections(&self) {
        let sshds: Vec<u32> = descendants(self.child.id())
            .into_iter()
            .filter(|&pid| comm(pid) == "sshd")
            .collect();
        kill("KILL", &sshds);
    }

    /// Processes still running under this sshd that are not sshd itself: commands (or their
    /// watchers) that outlived their channel.
    pub fn leftovers(&self) -> Vec<(u32, String)> {
        descendants(self.child.id())
            .into_iter()
            .map(|pid| (pid, comm(pid)))
            .filter(|(pid, name)| name != "sshd" && !name.is_empty() && process_alive(*pid))
            .collect()
    }

    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("sshd.log")).unwrap_or_default()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // The tree first: once the listener is gone its connection processes are orphans.
        let below = descendants(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        kill("KILL", &below);
    }
}

// Real peers for the Proxmox VE journey, the same ones the Rust tests use
// (crates/hypersdk-proxmox/tests/support/): fakepve (PyPI, in .tools/venv) for the API over HTTPS,
// and Debian's OpenSSH server as a private process with the fake `vzdump` first on its PATH,
// writing a VMA fixture made by the crate's writer (`make_vma`, checked against dissect.archive).
//
// Where they differ from a real PVE node: fakepve runs no backup and reports cluster addresses that
// are not this machine, so the connection names the SSH host (127.0.0.1), as a user behind NAT
// would; sshd signs in only the user running the tests, with a key.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { ROOT } from "./app.mjs";

const PROXMOX_TESTS = path.join(ROOT, "crates/hypersdk-proxmox/tests/peers");
const PYTHON = path.join(ROOT, ".tools/venv/bin/python");
const SSHD = "/usr/sbin/sshd";
export const MAKE_VMA = process.env.HYPERSDK_E2E_MAKE_VMA ?? path.join(ROOT, "target/debug/examples/make_vma");

export const PVE_TOKEN_ID = "e2e@pve!export";
export const PVE_TOKEN_SECRET = "0b7c8f1e-6d2a-4e8b-9c3d-5a6f7e8d9c0b";

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.error ?? r.stderr}`);
  return r.stdout;
}

/** A two-node cluster with VMs on each node and a container. */
export function labScenario(extraGuests = []) {
  return {
    nodes: ["pve1", "pve2"],
    cluster_name: "lab",
    guests: [
      {
        vmid: 100, name: "web01", node: "pve1", status: "running", pool: "prod",
        config: {
          cores: 2, sockets: 1, memory: "2048", ostype: "l26", scsihw: "virtio-scsi-single",
          scsi0: "local-lvm:vm-100-disk-0,size=32M", scsi1: "local-lvm:vm-100-disk-1,size=8M",
          net0: "virtio=BC:24:11:AA:00:01,bridge=vmbr0", tags: "prod;web",
        },
      },
      {
        vmid: 101, name: "db01", node: "pve2", status: "stopped",
        config: {
          cores: 4, sockets: 1, memory: "8192", ostype: "win11",
          sata0: "local-lvm:vm-101-disk-0,size=64G", net0: "e1000=BC:24:11:AA:00:02,bridge=vmbr1",
        },
      },
      { vmid: 200, name: "dns", node: "pve1", status: "running", type: "lxc", config: { cores: 1, memory: 512, hostname: "dns" } },
      ...extraGuests,
    ],
    tokens: { [PVE_TOKEN_ID]: PVE_TOKEN_SECRET },
    grants: [[PVE_TOKEN_ID, "/", "VM.Audit", "Sys.Audit"]],
  };
}

/** Starts fakepve; resolves to { endpoint, fingerprint (hex of the certificate's SHA-256), stop() }. */
export async function startFakePve(scenario, dir) {
  if (!fs.existsSync(PYTHON)) {
    throw new Error(`${PYTHON} is missing: create the test peers' venv with \`bash scripts/lib/pypeers.sh\``);
  }
  const file = path.join(dir, "fakepve-scenario.json");
  fs.writeFileSync(file, JSON.stringify(scenario));
  // stdin stays open: the harness exits when it closes (this process died).
  const child = spawn(PYTHON, [path.join(PROXMOX_TESTS, "fakepve_harness.py"), file], {
    stdio: ["pipe", "pipe", process.env.FAKEPVE_STDERR ? "inherit" : "ignore"],
  });
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("fakepve did not start within 60 s")), 60000);
    readline.createInterface({ input: child.stdout }).once("line", (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once("exit", (code) => reject(new Error(`fakepve exited with ${code} (run with FAKEPVE_STDERR=1)`)));
  });
  const ready = JSON.parse(line);
  return {
    endpoint: ready.url.replace(/\/$/, ""),
    fingerprint: ready.fingerprint,
    stop() {
      child.kill("SIGKILL");
    },
  };
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

/**
 * Starts a private sshd on a free loopback port that lets the current user in with a fresh
 * ed25519 key; resolves to { port, user, clientKey, hostFingerprint ("SHA256:…"), fixtureDir,
 * vzdumpArgs(), stop() }.
 */
export async function startSshd(dir) {
  if (!fs.existsSync(SSHD)) throw new Error(`${SSHD} is missing: apt-get install openssh-server`);
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "hypersdk-e2e-sshd-"));
  const bin = path.join(d, "bin");
  const fixtureDir = path.join(dir, "vzdump-fixtures");
  fs.mkdirSync(bin);
  fs.mkdirSync(fixtureDir, { recursive: true });
  fs.copyFileSync(path.join(PROXMOX_TESTS, "vzdump"), path.join(bin, "vzdump"));
  fs.chmodSync(path.join(bin, "vzdump"), 0o755);
  const hostKey = path.join(d, "host_ed25519");
  const clientKey = path.join(d, "client_ed25519");
  for (const k of [hostKey, clientKey]) run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "hypersdk-e2e", "-f", k]);
  const hostFingerprint = run("ssh-keygen", ["-l", "-E", "sha256", "-f", `${hostKey}.pub`]).split(/\s+/)[1];
  fs.copyFileSync(`${clientKey}.pub`, path.join(d, "authorized_keys"));
  const user = run("id", ["-un"]).trim();
  // sshd started as root insists on its privilege separation directory (systemd normally makes it).
  if (run("id", ["-u"]).trim() === "0") fs.mkdirSync("/run/sshd", { recursive: true });

  let log = "";
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const config = path.join(d, "sshd_config");
    fs.writeFileSync(
      config,
      [
        `Port ${port}`, "ListenAddress 127.0.0.1", `HostKey ${hostKey}`, `PidFile ${path.join(d, "sshd.pid")}`,
        `AuthorizedKeysFile ${path.join(d, "authorized_keys")}`, "StrictModes no", "UsePAM no",
        "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
        "PermitRootLogin prohibit-password", "UseDNS no", "PrintMotd no", "LogLevel VERBOSE",
        `SetEnv PATH=${bin}:/usr/local/bin:/usr/bin:/bin VZDUMP_FIXTURE_DIR=${fixtureDir}`,
        "Subsystem sftp internal-sftp", "",
      ].join("\n"),
    );
    const logFile = path.join(d, "sshd.log");
    const child = spawn(SSHD, ["-D", "-e", "-f", config], { stdio: ["ignore", "ignore", fs.openSync(logFile, "w")] });
    let exited = false;
    child.once("exit", () => {
      exited = true;
    });
    const deadline = Date.now() + 10000;
    while (!exited && Date.now() < deadline) {
      if (await canConnect(port)) {
        return {
          port,
          user,
          clientKey: fs.readFileSync(clientKey, "utf8"),
          hostFingerprint,
          fixtureDir,
          vzdumpArgs: () => fs.readFileSync(path.join(fixtureDir, "vzdump.args"), "utf8").trim(),
          stop() {
            // Per-connection sshds start their own sessions (setsid), so a process group kill
            // misses them; they are re-executed with the same arguments, config path included.
            child.kill("SIGKILL");
            spawnSync("pkill", ["-KILL", "-f", config]);
            fs.rmSync(d, { recursive: true, force: true });
          },
        };
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    child.kill("SIGKILL");
    log = fs.readFileSync(logFile, "utf8");
  }
  throw new Error(`sshd did not start listening: ${log}`);
}

/**
 * Writes `<vmid>.vma.zst` for the fake vzdump: a VMA archive of two disks (a sparse one with a few
 * scattered blocks, a full one of random data) with clusters shuffled across both, and a
 * qemu-server.conf naming them. Returns the raw source images, the judges' reference.
 */
export function writeVmaFixture(sshd, vmid, dir, { sparseMiB = 32, fullMiB = 8 } = {}) {
  if (!fs.existsSync(MAKE_VMA)) {
    throw new Error(`${MAKE_VMA} is missing: cargo build -p hypersdk-proxmox --features fixtures --example make_vma`);
  }
  const sparse = path.join(dir, "scsi0.raw");
  const full = path.join(dir, "scsi1.raw");
  const fd = fs.openSync(sparse, "w");
  for (const at of [0, 5 * 2 ** 20 + 4096, 17 * 2 ** 20 + 123, sparseMiB * 2 ** 20 - 4096]) {
    fs.writeSync(fd, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 31 + at) & 0xff)), 0, 3000, at);
  }
  fs.ftruncateSync(fd, sparseMiB * 2 ** 20);
  fs.closeSync(fd);
  run("dd", ["if=/dev/urandom", `of=${full}`, "bs=1M", `count=${fullMiB}`, "status=none"]);
  const conf = path.join(dir, "qemu-server.conf");
  fs.writeFileSync(
    conf,
    [
      "#qmdump#map:scsi0:drive-scsi0:local-lvm:raw:", "#qmdump#map:scsi1:drive-scsi1:local-lvm:raw:",
      "cores: 2", "memory: 2048", "name: web01", "net0: virtio=BC:24:11:AA:00:01,bridge=vmbr0", "ostype: l26",
      `scsi0: local-lvm:vm-${vmid}-disk-0,size=${sparseMiB}M`, `scsi1: local-lvm:vm-${vmid}-disk-1,size=${fullMiB}M`,
      "scsihw: virtio-scsi-single", "sockets: 1", "",
    ].join("\n"),
  );
  run(MAKE_VMA, [
    "--out", path.join(sshd.fixtureDir, `${vmid}.vma.zst`), "--config", `qemu-server.conf=${conf}`,
    "--disk", `drive-scsi0=${sparse}`, "--disk", `drive-scsi1=${full}`, "--order", "shuffled", "--seed", "5",
  ]);
  return { sparse, full };
}

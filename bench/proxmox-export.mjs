// Proxmox export over loopback SSH (issue 13: ≥ 0.85× the slowest stage; peak RSS ≤ 64 MiB and
// flat from 1 to 4 GiB). Run through bench/proxmox-export.sh, which builds the release binaries.
//
// Fixture: for each size in SIZES_MIB, a VM with one disk of that many MiB of random
// (incompressible) data — the worst case for every stage — written as a VMA by make_vma and
// compressed with zstd as `vzdump --compress zstd` does, cached in BENCH_DIR. The peers are the
// tests' own (tests/e2e/lib/proxmox.mjs): fakepve serves the API, Debian's sshd runs the fake
// vzdump, which sends the cached archive (`head -c` + `tail -c`, as fast as the page cache).
//
// Each run, per size, interleaved (medians of RUNS reported, with the 1-minute load average):
//   floor          ssh -i KEY -p PORT USER@127.0.0.1 vzdump 100 --stdout --mode snapshot
//                  --compress zstd | zstd -dq > /dev/null   (OpenSSH's client, default cipher)
//   durable write  dd if=DISK.raw of=OUT bs=4M conv=fsync   (the disk's bytes, once)
//   conversion     qemu-img convert -O vmdk -o subformat=streamOptimized DISK.raw OUT.vmdk
//                  (only a stage of the default OVA, whose disks are streamOptimized VMDKs)
//   ours, raw      hyperctl --json export --connection bench --vm 100 -o DIR --format ovf
//                  --disk-format raw: SSH → zstd → VMA reader (checksums) → sparse raw in the
//                  staging folder → OVF folder with SHA-256 manifest, fsynced, verified
//   ours, OVA      hyperctl --json export … (the defaults: OVA of streamOptimized VMDKs)
// Ours is timed end to end (API lookup, lock check and verification pass included); peak RSS
// and CPU seconds come from GNU time (`%M` is the largest process of the export: hyperctl, or
// qemu-img while it converts). Run 1 also checks that the exported raw disk equals the source.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { labScenario, PVE_TOKEN_ID, PVE_TOKEN_SECRET, startFakePve, startSshd } from "../tests/e2e/lib/proxmox.mjs";
import { median } from "./lib/stats.mjs";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run this through bench/proxmox-export.sh`);
  return v;
};
const HYPERCTL = env("HYPERCTL_BIN");
const MAKE_VMA = env("MAKE_VMA_BIN");
const RUNS = Number(process.argv[2] ?? 3);
const SIZES = (process.env.SIZES_MIB ?? "1024 4096").split(/\s+/).filter(Boolean).map(Number);
const BENCH_DIR = process.env.BENCH_DIR ?? "/var/tmp/hypersdk-bench/proxmox-export";
const SKIP_OVA = Boolean(process.env.SKIP_OVA);
if (!(RUNS >= 1) || SIZES.some((s) => !(s >= 1))) throw new Error("RUNS and SIZES_MIB must be positive numbers");

const load = () => fs.readFileSync("/proc/loadavg", "utf8").split(" ")[0];
const log = (...a) => console.error(...a);

function sh(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 26, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Runs a command under GNU time: { seconds, rssMiB, cpu, stdout }. */
function timed(cmd, args, opts = {}) {
  const stats = path.join(work, "time.out");
  const t0 = process.hrtime.bigint();
  const stdout = sh("/usr/bin/time", ["-f", "%M %U %S", "-o", stats, cmd, ...args], opts);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const [kib, user, system] = fs.readFileSync(stats, "utf8").trim().split(/\s+/).map(Number);
  return { seconds, rssMiB: kib / 1024, cpu: user + system, stdout };
}

// --- fixtures (cached) ----------------------------------------------------------------------
fs.mkdirSync(path.join(BENCH_DIR, "images"), { recursive: true });
const work = fs.mkdtempSync(path.join(BENCH_DIR, "run."));
const fixtures = new Map();
for (const mib of SIZES) {
  const raw = path.join(BENCH_DIR, "images", `disk-${mib}m.raw`);
  const vma = path.join(BENCH_DIR, "images", `vm-${mib}m.vma.zst`);
  if (!fs.existsSync(raw)) {
    log(`generating ${raw} (random data; once)…`);
    sh("dd", ["if=/dev/urandom", `of=${raw}.part`, "bs=1M", `count=${mib}`, "status=none"]);
    fs.renameSync(`${raw}.part`, raw);
    fs.rmSync(vma, { force: true });
  }
  if (!fs.existsSync(vma)) {
    log(`writing ${vma} (make_vma --zstd; once)…`);
    const conf = path.join(work, "qemu-server.conf");
    fs.writeFileSync(
      conf,
      `#qmdump#map:scsi0:drive-scsi0:local-lvm:raw:\ncores: 2\nmemory: 2048\nname: bench\n` +
        `net0: virtio=BC:24:11:AA:00:01,bridge=vmbr0\nostype: l26\nscsi0: local-lvm:vm-100-disk-0,size=${mib}M\n` +
        `scsihw: virtio-scsi-single\nsockets: 1\n`,
    );
    sh(MAKE_VMA, ["--out", `${vma}.part`, "--zstd", "--config", `qemu-server.conf=${conf}`, "--disk", `drive-scsi0=${raw}`]);
    fs.renameSync(`${vma}.part`, vma);
  }
  fixtures.set(mib, { raw, vma, bytes: fs.statSync(raw).size, vmaBytes: fs.statSync(vma).size });
}

// --- peers and the connection -------------------------------------------------------------
const scenario = labScenario();
scenario.guests = scenario.guests.filter((g) => g.vmid !== 100);
scenario.guests.push({
  vmid: 100, name: "bench", node: "pve1", status: "running",
  config: { cores: 2, memory: "2048", ostype: "l26", scsi0: "local-lvm:vm-100-disk-0,size=4G", net0: "virtio=BC:24:11:AA:00:01,bridge=vmbr0" },
});
const pve = await startFakePve(scenario, work);
const sshd = await startSshd(work);
const data = path.join(work, "data");
const hyperEnv = { ...process.env, HYPERSDK_DATA_DIR: data, RUST_LOG: "" };
const keyFile = path.join(work, "client_key");
fs.writeFileSync(keyFile, sshd.clientKey, { mode: 0o600 });
try {
  sh(HYPERCTL, [
    "connection", "add", "--kind", "proxmox", "--name", "bench", "--endpoint", pve.endpoint,
    "--username", PVE_TOKEN_ID, "--password-stdin", "--pin-fingerprint", pve.fingerprint,
    "--option", "ssh_host=127.0.0.1", "--option", `ssh_port=${sshd.port}`, "--option", `ssh_user=${sshd.user}`,
    "--option", `ssh_host_keys=${sshd.hostFingerprint}`, "--secret-file", `ssh_key=${keyFile}`,
  ], { input: `${PVE_TOKEN_SECRET}\n`, env: hyperEnv });

  const samples = {}; // key → [{ seconds, load, rssMiB, cpu }]
  const rec = (key, s) => (samples[key] ??= []).push(s);
  const served = path.join(sshd.fixtureDir, "100.vma.zst");
  const floorCmd =
    `set -o pipefail; ssh -q -i '${keyFile}' -p ${sshd.port} -o BatchMode=yes -o StrictHostKeyChecking=no ` +
    `-o UserKnownHostsFile=/dev/null ${sshd.user}@127.0.0.1 vzdump 100 --stdout --mode snapshot --compress zstd ` +
    `2>/dev/null | zstd -dq > /dev/null`;

  for (let r = 1; r <= RUNS; r++) {
    for (const mib of SIZES) {
      const fx = fixtures.get(mib);
      fs.rmSync(served, { force: true });
      fs.symlinkSync(fx.vma, served);
      sh("cat", [fx.raw, fx.vma], { stdio: ["ignore", "ignore", "pipe"] }); // page cache warm for every row
      log(`run ${r}/${RUNS}, ${mib} MiB (load ${load()})…`);

      let l = load();
      rec(`floor-${mib}`, { ...timed("bash", ["-c", floorCmd]), load: l });

      const ddOut = path.join(work, "dd.out");
      l = load();
      rec(`write-${mib}`, { ...timed("dd", [`if=${fx.raw}`, `of=${ddOut}`, "bs=4M", "conv=fsync", "status=none"]), load: l });
      fs.rmSync(ddOut);

      if (!SKIP_OVA) {
        const vmdk = path.join(work, "convert.vmdk");
        l = load();
        rec(`convert-${mib}`, {
          ...timed("qemu-img", ["convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", fx.raw, vmdk]),
          load: l,
        });
        fs.rmSync(vmdk);
      }
      sh("sync", []);

      for (const variant of SKIP_OVA ? ["raw"] : ["raw", "ova"]) {
        const out = path.join(work, "out");
        fs.mkdirSync(out);
        const args = ["--json", "export", "--connection", "bench", "--vm", "100", "-o", out];
        if (variant === "raw") args.push("--format", "ovf", "--disk-format", "raw");
        l = load();
        const t = timed(HYPERCTL, args, { env: hyperEnv });
        const job = JSON.parse(t.stdout)[0];
        if (job.state !== "succeeded" || !job.result?.verified) throw new Error(`export ${variant}: ${t.stdout}`);
        rec(`ours-${variant}-${mib}`, { ...t, load: l });
        if (r === 1 && variant === "raw") {
          const disks = fs.readdirSync(path.join(out, "bench")).filter((f) => !/\.(ovf|mf)$/.test(f));
          if (disks.length !== 1) throw new Error(`expected one disk in the OVF folder, found ${disks}`);
          sh("cmp", [fx.raw, path.join(out, "bench", disks[0])]);
        }
        fs.rmSync(out, { recursive: true });
        sh("sync", []);
      }
    }
  }

  // --- report -------------------------------------------------------------------------------
  const med = (key, field = "seconds") => median(samples[key].map((s) => s[field]));
  const mbs = (bytes, s) => (bytes / s / 1e6).toFixed(0);
  const runs = (key) => samples[key].map((s) => `${s.seconds.toFixed(2)} (${s.load})`).join(", ");
  const row = (label, key, bytes, note = "") =>
    `| ${label} | ${med(key).toFixed(2)} s | ${mbs(bytes, med(key))} MB/s | ${med(key, "cpu").toFixed(2)} | ` +
    `${med(key, "rssMiB").toFixed(0)} MiB | ${runs(key)} | ${note} |`;
  console.log(
    `\nProxmox export over loopback SSH: one VM, one disk of random data; median of ${RUNS}; ` +
      `${os.cpus().length} cores; ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC\n`,
  );
  console.log("| measurement | median | throughput (disk bytes) | CPU s (client) | peak RSS | runs (1-min load at start) | notes |");
  console.log("|---|---|---|---|---|---|---|");
  for (const mib of SIZES) {
    const { bytes, vmaBytes } = fixtures.get(mib);
    const floor = med(`floor-${mib}`);
    const write = med(`write-${mib}`);
    const limit = Math.max(floor, write);
    console.log(`| **${mib} MiB disk** (archive ${(vmaBytes / 2 ** 20).toFixed(0)} MiB) | | | | | | |`);
    console.log(row("floor: ssh … vzdump --stdout \\| zstd -d > /dev/null", `floor-${mib}`, bytes));
    console.log(row("durable write: dd bs=4M conv=fsync", `write-${mib}`, bytes));
    console.log(`| stage limit (slower of the two) | ${limit.toFixed(2)} s | ${mbs(bytes, limit)} MB/s | | | | |`);
    const raw = med(`ours-raw-${mib}`);
    console.log(row("**ours: OVF folder, raw disk, SHA-256 manifest, fsync, verified**", `ours-raw-${mib}`, bytes,
      `${(limit / raw).toFixed(2)}× the stage limit`));
    if (!SKIP_OVA) {
      const conv = med(`convert-${mib}`);
      console.log(row("conversion: qemu-img convert -O vmdk streamOptimized", `convert-${mib}`, bytes));
      const ova = med(`ours-ova-${mib}`);
      const ovaLimit = Math.max(limit, conv);
      console.log(row("ours: OVA (defaults: streamOptimized VMDK)", `ours-ova-${mib}`, bytes,
        `${(ovaLimit / ova).toFixed(2)}× its slowest stage (conversion)`));
    }
  }
  console.log("\ntargets (issue 13): ours ≥ 0.85× the slowest stage; peak RSS ≤ 64 MiB and flat from 1 to 4 GiB.");
} finally {
  sshd.stop();
  pve.stop();
  fs.rmSync(work, { recursive: true, force: true });
}

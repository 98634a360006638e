// A real govmomi vcsim for end-to-end tests (built by scripts/lib/vcsim.sh into .tools/bin), on
// 127.0.0.1 with TLS on a free port and credentials; and govc against it as the independent judge.
//
// vcsim serves a VM's datastore file as-is at the NFC URL (vCenter would generate a
// streamOptimized VMDK from the snapshot), so `giveVmARealDisk` uploads a real streamOptimized VMDK
// over the VM's disk first, through govc datastore.upload (vcsim's /folder PUT).
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { ROOT } from "./app.mjs";

const BIN = path.join(ROOT, ".tools/bin");

function tool(name) {
  const p = path.join(BIN, name);
  if (!fs.existsSync(p)) {
    throw new Error(`${p} is missing: build vcsim and govc with \`bash scripts/lib/vcsim.sh\``);
  }
  return p;
}

export const VCSIM_USER = "e2e-user";
export const VCSIM_PASSWORD = "e2e-s3cret";

/** Starts vcsim; resolves to { endpoint, sdkUrl, govc(args), fingerprint(), stop() }. */
export async function startVcsim(args = []) {
  // vcsim keeps its datastores under TMPDIR and does not remove them when killed: give it its
  // own directory, removed by stop().
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "vcsim-"));
  const child = spawn(
    tool("vcsim"),
    ["-l", "127.0.0.1:0", "-username", VCSIM_USER, "-password", VCSIM_PASSWORD, ...args],
    { stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, TMPDIR: tmp } },
  );
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("vcsim did not start within 60 s")), 60000);
    const rl = readline.createInterface({ input: child.stdout });
    rl.once("line", (l) => {
      clearTimeout(timer);
      resolve(l);
    });
    child.once("exit", (code) => reject(new Error(`vcsim exited with ${code}`)));
  });
  const sdkUrl = line.split(/\s+/).find((w) => w.startsWith("GOVC_URL="))?.slice("GOVC_URL=".length);
  if (!sdkUrl) throw new Error(`unexpected first line from vcsim: ${line}`);
  const endpoint = sdkUrl.replace(/\/sdk$/, "");
  const govc = (govcArgs) => {
    const r = spawnSync(tool("govc"), govcArgs, {
      env: {
        ...process.env,
        GOVC_URL: sdkUrl,
        GOVC_USERNAME: VCSIM_USER,
        GOVC_PASSWORD: VCSIM_PASSWORD,
        GOVC_INSECURE: "1",
      },
      encoding: "utf8",
    });
    if (r.status !== 0) throw new Error(`govc ${govcArgs.join(" ")} failed: ${r.stderr}`);
    return r.stdout;
  };
  return {
    endpoint,
    sdkUrl,
    govc,
    /** SHA-256 of the server certificate, colon-separated upper-case hex (as the app shows it). */
    fingerprint() {
      const m = govc(["about.cert", "-k", "-json"]).match(/"thumbprintSHA256":\s*"([^"]+)"/);
      if (!m) throw new Error("no thumbprintSHA256 in govc about.cert");
      return m[1];
    },
    stop() {
      child.kill("SIGKILL");
      fs.rmSync(tmp, { recursive: true, force: true });
    },
  };
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/**
 * Replaces `vm`'s first disk on the simulator with a real streamOptimized VMDK of the disk's
 * capacity (random data at the start, a marker near the end). Returns the raw source image.
 */
export function giveVmARealDisk(sim, vm, dir, randomMiB = 8) {
  const info = JSON.parse(sim.govc(["device.info", "-vm", vm, "-json", "disk-*"]));
  const disk = (info.devices ?? info.Devices)[0];
  const capacity = disk.capacityInBytes;
  const [, ds, file] = disk.backing.fileName.match(/^\[([^\]]+)\] (.+)$/);
  const raw = path.join(dir, "source.raw");
  run("dd", ["if=/dev/urandom", `of=${raw}`, "bs=1M", `count=${randomMiB}`, "status=none"]);
  const fd = fs.openSync(raw, "r+");
  fs.writeSync(fd, Buffer.from("end-of-disk marker"), 0, 18, capacity - 4096);
  fs.ftruncateSync(fd, capacity);
  fs.closeSync(fd);
  const vmdk = path.join(dir, "source.vmdk");
  run("qemu-img", ["convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", raw, vmdk]);
  sim.govc(["datastore.upload", "-ds", ds, vmdk, file]);
  return raw;
}

// Start-up benchmark of the real app window: N cold starts (a new app process and a fresh data dir
// each time), time from process spawn to an interactive window, and idle memory after 10 s.
// Run through bench/startup.sh (Xvfb + D-Bus + keyring). Prints a markdown table.
//
// Interactive = the nav-inventory element is displayed, as seen through WebDriver.
// spawn -> interactive uses the app process's own start time (/proc/PID/stat starttime) against
// /proc/uptime read the moment WebDriver sees the element (both clock-tick based, ~10 ms resolution),
// so WebDriver's session set-up before the spawn is not counted. "request -> interactive" also
// counts tauri-driver/WebKitWebDriver session creation (an upper bound).
import { spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { APP, TAURI_DRIVER, appEnv, appPid, killTestProcesses, makeTestDirs, remote } from "../tests/e2e/lib/app.mjs";

const N = Number(process.argv[2] ?? 5);
const IDLE_MS = Number(process.env.BENCH_IDLE_MS ?? 10000);
const CLK_TCK = 100; // Linux USER_HZ

async function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

const uptime = () => Number(fs.readFileSync("/proc/uptime", "utf8").split(" ")[0]);
const startTime = (pid) => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[19]) / CLK_TCK; // field 22 overall
};

function descendants(root) {
  const children = new Map();
  for (const ent of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(ent)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${ent}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(ent));
    } catch {}
  }
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...(children.get(out[i]) ?? []));
  return out;
}

function memory(pids) {
  let pss = 0, rss = 0;
  const names = [];
  for (const pid of pids) {
    try {
      const rollup = fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
      const p = Number(/^Pss:\s+(\d+) kB/m.exec(rollup)[1]);
      pss += p;
      rss += Number(/^Rss:\s+(\d+) kB/m.exec(rollup)[1]);
      names.push(`${fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim()} ${(p / 1024).toFixed(0)}`);
    } catch {}
  }
  return { pssMiB: pss / 1024, rssMiB: rss / 1024, names };
}

async function waitStatus(port) {
  for (let i = 0; i < 150; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/status`)).ok) return;
    } catch {}
    await sleep(100);
  }
  throw new Error("tauri-driver not ready");
}

async function once(i) {
  const dirs = makeTestDirs(`bench${i}`);
  const port = await freePort();
  const driver = spawn(TAURI_DRIVER, ["--port", String(port), "--native-port", String(await freePort())], {
    env: appEnv(dirs), detached: true, stdio: "ignore",
  });
  try {
    await waitStatus(port);
    const t0 = performance.now();
    const browser = await remote({
      hostname: "127.0.0.1", port, logLevel: "error", connectionRetryCount: 0,
      capabilities: { "tauri:options": { application: APP }, "wdio:enforceWebDriverClassic": true },
    });
    const nav = browser.$('[data-testid="nav-inventory"]');
    const deadline = performance.now() + 30000;
    for (;;) {
      try {
        if (await nav.isDisplayed()) break;
      } catch {}
      if (performance.now() > deadline) throw new Error("nav-inventory not displayed in 30 s");
    }
    const upReady = uptime();
    const requestMs = performance.now() - t0;
    const pid = appPid(dirs.dataDir);
    if (!pid) throw new Error("app process not found");
    const spawnMs = (upReady - startTime(pid)) * 1000;
    await sleep(IDLE_MS);
    const mem = memory(descendants(pid));
    try { await browser.deleteSession(); } catch {}
    return { spawnMs, requestMs, ...mem };
  } finally {
    try { process.kill(-driver.pid, "SIGTERM"); } catch {}
    await killTestProcesses(dirs.dataDir);
    fs.rmSync(dirs.root, { recursive: true, force: true });
  }
}

const runs = [];
for (let i = 1; i <= N; i++) {
  const r = await once(i);
  runs.push(r);
  console.error(`run ${i}/${N}: spawn->interactive ${r.spawnMs.toFixed(0)} ms, PSS ${r.pssMiB.toFixed(1)} MiB`);
}

const med = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const f0 = (x) => x.toFixed(0);
const f1 = (x) => x.toFixed(1);
const mem = (os.totalmem() / 2 ** 30).toFixed(1);
console.log(`Start-up benchmark, ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ` +
  `${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), ${mem} GiB RAM, app ${path.relative(process.cwd(), APP)}, idle ${IDLE_MS / 1000} s\n`);
console.log("| run | spawn → interactive (ms) | WebDriver request → interactive (ms) | idle PSS (MiB) | idle RSS sum (MiB) | PSS per process (MiB) |");
console.log("|---:|---:|---:|---:|---:|---|");
runs.forEach((r, i) => console.log(`| ${i + 1} | ${f0(r.spawnMs)} | ${f0(r.requestMs)} | ${f1(r.pssMiB)} | ${f1(r.rssMiB)} | ${r.names.join(", ")} |`));
console.log(`| **median** | **${f0(med(runs.map((r) => r.spawnMs)))}** | ${f0(med(runs.map((r) => r.requestMs)))} | **${f1(med(runs.map((r) => r.pssMiB)))}** | ${f1(med(runs.map((r) => r.rssMiB)))} | |`);
console.log("| target | ≤ 1500 | | ≤ 200 | | |");

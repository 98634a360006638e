// Memory over a long run (issue 19, "Memory that stays flat while the app lives in the tray"):
// the real app (no WebDriver: started as a user starts it) under Xvfb, opened on the Dashboard
// (`--section dashboard`), exporting a vcsim VM every minute through a schedule (`* * * * *`, the
// app's own scheduler, keep-last 3), its window closed to the tray at minute 10k+5 and reopened
// at 10k+6 (a second launch with `--section dashboard`, as the tray's Show would). At the start
// of every minute the PSS of each of its processes is read from /proc/PID/smaps_rollup.
//
// The close button is bench/lib/close_window.py: WM_DELETE_WINDOW, what a window manager sends
// (Xvfb runs none). Run through bench/soak.sh (Xvfb + D-Bus + keyring). Prints a markdown table,
// the growth from minute 10 to the last minute, and a JSON line.
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { APP, ROOT, appEnv, hyperctl, keyringClear, killTestProcesses, makeTestDirs, pidsWithDataDir } from "../tests/e2e/lib/app.mjs";
import { giveVmARealDisk, startVcsim, VCSIM_PASSWORD, VCSIM_USER } from "../tests/e2e/lib/vcsim.mjs";

const MINUTES = Number(process.env.BENCH_MINUTES ?? 60);
// For a quick try of the script itself: shorter "minutes" and close/reopen cycle.
const MINUTE_MS = 1000 * Number(process.env.BENCH_MINUTE_S ?? 60);
const CYCLE = Number(process.env.BENCH_CYCLE ?? 10);
const RANDOM_MIB = Number(process.env.BENCH_RANDOM_MIB ?? 8);
const VM = "DC0_H0_VM0";
const FROM = Math.min(CYCLE, MINUTES - 1); // growth is judged from here (start-up and caches settled)

const comm = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
};
const pssKiB = (pid) => {
  try {
    return Number(/^Pss:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))[1]);
  } catch {
    return 0; // gone between listing and reading
  }
};
const ROLES = { "hypersdk-deskto": "app", WebKitWebProces: "web", WebKitNetworkPr: "network" };

/** PSS in MiB of each of the app's processes, by role (several of one role are summed). */
function sample(dataDir) {
  const mib = { app: 0, web: 0, network: 0, other: 0 };
  for (const pid of pidsWithDataDir(dataDir)) {
    const role = ROLES[comm(pid)] ?? "other";
    mib[role] += pssKiB(pid) / 1024;
  }
  mib.total = mib.app + mib.web + mib.network + mib.other;
  return mib;
}

function ok(r, what) {
  if (r.status !== 0) throw new Error(`${what}: ${r.stderr}`);
  return r.stdout;
}

function succeededExports(dataDir) {
  const r = hyperctl(dataDir, ["--json", "jobs", "list", "--state", "succeeded"]);
  return r.status === 0 ? JSON.parse(r.stdout).length : NaN;
}

function launch(dirs, log) {
  const child = spawn(APP, ["--section", "dashboard"], { env: appEnv(dirs), stdio: ["ignore", log, log] });
  return new Promise((resolve) => child.on("exit", (code) => resolve(code)));
}

async function main() {
  keyringClear();
  const dirs = makeTestDirs("soak");
  const sim = await startVcsim([]);
  const log = fs.openSync(path.join(dirs.root, "app.log"), "a");
  try {
    giveVmARealDisk(sim, VM, dirs.root, RANDOM_MIB);
    fs.rmSync(path.join(dirs.root, "source.raw"));
    ok(hyperctl(dirs.dataDir, ["connection", "add", "--kind", "vsphere", "--name", "vcsim", "--endpoint", sim.endpoint,
      "--username", VCSIM_USER, "--password-stdin", "--pin-fingerprint", sim.fingerprint()], { input: VCSIM_PASSWORD }),
    "connection add");
    const out = path.join(dirs.root, "exports");
    fs.mkdirSync(out);
    ok(hyperctl(dirs.dataDir, ["schedule", "add", "--name", "soak", "--cron", "* * * * *", "--connection", "vcsim",
      "--vm", `/DC0/vm/${VM}`, "-o", out, "--keep-last", "3"]), "schedule add");

    const first = spawn(APP, ["--section", "dashboard"], { env: appEnv(dirs), stdio: ["ignore", log, log] });
    const deadline = Date.now() + 60000;
    while (sample(dirs.dataDir).web === 0) {
      if (Date.now() > deadline) throw new Error("the window's web process never started");
      await sleep(250);
    }
    await sleep(5000);
    const t0 = Date.now();
    const rows = [];
    let open = true;
    for (let m = 0; m <= MINUTES; m++) {
      await sleep(Math.max(0, t0 + m * MINUTE_MS - Date.now()));
      const s = sample(dirs.dataDir);
      const row = { minute: m, window: open ? "open" : "closed", ...s, exports: succeededExports(dirs.dataDir) };
      rows.push(row);
      console.error(`minute ${m}: ${row.window}, total ${s.total.toFixed(1)} MiB (app ${s.app.toFixed(1)}, web ${s.web.toFixed(1)}), ${row.exports} exports`);
      const half = Math.floor(CYCLE / 2);
      if (m < MINUTES && m % CYCLE === half) {
        const r = spawnSync("/usr/bin/python3", [path.join(ROOT, "bench/lib/close_window.py"), "HyperSDK Desktop"], { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`could not close the window at minute ${m}: ${r.stderr}`);
        open = false;
      } else if (m < MINUTES && m % CYCLE === (half + 1) % CYCLE) {
        const code = await launch(dirs, log);
        if (code !== 0) throw new Error(`the second launch at minute ${m} exited ${code}`);
        open = true;
      }
    }
    first.kill("SIGTERM");

    const f1 = (x) => x.toFixed(1);
    const pct = (a, b) => `${b >= a ? "+" : ""}${((100 * (b - a)) / a).toFixed(1)} %`;
    console.log(`${MINUTES} minutes, ${rows.at(-1).exports} scheduled exports (${RANDOM_MIB} MiB of random data each), PSS in MiB:`);
    console.log("");
    console.log("| minute | window | app | web | network | total | exports done |");
    console.log("|---|---|---|---|---|---|---|");
    for (const r of rows) {
      console.log(`| ${r.minute} | ${r.window} | ${f1(r.app)} | ${f1(r.web)} | ${f1(r.network)} | **${f1(r.total)}** | ${r.exports} |`);
    }
    const [a, b] = [rows[FROM], rows.at(-1)];
    const growth = {
      from_minute: FROM,
      to_minute: b.minute,
      app: pct(a.app, b.app),
      web: pct(a.web, b.web),
      total: pct(a.total, b.total),
    };
    const closed = rows.filter((r) => r.window === "closed");
    const openRows = rows.filter((r) => r.window === "open" && r.minute >= FROM);
    const mean = (rs, k) => rs.reduce((s, r) => s + r[k], 0) / Math.max(1, rs.length);
    console.log("");
    console.log(`Growth from minute ${FROM} to ${b.minute}: total ${growth.total} (app ${growth.app}, web ${growth.web}).`);
    console.log(`Window closed: total ${f1(mean(closed, "total"))} MiB, web ${f1(mean(closed, "web"))} MiB on average, against ${f1(mean(openRows, "total"))} MiB (web ${f1(mean(openRows, "web"))}) open.`);
    console.log(JSON.stringify({ minutes: MINUTES, random_mib: RANDOM_MIB, growth, rows }));
  } finally {
    await killTestProcesses(dirs.dataDir);
    sim.stop();
    fs.closeSync(log);
    fs.rmSync(dirs.root, { recursive: true, force: true });
  }
}

await main();

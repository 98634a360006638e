// (k) A running export draws a live line that advances, and the finished run lands in the heat
// map — in the real window, exporting a VM of a real vcsim. The export is started through the
// window's own IPC (`start_export`, what the export dialog calls) with gzip compression, so a disk
// of a few hundred MiB keeps it running for several 1 Hz samples.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { ARTIFACTS, byTestId, hyperctl, keyringClear, makeTestDirs, openSection, withApp } from "../lib/app.mjs";
import { giveVmARealDisk, startVcsim, VCSIM_PASSWORD, VCSIM_USER } from "../lib/vcsim.mjs";

const VM = "DC0_H0_VM0";
const RANDOM_MIB = Number(process.env.HYPERSDK_E2E_LIVE_MIB ?? 320);

async function waitFor(check, what, timeout = 60000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const attr = (browser, selector, name) =>
  browser.execute((sel, n) => document.querySelector(sel)?.getAttribute(n) ?? null, selector, name);

test("a running export draws a live line that advances; the finished run is in the heat map", async () => {
  keyringClear();
  const dirs = makeTestDirs("live");
  const sim = await startVcsim();
  try {
    giveVmARealDisk(sim, VM, dirs.root, RANDOM_MIB);
    const out = path.join(dirs.root, "exports");
    fs.mkdirSync(out);
    const add = hyperctl(
      dirs.dataDir,
      ["connection", "add", "--kind", "vsphere", "--name", "vcsim", "--endpoint", sim.endpoint, "--username", VCSIM_USER,
        "--password-stdin", "--pin-fingerprint", sim.fingerprint()],
      { input: VCSIM_PASSWORD },
    );
    assert.equal(add.status, 0, add.stderr);

    await withApp("live", dirs, async ({ browser }) => {
      await openSection(browser, "dashboard");
      const spec = {
        connection_id: "vcsim",
        vm_ids: [VM],
        destination_dir: out,
        format: { package: "ova", compression: "gzip", compression_level: 6, manifest: "sha256", disk_format: null },
      };
      const started = await browser.executeAsync((s, done) => {
        window.__TAURI_INTERNALS__.invoke("start_export", { spec: s }).then(
          (jobs) => done({ jobs }),
          (error) => done({ error: JSON.stringify(error) }),
        );
      }, spec);
      assert.ok(started.jobs, `start_export failed: ${started.error}`);
      const job = started.jobs[0];

      // The live chart gets the job's line from the 1 Hz samples…
      await waitFor(
        async () => (await browser.execute(() => document.querySelectorAll('[data-testid="chart-throughput"] .recharts-line').length)) === 1,
        "the job's live line",
      );
      // …and it advances: the job's own line gets more seconds (the chart keeps adding seconds
      // after a job ends, with gaps for it, so the path's segments are what is counted).
      const curve = () => attr(browser, '[data-testid="chart-throughput"] .recharts-line-curve', "d");
      const segments = (d) => (d ?? "").split("L").length;
      const firstCurve = await curve();
      await waitFor(async () => segments(await curve()) >= segments(firstCurve) + 2, "the line to advance by two seconds", 20000);
      // The Running card followed the job (it may have ended by now: then the count is back to 0).
      const running = await byTestId(browser, "stat-running-value").getText();
      const state = JSON.parse(hyperctl(dirs.dataDir, ["--json", "jobs", "show", job.id]).stdout).job.state;
      if (state === "running") assert.equal(running, "1", "the running card follows the job");
      const legend = await browser.execute(() => document.querySelector('[data-testid="chart-throughput"] .recharts-legend-wrapper')?.textContent ?? "");
      assert.match(legend, new RegExp(job.name));
      fs.mkdirSync(ARTIFACTS, { recursive: true });
      await browser.saveScreenshot(path.join(ARTIFACTS, "live-throughput.png")).catch(() => {});

      // The job ends; the run appears in this hour's cell of the heat map and in the 24 h figures.
      await waitFor(async () => {
        const r = hyperctl(dirs.dataDir, ["--json", "jobs", "show", job.id]);
        return r.status === 0 && JSON.parse(r.stdout).job.state === "succeeded";
      }, "the export to succeed", 180000);
      const now = new Date();
      const cell = `[data-testid="heat-cell-${(now.getDay() + 6) % 7}-${now.getHours()}"]`;
      await waitFor(async () => (await attr(browser, cell, "data-count")) === "1", "the run in the heat map");
      await waitFor(async () => (await byTestId(browser, "stat-succeeded-24h-value").getText()) === "1", "the 24 h count");
    });
  } finally {
    sim.stop();
    // The run's 1 GB of exports and disks, left behind by every run until now.
    fs.rmSync(dirs.root, { recursive: true, force: true });
  }
});

// (j) Dashboard and metrics in the real window: a job finished earlier (history in the database)
// shows in the 24 h stat cards and in the heat map at its local weekday and hour; the app's own
// resource samples fill the resource chart; the Prometheus endpoint turned on in Settings serves
// /metrics with that job, and stops when turned off.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { test } from "node:test";
import { ARTIFACTS, byTestId, hyperctl, makeTestDirs, openSection, withApp } from "../lib/app.mjs";

const GiB = 1024 ** 3;

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** rusqlite's text form of a chrono UTC timestamp. */
const sqlTime = (d) => d.toISOString().replace("T", " ").replace("Z", "+00:00");

function sqlite(db, sql) {
  const r = spawnSync("sqlite3", [db, sql], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`sqlite3 failed: ${r.stderr}`);
  return r.stdout;
}

async function waitFor(check, what, timeout = 30000) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Counts matches in the page itself: charts re-render, so element handles would go stale. */
async function count(browser, selector) {
  return browser.execute((sel) => document.querySelectorAll(sel).length, selector);
}

/** Clicks through the DOM: Mantine's switch and segmented inputs are visually hidden. */
async function jsClick(browser, selector) {
  await browser.execute((sel) => document.querySelector(sel)?.click(), selector);
}

test("dashboard charts history and live samples; the metrics endpoint follows Settings", async (t) => {
  const dirs = makeTestDirs("dashboard");
  t.after(() => fs.rmSync(dirs.root, { recursive: true, force: true }));
  const port = await freePort();
  // The database with its schema, the endpoint's address chosen, still off.
  const set = hyperctl(dirs.dataDir, ["settings", "set", "--metrics-listen", `127.0.0.1:${port}`]);
  assert.equal(set.status, 0, set.stderr);
  const started = new Date(Date.now() - 2 * 3600 * 1000);
  const finished = new Date(started.getTime() + 10 * 60 * 1000);
  const result = JSON.stringify({ path: "/backups/web-01.ova", files: ["web-01.ovf"], bytes: 5 * GiB, manifest_algorithm: "sha256", verified: true });
  sqlite(
    path.join(dirs.dataDir, "hypersdk.db"),
    `INSERT INTO jobs (id, name, kind, state, request_json, created_at, started_at, finished_at, result_json)
     VALUES ('e2e-job-1', 'Export web-01', 'export', 'succeeded', '{}', '${sqlTime(started)}', '${sqlTime(started)}',
             '${sqlTime(finished)}', '${result.replace(/'/g, "''")}');`,
  );
  const weekday = (started.getDay() + 6) % 7;
  const hour = started.getHours();

  await withApp("dashboard", dirs, async ({ browser }) => {
    await openSection(browser, "dashboard");
    await waitFor(async () => (await byTestId(browser, "stat-succeeded-24h-value").getText()) === "1", "the 24 h succeeded count");
    assert.equal(await byTestId(browser, "stat-bytes-24h-value").getText(), "5.0 GiB");
    assert.equal(await byTestId(browser, "stat-next-run-value").getText(), "—");
    const cell = byTestId(browser, `heat-cell-${weekday}-${hour}`);
    assert.equal(await cell.getAttribute("data-count"), "1", "the run is in its local weekday and hour");
    assert.equal(await count(browser, '[data-testid^="heat-cell-"][data-count="0"]'), 167);
    // The scatter has the job's point, drawn by recharts in the webview.
    await waitFor(async () => (await count(browser, '[data-testid="chart-duration-size"] .recharts-scatter-symbol')) === 1, "the scatter point");

    // The app samples itself every second: the last hour's CPU line fills in.
    await jsClick(browser, '[data-testid="range-select"] input[value="1h"]');
    await waitFor(
      async () => Number(await byTestId(browser, "chart-resources").getAttribute("data-points")) >= 2,
      "resource samples in the last hour",
      40000,
    );
    assert.equal(await count(browser, '[data-testid="chart-resources"] .recharts-area'), 1, "an area is drawn");
    // For a person to look at (tests/e2e/.artifacts/ is not committed).
    fs.mkdirSync(ARTIFACTS, { recursive: true });
    await browser.saveScreenshot(path.join(ARTIFACTS, "dashboard-ok.png")).catch(() => {});
    await browser.execute(() => document.querySelector('[data-testid="chart-heatmap"]')?.scrollIntoView());
    await browser.saveScreenshot(path.join(ARTIFACTS, "dashboard-ok-bottom.png")).catch(() => {});

    // Prometheus: on in Settings, scraped from here, off again.
    await openSection(browser, "settings");
    await jsClick(browser, '[data-testid="settings-metrics-enabled"]');
    await byTestId(browser, "settings-metrics-save").click();
    await waitFor(async () => (await byTestId(browser, "settings-metrics-status").isExisting()), "the endpoint's URL");
    const url = `http://127.0.0.1:${port}/metrics`;
    assert.equal(await byTestId(browser, "settings-metrics-status").$("a").getText(), url);
    const body = await (await fetch(url)).text();
    assert.match(body, /^hypersdk_jobs\{state="succeeded"\} 1$/m);
    assert.match(body, /^hypersdk_exported_bytes_total 5368709120$/m);
    assert.match(body, /^hypersdk_job_duration_seconds_count\{outcome="succeeded",provider="none"\} 1$/m);

    await jsClick(browser, '[data-testid="settings-metrics-enabled"]');
    await byTestId(browser, "settings-metrics-save").click();
    await waitFor(async () => {
      try {
        await fetch(url);
        return false;
      } catch {
        return true;
      }
    }, "the endpoint to stop");
  });
});

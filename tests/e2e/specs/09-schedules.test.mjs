// Scheduled backups in the real window against a real vcsim: create a schedule in the UI (fixed VM,
// a destination folder, keep the last 2 runs) → the core's description and next 5 run times show
// once it is saved → "Run now" → the run appears in the schedule's history and succeeds → the OVA
// under DEST/<schedule name>/<YYYYMMDD-HHMMSS>/ passes `hyperctl ova verify` → `hyperctl schedule
// list --json` shows the schedule with its next run.
//
// The connection (with its certificate pinned) is added through hyperctl, which shares the app's
// database and keyring, so this spec stays about schedules (08-vsphere-export covers pinning in
// the window).
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  attributeFresh,
  byTestId,
  clickFresh,
  fill,
  hyperctl,
  keyringClear,
  makeTestDirs,
  openSection,
  waitForDisplayedFresh,
  withApp,
} from "../lib/app.mjs";
import { giveVmARealDisk, startVcsim, VCSIM_PASSWORD, VCSIM_USER } from "../lib/vcsim.mjs";

const VM = "DC0_H0_VM0";
const VM_PATH = `/DC0/vm/${VM}`;
const NAME = "nightly-e2e";

/** A schedule's row, looked up afresh on every call: the list re-renders while details open. */
function scheduleRow(browser, name) {
  return browser.$(`[data-testid="schedule-row"][data-schedule-name="${name}"]`);
}

/** Waits until no Mantine modal (or its closing animation's overlay) is left. */
async function waitForModalsClosed(browser) {
  await browser.waitUntil(
    async () => browser.execute(() => !document.querySelector(".mantine-Modal-overlay")),
    { timeout: 10000, interval: 200, timeoutMsg: "a dialog stayed open" },
  );
}

test("schedule in the window → Run now → history shows it succeeded → the OVA verifies", async () => {
  keyringClear();
  const dirs = makeTestDirs("schedules");
  const sim = await startVcsim();
  try {
    giveVmARealDisk(sim, VM, dirs.root, 8);
    const dest = path.join(dirs.root, "backups");
    fs.mkdirSync(dest);

    const added = hyperctl(
      dirs.dataDir,
      ["connection", "add", "--kind", "vsphere", "--name", "vcsim", "--endpoint", sim.endpoint,
        "--username", VCSIM_USER, "--password-stdin", "--pin-fingerprint", sim.fingerprint()],
      { input: VCSIM_PASSWORD },
    );
    assert.equal(added.status, 0, added.stderr);

    await withApp("schedules", dirs, async ({ browser }) => {
      await openSection(browser, "schedules");
      const add = byTestId(browser, "schedule-add");
      await add.waitForEnabled({ timeout: 10000, timeoutMsg: "Add schedule stayed disabled (no connection listed?)" });
      await add.click();

      await fill(browser, "schedule-name", NAME);
      const connection = byTestId(browser, "schedule-connection");
      assert.equal(await connection.$("option:checked").getText(), "vcsim", "the only connection is chosen");
      // The VM picker lists the connection's inventory; the search narrows it to our VM.
      await fill(browser, "schedule-vms", VM);
      const option = browser.$(`[data-testid="schedule-vm-option"][data-vm-path="${VM_PATH}"]`);
      await option.waitForDisplayed({ timeout: 30000, timeoutMsg: `${VM_PATH} never appeared in the VM picker` });
      await option.click();
      await browser
        .$(`[data-testid="schedule-vm-chosen"][data-vm-path="${VM_PATH}"]`)
        .waitForDisplayed({ timeout: 5000, timeoutMsg: "the VM was not added to the schedule" });
      await fill(browser, "schedule-destination", dest);
      await byTestId(browser, "schedule-retention-keep_last").click();
      await fill(browser, "schedule-keep-last", "2");
      await byTestId(browser, "schedule-save").click();

      // Saved: the core describes the expression and lists its next 5 times in the form.
      const nextRuns = byTestId(browser, "schedule-next-runs");
      await nextRuns.waitForDisplayed({ timeout: 20000, timeoutMsg: "no next run times shown after saving" });
      assert.equal(await nextRuns.getAttribute("data-count"), "5", await nextRuns.getText());
      assert.equal(await byTestId(browser, "schedule-description").getText(), "At 02:00, every day");
      await byTestId(browser, "schedule-done").click();
      await waitForModalsClosed(browser);

      const row = scheduleRow(browser, NAME);
      await row.waitForDisplayed({ timeout: 10000, timeoutMsg: `no row for schedule ${NAME}` });
      assert.equal(await row.getAttribute("data-schedule-status"), "never");
      assert.match(await row.getText(), /At 02:00, every day/);

      await clickFresh(browser, `[data-testid="schedule-row"][data-schedule-name="${NAME}"] [data-testid="schedule-run-now"]`);
      // The history list re-renders on every job event of the run, so each look finds it afresh.
      await waitForDisplayedFresh(browser, '[data-testid="schedule-history"]', {
        timeoutMsg: "the schedule's history is not shown",
      });
      const runSelector = '[data-testid="schedule-history"] [data-testid="history-row"]';
      await waitForDisplayedFresh(browser, runSelector, { timeout: 15000, timeoutMsg: "the run did not appear in the history" });
      assert.equal(await attributeFresh(browser, runSelector, "data-trigger"), "manual");
      await browser.waitUntil(
        async () => ["succeeded", "failed", "partial", "skipped"].includes(await attributeFresh(browser, runSelector, "data-status")),
        { timeout: 120000, interval: 500, timeoutMsg: "the run did not finish within 2 minutes" },
      );
      const run = browser.$(runSelector);
      assert.equal(await run.getAttribute("data-status"), "succeeded", await run.getText());
      assert.match(await run.getText(), new RegExp(`${VM}\\.ova`));
      await browser.waitUntil(async () => (await scheduleRow(browser, NAME).getAttribute("data-schedule-status")) === "succeeded", {
        timeout: 10000,
        timeoutMsg: "the list does not show the run's outcome",
      });
    });

    // Independent judges: the run folder and its OVA, and hyperctl's view of the schedule.
    const scheduleDir = path.join(dest, NAME);
    const runDirs = fs.readdirSync(scheduleDir);
    assert.equal(runDirs.length, 1, `one run folder in ${scheduleDir}: ${runDirs.join(", ")}`);
    assert.match(runDirs[0], /^\d{8}-\d{6}$/, "the run folder is named after its start time");
    const ova = path.join(scheduleDir, runDirs[0], `${VM}.ova`);
    assert.ok(fs.existsSync(ova), `${ova} exists`);
    const verify = hyperctl(dirs.dataDir, ["ova", "verify", ova]);
    assert.equal(verify.status, 0, verify.stderr);
    assert.match(verify.stdout, /^OK/);

    const listed = hyperctl(dirs.dataDir, ["schedule", "list", "--json"]);
    assert.equal(listed.status, 0, listed.stderr);
    const schedule = JSON.parse(listed.stdout).find((s) => s.name === NAME);
    assert.ok(schedule, `hyperctl lists ${NAME}: ${listed.stdout}`);
    assert.ok(schedule.next_run, "the schedule has a next run");
    assert.ok(Date.parse(schedule.next_run) > Date.now(), `next_run ${schedule.next_run} is in the future`);
    assert.equal(schedule.last_status, "succeeded");
    assert.deepEqual(schedule.retention, { kind: "keep_last", count: 2 });
    assert.deepEqual(schedule.template.selection, { kind: "fixed", vms: [VM_PATH] });
    assert.equal(schedule.template.destination_dir, dest);
  } finally {
    sim.stop();
    fs.rmSync(dirs.root, { recursive: true, force: true });
  }
});

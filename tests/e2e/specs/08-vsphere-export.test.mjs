// The first complete user journey, in the real window against a real vcsim: add a vSphere
// connection → the untrusted certificate's fingerprint is shown and pinned → browse the inventory
// → select a VM and export it to a folder → the job succeeds and shows "Verified" → the OVA
// passes `hyperctl ova verify`, and the simulator is left without our snapshot.
//
// WebDriver cannot drag reliably, so the keyboard path is used (select → Export… → dialog); the
// drag path opens the same dialog (covered by the UI's component tests).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  addConnectionViaUi, byTestId, clickFresh, closeDialogs, expectJobVerified, fill, hyperctl, keyringClear, makeTestDirs, openSection, pinFingerprintFromTest,
  withApp,
} from "../lib/app.mjs";
import { giveVmARealDisk, startVcsim, VCSIM_PASSWORD, VCSIM_USER } from "../lib/vcsim.mjs";

const VM = "DC0_H0_VM0";

test("add vSphere → pin certificate → browse → export a VM → verified OVA", async () => {
  keyringClear();
  const dirs = makeTestDirs("vsphere");
  const sim = await startVcsim();
  try {
    giveVmARealDisk(sim, VM, dirs.root, 8);
    const outDir = path.join(dirs.root, "exports");
    fs.mkdirSync(outDir);
    // A small file system of its own (the tests run as root, as CI does).
    const small = path.join(dirs.root, "small");
    fs.mkdirSync(small);
    const mounted = spawnSync("mount", ["-t", "tmpfs", "-o", "size=64m", "tmpfs", small], { encoding: "utf8" });
    assert.equal(mounted.status, 0, `mount tmpfs: ${mounted.stderr}`);

    await withApp("vsphere-export", dirs, async ({ browser }) => {
      await addConnectionViaUi(browser, {
        kind: "vsphere",
        name: "vcsim",
        endpoint: sim.endpoint,
        username: VCSIM_USER,
        secret: VCSIM_PASSWORD,
      });

      // First contact: the certificate is self-signed, so the test shows its fingerprint.
      const expected = sim.fingerprint();
      const pin = await pinFingerprintFromTest(browser, "vcsim");
      // Shown as "SHA-256 AB:CD:…".
      assert.ok(pin.shown.toUpperCase().includes(expected.toUpperCase()), pin.shown);
      assert.equal(pin.hostKey, false);
      const shown = hyperctl(dirs.dataDir, ["--json", "connection", "show", "vcsim"]);
      assert.equal(shown.status, 0, shown.stderr);
      const listed = JSON.parse(shown.stdout);
      assert.equal(
        listed.tls_fingerprint.replaceAll(":", "").toLowerCase(),
        expected.replaceAll(":", "").toLowerCase(),
        "the pin is saved on the connection",
      );

      // A password that stopped working (made wrong here through hyperctl, which shares the
      // database and keyring): the test names the refusal and offers to edit the connection;
      // the corrected password is tested on save and the connection works again.
      const broken = hyperctl(dirs.dataDir, ["connection", "edit", "vcsim", "--password-stdin"], { input: "not-the-password" });
      assert.equal(broken.status, 0, broken.stderr);
      await openSection(browser, "connections");
      await clickFresh(browser, '[data-testid="connection-row"][data-connection-name="vcsim"] [data-testid="connection-test"]');
      const editOffer = byTestId(browser, "test-edit-connection");
      await editOffer.waitForDisplayed({ timeout: 30000, timeoutMsg: "a refused password does not offer Edit connection" });
      assert.equal(
        await browser.$('[data-testid="connection-test-check"][data-ok="false"][data-skipped="false"]').getText().then((t) => /Sign in/.test(t)),
        true,
        "the failing check is the sign-in",
      );
      await editOffer.click();
      await fill(browser, "connection-secret", VCSIM_PASSWORD);
      await byTestId(browser, "connection-save").click();
      await byTestId(browser, "connection-save").waitForDisplayed({
        reverse: true,
        timeout: 30000,
        timeoutMsg: "the corrected connection was not saved without a question",
      });
      await closeDialogs(browser);

      // Browse: the VM table shows the simulator's VMs; search narrows to one.
      await openSection(browser, "inventory");
      const select = byTestId(browser, "inventory-connection");
      await select.waitForDisplayed();
      await select.selectByVisibleText("vcsim").catch(() => {});
      await fill(browser, "inventory-search", VM);
      const checkbox = browser.$(`[data-testid^="vm-select-"]:not([data-testid="vm-select-all"])`);
      await checkbox.waitForDisplayed({ timeout: 30000, timeoutMsg: "the VM never appeared in the inventory" });
      const rows = await browser.$$('[data-testid^="vm-row-"]');
      assert.equal(rows.length, 1, "the search leaves exactly one VM");
      assert.match(await rows[0].getProperty("textContent"), new RegExp(VM));
      await checkbox.click();

      // Export through the dialog, to a typed folder. A folder on a 64 MiB file system first:
      // the dialog warns that the VM's disks (10 GiB provisioned) may not fit, then not for a
      // folder with room.
      await byTestId(browser, "export-selected").click();
      await fill(browser, "export-destination", small);
      const warning = byTestId(browser, "export-space-warning");
      await warning.waitForDisplayed({ timeout: 10000, timeoutMsg: "no warning for a destination that is too small" });
      assert.match(await warning.getAttribute("data-severity"), /^(may|will)-not-fit$/);
      assert.match(await warning.getText(), /64\.0 MiB free/);
      await fill(browser, "export-destination", outDir);
      await warning.waitForDisplayed({ reverse: true, timeout: 10000, timeoutMsg: "the warning stayed for a folder with room" });
      assert.match(await byTestId(browser, "export-space").getText(), /Free at the destination/);
      await byTestId(browser, "export-submit").click();
      await expectJobVerified(browser);

      // A VM whose disk is vcsim's own (a VMDK text descriptor, no data) fails its export, by
      // the image checks; at the default window size its row's Retry is on screen unscrolled.
      const size = await browser.getWindowSize();
      assert.ok(size.width <= 1280 && size.height <= 800, `the window is at its default size: ${JSON.stringify(size)}`);
      const failed = hyperctl(dirs.dataDir, ["export", "--connection", "vcsim", "--vm", "DC0_H0_VM1", "-o", outDir]);
      assert.notEqual(failed.status, 0, "the export of a descriptor-only disk fails");
      assert.match(failed.stderr, /is not a usable image/);
      const failedRow = browser.$('[data-testid="job-row"][data-job-state="failed"]');
      await failedRow.waitForDisplayed({ timeout: 15000, timeoutMsg: "the failed job never showed in the window" });
      assert.match(await failedRow.$('[data-testid="job-error"]').getProperty("textContent"), /not a usable image/);
      assert.ok(
        await failedRow.$('[data-testid="job-retry"]').isDisplayed({ withinViewport: true }),
        "Retry is in view at 1280×800",
      );
    });

    // Independent judges: the package verifies; nothing of ours is left on the server.
    const ova = path.join(outDir, `${VM}.ova`);
    assert.ok(fs.existsSync(ova), `${ova} exists`);
    const verify = hyperctl(dirs.dataDir, ["ova", "verify", ova]);
    assert.equal(verify.status, 0, verify.stderr);
    assert.match(verify.stdout, /^OK/);
    assert.equal(sim.govc(["snapshot.tree", "-vm", VM]).trim(), "", "the export snapshot was removed");
  } finally {
    spawnSync("umount", [path.join(dirs.root, "small")]);
    sim.stop();
    fs.rmSync(dirs.root, { recursive: true, force: true });
  }
});

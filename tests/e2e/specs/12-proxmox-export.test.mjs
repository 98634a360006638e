// The Proxmox VE journey in the real window, against fakepve (the API) and Debian's sshd with the
// fake `vzdump` (the data path; see lib/proxmox.mjs for how they differ from a real node): add a
// connection with an API token and an SSH key → the test shows the API certificate, pinned → the
// test shows the node's SSH host key, pinned → the Inventory lists the VMs of both nodes and the
// container as not exportable → a VM goes to a destination folder → the job ends Verified → the
// OVA passes `hyperctl ova verify` and its disks equal the fixture's source images.
//
// WebDriver cannot drag reliably, so the destination's "Export here" opens the export dialog (the
// drop opens the same dialog; covered by the UI's component tests).
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  addConnectionViaUi, byTestId, expectJobVerified, fill, hyperctl, keyringClear, makeTestDirs, openSection,
  pinFingerprintFromTest, withApp,
} from "../lib/app.mjs";
import { labScenario, PVE_TOKEN_ID, PVE_TOKEN_SECRET, startFakePve, startSshd, writeVmaFixture } from "../lib/proxmox.mjs";

const hex = (s) => s.replace(/^SHA-256\s*/, "").replaceAll(":", "").toLowerCase();

test("add Proxmox → pin certificate and host key → browse both nodes → export a VM → verified OVA", async () => {
  keyringClear();
  const dirs = makeTestDirs("proxmox");
  const pve = await startFakePve(labScenario(), dirs.root);
  const sshd = await startSshd(dirs.root);
  try {
    const fixture = writeVmaFixture(sshd, 100, dirs.root);
    const outDir = path.join(dirs.root, "exports");
    fs.mkdirSync(outDir);

    await withApp("proxmox-export", dirs, async ({ browser }) => {
      await addConnectionViaUi(browser, {
        kind: "proxmox",
        name: "lab",
        endpoint: pve.endpoint,
        username: PVE_TOKEN_ID,
        secret: PVE_TOKEN_SECRET,
        options: { ssh_host: "127.0.0.1", ssh_port: String(sshd.port), ssh_user: sshd.user },
        secretOptions: { ssh_key: sshd.clientKey },
      });

      // First contact with the API: its self-signed certificate.
      const cert = await pinFingerprintFromTest(browser, "lab");
      assert.equal(cert.hostKey, false, "the first pin is the API's certificate");
      assert.equal(hex(cert.shown), pve.fingerprint.toLowerCase(), cert.shown);
      // Then the node's SSH host key, which the API check could not reach before.
      const key = await pinFingerprintFromTest(browser, "lab");
      assert.equal(key.hostKey, true, "the second pin is the SSH host key");
      assert.ok(key.shown.includes(sshd.hostFingerprint), `${key.shown} shows ${sshd.hostFingerprint}`);
      const saved = JSON.parse(hyperctl(dirs.dataDir, ["--json", "connection", "show", "lab"]).stdout);
      assert.equal(saved.tls_fingerprint.replaceAll(":", "").toLowerCase(), pve.fingerprint.toLowerCase());
      assert.equal(saved.options.ssh_host_keys, sshd.hostFingerprint, "the host key is pinned on the connection");
      assert.ok(!JSON.stringify(saved).includes("PRIVATE KEY"), "the SSH key is not in the connection's record");

      // Browse: both nodes' VMs, and the container shown but not exportable.
      await openSection(browser, "inventory");
      const rowNamed = (name) => browser.$(`[data-testid^="vm-row-"][data-vm-name="${name}"]`);
      for (const name of ["web01", "db01", "dns"]) {
        await rowNamed(name).waitForDisplayed({ timeout: 30000, timeoutMsg: `${name} never appeared in the inventory` });
      }
      assert.match(await rowNamed("dns").getProperty("textContent"), /not exportable|container/i);

      await fill(browser, "inventory-search", "web01");
      await browser.waitUntil(async () => (await browser.$$('[data-testid^="vm-row-"]')).length === 1, {
        timeout: 10000,
        timeoutMsg: "the search does not leave exactly one VM",
      });
      await rowNamed("web01").$('[data-testid^="vm-select-"]').click();

      // A destination folder, and "Export here" with the VM selected.
      await fill(browser, "destination-add-input", outDir);
      await byTestId(browser, "destination-add").click();
      await byTestId(browser, "destination-export-0").waitForEnabled({ timeout: 10000 });
      await byTestId(browser, "destination-export-0").click();
      assert.equal(await byTestId(browser, "export-destination").getValue(), outDir, "the dialog targets the folder");
      await byTestId(browser, "export-submit").click();
      await expectJobVerified(browser);
    });

    // The snapshot-mode backup was asked for over SSH, and the judges agree with the result.
    assert.match(sshd.vzdumpArgs(), /^100 --stdout .*--mode snapshot/);
    const ova = path.join(outDir, "web01.ova");
    const verify = hyperctl(dirs.dataDir, ["ova", "verify", ova]);
    assert.equal(verify.status, 0, verify.stderr);
    assert.match(verify.stdout, /^OK/);
    const unpacked = path.join(dirs.root, "unpacked");
    fs.mkdirSync(unpacked);
    const tar = spawnSync("tar", ["-xf", ova, "-C", unpacked], { encoding: "utf8" });
    assert.equal(tar.status, 0, tar.stderr);
    const vmdks = fs.readdirSync(unpacked).filter((f) => f.endsWith(".vmdk")).sort();
    assert.equal(vmdks.length, 2, vmdks.join(", "));
    for (const [raw, vmdk] of [[fixture.sparse, vmdks[0]], [fixture.full, vmdks[1]]]) {
      const cmp = spawnSync("qemu-img", ["compare", "-f", "raw", "-F", "vmdk", raw, path.join(unpacked, vmdk)], { encoding: "utf8" });
      assert.equal(cmp.status, 0, `${vmdk}: ${cmp.stdout}${cmp.stderr}`);
    }
    assert.deepEqual(fs.readdirSync(outDir), ["web01.ova"], "nothing but the OVA is left in the folder");
  } finally {
    sshd.stop();
    pve.stop();
    fs.rmSync(dirs.root, { recursive: true, force: true });
  }
});

// The AWS EC2 journey in the real window, against moto (see lib/moto.mjs for how it differs from
// AWS): add a connection with an access key, two regions and the endpoint pointed at moto → it is
// tested on save and saved without a question → the Inventory's tree has a node per region with
// its VPC and zone, the table lists both regions' instances with their sizes and volume types, each
// saying it cannot be exported yet → the connection's test passes, counting what it found.
//
// Export is not in this version (issue 14's next step): this spec is the browsing half.
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import {
  byTestId, clickFresh, closeDialogs, connectionRow, keyringClear, keyringLookup, listConnections, makeTestDirs, openSection,
  submitConnectionForm, withApp,
} from "../lib/app.mjs";
import { startMoto } from "../lib/moto.mjs";

test("add AWS (moto) → tested on save → browse two regions → instances with sizes, not exportable yet", async () => {
  keyringClear();
  const dirs = makeTestDirs("aws");
  const moto = await startMoto();
  try {
    const web = moto.run("us-east-1", "web01", "t3.large");
    const app = moto.run("eu-west-1", "app01", "t3.micro");

    await withApp("aws-browse", dirs, async ({ browser }) => {
      await submitConnectionForm(browser, {
        kind: "aws",
        name: "moto",
        endpoint: moto.endpoint,
        username: "AKIAE2ETESTKEY",
        secret: "e2e-aws-secret",
        options: { regions: "us-east-1, eu-west-1" },
        answerReview: false,
      });
      // Saved without a question: the test on save passed.
      await connectionRow(browser, "moto").waitForDisplayed({
        timeout: 30000,
        timeoutMsg: "the connection was not saved (a failed test on save asks first)",
      });
      assert.equal(await byTestId(browser, "connection-save-review").isExisting(), false, "no review was needed");
      await closeDialogs(browser);
      const [saved] = listConnections(dirs.dataDir);
      assert.equal(saved.kind, "aws");
      assert.equal(saved.options.regions, "us-east-1, eu-west-1");
      assert.equal(keyringLookup(saved.id), "e2e-aws-secret", "the secret access key is in the keyring");
      assert.ok(!JSON.stringify(saved).includes("e2e-aws-secret"), "and not in the connection's record");

      await openSection(browser, "inventory");
      const row = (id) => browser.$(`[data-testid="vm-row-${id}"]`);
      await row(web).waitForDisplayed({ timeout: 30000, timeoutMsg: "web01 (us-east-1) never appeared" });
      await row(app).waitForDisplayed({ timeout: 10000, timeoutMsg: "app01 (eu-west-1) never appeared" });
      const webText = await row(web).getProperty("textContent");
      assert.match(webText, /web01/);
      assert.match(webText, /8\.0 GiB/, "t3.large's memory and the 8 GiB root volume");
      assert.match(webText, /gp2/, "the volume type in the Storage column");
      assert.match(webText, /not exportable/i);

      // The tree: a node per region, with its VPC and zone beneath.
      const nodeKeys = await browser.execute(() =>
        [...document.querySelectorAll('[data-testid="inventory-tree-node"]')].map((n) => n.getAttribute("data-node-key")),
      );
      assert.ok(nodeKeys.includes("/us-east-1") && nodeKeys.includes("/eu-west-1"), nodeKeys.join(", "));

      // The connection's test counts what it found.
      await openSection(browser, "connections");
      await clickFresh(browser, '[data-testid="connection-row"][data-connection-name="moto"] [data-testid="connection-test"]');
      const result = byTestId(browser, "connection-test-result");
      await result.waitForDisplayed({ timeout: 30000, timeoutMsg: "the test did not finish" });
      assert.equal(await result.getAttribute("data-ok"), "true", await result.getText());
      assert.match(await result.getText(), /2 instance\(s\) in 2 region\(s\)/);
      await closeDialogs(browser);
    });
    assert.ok(fs.existsSync(dirs.dataDir));
  } finally {
    moto.stop();
    fs.rmSync(dirs.root, { recursive: true, force: true });
  }
});

// (b) A connection added in the UI keeps its password in the OS keyring and nowhere else; it survives
// a restart; removing it removes the keyring entry.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import {
  addConnectionViaUi, clickSettled, connectionRow, dataFiles, filesContaining, keyringClear, keyringLookup,
  listConnections, makeTestDirs, openSection, uniqueSecret, withApp,
} from "../lib/app.mjs";

test("password goes to the keyring only; connection survives a restart; removal clears the keyring", async () => {
  keyringClear();
  const dirs = makeTestDirs("secret");
  const secret = uniqueSecret();
  const conn = {
    kind: "vsphere",
    name: "lab-vcenter",
    endpoint: "https://127.0.0.1:9443/sdk",
    username: "administrator@vsphere.local",
    secret,
  };
  const assertNoLeak = (when) => {
    const { db, logs } = dataFiles(dirs.dataDir);
    assert.ok(db.some((f) => path.basename(f) === "hypersdk.db"), `hypersdk.db exists (${when})`);
    assert.ok(logs.length > 0, `at least one log file in ${dirs.dataDir}/logs (${when})`);
    assert.deepEqual(filesContaining([...db, ...logs], secret), [], `no database or log file contains the password (${when})`);
  };

  let id;
  await withApp("secret-add", dirs, async ({ browser }) => {
    await addConnectionViaUi(browser, conn);
    const listed = listConnections(dirs.dataDir).find((c) => c.name === conn.name);
    assert.ok(listed, "hyperctl sees the new connection");
    id = listed.id;
    assert.equal(listed.has_secret, true);
    assert.ok(!JSON.stringify(listed).includes(secret), "hyperctl output has no password");
    assert.equal(keyringLookup(id), secret, "secret-tool finds the password under connection:<id>");
    assert.ok(!(await browser.getPageSource()).includes(secret), "the page does not hold the password after save");
    assertNoLeak("app running");
  });
  assertNoLeak("app closed");

  await withApp("secret-restart", dirs, async ({ browser }) => {
    await openSection(browser, "connections");
    const row = connectionRow(browser, conn.name);
    await row.waitForDisplayed({ timeout: 10000, timeoutMsg: "connection not listed after restart" });

    await row.$('[data-testid="connection-remove"]').click();
    await clickSettled(browser, '[data-testid="confirm-remove"]');
    await row.waitForDisplayed({ reverse: true, timeout: 10000, timeoutMsg: "row still shown after remove" });
    assert.equal(keyringLookup(id), null, "keyring entry removed with the connection");
    assert.equal(listConnections(dirs.dataDir).find((c) => c.name === conn.name), undefined, "gone from the database");
  });
  assertNoLeak("after removal");
  fs.rmSync(dirs.root, { recursive: true, force: true });
});

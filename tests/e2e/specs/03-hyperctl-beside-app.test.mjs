// (c) hyperctl and the open app share one database: each sees what the other added.
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import {
  addConnectionViaCli, addConnectionViaUi, keyringClear, keyringLookup, listConnections, makeTestDirs,
  uniqueSecret, waitForRowAfterNavigation, withApp,
} from "../lib/app.mjs";

test("hyperctl beside the open app sees UI connections, and the UI sees hyperctl's", async () => {
  keyringClear();
  const dirs = makeTestDirs("hyperctl");
  const uiConn = { kind: "vsphere", name: "from-ui", endpoint: "https://127.0.0.1:9443/sdk", username: "ui-user", secret: uniqueSecret() };
  const cliConn = { kind: "vsphere", name: "from-cli", endpoint: "https://127.0.0.1:9444/sdk", username: "cli-user", secret: uniqueSecret() };

  await withApp("hyperctl", dirs, async ({ browser }) => {
    await addConnectionViaUi(browser, uiConn);
    const seen = listConnections(dirs.dataDir).find((c) => c.name === uiConn.name);
    assert.ok(seen, "hyperctl lists the connection added in the UI while the app is open");
    assert.equal(seen.kind, "vsphere");
    assert.equal(seen.endpoint, uiConn.endpoint);
    assert.equal(seen.username, uiConn.username);
    assert.equal(seen.has_secret, true);
    for (const key of ["id", "kind", "name", "endpoint", "username", "options", "has_secret", "created_at", "updated_at"]) {
      assert.ok(key in seen, `JSON has ${key}`);
    }

    addConnectionViaCli(dirs.dataDir, cliConn);
    const cli = listConnections(dirs.dataDir).find((c) => c.name === cliConn.name);
    assert.ok(cli, "hyperctl lists its own connection");
    assert.equal(keyringLookup(cli.id), cliConn.secret, "hyperctl stored its secret in the keyring");
    await waitForRowAfterNavigation(browser, cliConn.name);
  });
  fs.rmSync(dirs.root, { recursive: true, force: true });
});

// (d) Bad input through the UI gets a clear error and loses nothing.
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import {
  addConnectionViaUi, byTestId, keyringClear, keyringCount, keyringLookup, listConnections, makeTestDirs,
  submitConnectionForm, uniqueSecret, waitForError, withApp,
} from "../lib/app.mjs";

test("malformed endpoints and a duplicate name show an error and save nothing", async (t) => {
  keyringClear();
  const dirs = makeTestDirs("bad-input");
  await withApp("bad-input", dirs, async ({ browser }) => {
    const bad = [
      ["malformed endpoint", "not a url"],
      ["empty endpoint", ""],
      ["port out of range", "https://127.0.0.1:70000/sdk"],
    ];
    for (const [label, endpoint] of bad) {
      await t.test(label, async () => {
        await browser.refresh();
        const name = `bad-${label.replace(/\W+/g, "-")}`;
        await submitConnectionForm(browser, { name, endpoint, username: "u", secret: uniqueSecret() });
        const msg = await waitForError(browser, "connection-endpoint");
        assert.ok(msg.length > 0, "the error says something");
        assert.equal(listConnections(dirs.dataDir).length, 0, "nothing saved in the database");
        assert.equal(keyringCount(), 0, "nothing saved in the keyring");
      });
    }

    await t.test("a server that cannot be reached is tested on save, and saving it asks first", async () => {
      await browser.refresh();
      const c = { name: "unreachable", endpoint: "https://127.0.0.1:9/sdk", username: "u", secret: uniqueSecret(), answerReview: false };
      await submitConnectionForm(browser, c);
      const review = byTestId(browser, "connection-save-review");
      await review.waitForDisplayed({ timeout: 30000, timeoutMsg: "saving an unreachable connection did not ask" });
      const failed = await review.$('[data-testid="connection-test-check"][data-ok="false"][data-skipped="false"]');
      assert.match(await failed.getText(), /Endpoint reachable/);
      assert.equal(listConnections(dirs.dataDir).length, 0, "nothing saved while it asks");
      assert.equal(keyringCount(), 0, "nothing in the keyring while it asks");
      // Back to the form, as typed; then saved on purpose.
      await byTestId(browser, "connection-review-back").click();
      assert.equal(await byTestId(browser, "connection-name").getValue(), c.name);
      await byTestId(browser, "connection-save").click();
      await byTestId(browser, "connection-save-anyway").waitForDisplayed({ timeout: 30000 });
      await byTestId(browser, "connection-save-anyway").click();
      await browser.waitUntil(() => listConnections(dirs.dataDir).some((x) => x.name === c.name), {
        timeout: 10000,
        timeoutMsg: "Save anyway did not save",
      });
      assert.equal(keyringCount(), 1, "its secret is in the keyring");
    });

    await t.test("duplicate name", async () => {
      await browser.refresh();
      const first = { name: "dup", endpoint: "https://127.0.0.1:9443/sdk", username: "first", secret: uniqueSecret() };
      await addConnectionViaUi(browser, first);
      const original = listConnections(dirs.dataDir).find((c) => c.name === "dup");
      assert.ok(original);

      await browser.refresh();
      await submitConnectionForm(browser, { name: "dup", endpoint: "https://127.0.0.1:9999/sdk", username: "second", secret: uniqueSecret() });
      const msg = await waitForError(browser, "connection-name");
      assert.match(msg, /dup|exists|already|unique|taken/i, `the error is about the name: ${msg}`);

      const dups = listConnections(dirs.dataDir).filter((c) => c.name === "dup");
      assert.equal(dups.length, 1, "still exactly one connection named dup");
      assert.equal(dups[0].endpoint, first.endpoint, "the original is unchanged");
      assert.equal(dups[0].username, first.username, "the original is unchanged");
      assert.equal(keyringLookup(original.id), first.secret, "the original's password is unchanged");
      assert.equal(keyringCount(), 2, "no extra keyring item (this one's and the unreachable one's)");
    });
  });
  fs.rmSync(dirs.root, { recursive: true, force: true });
});

// (e) A corrupt database file gives an error screen naming the file, and is left untouched.
import assert from "node:assert/strict";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { byTestId, makeTestDirs, sha256File, withApp } from "../lib/app.mjs";

test("corrupt database: startup-error names the file and the file is unchanged", async () => {
  const dirs = makeTestDirs("corrupt-db");
  const db = path.join(dirs.dataDir, "hypersdk.db");
  const garbage = Buffer.alloc(16384);
  for (let i = 0; i < garbage.length; i++) garbage[i] = (i * 131 + 7) & 0xff; // not a SQLite header
  garbage.write("this is not a database\n", 0);
  fs.writeFileSync(db, garbage);
  const before = sha256File(db);

  await withApp("corrupt-db", dirs, async ({ browser }) => {
    const screen = byTestId(browser, "startup-error");
    await screen.waitForDisplayed({ timeout: 20000, timeoutMsg: "no startup-error screen for a corrupt database" });
    const text = await screen.getText();
    assert.ok(text.includes(db), `startup-error names ${db}; it says: ${text}`);
  }, { waitForNav: false });

  assert.equal(sha256File(db), before, "the corrupt file's bytes are unchanged");
  assert.equal(fs.statSync(db).size, garbage.length);
  fs.rmSync(dirs.root, { recursive: true, force: true });
});

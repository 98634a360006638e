// (a) The app starts and every section of the frame opens.
import assert from "node:assert/strict";
import fs from "node:fs";
import { test } from "node:test";
import { SECTIONS, byTestId, makeTestDirs, openSection, withApp } from "../lib/app.mjs";

test("app starts and all six sections open", async (t) => {
  const dirs = makeTestDirs("sections");
  t.after(() => fs.rmSync(dirs.root, { recursive: true, force: true }));
  await withApp("sections", dirs, async ({ browser }) => {
    for (const section of SECTIONS) {
      await openSection(browser, section);
      assert.ok(await byTestId(browser, `page-${section}`).isDisplayed(), `page-${section} shown`);
    }
    // And back to the first one: navigation is not one-way.
    await openSection(browser, SECTIONS[0]);
  });
});

// (m) Closing the window keeps the app in the tray and releases the web view: its WebKit web
// process ends (the memory a page holds must not stay for the days the app lives in the tray).
// A second launch with `--section jobs` opens a new window, on the Jobs page.
//
// Under Xvfb no window manager runs, so the close button is `bench/lib/close_window.py`: it sends
// the window WM_DELETE_WINDOW, exactly what a window manager's close button sends.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { APP, ROOT, appEnv, appPid, byTestId, makeTestDirs, openSection, pidsWithDataDir, withApp } from "../lib/app.mjs";

const comm = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim();
  } catch {
    return "";
  }
};
const webProcesses = (dataDir) => pidsWithDataDir(dataDir).filter((p) => comm(p) === "WebKitWebProces");

async function until(what, f, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  while (!f()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

test("closing the window ends its web process, the app stays; a second launch reopens it on a section", async () => {
  const dirs = makeTestDirs("close-to-tray");
  await withApp("close-to-tray", dirs, async ({ browser }) => {
    await openSection(browser, "dashboard");
    const app = appPid(dirs.dataDir);
    assert.ok(app, "the app is running");
    assert.equal(webProcesses(dirs.dataDir).length, 1, "one web process while the window is open");

    const closed = spawnSync("/usr/bin/python3", [path.join(ROOT, "bench/lib/close_window.py"), "HyperSDK Desktop"], { encoding: "utf8" });
    assert.equal(closed.status, 0, `close_window.py: ${closed.stderr}`);
    await until("the web process to end", () => webProcesses(dirs.dataDir).length === 0);
    assert.equal(appPid(dirs.dataDir), app, "the app keeps running in the tray");

    const second = spawnSync(APP, ["--section", "jobs"], { env: appEnv(dirs), stdio: "ignore", timeout: 10000 });
    assert.equal(second.status, 0, "the second launch hands over and exits");
    await until("a new web process", () => webProcesses(dirs.dataDir).length === 1);
    assert.equal(appPid(dirs.dataDir), app, "the same app shows the window");

    // The new window is a new browsing context of the same automation session.
    let handles = [];
    await browser.waitUntil(async () => (handles = await browser.getWindowHandles()).length > 0, {
      timeout: 15000,
      timeoutMsg: "WebDriver never saw the new window",
    });
    await browser.switchToWindow(handles[handles.length - 1]);
    await byTestId(browser, "page-jobs").waitForDisplayed({ timeout: 15000, timeoutMsg: "the new window did not open on Jobs" });
    await openSection(browser, "connections");
  });
  fs.rmSync(dirs.root, { recursive: true, force: true });
});

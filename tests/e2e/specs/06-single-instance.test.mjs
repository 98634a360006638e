// (f) A second launch exits quickly and the first window keeps working.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { APP, appEnv, appPid, byTestId, makeTestDirs, openSection, withApp } from "../lib/app.mjs";

test("second instance exits within a few seconds; the first still responds", async (t) => {
  const dirs = makeTestDirs("single-instance");
  await withApp("single-instance", dirs, async ({ browser }) => {
    const first = appPid(dirs.dataDir);
    assert.ok(first, "first instance found");

    const t0 = Date.now();
    const second = spawn(APP, [], { env: appEnv(dirs), stdio: "ignore" });
    const exited = new Promise((resolve) => second.on("exit", (code, signal) => resolve({ code, signal })));
    const result = await Promise.race([exited, sleep(8000, null, { ref: false })]);
    if (!result) second.kill("SIGKILL");
    assert.ok(result, "second instance still running after 8 s");
    t.diagnostic(`second instance exited after ${Date.now() - t0} ms with code ${result.code}`);
    assert.equal(result.code, 0, `second instance exit: ${JSON.stringify(result)}`);

    assert.equal(appPid(dirs.dataDir), first, "first instance still the one running");

    // The hand-over happens before the second launch opens any state: pointed at another data
    // dir, it exits without creating a database or a log there.
    const other = makeTestDirs("single-instance-second");
    const r = spawnSync(APP, [], { env: appEnv(other), stdio: "ignore", timeout: 10000 });
    assert.equal(r.status, 0, `second launch with another data dir: ${JSON.stringify({ status: r.status, signal: r.signal })}`);
    assert.deepEqual(fs.readdirSync(other.dataDir), [], "the second launch created nothing");
    fs.rmSync(other.root, { recursive: true, force: true });

    await openSection(browser, "jobs");
    await openSection(browser, "connections");
    assert.ok(await byTestId(browser, "page-connections").isDisplayed());
  });
  fs.rmSync(dirs.root, { recursive: true, force: true });
});

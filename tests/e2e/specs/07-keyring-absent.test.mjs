// Bad input: no Secret Service on the session bus. Saving a connection with a password must fail
// with a clear message naming what is missing, and save nothing (no plaintext fallback).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { listConnections, makeTestDirs, submitConnectionForm, uniqueSecret, waitForError, withApp } from "../lib/app.mjs";

/** A private session bus with no service directories: nothing can be auto-started on it. */
async function bareBus(dir) {
  const conf = path.join(dir, "bare-bus.conf");
  fs.writeFileSync(conf, `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${path.join(dir, "bare-bus.sock")}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>
`);
  const daemon = spawn("dbus-daemon", ["--config-file", conf, "--nofork", "--print-address"], { stdio: ["ignore", "pipe", "ignore"] });
  const address = await new Promise((resolve, reject) => {
    let out = "";
    daemon.stdout.on("data", (d) => {
      out += d;
      if (out.includes("\n")) resolve(out.trim());
    });
    daemon.on("exit", (code) => reject(new Error(`dbus-daemon exited ${code}`)));
  });
  return { address, stop: () => daemon.kill("SIGTERM") };
}

test("no Secret Service: saving a connection says what is missing and saves nothing", async () => {
  const dirs = makeTestDirs("no-keyring");
  const bus = await bareBus(dirs.root);
  try {
    const env = { DBUS_SESSION_BUS_ADDRESS: bus.address };
    await withApp("no-keyring", dirs, async ({ browser }) => {
      await submitConnectionForm(browser, {
        name: "no-keyring", endpoint: "https://127.0.0.1:9443/sdk", username: "u", secret: uniqueSecret(),
      });
      const msg = await waitForError(browser, "connection-secret", 20000);
      assert.match(msg, /keyring|secret service|secret-service/i, `the error names the missing keyring: ${msg}`);
    }, { extraEnv: env });
    const r = listConnections(dirs.dataDir);
    assert.equal(r.filter((c) => c.name === "no-keyring").length, 0, "nothing saved in the database");
  } finally {
    bus.stop();
  }
  fs.rmSync(dirs.root, { recursive: true, force: true });
});

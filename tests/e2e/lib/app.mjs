// Helpers for end-to-end tests of the real HyperSDK Desktop window.
//
// The app is started by tauri-driver (which drives /usr/bin/WebKitWebDriver), one tauri-driver per
// app session, so that the app inherits a per-test environment (HYPERSDK_DATA_DIR, XDG dirs).
// Everything listens on 127.0.0.1 only. Run through tests/e2e/run.sh (Xvfb + D-Bus + keyring).
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { remote } from "webdriverio";

export { remote }; // for bench/, which has no node_modules of its own

export const E2E_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const ROOT = path.resolve(E2E_DIR, "../..");
export const APP = process.env.HYPERSDK_E2E_APP ?? path.join(ROOT, "target/debug/hypersdk-desktop");
export const HYPERCTL = process.env.HYPERSDK_E2E_HYPERCTL ?? path.join(ROOT, "target/debug/hyperctl");
export const TAURI_DRIVER = process.env.HYPERSDK_E2E_TAURI_DRIVER ?? path.join(ROOT, ".tools/bin/tauri-driver");
// Extra arguments for the app (space-separated), e.g. "--automation" when pointing APP at MiniBrowser.
export const APP_ARGS = (process.env.HYPERSDK_E2E_APP_ARGS ?? "").split(" ").filter(Boolean);
export const ARTIFACTS = path.join(E2E_DIR, ".artifacts");
export const KEYRING_SERVICE = "hypersdk-desktop";
export const SECTIONS = ["inventory", "dashboard", "jobs", "schedules", "connections", "settings"];

const DEBUG = !!process.env.HYPERSDK_E2E_DEBUG;

/** A fresh, isolated directory tree for one test: { root, dataDir }. */
export function makeTestDirs(name) {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `hypersdk-e2e-${name}-`));
  const dataDir = path.join(root, "data");
  fs.mkdirSync(dataDir);
  return { root, dataDir };
}

export function uniqueSecret(prefix = "e2e-pw") {
  return `${prefix}-${randomBytes(9).toString("hex")}`;
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForStatus(port, child, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  let lastErr;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`tauri-driver exited early with code ${child.exitCode}`);
    try {
      const res = await fetch(`http://127.0.0.1:${port}/status`);
      if (res.ok) return;
      lastErr = new Error(`status ${res.status}`);
    } catch (err) {
      lastErr = err;
    }
    await sleep(100);
  }
  throw new Error(`tauri-driver on 127.0.0.1:${port} not ready after ${timeoutMs} ms: ${lastErr}`);
}

/** Environment for the app (and tauri-driver, which passes it on): isolated data + XDG dirs. */
export function appEnv(dirs, extra = {}) {
  const xdg = path.join(dirs.root, "xdg");
  for (const d of ["config", "cache", "share"]) fs.mkdirSync(path.join(xdg, d), { recursive: true });
  return {
    ...process.env,
    HYPERSDK_DATA_DIR: dirs.dataDir,
    XDG_CONFIG_HOME: path.join(xdg, "config"),
    XDG_CACHE_HOME: path.join(xdg, "cache"),
    // Secret Service is reached over D-Bus, so the keyring does not depend on XDG_DATA_HOME.
    XDG_DATA_HOME: path.join(xdg, "share"),
    RUST_BACKTRACE: "1",
    ...extra,
  };
}

/** PIDs of every process whose environment carries this test's HYPERSDK_DATA_DIR. */
export function pidsWithDataDir(dataDir) {
  const needle = Buffer.from(`HYPERSDK_DATA_DIR=${dataDir}\0`);
  const pids = [];
  for (const ent of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(ent) || Number(ent) === process.pid) continue;
    try {
      const env = fs.readFileSync(`/proc/${ent}/environ`);
      if (env.includes(needle)) pids.push(Number(ent));
    } catch {
      /* gone or not ours */
    }
  }
  return pids;
}

function isAlive(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z /.test(stat); // zombies count as gone
  } catch {
    return false;
  }
}

/** The app's main process (exe = APP) among this test's processes, or undefined. */
export function appPid(dataDir) {
  const real = fs.realpathSync(APP);
  return pidsWithDataDir(dataDir).find((pid) => {
    try {
      return fs.readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, "") === real;
    } catch {
      return false;
    }
  });
}

/** Ends the processes that carry this test's data dir (all started by this test), and waits. */
export async function killTestProcesses(dataDir, timeoutMs = 5000) {
  let pids = pidsWithDataDir(dataDir).filter(isAlive);
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {}
  }
  const deadline = Date.now() + timeoutMs;
  while (pids.length && Date.now() < deadline) {
    await sleep(100);
    pids = pids.filter(isAlive);
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

/**
 * Starts tauri-driver with the test's environment and opens a WebDriver session, which launches
 * the app. Returns { browser, dataDir, close() }.
 */
export async function startApp(dirs, { extraEnv = {}, waitForNav = true, artifactName } = {}) {
  const port = await freePort();
  const nativePort = await freePort();
  const env = appEnv(dirs, extraEnv);
  const driverLog = fs.openSync(path.join(dirs.root, `tauri-driver-${port}.log`), "a");
  const driver = spawn(TAURI_DRIVER, ["--port", String(port), "--native-port", String(nativePort)], {
    env,
    detached: true, // own process group: close() ends it and its children together
    stdio: ["ignore", DEBUG ? "inherit" : driverLog, DEBUG ? "inherit" : driverLog],
  });
  fs.closeSync(driverLog);
  let browser;
  try {
    await waitForStatus(port, driver);
    browser = await remote({
      hostname: "127.0.0.1",
      port,
      logLevel: DEBUG ? "info" : "silent", // failures carry their own message; noise otherwise
      connectionRetryCount: 0,
      connectionRetryTimeout: 60000,
      waitforTimeout: 10000,
      capabilities: {
        "tauri:options": { application: APP, args: APP_ARGS },
        "wdio:enforceWebDriverClassic": true,
      },
    });
    if (waitForNav) await byTestId(browser, "nav-inventory").waitForDisplayed({ timeout: 20000 });
  } catch (err) {
    await saveArtifacts(`${artifactName ?? path.basename(dirs.root)}-start`, browser ? { browser } : null, dirs).catch(() => {});
    await stopDriver(driver, dirs.dataDir);
    throw err;
  }
  let closed = false;
  return {
    browser,
    dataDir: dirs.dataDir,
    driverPid: driver.pid,
    async close() {
      if (closed) return;
      closed = true;
      try {
        await Promise.race([browser.deleteSession(), sleep(5000, undefined, { ref: false })]);
      } catch {}
      await stopDriver(driver, dirs.dataDir);
    },
  };
}

async function stopDriver(driver, dataDir) {
  try {
    process.kill(-driver.pid, "SIGTERM");
  } catch {}
  await killTestProcesses(dataDir);
}

/**
 * Runs body(app) with a started app; on failure saves a screenshot, the page source and the app's
 * logs to tests/e2e/.artifacts/<name>/; always closes the app.
 */
export async function withApp(name, dirs, body, opts = {}) {
  const app = await startApp(dirs, { artifactName: name, ...opts });
  try {
    return await body(app);
  } catch (err) {
    await saveArtifacts(name, app, dirs).catch(() => {});
    throw err;
  } finally {
    await app.close();
  }
}

export async function saveArtifacts(name, app, dirs) {
  const dir = path.join(ARTIFACTS, name.replace(/[^\w.-]+/g, "_"));
  fs.mkdirSync(dir, { recursive: true });
  if (app) {
    try {
      await app.browser.saveScreenshot(path.join(dir, "screenshot.png"));
    } catch {}
    try {
      fs.writeFileSync(path.join(dir, "page.html"), await app.browser.getPageSource());
    } catch {}
  }
  const logs = path.join(dirs.dataDir, "logs");
  if (fs.existsSync(logs)) fs.cpSync(logs, path.join(dir, "logs"), { recursive: true });
  for (const f of fs.readdirSync(dirs.root)) {
    if (f.startsWith("tauri-driver-")) fs.copyFileSync(path.join(dirs.root, f), path.join(dir, f));
  }
}

// ---------------------------------------------------------------- UI helpers

export function byTestId(browser, id) {
  return browser.$(`[data-testid="${id}"]`);
}

/**
 * Clicks what the selector names, finding it again when WebKitWebDriver calls it stale: a re-render
 * that lands between the driver's find and its handle ("Stale element found when trying to create
 * the node handle") is a race in the driver, not a fault of the page, so only that error is retried.
 */
export async function clickFresh(browser, selector, timeout = 10000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      await browser.$(selector).click();
      return;
    } catch (e) {
      if (!/stale/i.test(String(e?.message ?? e)) || Date.now() > deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/**
 * Waits until what the selector names is displayed, finding it afresh on every poll: the same driver
 * race as in clickFresh can strike the find itself when the page re-renders (a list refreshed by a
 * job event), and a stale find only means "look again".
 */
export async function waitForDisplayedFresh(browser, selector, { timeout = 10000, timeoutMsg } = {}) {
  await browser.waitUntil(
    async () => {
      try {
        return await browser.$(selector).isDisplayed();
      } catch (e) {
        if (/stale/i.test(String(e?.message ?? e))) return false;
        throw e;
      }
    },
    { timeout, interval: 200, timeoutMsg: timeoutMsg ?? `${selector} was not displayed` },
  );
  return browser.$(selector);
}

/** Reads an attribute of what the selector names, finding it afresh when the driver calls it stale. */
export async function attributeFresh(browser, selector, name, timeout = 10000) {
  const deadline = Date.now() + timeout;
  for (;;) {
    try {
      return await browser.$(selector).getAttribute(name);
    } catch (e) {
      if (!/stale/i.test(String(e?.message ?? e)) || Date.now() > deadline) throw e;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

/**
 * Clicks an element of a dialog once it has stopped moving. Mantine's modals scale in over 200 ms,
 * and WebDriver clicks the centre it measured a moment earlier: a click during the transition can
 * land beside the button and do nothing, which is what made removal flaky in CI.
 */
export async function clickSettled(browser, selector, timeout = 10000) {
  const el = browser.$(selector);
  await el.waitForDisplayed({ timeout });
  let last = null;
  await browser.waitUntil(
    async () => {
      const r = { ...(await el.getLocation()), ...(await el.getSize()) };
      const key = `${r.x},${r.y},${r.width},${r.height}`;
      const still = key === last;
      last = key;
      return still;
    },
    { timeout, interval: 120, timeoutMsg: `${selector} kept moving` },
  );
  await clickFresh(browser, selector, timeout);
}

export async function openSection(browser, section) {
  await byTestId(browser, `nav-${section}`).click();
  await byTestId(browser, `page-${section}`).waitForDisplayed({ timeout: 10000 });
}

export function connectionRow(browser, name) {
  return browser.$(`[data-testid="connection-row"][data-connection-name="${name}"]`);
}

/** Types into an input and checks what it holds (React-controlled inputs included). */
export async function fill(browser, testId, value) {
  const el = byTestId(browser, testId);
  await el.waitForDisplayed();
  await el.click();
  await el.clearValue();
  // WebKitWebDriver drops a "\n" in typed text; the Enter key is how a newline is typed.
  if (value !== "") await el.setValue(value.replaceAll("\n", "\uE007"));
  const got = await el.getValue();
  if (got !== value) throw new Error(`input ${testId} holds ${JSON.stringify(got)}, wanted ${JSON.stringify(value)}`);
}

/** Picks a value of the native <select data-testid="connection-kind">. */
export async function selectKind(browser, kind) {
  const el = byTestId(browser, "connection-kind");
  await el.waitForDisplayed();
  try {
    await el.selectByAttribute("value", kind);
  } catch {}
  if ((await el.getValue()) !== kind) {
    // Fallback: set it the way React notices (native setter + change event).
    await browser.execute(
      (sel, v) => {
        const s = document.querySelector(sel);
        Object.getOwnPropertyDescriptor(HTMLSelectElement.prototype, "value").set.call(s, v);
        s.dispatchEvent(new Event("input", { bubbles: true }));
        s.dispatchEvent(new Event("change", { bubbles: true }));
      },
      '[data-testid="connection-kind"]',
      kind,
    );
  }
  const got = await el.getValue();
  if (got !== kind) throw new Error(`connection-kind is ${got}, wanted ${kind}`);
}

/** Opens the add form on the Connections page, fills it and presses save (no waiting after). */
export async function submitConnectionForm(browser, c) {
  await openSection(browser, "connections");
  await byTestId(browser, "connection-add").click();
  await selectKind(browser, c.kind ?? "vsphere");
  await fill(browser, "connection-name", c.name);
  await fill(browser, "connection-endpoint", c.endpoint);
  await fill(browser, "connection-username", c.username);
  await fill(browser, "connection-secret", c.secret);
  // The kind's own fields: plain options, then the ones kept in the keyring.
  for (const [key, value] of Object.entries(c.options ?? {})) await fill(browser, `connection-option-${key}`, value);
  for (const [key, value] of Object.entries(c.secretOptions ?? {})) await fill(browser, `connection-secret-option-${key}`, value);
  await byTestId(browser, "connection-save").click();
  // Saving tests the form first. A test that fails (an untrusted certificate on first contact,
  // a server the test cannot reach) asks before saving: these helpers save anyway, as the specs
  // about those problems pin or check them afterwards. Spec 04 answers the question itself.
  if (c.answerReview === false) return;
  // Done when the form closed (saved), asks (the review), or shows an error (bad input).
  await browser.waitUntil(
    async () =>
      browser.execute(
        () =>
          !!document.querySelector('[data-testid="connection-save-anyway"]') ||
          !document.querySelector('[data-testid="connection-save"]') ||
          !!document.querySelector('.mantine-InputWrapper-error, .mantine-Modal-content [data-testid="error-message"]'),
      ),
    { timeout: 30000, timeoutMsg: "saving the connection neither finished, asked nor failed" },
  );
  const anyway = byTestId(browser, "connection-save-anyway");
  if (await anyway.isDisplayed().catch(() => false)) await anyway.click();
}

/** Adds a connection through the UI and waits for its row. */
export async function addConnectionViaUi(browser, c) {
  await submitConnectionForm(browser, c);
  await connectionRow(browser, c.name).waitForDisplayed({
    timeout: 10000,
    timeoutMsg: `row for connection ${c.name} did not appear after save`,
  });
  // The form closes after a successful save; wait for it (and its closing animation's overlay).
  await byTestId(browser, "connection-save")
    .waitForDisplayed({ reverse: true, timeout: 5000 })
    .catch(() => {});
  await browser.waitUntil(
    async () => (await browser.execute(() => !document.querySelector(".mantine-Modal-overlay, [data-modal-overlay]"))),
    { timeout: 3000 },
  ).catch(() => {});
}

/** Presses Escape until no dialog is open. */
export async function closeDialogs(browser) {
  await browser.waitUntil(
    async () => {
      const open = await browser.execute(() => !!document.querySelector(".mantine-Modal-overlay"));
      if (open) await browser.keys("Escape");
      return !open;
    },
    { timeout: 10000, interval: 300, timeoutMsg: "a dialog stayed open" },
  );
}

/**
 * Tests a connection from its row, expects a fingerprint to pin (a certificate or an SSH host key),
 * pins it through the pin dialog and closes the dialogs. Returns the fingerprint text shown
 * ("SHA-256 …") and whether the dialog spoke of an SSH host key, for the caller to check.
 */
export async function pinFingerprintFromTest(browser, connectionName) {
  await connectionRow(browser, connectionName).$('[data-testid="connection-test"]').click();
  const fp = byTestId(browser, "connection-test-fingerprint");
  await fp.waitForDisplayed({ timeout: 30000, timeoutMsg: "no fingerprint shown for an untrusted certificate or host key" });
  const shown = await fp.getText();
  await byTestId(browser, "pin-offer").click();
  await byTestId(browser, "pin-certificate").waitForDisplayed();
  const hostKey = await byTestId(browser, "pin-host-key").isExisting();
  await byTestId(browser, "pin-certificate").click();
  await byTestId(browser, "pin-done").waitForDisplayed({ timeout: 30000, timeoutMsg: "pinning did not finish" });
  // The re-test has finished when Done is enabled.
  await browser.waitUntil(async () => byTestId(browser, "pin-done").isEnabled(), { timeout: 30000, timeoutMsg: "the re-test did not finish" });
  await byTestId(browser, "pin-done").click();
  await closeDialogs(browser);
  return { shown, hostKey };
}

/**
 * On the Jobs page the export just started opens on: waits for its row to finish, expects it
 * succeeded and showing "Verified". Returns the job's id.
 */
export async function expectJobVerified(browser, timeoutMs = 120000) {
  await byTestId(browser, "page-jobs").waitForDisplayed({ timeout: 10000 });
  const row = browser.$('[data-testid="job-row"]');
  await row.waitForDisplayed({ timeout: 10000 });
  await browser.waitUntil(
    async () => ["succeeded", "failed", "cancelled"].includes(await row.getAttribute("data-job-state")),
    { timeout: timeoutMs, timeoutMsg: `the export did not finish within ${timeoutMs / 1000} s` },
  );
  const state = await row.getAttribute("data-job-state");
  if (state !== "succeeded") throw new Error(`the export ended ${state}: ${await row.getText()}`);
  const jobId = await row.getAttribute("data-job-id");
  await byTestId(browser, `job-verified-${jobId}`).waitForDisplayed({
    timeout: 10000,
    timeoutMsg: "the finished job does not show Verified",
  });
  return jobId;
}

/** Waits until some element matching the selector is displayed; returns its text. */
export async function waitForAnyDisplayed(browser, selector, timeout = 10000) {
  let text = "";
  await browser.waitUntil(
    async () => {
      for (const el of await browser.$$(selector)) {
        if (await el.isDisplayed()) {
          text = await el.getText();
          return true;
        }
      }
      return false;
    },
    { timeout, timeoutMsg: `no ${selector} displayed within ${timeout} ms` },
  );
  return text;
}

/**
 * Waits until the UI shows an error and returns its text: either an alert
 * ([data-testid="error-message"]) or, for the given form field, the field marked invalid
 * (aria-invalid="true") with its error text (the aria-describedby element whose id says "error").
 */
export async function waitForError(browser, fieldTestId, timeout = 10000) {
  let text = null;
  await browser.waitUntil(
    async () => {
      text = await browser.execute((fieldSel) => {
        const shown = (e) => e && e.getClientRects().length > 0 && e.textContent.trim() !== "";
        for (const e of document.querySelectorAll('[data-testid="error-message"]')) {
          if (shown(e)) return e.textContent.trim();
        }
        const f = fieldSel ? document.querySelector(fieldSel) : null;
        if (f && f.getAttribute("aria-invalid") === "true") {
          const errs = (f.getAttribute("aria-describedby") ?? "")
            .split(/\s+/)
            .filter((id) => /error/i.test(id))
            .map((id) => document.getElementById(id))
            .filter(shown);
          if (errs.length) return errs.map((e) => e.textContent.trim()).join(" ");
        }
        return null;
      }, fieldTestId ? `[data-testid="${fieldTestId}"]` : null);
      return text !== null;
    },
    { timeout, timeoutMsg: `no error shown (error-message alert or invalid ${fieldTestId ?? "field"}) within ${timeout} ms` },
  );
  return text;
}

/** Navigates away and back until the row appears (lists refresh on navigation). */
export async function waitForRowAfterNavigation(browser, name, timeout = 15000) {
  await browser.waitUntil(
    async () => {
      await openSection(browser, "inventory");
      await openSection(browser, "connections");
      return connectionRow(browser, name).isDisplayed();
    },
    { timeout, interval: 500, timeoutMsg: `row ${name} not shown after navigating` },
  );
}

// ---------------------------------------------------------------- CLI, keyring and file helpers

export function hyperctl(dataDir, args, { input } = {}) {
  const r = spawnSync(HYPERCTL, args, {
    env: { ...process.env, HYPERSDK_DATA_DIR: dataDir },
    input: input ?? "",
    encoding: "utf8",
    timeout: 30000,
  });
  if (r.error) throw r.error;
  return r;
}

export function listConnections(dataDir) {
  const r = hyperctl(dataDir, ["connection", "list", "--json"]);
  if (r.status !== 0) throw new Error(`hyperctl connection list --json exited ${r.status}: ${r.stderr}`);
  try {
    return JSON.parse(r.stdout);
  } catch (err) {
    throw new Error(`hyperctl connection list --json printed non-JSON (${err.message}): ${r.stdout}`);
  }
}

export function addConnectionViaCli(dataDir, c) {
  const r = hyperctl(
    dataDir,
    ["connection", "add", "--kind", c.kind ?? "vsphere", "--name", c.name, "--endpoint", c.endpoint,
      "--username", c.username, "--password-stdin"],
    { input: c.secret },
  );
  if (r.status !== 0) throw new Error(`hyperctl connection add exited ${r.status}: ${r.stderr}`);
  return r;
}

/** The secret stored for a connection id, or null when there is none. */
export function keyringLookup(connectionId) {
  const r = spawnSync("secret-tool", ["lookup", "service", KEYRING_SERVICE, "username", `connection:${connectionId}`], {
    encoding: "utf8",
    timeout: 15000,
  });
  if (r.error) throw r.error;
  return r.status === 0 && r.stdout !== "" ? r.stdout : null;
}

/** Number of keyring items of this app (all connections). */
export function keyringCount() {
  const r = spawnSync("secret-tool", ["search", "--all", "service", KEYRING_SERVICE], { encoding: "utf8", timeout: 15000 });
  return ((r.stdout ?? "") + (r.stderr ?? "")).split("\n").filter((l) => l.startsWith("[/")).length;
}

/** Removes every keyring item of this app (tests share one throw-away keyring and run one by one). */
export function keyringClear() {
  spawnSync("secret-tool", ["clear", "service", KEYRING_SERVICE], { timeout: 15000 });
}

function walk(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.isFile() ? [p] : [];
  });
}

/** Database files (hypersdk.db, -wal, -shm) and every log file of a data dir. */
export function dataFiles(dataDir) {
  const db = ["hypersdk.db", "hypersdk.db-wal", "hypersdk.db-shm", "hypersdk.db-journal"]
    .map((f) => path.join(dataDir, f))
    .filter((f) => fs.existsSync(f));
  return { db, logs: walk(path.join(dataDir, "logs")) };
}

/** Files whose raw bytes contain the needle (UTF-8, UTF-16LE or base64). */
export function filesContaining(files, needle) {
  const forms = [Buffer.from(needle, "utf8"), Buffer.from(needle, "utf16le"), Buffer.from(Buffer.from(needle).toString("base64"))];
  return files.filter((f) => {
    const bytes = fs.readFileSync(f);
    return forms.some((n) => bytes.includes(n));
  });
}

export function sha256File(file) {
  return createHash("sha256").update(fs.readFileSync(file)).digest("hex");
}

import { describe, expect, it } from "vitest";
import { connection } from "../../test/fixtures";
import { certificateProblemInTest, certificateProblemOf, fingerprintInMessage, formatFingerprint, pinInput } from "./certificate";

const FP = Array.from({ length: 32 }, (_, i) => (i * 7 + 16).toString(16).toUpperCase().padStart(2, "0")).join(":");
const HEX = FP.replace(/:/g, "").toLowerCase();

describe("fingerprints", () => {
  it("formats plain or colon hex as upper-case colon hex", () => {
    expect(formatFingerprint(HEX)).toBe(FP);
    expect(formatFingerprint(FP.toLowerCase())).toBe(FP);
    expect(formatFingerprint("abc")).toBe("abc");
  });

  it("finds the fingerprint quoted in the core's messages", () => {
    expect(
      fingerprintInMessage(
        `the certificate of https://vc/sdk is not trusted (self-signed); its SHA-256 fingerprint is ${FP} — pin it on the connection if you trust this server`,
      ),
    ).toBe(FP);
    expect(
      fingerprintInMessage(
        `the certificate of https://vc/sdk has changed: it does not match the pinned SHA-256 fingerprint; the server presented ${FP}; the connection was refused`,
      ),
    ).toBe(FP);
    expect(fingerprintInMessage(`pin ${HEX}`)).toBe(FP);
    expect(fingerprintInMessage("cannot reach vc: connection refused")).toBeNull();
  });
});

describe("certificateProblemOf", () => {
  it("recognises untrusted and changed certificates only", () => {
    expect(certificateProblemOf({ code: "certificate_untrusted", message: `fingerprint is ${FP}`, retryable: false })).toEqual({
      kind: "untrusted",
      fingerprint: FP,
    });
    expect(certificateProblemOf({ code: "certificate_changed", message: `presented ${FP}`, retryable: false })).toEqual({
      kind: "changed",
      fingerprint: FP,
    });
    expect(certificateProblemOf({ code: "auth_failed", message: FP, retryable: false })).toBeNull();
    expect(certificateProblemOf(null)).toBeNull();
  });
});

describe("certificateProblemInTest", () => {
  const result = (fingerprint: string | null, ok = false) => ({
    ok: false,
    checks: [
      { name: "Reach endpoint", ok: true, detail: "ok", fingerprint: null },
      { name: "TLS certificate", ok, detail: "self-signed certificate", fingerprint },
    ],
  });

  it("offers a failing check's fingerprint; changed when a pin is already set", () => {
    expect(certificateProblemInTest(result(FP), connection)).toEqual({ kind: "untrusted", fingerprint: FP });
    expect(certificateProblemInTest(result(HEX), { tls_fingerprint: "0f".repeat(32) })).toEqual({ kind: "changed", fingerprint: FP });
  });

  it("ignores passing checks and checks without a fingerprint", () => {
    expect(certificateProblemInTest(result(null), connection)).toBeNull();
    expect(certificateProblemInTest(result(FP, true), connection)).toBeNull();
    expect(certificateProblemInTest(undefined, connection)).toBeNull();
  });
});

describe("pinInput", () => {
  it("keeps every stored field, keeps the secret (null) and sets the pin", () => {
    expect(pinInput(connection, FP)).toEqual({
      kind: "vsphere",
      name: "Lab vCenter",
      endpoint: "vcenter.lab.local",
      username: "administrator@vsphere.local",
      secret: null,
      options: { datacenter: "DC1" },
      tls_fingerprint: FP,
    });
  });

  it("adds an SSH host key to the option that lists them, leaving the certificate pin alone", () => {
    const key = "SHA256:AtmWCLLkLqXT9qsYDKdTDV2eIdq5eLbdaQagtjJ/yB0";
    const pve = { ...connection, kind: "proxmox" as const, options: { ssh_host_keys: "SHA256:old" }, tls_fingerprint: FP };
    const input = pinInput(pve, key, "ssh_host_keys");
    expect(input.options).toEqual({ ssh_host_keys: `SHA256:old, ${key}` });
    expect(input.tls_fingerprint).toBe(FP);
    // Pinning the same key twice lists it once.
    expect(pinInput({ ...pve, options: { ssh_host_keys: key } }, key, "ssh_host_keys").options).toEqual({ ssh_host_keys: key });
  });

  it("reads a host key check as a pin for its option, untrusted even when a certificate is pinned", () => {
    const check = { name: "SSH data path (vzdump)", ok: false, detail: "not trusted yet", fingerprint: "SHA256:abc", pin_option: "ssh_host_keys" };
    expect(certificateProblemInTest({ ok: false, checks: [check] }, { tls_fingerprint: FP })).toEqual({
      kind: "untrusted",
      fingerprint: "SHA256:abc",
      pinOption: "ssh_host_keys",
    });
  });
});

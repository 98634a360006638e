import type { ApiError, Connection, ConnectionInput, ConnectionTestResult } from "../../bindings";

/** Why a server's certificate needs the user's decision. */
export type CertificateProblem = {
  /**
   * `untrusted`: no pin, and the system's authorities do not vouch for the certificate;
   * `changed`: a pin is set and the server now presents another certificate.
   */
  kind: "untrusted" | "changed";
  /** SHA-256 of the certificate the server presents (colon-separated hex), when known. */
  fingerprint: string | null;
  /**
   * The connection option that holds pins of this kind (an SSH host key list, where a new
   * pin joins the others); null for the server's TLS certificate.
   */
  pinOption?: string | null;
};

const COLON_FINGERPRINT = /\b(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}\b/;
const PLAIN_FINGERPRINT = /\b[0-9A-Fa-f]{64}\b/;

/** `AB:CD:…` (upper case, colon-separated) from a fingerprint with or without colons. */
export function formatFingerprint(raw: string): string {
  const hex = raw.replace(/[\s:]/g, "").toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) return raw.trim();
  return hex.match(/.{2}/g)?.join(":") ?? hex;
}

/** The SHA-256 fingerprint quoted in a core message, if there is one. */
export function fingerprintInMessage(message: string): string | null {
  const match = COLON_FINGERPRINT.exec(message) ?? PLAIN_FINGERPRINT.exec(message);
  return match ? formatFingerprint(match[0]) : null;
}

/**
 * Whether an error is about trusting the server's certificate: the core's
 * `certificate_untrusted` and `certificate_changed` codes. Their messages quote the
 * fingerprint the server presents, which is what the user may pin.
 */
export function certificateProblemOf(error: ApiError | null | undefined): CertificateProblem | null {
  if (!error) return null;
  if (error.code !== "certificate_untrusted" && error.code !== "certificate_changed") return null;
  return {
    kind: error.code === "certificate_changed" ? "changed" : "untrusted",
    fingerprint: fingerprintInMessage(error.message),
  };
}

/**
 * A failed test check that carries a fingerprint is a certificate the user can pin. A
 * connection with a pin already that fails such a check has a changed certificate.
 */
export function certificateProblemInTest(
  result: ConnectionTestResult | null | undefined,
  connection: Pick<Connection, "tls_fingerprint"> | null,
): CertificateProblem | null {
  const check = result?.checks.find((c) => !c.ok && typeof c.fingerprint === "string" && c.fingerprint !== "");
  if (!check?.fingerprint) return null;
  const pinOption = check.pin_option ?? null;
  const pinned = pinOption === null ? Boolean(connection?.tls_fingerprint) : false;
  const changed = pinned || /\bchanged\b/i.test(check.detail);
  const problem: CertificateProblem = { kind: changed ? "changed" : "untrusted", fingerprint: formatFingerprint(check.fingerprint) };
  if (pinOption !== null) problem.pinOption = pinOption;
  return problem;
}

/**
 * The update that pins a certificate: every field as stored, the new pin, and `secret: null`,
 * which the core's `update_connection` takes as "keep the stored secret".
 */
export function pinInput(connection: Connection, fingerprint: string, pinOption?: string | null): ConnectionInput {
  const options: Record<string, string> = {};
  for (const [key, value] of Object.entries(connection.options)) if (value !== undefined) options[key] = value;
  if (pinOption) {
    // A list of pins (one per cluster node): the new key joins the ones already trusted.
    const current = (options[pinOption] ?? "").split(/[\s,]+/).filter((k) => k !== "" && k !== fingerprint);
    options[pinOption] = [...current, fingerprint].join(", ");
  }
  return {
    kind: connection.kind,
    name: connection.name,
    endpoint: connection.endpoint,
    username: connection.username,
    secret: null,
    options,
    tls_fingerprint: pinOption ? connection.tls_fingerprint : fingerprint,
  };
}

import { z } from "zod";
import type { Connection, ConnectionInput, ProviderKind, ProviderKindInfo } from "../../bindings";

export const PROVIDER_KINDS = ["vsphere", "aws", "azure", "gcp", "hyperv", "proxmox"] as const satisfies readonly ProviderKind[];

export const NAME_MAX_LENGTH = 100;

/** Messages mirror the core's validation rules (name 1–100 chars after trimming, endpoint required). */
export const messages = {
  nameRequired: "Name is required",
  nameTooLong: `Name must be at most ${NAME_MAX_LENGTH} characters`,
  endpointRequired: "Endpoint is required",
  optionRequired: (label: string) => `${label} is required`,
  fingerprintInvalid:
    "A certificate fingerprint is a SHA-256 digest: 64 hexadecimal digits, optionally separated by colons",
};

/** Builds the form schema; required provider options are checked against the selected kind. */
export function connectionFormSchema(kinds: readonly ProviderKindInfo[]) {
  return z
    .object({
      kind: z.enum(PROVIDER_KINDS),
      name: z
        .string()
        .trim()
        .min(1, messages.nameRequired)
        .max(NAME_MAX_LENGTH, messages.nameTooLong),
      // Required unless the kind says it may be empty (checked below, with the kind).
      endpoint: z.string().trim(),
      username: z.string().trim(),
      secret: z.string(),
      options: z.record(z.string(), z.string()),
      /** Secret options typed in this time (empty: keep what is saved). */
      secret_options: z.record(z.string(), z.string()),
      /** Saved secret options the user chose to remove. */
      clear_secret_options: z.array(z.string()),
      tls_fingerprint: z
        .string()
        .trim()
        .refine((v) => v === "" || /^[0-9a-fA-F]{64}$/.test(v.replace(/[\s:]/g, "")), messages.fingerprintInvalid),
    })
    .superRefine((values, ctx) => {
      const info = kinds.find((k) => k.kind === values.kind);
      if (values.endpoint === "" && !info?.endpoint_optional) {
        ctx.addIssue({ code: "custom", path: ["endpoint"], message: messages.endpointRequired });
      }
      for (const field of info?.options ?? []) {
        if (field.secret) continue;
        if (field.required && (values.options[field.key] ?? "").trim() === "") {
          ctx.addIssue({
            code: "custom",
            path: ["options", field.key],
            message: messages.optionRequired(field.label),
          });
        }
      }
    });
}

export type ConnectionFormSchema = ReturnType<typeof connectionFormSchema>;
export type ConnectionFormValues = z.input<ConnectionFormSchema>;
export type ConnectionFormOutput = z.output<ConnectionFormSchema>;

export function defaultFormValues(
  kinds: readonly ProviderKindInfo[],
  connection?: Connection,
): ConnectionFormValues {
  if (connection) {
    const options: Record<string, string> = {};
    for (const [key, value] of Object.entries(connection.options)) {
      if (value !== undefined) options[key] = value;
    }
    return {
      kind: connection.kind,
      name: connection.name,
      endpoint: connection.endpoint,
      username: connection.username,
      secret: "",
      options,
      secret_options: {},
      clear_secret_options: [],
      tls_fingerprint: connection.tls_fingerprint ?? "",
    };
  }
  return {
    kind: kinds[0]?.kind ?? "vsphere",
    name: "",
    endpoint: "",
    username: "",
    secret: "",
    options: {},
    secret_options: {},
    clear_secret_options: [],
    tls_fingerprint: "",
  };
}

/**
 * Converts validated form values into the core's input. An empty secret is sent as null, which
 * means "keep the stored secret" when editing. Only the selected kind's options are sent.
 */
export function toConnectionInput(
  values: ConnectionFormOutput,
  info: ProviderKindInfo | undefined,
): ConnectionInput {
  const options: Record<string, string> = {};
  // Secret options: a typed value is saved, an emptied one is removed, the rest keep what is saved.
  const secretOptions: Record<string, string> = {};
  for (const field of info?.options ?? []) {
    if (field.secret) {
      const value = values.secret_options[field.key] ?? "";
      if (value.trim() !== "") secretOptions[field.key] = value;
      else if (values.clear_secret_options.includes(field.key)) secretOptions[field.key] = "";
      continue;
    }
    const value = (values.options[field.key] ?? "").trim();
    if (value !== "") options[field.key] = value;
  }
  return {
    kind: values.kind,
    name: values.name,
    endpoint: values.endpoint,
    username: values.username,
    secret: values.secret === "" ? null : values.secret,
    options,
    secret_options: secretOptions,
    // Sent on every save: an empty pin means "verify against the system's CAs".
    tls_fingerprint: values.tls_fingerprint === "" ? null : values.tls_fingerprint,
  };
}

type FieldPath = "name" | "endpoint" | "username" | "secret" | "kind" | "tls_fingerprint";

/** Which form field a core error code belongs to, if any (otherwise it is shown as an alert). */
export function fieldForErrorCode(code: string): FieldPath | null {
  switch (code) {
    case "connection_name_taken":
    case "invalid_name":
    case "name_required":
    case "name_too_long":
      return "name";
    case "invalid_endpoint":
    case "endpoint_required":
      return "endpoint";
    case "invalid_username":
    case "username_required":
      return "username";
    case "invalid_secret":
    case "secret_required":
      return "secret";
    case "invalid_fingerprint":
      return "tls_fingerprint";
    case "unknown_provider_kind":
    case "invalid_kind":
      return "kind";
    default:
      return null;
  }
}

import { z } from "zod";
import type { ApiError, Webhook, WebhookInput } from "../../bindings";

/** The event name that subscribes to every event. */
export const ALL_EVENTS = "*";

/** The core's limits (crates/hypersdk-core/src/webhooks/mod.rs). */
export const LIMITS = {
  nameMaxChars: 100,
  urlMaxChars: 2048,
  headers: 20,
  headerNameMaxChars: 100,
  headerValueMaxBytes: 8 * 1024,
  signingSecretMaxBytes: 4 * 1024,
  timeoutSeconds: { min: 0.5, max: 300, default: 10 },
  maxAttempts: { min: 1, max: 100, default: 25 },
} as const;

/** Headers HyperSDK (or the HTTP stack) sets itself; a custom header may not replace them. */
const RESERVED_HEADERS = [
  "host",
  "content-length",
  "content-type",
  "transfer-encoding",
  "connection",
  "user-agent",
  "te",
  "upgrade",
  "trailer",
  "expect",
];
const RESERVED_PREFIX = "x-hypersdk-";

/** Messages are the core's own wording, so the form and the core never disagree. */
export const messages = {
  nameRequired: "Name is required",
  nameInvalid: `Name must be at most ${LIMITS.nameMaxChars} characters, without control characters`,
  urlRequired: "URL is required",
  urlTooLong: `The URL must be at most ${LIMITS.urlMaxChars} characters`,
  urlInvalid: (raw: string) =>
    `"${raw}" is not a valid URL; write it in full, e.g. https://hooks.example.com/hypersdk`,
  urlScheme: (raw: string, scheme: string) =>
    `"${raw}" must start with https:// (or http://); ${scheme}:// is not supported`,
  urlNoHost: (raw: string) => `"${raw}" has no host name`,
  urlCredentials:
    "The URL must not contain a user name or password (they would be stored unencrypted); put a token in a secret header instead",
  urlFragment: "The URL must not contain a #fragment: it is never sent to the receiver",
  eventsRequired: "Choose at least one event, or All events",
  headerName: `Letters, digits and !#$%&'*+-.^_\`|~ only, at most ${LIMITS.headerNameMaxChars} characters`,
  headerReserved: (name: string) => `${name} is set by HyperSDK itself and cannot be a custom header`,
  headerTwice: (name: string) => `The header ${name} is given twice`,
  headerValueInvalid: "Printable ASCII without line breaks, at most 8 KiB",
  headerValueRequired: (name: string) => `The header ${name || "above"} needs a value`,
  secretHeaderValueRequired: (name: string) => `The secret header ${name || "above"} needs a value`,
  timeout: `The timeout must be between ${LIMITS.timeoutSeconds.min} and ${LIMITS.timeoutSeconds.max} seconds`,
  maxAttempts: `Maximum attempts must be between ${LIMITS.maxAttempts.min} and ${LIMITS.maxAttempts.max}`,
  maxAttemptsWhole: "Maximum attempts must be a whole number",
  signingSecretTooLong: "The signing secret must be at most 4 KiB",
};

// eslint-disable-next-line no-control-regex
const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f]/;
const HEADER_TOKEN = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;
const HEADER_VALUE = /^[\t\x20-\x7e]*$/;

/** Blanks around a header value are not part of it on the wire; the core drops them too. */
export function trimHeaderValue(value: string): string {
  return value.replace(/^[ \t]+|[ \t]+$/g, "");
}

const byteLength = (s: string) => new TextEncoder().encode(s).length;

/** The reason the core would refuse this URL, or null. Mirrors `normalize_url`. */
export function urlProblem(input: string): string | null {
  const raw = input.trim();
  if (raw === "") return messages.urlRequired;
  if ([...raw].length > LIMITS.urlMaxChars) return messages.urlTooLong;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return messages.urlInvalid(raw);
  }
  const scheme = url.protocol.replace(/:$/, "");
  if (scheme !== "http" && scheme !== "https") return messages.urlScheme(raw, scheme);
  if (url.hostname === "") return messages.urlNoHost(raw);
  if (url.username !== "" || url.password !== "") return messages.urlCredentials;
  if (raw.includes("#")) return messages.urlFragment;
  return null;
}

const headerSchema = z.object({
  name: z.string().trim(),
  value: z.string(),
  secret: z.boolean(),
});

type SchemaOptions = {
  /** Names of the secret headers the edited hook has stored (empty when adding). */
  storedSecretHeaders: readonly string[];
};

/** The add/edit form's rules; they mirror the core's `validate` in webhooks/mod.rs. */
export function webhookFormSchema({ storedSecretHeaders }: SchemaOptions) {
  const stored = new Set(storedSecretHeaders.map((n) => n.toLowerCase()));
  return z
    .object({
      name: z
        .string()
        .trim()
        .min(1, messages.nameRequired)
        .refine((v) => [...v].length <= LIMITS.nameMaxChars && !CONTROL_CHARS.test(v), messages.nameInvalid),
      url: z
        .string()
        .trim()
        .superRefine((v, ctx) => {
          const problem = urlProblem(v);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
      events: z.array(z.string()).min(1, messages.eventsRequired),
      headers: z.array(headerSchema).max(LIMITS.headers),
      // A number, or the text of a number being typed ("2." on the way to "2.5").
      timeout_seconds: z.union([z.number(), z.string()], { error: messages.timeout }).transform((v, ctx) => {
        const n = typeof v === "number" ? v : v.trim() === "" ? Number.NaN : Number(v);
        if (!Number.isFinite(n) || n < LIMITS.timeoutSeconds.min || n > LIMITS.timeoutSeconds.max) {
          ctx.addIssue({ code: "custom", message: messages.timeout });
          return z.NEVER;
        }
        return n;
      }),
      max_attempts: z
        .number({ error: messages.maxAttempts })
        .int(messages.maxAttemptsWhole)
        .min(LIMITS.maxAttempts.min, messages.maxAttempts)
        .max(LIMITS.maxAttempts.max, messages.maxAttempts),
      enabled: z.boolean(),
      /** Typed here only; never filled from the API (secrets are write-only). */
      signing_secret: z.string().refine((v) => byteLength(v) <= LIMITS.signingSecretMaxBytes, messages.signingSecretTooLong),
      /** Set by "Remove the secret" when editing a hook that has one. */
      remove_signing_secret: z.boolean(),
    })
    .superRefine((values, ctx) => {
      const seen = new Set<string>();
      values.headers.forEach((h, i) => {
        const lower = h.name.toLowerCase();
        if (!HEADER_TOKEN.test(h.name) || [...h.name].length > LIMITS.headerNameMaxChars) {
          ctx.addIssue({ code: "custom", path: ["headers", i, "name"], message: messages.headerName });
        } else if (RESERVED_HEADERS.includes(lower) || lower.startsWith(RESERVED_PREFIX)) {
          ctx.addIssue({ code: "custom", path: ["headers", i, "name"], message: messages.headerReserved(h.name) });
        } else if (seen.has(lower)) {
          ctx.addIssue({ code: "custom", path: ["headers", i, "name"], message: messages.headerTwice(h.name) });
        }
        seen.add(lower);

        const value = trimHeaderValue(h.value);
        if (!HEADER_VALUE.test(value) || value.length > LIMITS.headerValueMaxBytes) {
          ctx.addIssue({ code: "custom", path: ["headers", i, "value"], message: messages.headerValueInvalid });
        } else if (value === "") {
          // An empty secret value keeps the stored one — only if one is stored under this name.
          if (!h.secret) {
            ctx.addIssue({ code: "custom", path: ["headers", i, "value"], message: messages.headerValueRequired(h.name) });
          } else if (!stored.has(lower)) {
            ctx.addIssue({
              code: "custom",
              path: ["headers", i, "value"],
              message: messages.secretHeaderValueRequired(h.name),
            });
          }
        }
      });
    });
}

export type WebhookFormSchema = ReturnType<typeof webhookFormSchema>;
export type WebhookFormValues = z.input<WebhookFormSchema>;
export type WebhookFormOutput = z.output<WebhookFormSchema>;

export function defaultWebhookValues(webhook?: Webhook): WebhookFormValues {
  if (webhook) {
    return {
      name: webhook.name,
      url: webhook.url,
      events: webhook.events.length === 0 || webhook.events.includes(ALL_EVENTS) ? [ALL_EVENTS] : [...webhook.events],
      // Secret values never come back from the core: an empty value keeps the stored one.
      headers: webhook.headers.map((h) => ({ name: h.name, value: h.secret ? "" : (h.value ?? ""), secret: h.secret })),
      timeout_seconds: webhook.timeout_ms / 1000,
      max_attempts: webhook.max_attempts,
      enabled: webhook.enabled,
      signing_secret: "",
      remove_signing_secret: false,
    };
  }
  return {
    name: "",
    url: "",
    events: [ALL_EVENTS],
    headers: [],
    timeout_seconds: LIMITS.timeoutSeconds.default,
    max_attempts: LIMITS.maxAttempts.default,
    enabled: true,
    signing_secret: "",
    remove_signing_secret: false,
  };
}

/**
 * The core's input for validated form values. `signing_secret`: null keeps the stored secret
 * (and means "none" when adding), "" removes it, anything else replaces it. A secret header sent
 * with an empty value keeps its stored value.
 */
export function toWebhookInput(values: WebhookFormOutput): WebhookInput {
  return {
    name: values.name,
    url: values.url,
    events: values.events.includes(ALL_EVENTS) ? [ALL_EVENTS] : [...values.events],
    headers: values.headers.map((h) => ({ name: h.name, value: trimHeaderValue(h.value), secret: h.secret })),
    timeout_ms: Math.round(values.timeout_seconds * 1000),
    max_attempts: values.max_attempts,
    signing_secret: values.remove_signing_secret ? "" : values.signing_secret === "" ? null : values.signing_secret,
  };
}

export type WebhookField = "name" | "url" | "events" | "headers" | "timeout_seconds" | "max_attempts" | "signing_secret";

/**
 * Which form field a core error belongs to, if any (otherwise it is shown as an alert). The core
 * gives URL, events and headers their own codes; timeout, attempts and the signing secret share
 * `invalid_input`, so its message says which field it is.
 */
export function fieldForWebhookError(error: ApiError): WebhookField | null {
  switch (error.code) {
    case "invalid_url":
      return "url";
    case "invalid_event":
      return "events";
    case "invalid_header":
      return "headers";
    case "webhook_name_taken":
    case "invalid_name":
      return "name";
    case "invalid_input": {
      const m = error.message.toLowerCase();
      if (m.includes("timeout")) return "timeout_seconds";
      if (m.includes("attempts")) return "max_attempts";
      if (m.includes("signing secret")) return "signing_secret";
      return null;
    }
    default:
      return null;
  }
}

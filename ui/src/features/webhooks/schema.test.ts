import { describe, expect, it } from "vitest";
import { makeWebhook } from "../../test/fixtures";
import {
  defaultWebhookValues,
  fieldForWebhookError,
  messages,
  toWebhookInput,
  urlProblem,
  webhookFormSchema,
} from "./schema";
import type { WebhookFormValues } from "./schema";

const valid: WebhookFormValues = {
  ...defaultWebhookValues(),
  name: "Ops",
  url: "https://hooks.example.com/x",
};

function issues(values: WebhookFormValues, storedSecretHeaders: string[] = []) {
  const result = webhookFormSchema({ storedSecretHeaders }).safeParse(values);
  if (result.success) return {};
  return Object.fromEntries(result.error.issues.map((i) => [i.path.join("."), i.message]));
}

describe("urlProblem", () => {
  it("accepts http(s) URLs with a host, port and query string", () => {
    expect(urlProblem("https://hooks.example.com/hypersdk")).toBeNull();
    expect(urlProblem("  http://127.0.0.1:8080/in?token=abc  ")).toBeNull();
  });

  it("refuses what the core refuses, with its wording", () => {
    expect(urlProblem("")).toBe(messages.urlRequired);
    expect(urlProblem("hooks.example.com")).toBe(messages.urlInvalid("hooks.example.com"));
    expect(urlProblem("ftp://example.com/x")).toBe(messages.urlScheme("ftp://example.com/x", "ftp"));
    expect(urlProblem("https://user:pw@example.com/x")).toBe(messages.urlCredentials);
    expect(urlProblem("https://token@example.com/x")).toBe(messages.urlCredentials);
    expect(urlProblem("https://example.com/x#frag")).toBe(messages.urlFragment);
    expect(urlProblem(`https://example.com/${"a".repeat(2048)}`)).toBe(messages.urlTooLong);
  });
});

describe("webhookFormSchema", () => {
  it("requires a name, a URL and at least one event", () => {
    expect(issues({ ...valid, name: "  ", url: "", events: [] })).toEqual({
      name: messages.nameRequired,
      url: messages.urlRequired,
      events: messages.eventsRequired,
    });
    expect(issues(valid)).toEqual({});
  });

  it("checks the timeout (seconds) and attempts against the core's ranges", () => {
    expect(issues({ ...valid, timeout_seconds: 0.4, max_attempts: 0 })).toEqual({
      timeout_seconds: messages.timeout,
      max_attempts: messages.maxAttempts,
    });
    expect(issues({ ...valid, timeout_seconds: 300.5, max_attempts: 101 })).toEqual({
      timeout_seconds: messages.timeout,
      max_attempts: messages.maxAttempts,
    });
    expect(issues({ ...valid, timeout_seconds: Number.NaN })).toEqual({ timeout_seconds: messages.timeout });
    expect(issues({ ...valid, timeout_seconds: "" })).toEqual({ timeout_seconds: messages.timeout });
    expect(issues({ ...valid, max_attempts: 2.5 })).toEqual({ max_attempts: messages.maxAttemptsWhole });
    expect(issues({ ...valid, timeout_seconds: 0.5, max_attempts: 100 })).toEqual({});
  });

  it("checks header names: token characters, reserved names, duplicates", () => {
    const h = (name: string, value = "v") => ({ name, value, secret: false });
    expect(
      issues({
        ...valid,
        headers: [h("Bad Name"), h("Content-Type"), h("X-HyperSDK-Event"), h("X-A"), h("x-a"), h("")],
      }),
    ).toEqual({
      "headers.0.name": messages.headerName,
      "headers.1.name": messages.headerReserved("Content-Type"),
      "headers.2.name": messages.headerReserved("X-HyperSDK-Event"),
      "headers.4.name": messages.headerTwice("x-a"),
      "headers.5.name": messages.headerName,
    });
  });

  it("lets a secret header keep its stored value only when one is stored under that name", () => {
    const headers = [
      { name: "Authorization", value: "", secret: true },
      { name: "X-New-Token", value: "", secret: true },
      { name: "X-Plain", value: "  ", secret: false },
      { name: "X-Bad", value: "line\nbreak", secret: false },
    ];
    expect(issues({ ...valid, headers }, ["authorization"])).toEqual({
      "headers.1.value": messages.secretHeaderValueRequired("X-New-Token"),
      "headers.2.value": messages.headerValueRequired("X-Plain"),
      "headers.3.value": messages.headerValueInvalid,
    });
    // When adding, nothing is stored: every secret header needs a value.
    expect(issues({ ...valid, headers: headers.slice(0, 1) })).toEqual({
      "headers.0.value": messages.secretHeaderValueRequired("Authorization"),
    });
  });
});

describe("toWebhookInput", () => {
  const parse = (values: WebhookFormValues, stored: string[] = []) =>
    toWebhookInput(webhookFormSchema({ storedSecretHeaders: stored }).parse(values));

  it("sends null for an untouched signing secret, '' to remove it, the value to set it", () => {
    expect(parse(valid).signing_secret).toBeNull();
    expect(parse({ ...valid, remove_signing_secret: true }).signing_secret).toBe("");
    expect(parse({ ...valid, signing_secret: "s3cret" }).signing_secret).toBe("s3cret");
    // Remove wins over anything left in the field.
    expect(parse({ ...valid, signing_secret: "x", remove_signing_secret: true }).signing_secret).toBe("");
  });

  it("takes the timeout as typed text too", () => {
    expect(parse({ ...valid, timeout_seconds: "0.75" }).timeout_ms).toBe(750);
  });

  it("collapses 'All events' to ['*'], converts seconds to ms and trims names and header values", () => {
    expect(
      parse(
        {
          ...valid,
          name: "  Ops  ",
          url: " https://hooks.example.com/x ",
          events: ["*", "job.failed"],
          timeout_seconds: 2.5,
          max_attempts: 3,
          headers: [
            { name: " Authorization ", value: "", secret: true },
            { name: "X-Team", value: "  infra\t", secret: false },
          ],
        },
        ["Authorization"],
      ),
    ).toEqual({
      name: "Ops",
      url: "https://hooks.example.com/x",
      events: ["*"],
      headers: [
        { name: "Authorization", value: "", secret: true },
        { name: "X-Team", value: "infra", secret: false },
      ],
      timeout_ms: 2500,
      max_attempts: 3,
      signing_secret: null,
    });
  });

  it("round-trips a stored hook without touching its secrets", () => {
    const hook = makeWebhook();
    const values = defaultWebhookValues(hook);
    expect(values.headers).toEqual([
      { name: "Authorization", value: "", secret: true },
      { name: "X-Team", value: "infra", secret: false },
    ]);
    expect(parse(values, ["Authorization"])).toEqual({
      name: "Ops chat",
      url: "https://hooks.example.com/hypersdk",
      events: ["job.completed", "job.failed"],
      headers: [
        { name: "Authorization", value: "", secret: true },
        { name: "X-Team", value: "infra", secret: false },
      ],
      timeout_ms: 10_000,
      max_attempts: 25,
      signing_secret: null,
    });
  });
});

describe("fieldForWebhookError", () => {
  const e = (code: string, message = "m") => ({ code, message, retryable: false });
  it("maps the core's codes to fields", () => {
    expect(fieldForWebhookError(e("invalid_url"))).toBe("url");
    expect(fieldForWebhookError(e("invalid_event"))).toBe("events");
    expect(fieldForWebhookError(e("invalid_header"))).toBe("headers");
    expect(fieldForWebhookError(e("webhook_name_taken"))).toBe("name");
    expect(fieldForWebhookError(e("invalid_name"))).toBe("name");
  });

  it("maps invalid_input by the field its message names, else to no field", () => {
    expect(fieldForWebhookError(e("invalid_input", "The timeout must be between 0.5 and 300 seconds"))).toBe("timeout_seconds");
    expect(fieldForWebhookError(e("invalid_input", "Maximum attempts must be between 1 and 100"))).toBe("max_attempts");
    expect(fieldForWebhookError(e("invalid_input", "The signing secret must be at most 4 KiB"))).toBe("signing_secret");
    expect(fieldForWebhookError(e("invalid_input", "something else"))).toBeNull();
    expect(fieldForWebhookError(e("keyring_unavailable", "The timeout"))).toBeNull();
  });
});

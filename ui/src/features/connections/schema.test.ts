import { describe, expect, it } from "vitest";
import { awsKind, connection, kinds, vsphereKind, proxmoxKind } from "../../test/fixtures";
import { connectionFormSchema, defaultFormValues, fieldForErrorCode, messages, toConnectionInput } from "./schema";

const schema = connectionFormSchema(kinds);
const valid = {
  kind: "vsphere" as const,
  name: "  Lab vCenter  ",
  endpoint: " vcenter.lab.local ",
  username: "admin",
  secret: "",
  options: {},
  secret_options: {},
  clear_secret_options: [],
  tls_fingerprint: "",
};

function issues(values: unknown) {
  const result = schema.safeParse(values);
  return result.success ? [] : result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

describe("connectionFormSchema", () => {
  it("accepts valid values and trims name and endpoint", () => {
    const result = schema.parse(valid);
    expect(result.name).toBe("Lab vCenter");
    expect(result.endpoint).toBe("vcenter.lab.local");
  });

  it("requires a name (whitespace only counts as empty)", () => {
    expect(issues({ ...valid, name: "   " })).toContainEqual({ path: "name", message: messages.nameRequired });
  });

  it("limits the name to 100 characters after trimming", () => {
    expect(issues({ ...valid, name: "x".repeat(100) })).toEqual([]);
    expect(issues({ ...valid, name: ` ${"x".repeat(100)} ` })).toEqual([]);
    expect(issues({ ...valid, name: "x".repeat(101) })).toContainEqual({ path: "name", message: messages.nameTooLong });
  });

  it("requires an endpoint, unless the kind has endpoints of its own", () => {
    expect(issues({ ...valid, endpoint: "" })).toContainEqual({ path: "endpoint", message: messages.endpointRequired });
    expect(issues({ ...valid, endpoint: "  " })).toContainEqual({ path: "endpoint", message: messages.endpointRequired });
    expect(issues({ ...valid, kind: "aws", endpoint: "", options: { region: "eu-west-1" } })).toEqual([]);
  });

  it("requires the selected kind's required options only", () => {
    expect(issues({ ...valid, kind: "aws" })).toContainEqual({ path: "options.region", message: "Region is required" });
    expect(issues({ ...valid, kind: "aws", options: { region: "eu-west-1" } })).toEqual([]);
    expect(issues({ ...valid, kind: "vsphere" })).toEqual([]);
  });

  it("accepts a SHA-256 pin with or without colons and refuses anything else", () => {
    expect(issues({ ...valid, tls_fingerprint: Array(32).fill("AB").join(":") })).toEqual([]);
    expect(issues({ ...valid, tls_fingerprint: "ab".repeat(32) })).toEqual([]);
    expect(issues({ ...valid, tls_fingerprint: "abc" })).toContainEqual({
      path: "tls_fingerprint",
      message: messages.fingerprintInvalid,
    });
  });

  it("rejects unknown kinds", () => {
    expect(issues({ ...valid, kind: "openstack" }).map((i) => i.path)).toContain("kind");
  });
});

describe("toConnectionInput", () => {
  it("sends an empty secret as null (keep the stored secret) and only the kind's non-empty options", () => {
    const input = toConnectionInput(
      { ...valid, kind: "aws", name: "AWS", endpoint: "e", secret: "", options: { region: " eu-west-1 ", bucket: "", datacenter: "DC1" } },
      awsKind,
    );
    expect(input).toEqual({ kind: "aws", name: "AWS", endpoint: "e", username: "admin", secret: null, options: { region: "eu-west-1" }, secret_options: {}, tls_fingerprint: null });
  });

  it("sends typed secret options, an emptied saved one as removed, and keeps the others", () => {
    const input = toConnectionInput(
      {
        ...valid,
        kind: "proxmox",
        options: { ssh_user: " root " },
        secret_options: { ssh_key: "-----BEGIN OPENSSH PRIVATE KEY-----\n", ssh_password: "" },
        clear_secret_options: ["ssh_key_passphrase"],
      },
      proxmoxKind,
    );
    expect(input.options).toEqual({ ssh_user: "root" });
    expect(input.secret_options).toEqual({ ssh_key: "-----BEGIN OPENSSH PRIVATE KEY-----\n", ssh_key_passphrase: "" });
  });

  it("sends a typed secret as is", () => {
    expect(toConnectionInput({ ...valid, secret: " p@ss " }, vsphereKind).secret).toBe(" p@ss ");
  });
});

describe("defaultFormValues / fieldForErrorCode", () => {
  it("starts edit forms from the connection with an empty secret", () => {
    expect(defaultFormValues(kinds, connection)).toMatchObject({ name: "Lab vCenter", secret: "", options: { datacenter: "DC1" } });
    expect(defaultFormValues(kinds).kind).toBe("vsphere");
  });

  it("maps core error codes to fields", () => {
    expect(fieldForErrorCode("connection_name_taken")).toBe("name");
    expect(fieldForErrorCode("invalid_endpoint")).toBe("endpoint");
    expect(fieldForErrorCode("invalid_fingerprint")).toBe("tls_fingerprint");
    expect(fieldForErrorCode("keyring_unavailable")).toBeNull();
  });
});

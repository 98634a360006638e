import { describe, expect, it } from "vitest";
import {
  defaultExportValues,
  exportFormSchema,
  fieldForExportError,
  isAbsolutePath,
  messages,
  toExportSpec,
} from "./schema";
import type { ExportFormValues } from "./schema";

const valid: ExportFormValues = { ...defaultExportValues("/srv/exports") };

function issues(values: Partial<ExportFormValues>) {
  const result = exportFormSchema.safeParse({ ...valid, ...values });
  return result.success ? [] : result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

describe("exportFormSchema", () => {
  it("accepts the defaults with a destination", () => {
    expect(issues({})).toEqual([]);
  });

  it("refuses compression for OVF, as the core does", () => {
    expect(issues({ package: "ovf", compression: "gzip" })).toEqual([{ path: "compression", message: messages.compressionOvaOnly }]);
    expect(issues({ package: "ovf", compression: "zstd" })).toEqual([{ path: "compression", message: messages.compressionOvaOnly }]);
    expect(issues({ package: "ovf", compression: "none" })).toEqual([]);
    expect(issues({ package: "ova", compression: "zstd" })).toEqual([]);
  });

  it.each([
    ["gzip", "0", null],
    ["gzip", "9", null],
    ["gzip", "10", messages.gzipLevel],
    ["gzip", "-1", messages.gzipLevel],
    ["zstd", "1", null],
    ["zstd", "22", null],
    ["zstd", "0", messages.zstdLevel],
    ["zstd", "23", messages.zstdLevel],
    ["zstd", " 5 ", null],
    ["gzip", "", null],
    ["zstd", "", null],
    ["none", "3", messages.levelNeedsCompression],
    ["gzip", "4.5", messages.levelNotANumber],
    ["zstd", "fast", messages.levelNotANumber],
  ] as const)("%s level %j → %s", (compression, level, message) => {
    expect(issues({ compression, compression_level: level })).toEqual(
      message === null ? [] : [{ path: "compression_level", message }],
    );
  });

  it.each([
    ["", messages.destinationRequired],
    ["   ", messages.destinationRequired],
    ["exports", messages.destinationAbsolute("exports")],
    ["./exports", messages.destinationAbsolute("./exports")],
    ["~/exports", messages.destinationAbsolute("~/exports")],
    ["/srv/exports", null],
    ["C:\\Exports", null],
    ["D:/Exports", null],
    ["\\\\nas\\vm", null],
  ])("destination %j → %s", (destination_dir, message) => {
    expect(issues({ destination_dir })).toEqual(message === null ? [] : [{ path: "destination_dir", message }]);
  });

  it("refuses values outside the core's enums", () => {
    expect(issues({ package: "zip" as never }).map((i) => i.path)).toEqual(["package"]);
    expect(issues({ manifest: "md5" as never }).map((i) => i.path)).toEqual(["manifest"]);
    expect(issues({ disk_format: "vmdk-flat" as never }).map((i) => i.path)).toEqual(["disk_format"]);
  });

  it("knows absolute paths on every platform", () => {
    expect(isAbsolutePath("/")).toBe(true);
    expect(isAbsolutePath("C:")).toBe(false);
    expect(isAbsolutePath("relative/path")).toBe(false);
  });
});

describe("toExportSpec", () => {
  it("maps the form to the core's ExportSpec", () => {
    const values = exportFormSchema.parse({
      package: "ova",
      compression: "zstd",
      compression_level: " 19 ",
      manifest: "sha1",
      disk_format: "qcow2",
      platform_options: { mode: "stop", unset: "" },
      destination_dir: "/srv/exports",
    });
    expect(toExportSpec(values, "c-1", ["vm-1", "vm-2"])).toEqual({
      connection_id: "c-1",
      vm_ids: ["vm-1", "vm-2"],
      destination_dir: "/srv/exports",
      format: {
        package: "ova", compression: "zstd", compression_level: 19, manifest: "sha1", disk_format: "qcow2",
        platform_options: { mode: "stop" },
      },
    });
  });

  it("sends an empty level and 'keep' disk format as null", () => {
    const values = exportFormSchema.parse({ ...valid, package: "ovf" });
    expect(toExportSpec(values, "c-1", ["vm-1"]).format).toEqual({
      package: "ovf",
      compression: "none",
      compression_level: null,
      manifest: "sha256",
      disk_format: null,
    });
  });
});

describe("fieldForExportError", () => {
  const err = (code: string, message: string) => ({ code, message, retryable: false });

  it.each([
    [err("destination_exists", "/srv/exports/web01.ova already exists; exports never overwrite"), "destination_dir"],
    [err("invalid_destination", "The folder /nope does not exist"), "destination_dir"],
    [err("invalid_compression", messages.compressionOvaOnly), "compression"],
    [err("invalid_compression_level", "The zstd level must be between 1 and 22"), "compression_level"],
    [err("invalid_vm_selection", "Choose at least one VM to export"), null],
    [err("invalid_input", "The folder /nope does not exist"), null],
    [err("certificate_untrusted", "the certificate of vc is not trusted"), null],
    [err("unreachable", "cannot reach vc: folder"), null],
  ] as const)("%o → %s", (error, field) => {
    expect(fieldForExportError(error)).toBe(field);
  });
});

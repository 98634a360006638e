import { z } from "zod";
import type {
  ApiError,
  CompressionKind,
  DiskFormatChoice,
  ExportFormat,
  ExportSpec,
  ManifestAlgorithm,
  PackageKind,
} from "../../bindings";

export const PACKAGE_KINDS = ["ova", "ovf", "native"] as const satisfies readonly PackageKind[];
export const COMPRESSION_KINDS = ["none", "gzip", "zstd"] as const satisfies readonly CompressionKind[];
export const MANIFEST_ALGORITHMS = ["sha256", "sha1"] as const satisfies readonly ManifestAlgorithm[];
export const DISK_FORMATS = ["vmdk", "qcow2", "vhd", "vhdx", "vdi", "raw"] as const satisfies readonly DiskFormatChoice[];
/** The form's word for `disk_format: null`: keep what the platform exports. */
export const KEEP_DISK_FORMAT = "keep";
export const DISK_FORMAT_CHOICES = [KEEP_DISK_FORMAT, ...DISK_FORMATS] as const;

/** Levels the core accepts (crates/hypersdk-core/src/exports.rs `ExportFormat::validate`). */
export const COMPRESSION_LEVELS = {
  gzip: { min: 0, max: 9, default: 6 },
  zstd: { min: 1, max: 22, default: 3 },
} as const;

/** Messages are the core's own, so the form and the core never disagree in wording. */
export const messages = {
  compressionOvaOnly: "Compression applies to OVA archives only; choose OVA or no compression",
  nativeNoCompression: "The platform's backup archive is kept as it is; choose no compression",
  nativeKeepsDisks: "The platform's backup archive keeps its disks as they are; choose OVA or OVF to convert them",
  levelNotANumber: "The compression level must be a whole number",
  levelNeedsCompression: "A compression level needs gzip or zstd compression",
  gzipLevel: "The gzip level must be between 0 and 9",
  zstdLevel: "The zstd level must be between 1 and 22",
  destinationRequired: "Choose a destination folder",
  destinationAbsolute: (raw: string) => `The destination must be an absolute path, not ${raw}`,
  noVms: "Choose at least one VM to export",
};

/** `/srv/exports`, `C:\Exports`, `C:/Exports` or `\\server\share`. */
export function isAbsolutePath(path: string): boolean {
  return path.startsWith("/") || /^[A-Za-z]:[\\/]/.test(path) || path.startsWith("\\\\");
}

/** The format fields of a form (the export dialog's, a schedule's): shared with `checkExportFormat`. */
export const exportFormatShape = {
  package: z.enum(PACKAGE_KINDS),
  compression: z.enum(COMPRESSION_KINDS),
  /** Text, so an empty field means "the default level". */
  compression_level: z.string().trim(),
  manifest: z.enum(MANIFEST_ALGORITHMS),
  disk_format: z.enum(DISK_FORMAT_CHOICES),
  /** The platform's own choices (`ProviderKindInfo.export_options`), by key. */
  platform_options: z.record(z.string(), z.string()).default({}),
};

type ExportFormatObject = z.ZodObject<typeof exportFormatShape>;
export type ExportFormatValues = z.input<ExportFormatObject>;
export type ExportFormatOutput = z.output<ExportFormatObject>;

/** The core's `ExportFormat::validate`, as form issues on the fields at fault. */
export function checkExportFormat(values: ExportFormatOutput, ctx: z.RefinementCtx): void {
  if (values.package === "native") {
    if (values.compression !== "none") {
      ctx.addIssue({ code: "custom", path: ["compression"], message: messages.nativeNoCompression });
    }
    if (values.disk_format !== KEEP_DISK_FORMAT) {
      ctx.addIssue({ code: "custom", path: ["disk_format"], message: messages.nativeKeepsDisks });
    }
  }
  if (values.package === "ovf" && values.compression !== "none") {
    ctx.addIssue({ code: "custom", path: ["compression"], message: messages.compressionOvaOnly });
  }
  const level = values.compression_level;
  if (level !== "") {
    if (!/^[+-]?\d+$/.test(level)) {
      ctx.addIssue({ code: "custom", path: ["compression_level"], message: messages.levelNotANumber });
    } else {
      const n = Number(level);
      const message =
        values.compression === "none"
          ? messages.levelNeedsCompression
          : values.compression === "gzip"
            ? n < COMPRESSION_LEVELS.gzip.min || n > COMPRESSION_LEVELS.gzip.max
              ? messages.gzipLevel
              : null
            : n < COMPRESSION_LEVELS.zstd.min || n > COMPRESSION_LEVELS.zstd.max
              ? messages.zstdLevel
              : null;
      if (message) ctx.addIssue({ code: "custom", path: ["compression_level"], message });
    }
  }
}

/** The core's `check_destination_dir`, as far as it can be checked without the file system. */
export function checkDestination(dir: string, ctx: z.RefinementCtx): void {
  if (dir.trim() === "") {
    ctx.addIssue({ code: "custom", path: ["destination_dir"], message: messages.destinationRequired });
  } else if (!isAbsolutePath(dir)) {
    ctx.addIssue({ code: "custom", path: ["destination_dir"], message: messages.destinationAbsolute(dir) });
  }
}

export const exportFormSchema = z
  .object({
    ...exportFormatShape,
    // Not trimmed into the value: the core takes the path as typed (a folder name may end in a space).
    destination_dir: z.string(),
  })
  .superRefine((values, ctx) => {
    checkExportFormat(values, ctx);
    checkDestination(values.destination_dir, ctx);
  });

export type ExportFormValues = z.input<typeof exportFormSchema>;
export type ExportFormOutput = z.output<typeof exportFormSchema>;
export type ExportField = keyof ExportFormValues;

export function defaultExportFormatValues(): ExportFormatValues {
  return {
    package: "ova",
    compression: "none",
    compression_level: "",
    manifest: "sha256",
    disk_format: KEEP_DISK_FORMAT,
    platform_options: {},
  };
}

export function defaultExportValues(destination = ""): ExportFormValues {
  return { ...defaultExportFormatValues(), destination_dir: destination };
}

/** The form's words for an `ExportFormat` (the reverse of `toExportFormat`), e.g. to edit a schedule. */
export function exportFormatValues(format: ExportFormat): ExportFormatValues {
  return {
    package: format.package,
    compression: format.compression,
    compression_level: format.compression_level === null ? "" : String(format.compression_level),
    manifest: format.manifest,
    disk_format: format.disk_format ?? KEEP_DISK_FORMAT,
    platform_options: { ...format.platform_options },
  };
}

export function toExportFormat(values: ExportFormatOutput): ExportFormat {
  const platformOptions = Object.fromEntries(Object.entries(values.platform_options).filter(([, v]) => v !== ""));
  return {
    package: values.package,
    compression: values.compression,
    compression_level: values.compression_level === "" ? null : Number(values.compression_level),
    manifest: values.manifest,
    disk_format: values.disk_format === KEEP_DISK_FORMAT ? null : values.disk_format,
    // Left out when empty: the core takes each option's first choice.
    ...(Object.keys(platformOptions).length > 0 ? { platform_options: platformOptions } : {}),
  };
}

export function toExportSpec(values: ExportFormOutput, connectionId: string, vmIds: readonly string[]): ExportSpec {
  return {
    connection_id: connectionId,
    vm_ids: [...vmIds],
    destination_dir: values.destination_dir,
    format: toExportFormat(values),
  };
}

/** What one VM's export is called for the chosen package and compression, as the core names it. */
export function artefactName(pkg: PackageKind, compression: CompressionKind, stem = "NAME"): string {
  if (pkg === "native") return "a backup file named as the platform names its own";
  if (pkg === "ovf") return `${stem}/ (a folder)`;
  return stem + (compression === "gzip" ? ".ova.gz" : compression === "zstd" ? ".ova.zst" : ".ova");
}

/**
 * Which form field a core error belongs to, if any (otherwise it is shown as an alert): the core
 * gives each export validation failure its own code (see `CoreError::code` in hypersdk-core).
 */
export function fieldForExportError(error: ApiError): ExportField | null {
  switch (error.code) {
    case "destination_exists":
    case "invalid_destination":
      return "destination_dir";
    case "invalid_compression":
      return "compression";
    case "invalid_compression_level":
      return "compression_level";
    case "invalid_disk_format":
      return "disk_format";
    case "invalid_export_option":
      return "platform_options";
    default:
      return null;
  }
}

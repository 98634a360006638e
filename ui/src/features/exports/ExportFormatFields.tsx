import { Button, NativeSelect, SimpleGrid, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconFolderOpen } from "@tabler/icons-react";
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { useEffect } from "react";
import { Controller, useWatch } from "react-hook-form";
import type { UseFormReturn } from "react-hook-form";
import { toApiError } from "../../api/errors";
import type { ExportOptionSpec } from "../../bindings";
import { COMPRESSION_LEVELS, KEEP_DISK_FORMAT } from "./schema";
import type { ExportFormValues } from "./schema";

const PACKAGE_OPTIONS = [
  { value: "ova", label: "OVA — one archive file" },
  { value: "ovf", label: "OVF — a folder of files" },
];
const NO_OPTIONS: readonly ExportOptionSpec[] = [];
const COMPRESSION_OPTIONS = [
  { value: "none", label: "None" },
  { value: "gzip", label: "gzip" },
  { value: "zstd", label: "zstd (faster, smaller)" },
];
const MANIFEST_OPTIONS = [
  { value: "sha256", label: "SHA-256" },
  { value: "sha1", label: "SHA-1 (older importers)" },
];
const DISK_FORMAT_OPTIONS = [
  { value: "keep", label: "Keep the platform's format" },
  { value: "vmdk", label: "VMDK (stream-optimised)" },
  { value: "qcow2", label: "QCOW2" },
  { value: "vhd", label: "VHD" },
  { value: "vhdx", label: "VHDX" },
  { value: "vdi", label: "VDI" },
  { value: "raw", label: "Raw image" },
];

/**
 * Any form whose values include the export dialog's (format fields + `destination_dir`), seen as
 * just those: the export dialog's own form, or a schedule's (cast with `as unknown as`).
 */
export type ExportFieldsForm = UseFormReturn<ExportFormValues>;

type ExportFormatFieldsProps = {
  form: ExportFieldsForm;
  /** `export` gives `export-package`, `export-compression`, `export-level`, … */
  testIdPrefix: string;
  /**
   * The connection's platform's own backup archive (`ProviderKindInfo.native_archive`), offered
   * as a package when it has one.
   */
  nativeArchive?: string | null;
  /** The connection's platform's own choices for each export (`ProviderKindInfo.export_options`). */
  exportOptions?: readonly ExportOptionSpec[];
};

/** Package, manifest, compression (+ level) and disk format, as the core's `ExportFormat` has them. */
export function ExportFormatFields({ form, testIdPrefix, nativeArchive = null, exportOptions = NO_OPTIONS }: ExportFormatFieldsProps) {
  const {
    control,
    setValue,
    getValues,
    clearErrors,
    trigger,
    formState: { errors },
  } = form;
  const pkg = useWatch({ control, name: "package" });
  const compression = useWatch({ control, name: "compression" });
  const platformOptions = useWatch({ control, name: "platform_options" });
  // A record's errors are keyed by its keys; the core's one error for them sits on the record.
  const optionsError = (errors.platform_options as { message?: string } | undefined)?.message;
  const offered = exportOptions.map((o) => o.key).join(",");
  useEffect(() => {
    // Another connection's platform (a schedule's connection changed): drop what it does not offer.
    const keys = new Set(offered.split(",").filter(Boolean));
    const current = getValues("platform_options") ?? {};
    if (Object.keys(current).some((k) => !keys.has(k))) {
      setValue("platform_options", Object.fromEntries(Object.entries(current).filter(([k]) => keys.has(k))));
    }
  }, [offered, getValues, setValue]);
  const isOvf = pkg === "ovf";
  const isNative = pkg === "native";
  const levelRange = compression === "none" ? null : COMPRESSION_LEVELS[compression];
  const packageOptions = nativeArchive
    ? [...PACKAGE_OPTIONS, { value: "native", label: nativeArchive }]
    : pkg === "native"
      ? // Kept so a saved choice shows as it is (the core says why it no longer applies).
        [...PACKAGE_OPTIONS, { value: "native", label: "The platform's own backup archive" }]
      : PACKAGE_OPTIONS;

  return (
    <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
      <Controller
        control={control}
        name="package"
        render={({ field, fieldState }) => (
          <NativeSelect
            label="Package"
            data={packageOptions}
            name={field.name}
            ref={field.ref}
            value={field.value}
            onBlur={field.onBlur}
            onChange={(e) => {
              const value = e.currentTarget.value as ExportFormValues["package"];
              field.onChange(value);
              if (value === "ovf" || value === "native") {
                // Compression is for OVA archives only: clear it rather than keep an invalid pair.
                setValue("compression", "none");
                setValue("compression_level", "");
                clearErrors(["compression", "compression_level"]);
              }
              if (value === "native") {
                // The archive is kept as the platform wrote it: its disks are not converted.
                setValue("disk_format", KEEP_DISK_FORMAT);
                clearErrors("disk_format");
              }
            }}
            error={fieldState.error?.message}
            data-testid={`${testIdPrefix}-package`}
          />
        )}
      />
      <Controller
        control={control}
        name="manifest"
        render={({ field, fieldState }) => (
          // Controlled, so disabling it for a kept archive never drops its value from the form.
          <NativeSelect
            label="Manifest"
            description={isNative ? "None: the archive's own checksums are checked" : "Digest of every file, checked after writing"}
            data={MANIFEST_OPTIONS}
            disabled={isNative}
            name={field.name}
            ref={field.ref}
            value={field.value}
            onBlur={field.onBlur}
            onChange={(e) => field.onChange(e.currentTarget.value)}
            error={fieldState.error?.message}
            data-testid={`${testIdPrefix}-manifest`}
          />
        )}
      />
      <Controller
        control={control}
        name="compression"
        render={({ field, fieldState }) => (
          // Controlled, so disabling it for OVF never drops its value from the form.
          <NativeSelect
            label="Compression"
            description={isOvf || isNative ? "OVA archives only" : "Of the whole archive"}
            data={COMPRESSION_OPTIONS}
            disabled={isOvf || isNative}
            name={field.name}
            ref={field.ref}
            value={field.value}
            onBlur={field.onBlur}
            onChange={(e) => {
              const value = e.currentTarget.value as ExportFormValues["compression"];
              field.onChange(value);
              if (value === "none") setValue("compression_level", "");
              if (errors.compression_level) void trigger("compression_level");
            }}
            error={fieldState.error?.message}
            data-testid={`${testIdPrefix}-compression`}
          />
        )}
      />
      <Controller
        control={control}
        name="compression_level"
        render={({ field, fieldState }) => (
          <TextInput
            label="Compression level"
            description={
              levelRange
                ? `${levelRange.min}–${levelRange.max}; empty for the default (${levelRange.default})`
                : "Needs gzip or zstd"
            }
            placeholder={levelRange ? String(levelRange.default) : undefined}
            inputMode="numeric"
            disabled={compression === "none"}
            name={field.name}
            ref={field.ref}
            value={field.value}
            onBlur={field.onBlur}
            onChange={(e) => field.onChange(e.currentTarget.value)}
            error={fieldState.error?.message}
            data-testid={`${testIdPrefix}-level`}
            autoComplete="off"
          />
        )}
      />
      <Controller
        control={control}
        name="disk_format"
        render={({ field, fieldState }) => (
          <NativeSelect
            label="Disk format"
            description={isNative ? "As the platform wrote them" : "Converted with qemu-img when it differs"}
            data={DISK_FORMAT_OPTIONS}
            disabled={isNative}
            name={field.name}
            ref={field.ref}
            value={field.value}
            onBlur={field.onBlur}
            onChange={(e) => field.onChange(e.currentTarget.value)}
            error={fieldState.error?.message}
            data-testid={`${testIdPrefix}-disk-format`}
          />
        )}
      />
      {exportOptions.map((option) => (
        <NativeSelect
          key={option.key}
          label={option.label}
          description={option.help || undefined}
          data={option.choices.map(([value, label]) => ({ value, label }))}
          value={platformOptions?.[option.key] ?? option.choices[0]?.[0] ?? ""}
          onChange={(e) =>
            setValue("platform_options", { ...getValues("platform_options"), [option.key]: e.currentTarget.value }, { shouldDirty: true })
          }
          error={option === exportOptions[0] ? optionsError : undefined}
          data-testid={`${testIdPrefix}-option-${option.key}`}
        />
      ))}
    </SimpleGrid>
  );
}

type DestinationFieldProps = {
  form: ExportFieldsForm;
  description: string;
  testId: string;
  browseTestId: string;
};

/** The destination folder: typed, or chosen with the native folder picker. */
export function DestinationField({ form, description, testId, browseTestId }: DestinationFieldProps) {
  const {
    register,
    setValue,
    formState: { errors },
  } = form;

  const browse = async () => {
    try {
      const folder = await openDialog({ directory: true, multiple: false, title: "Choose the destination folder" });
      if (typeof folder === "string") {
        setValue("destination_dir", folder, { shouldValidate: true, shouldDirty: true });
      }
    } catch (error) {
      notifications.show({ color: "red", title: "Could not open the folder picker", message: toApiError(error).message });
    }
  };

  return (
    <TextInput
      label="Destination folder"
      description={description}
      placeholder="/srv/exports"
      withAsterisk
      error={errors.destination_dir?.message}
      data-testid={testId}
      autoComplete="off"
      spellCheck={false}
      rightSectionWidth={116}
      rightSectionPointerEvents="all"
      rightSection={
        <Button
          size="compact-sm"
          variant="default"
          leftSection={<IconFolderOpen size={14} aria-hidden />}
          onClick={() => void browse()}
          data-testid={browseTestId}
        >
          Browse…
        </Button>
      }
      {...register("destination_dir")}
    />
  );
}

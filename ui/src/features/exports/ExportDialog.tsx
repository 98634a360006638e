import { Button, Group, Modal, NativeSelect, SimpleGrid, Stack, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { zodResolver } from "@hookform/resolvers/zod";
import { IconFolderOpen } from "@tabler/icons-react";
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { memo, useState } from "react";
import { Controller, useForm, useWatch } from "react-hook-form";
import type { Connection, VmInfo } from "../../bindings";
import { toApiError, toCoreError } from "../../api/errors";
import type { CoreError } from "../../api/errors";
import { useStartExport } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useDestinations } from "../../store/destinations";
import { useNavigation } from "../../store/navigation";
import {
  COMPRESSION_LEVELS,
  artefactSuffix,
  defaultExportValues,
  exportFormSchema,
  fieldForExportError,
  toExportSpec,
} from "./schema";
import type { ExportFormOutput, ExportFormValues } from "./schema";

const PACKAGE_OPTIONS = [
  { value: "ova", label: "OVA — one archive file" },
  { value: "ovf", label: "OVF — a folder of files" },
];
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

export type ExportRequest = {
  connection: Connection;
  vms: readonly VmInfo[];
  /** Prefilled destination folder (a saved destination, or the last one used). */
  destination: string;
};

type ExportDialogProps = {
  /** What to export; null when closed. */
  request: ExportRequest | null;
  onClose: () => void;
};

/** Modal wrapper; the form starts afresh on every opening. */
export const ExportDialog = memo(function ExportDialog({ request, onClose }: ExportDialogProps) {
  const count = request?.vms.length ?? 0;
  return (
    <Modal
      opened={request !== null}
      onClose={onClose}
      title={count === 1 ? `Export ${request?.vms[0]?.name ?? "VM"}` : `Export ${count} VMs`}
      size="lg"
    >
      {request && <ExportForm request={request} onDone={onClose} onCancel={onClose} />}
    </Modal>
  );
});

function vmSummary(vms: readonly VmInfo[]): string {
  const names = vms.slice(0, 3).map((vm) => vm.name);
  const rest = vms.length - names.length;
  return rest > 0 ? `${names.join(", ")} and ${rest} more` : names.join(", ");
}

type ExportFormProps = {
  request: ExportRequest;
  onDone: () => void;
  onCancel: () => void;
};

export function ExportForm({ request, onDone, onCancel }: ExportFormProps) {
  const start = useStartExport();
  const setSection = useNavigation((s) => s.setSection);
  const setLastUsed = useDestinations((s) => s.setLastUsed);
  const [submitError, setSubmitError] = useState<CoreError | null>(null);

  const {
    register,
    handleSubmit,
    control,
    setError,
    setValue,
    clearErrors,
    trigger,
    formState: { errors, isSubmitting },
  } = useForm<ExportFormValues, unknown, ExportFormOutput>({
    resolver: zodResolver(exportFormSchema),
    defaultValues: defaultExportValues(request.destination),
  });

  const pkg = useWatch({ control, name: "package" });
  const compression = useWatch({ control, name: "compression" });
  const isOvf = pkg === "ovf";
  const levelRange = compression === "none" ? null : COMPRESSION_LEVELS[compression];


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

  const submit = handleSubmit(async (values) => {
    setSubmitError(null);
    const spec = toExportSpec(values, request.connection.id, request.vms.map((vm) => vm.id));
    try {
      const jobs = await start.mutateAsync(spec);
      setLastUsed(spec.destination_dir);
      notifications.show({
        color: "teal",
        title: jobs.length === 1 ? "Export started" : `${jobs.length} exports started`,
        message: `To ${spec.destination_dir}. Follow them on the Jobs page.`,
      });
      onDone();
      setSection("jobs");
    } catch (error) {
      const coreError = toCoreError(error);
      const field = fieldForExportError(coreError.toApiError());
      if (field) {
        setError(field, { type: "core", message: coreError.message }, { shouldFocus: true });
      } else {
        setSubmitError(coreError);
      }
    }
  });

  return (
    <form onSubmit={(e) => void submit(e)} noValidate aria-label="Export" data-testid="export-form">
      <Stack gap="sm">
        <Text size="sm" data-testid="export-summary">
          {request.vms.length === 1 ? "1 VM" : `${request.vms.length} VMs`} from <b>{request.connection.name}</b>:{" "}
          {vmSummary(request.vms)}
        </Text>
        {submitError && <ErrorAlert error={submitError} title="Could not start the export" />}
        <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
          <Controller
            control={control}
            name="package"
            render={({ field, fieldState }) => (
              <NativeSelect
                label="Package"
                data={PACKAGE_OPTIONS}
                name={field.name}
                ref={field.ref}
                value={field.value}
                onBlur={field.onBlur}
                onChange={(e) => {
                  const value = e.currentTarget.value as ExportFormValues["package"];
                  field.onChange(value);
                  if (value === "ovf") {
                    // Compression is for OVA archives only: clear it rather than keep an invalid pair.
                    setValue("compression", "none");
                    setValue("compression_level", "");
                    clearErrors(["compression", "compression_level"]);
                  }
                }}
                error={fieldState.error?.message}
                data-testid="export-package"
              />
            )}
          />
          <NativeSelect
            label="Manifest"
            description="Digest of every file, checked after writing"
            data={MANIFEST_OPTIONS}
            error={errors.manifest?.message}
            data-testid="export-manifest"
            {...register("manifest")}
          />
          <Controller
            control={control}
            name="compression"
            render={({ field, fieldState }) => (
              // Controlled, so disabling it for OVF never drops its value from the form.
              <NativeSelect
                label="Compression"
                description={isOvf ? "OVA archives only" : "Of the whole archive"}
                data={COMPRESSION_OPTIONS}
                disabled={isOvf}
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
                data-testid="export-compression"
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
                data-testid="export-level"
                autoComplete="off"
              />
            )}
          />
          <NativeSelect
            label="Disk format"
            description="Converted with qemu-img when it differs"
            data={DISK_FORMAT_OPTIONS}
            error={errors.disk_format?.message}
            data-testid="export-disk-format"
            {...register("disk_format")}
          />
        </SimpleGrid>
        <TextInput
          label="Destination folder"
          description={`An existing folder; each VM becomes NAME${artefactSuffix(pkg, compression)} inside it`}
          placeholder="/srv/exports"
          withAsterisk
          error={errors.destination_dir?.message}
          data-testid="export-destination"
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
              data-testid="export-browse"
            >
              Browse…
            </Button>
          }
          {...register("destination_dir")}
        />
        <Group justify="flex-end" mt="sm">
          <Button variant="default" onClick={onCancel} disabled={isSubmitting}>
            Cancel
          </Button>
          <Button type="submit" loading={isSubmitting} data-testid="export-submit">
            {request.vms.length === 1 ? "Start export" : `Start ${request.vms.length} exports`}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

import { Button, Group, Modal, Stack, Text } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { zodResolver } from "@hookform/resolvers/zod";
import { memo, useState } from "react";
import { useForm, useWatch } from "react-hook-form";
import type { Connection, VmInfo } from "../../bindings";
import { toCoreError } from "../../api/errors";
import type { CoreError } from "../../api/errors";
import { useProviderKinds, useStartExport } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { useDestinations } from "../../store/destinations";
import { useNavigation } from "../../store/navigation";
import { DestinationSpace } from "./DestinationSpace";
import { DestinationField, ExportFormatFields } from "./ExportFormatFields";
import type { ExportFieldsForm } from "./ExportFormatFields";
import {
  artefactName,
  defaultExportValues,
  exportFormSchema,
  fieldForExportError,
  toExportSpec,
} from "./schema";
import type { ExportFormOutput, ExportFormValues } from "./schema";

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
  const kinds = useProviderKinds();
  const kind = kinds.data?.find((k) => k.kind === request.connection.kind);
  const nativeArchive = kind?.native_archive ?? null;
  const setSection = useNavigation((s) => s.setSection);
  const setLastUsed = useDestinations((s) => s.setLastUsed);
  const [submitError, setSubmitError] = useState<CoreError | null>(null);

  const form = useForm<ExportFormValues, unknown, ExportFormOutput>({
    resolver: zodResolver(exportFormSchema),
    defaultValues: defaultExportValues(request.destination),
  });
  const {
    handleSubmit,
    control,
    setError,
    formState: { isSubmitting },
  } = form;
  const fieldsForm = form as unknown as ExportFieldsForm;
  const pkg = useWatch({ control, name: "package" });
  const compression = useWatch({ control, name: "compression" });
  const destination = useWatch({ control, name: "destination_dir" });

  const submit = handleSubmit(async (values) => {
    setSubmitError(null);
    const spec = toExportSpec(values, request.connection.id, request.vms.map((vm) => vm.id));
    try {
      const jobs = await start.mutateAsync(spec);
      setLastUsed(spec.destination_dir);
      notifications.show({
        color: "teal",
        title: jobs.length === 1 ? "Export started" : `${jobs.length} exports started`,
        // The Jobs page opens next, so the toast need not point there.
        message: `To ${spec.destination_dir}.`,
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
        <ExportFormatFields form={fieldsForm} testIdPrefix="export" nativeArchive={nativeArchive} exportOptions={kind?.export_options} />
        <DestinationField
          form={fieldsForm}
          description={`An existing folder; each VM becomes ${artefactName(pkg, compression)} inside it`}
          testId="export-destination"
          browseTestId="export-browse"
        />
        <DestinationSpace vms={request.vms} destination={destination ?? ""} />
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

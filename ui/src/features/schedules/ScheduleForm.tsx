import {
  Alert,
  Button,
  Card,
  Divider,
  Group,
  NativeSelect,
  Radio,
  SegmentedControl,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Text,
  TextInput,
} from "@mantine/core";
import { zodResolver } from "@hookform/resolvers/zod";
import { IconCircleCheck } from "@tabler/icons-react";
import { useMemo, useState } from "react";
import type { ReactNode } from "react";
import { Controller, useForm, useWatch } from "react-hook-form";
import type { Connection, Schedule } from "../../bindings";
import { toCoreError } from "../../api/errors";
import type { CoreError } from "../../api/errors";
import { useAddSchedule, useProviderKinds, useScheduleDetail, useUpdateSchedule } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { DestinationField, ExportFormatFields } from "../exports/ExportFormatFields";
import type { ExportFieldsForm } from "../exports/ExportFormatFields";
import { artefactName } from "../exports/schema";
import { formatLocal } from "./format";
import { CronLivePreview } from "./CronLivePreview";
import { SchedulePreview } from "./SchedulePreview";
import {
  CRON_PRESETS,
  defaultScheduleValues,
  fieldForScheduleError,
  scheduleFormSchema,
  scheduleValues,
  toScheduleInput,
} from "./schema";
import type { ScheduleFormOutput, ScheduleFormValues } from "./schema";
import { timeZoneOptions, zoneMatches } from "./timeZones";
import { VmPicker } from "./VmPicker";

type ScheduleFormProps = {
  /** The schedule to edit; null to add one. */
  schedule: Schedule | null;
  connections: readonly Connection[];
  /** Prefilled destination for a new schedule (the last folder used). */
  defaultDestination?: string;
  /** Called after every successful save, with what the core saved. */
  onSaved?: (schedule: Schedule) => void;
  onClose: () => void;
};

function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <Stack gap="sm">
      <Divider label={title} labelPosition="left" />
      {children}
    </Stack>
  );
}

/**
 * Add or edit a schedule. The form stays open after saving and shows the core's description and
 * next run times for what was saved: the core, not the window, evaluates cron expressions.
 */
export function ScheduleForm({ schedule, connections, defaultDestination = "", onSaved, onClose }: ScheduleFormProps) {
  const add = useAddSchedule();
  const update = useUpdateSchedule();
  const [savedId, setSavedId] = useState<string | null>(schedule?.id ?? null);
  const [justSaved, setJustSaved] = useState<Schedule | null>(null);
  const [submitError, setSubmitError] = useState<CoreError | null>(null);
  const detail = useScheduleDetail(savedId);

  const form = useForm<ScheduleFormValues, unknown, ScheduleFormOutput>({
    resolver: zodResolver(scheduleFormSchema),
    defaultValues: schedule ? scheduleValues(schedule) : defaultScheduleValues(connections[0]?.id ?? "", defaultDestination),
  });
  const {
    register,
    control,
    handleSubmit,
    setValue,
    setError,
    reset,
    formState: { errors, isSubmitting },
  } = form;
  const fieldsForm = form as unknown as ExportFieldsForm;

  const [cron, timeZone, connectionId, selectionKind, retentionKind, pkg, compression] = useWatch({
    control,
    name: ["cron", "time_zone", "connection_id", "selection_kind", "retention_kind", "package", "compression"],
  });
  const zoneOptions = useMemo(() => timeZoneOptions(schedule?.time_zone), [schedule?.time_zone]);
  const kinds = useProviderKinds();
  const connectionKind = connections.find((c) => c.id === connectionId)?.kind;
  const kind = kinds.data?.find((k) => k.kind === connectionKind);
  const nativeArchive = kind?.native_archive ?? null;
  const connectionOptions = useMemo(() => {
    const options = connections.map((c) => ({ value: c.id, label: c.name }));
    if (schedule && !connections.some((c) => c.id === schedule.template.connection_id)) {
      // Its connection was removed: say so rather than silently pick another.
      options.unshift({ value: schedule.template.connection_id, label: "(removed connection)" });
    }
    if (options.length === 0) options.push({ value: "", label: "No connections yet" });
    return options;
  }, [connections, schedule]);

  const saved = detail.data?.schedule;
  const stale = saved !== undefined && (saved.cron !== cron.trim() || saved.time_zone !== (timeZone.trim() || "local"));

  const submit = handleSubmit(async (values) => {
    setSubmitError(null);
    setJustSaved(null);
    const input = toScheduleInput(values);
    try {
      const result = savedId
        ? await update.mutateAsync({ id: savedId, input })
        : await add.mutateAsync(input);
      setSavedId(result.id);
      setJustSaved(result);
      // What was saved is the new starting point: "changed since saving" is measured from it.
      reset(values);
      onSaved?.(result);
    } catch (error) {
      const coreError = toCoreError(error);
      const field = fieldForScheduleError(coreError.toApiError());
      if (field) {
        setError(field, { type: "core", message: coreError.message }, { shouldFocus: true });
      } else {
        setSubmitError(coreError);
      }
    }
  });

  return (
    <form onSubmit={(e) => void submit(e)} noValidate aria-label="Schedule" data-testid="schedule-form">
      <Stack gap="md">
        {submitError && <ErrorAlert error={submitError} title="Could not save the schedule" />}

        <Section title="When">
          <TextInput
            label="Name"
            description="Also the name of the folder each run writes into"
            placeholder="nightly"
            withAsterisk
            error={errors.name?.message}
            data-testid="schedule-name"
            autoComplete="off"
            data-autofocus
            {...register("name")}
          />
          <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
            <Stack gap={4}>
              <TextInput
                label="Cron expression"
                description="minute hour day-of-month month day-of-week"
                placeholder="0 2 * * *"
                withAsterisk
                error={errors.cron?.message}
                data-testid="schedule-cron"
                autoComplete="off"
                spellCheck={false}
                styles={{ input: { fontFamily: "var(--mantine-font-family-monospace)" } }}
                {...register("cron")}
              />
              <CronLivePreview cron={cron} timeZone={timeZone} />
              <Group gap={6}>
                {CRON_PRESETS.map((p) => (
                  <Button
                    key={p.value}
                    size="compact-xs"
                    variant={cron.trim() === p.value ? "filled" : "light"}
                    onClick={() => setValue("cron", p.value, { shouldValidate: true, shouldDirty: true })}
                    data-testid={`schedule-preset-${p.value.slice(1)}`}
                  >
                    {p.label}
                  </Button>
                ))}
              </Group>
            </Stack>
            <Controller
              control={control}
              name="time_zone"
              render={({ field, fieldState }) => (
                <Select
                  label="Time zone"
                  description="The cron times are wall-clock times in this zone"
                  data={zoneOptions}
                  searchable
                  filter={({ options, search }) =>
                    options.filter((o) => "label" in o && zoneMatches(o.label, search))
                  }
                  limit={200}
                  nothingFoundMessage="No such zone"
                  allowDeselect={false}
                  name={field.name}
                  ref={field.ref}
                  value={field.value}
                  onBlur={field.onBlur}
                  onChange={(value) => field.onChange(value ?? "local")}
                  error={fieldState.error?.message}
                  data-testid="schedule-timezone"
                />
              )}
            />
          </SimpleGrid>
          <Card withBorder padding="sm" radius="sm">
            <Text size="xs" c="dimmed" fw={600} tt="uppercase" mb={6}>
              Next runs
            </Text>
            <SchedulePreview
              detail={detail.data}
              loading={savedId !== null && detail.isPending}
              error={detail.error}
              stale={stale}
              placeholder="The scheduler describes the expression and lists its next 5 run times when you save."
            />
          </Card>
          <NativeSelect
            label="If a run was missed"
            description="When the computer was off or asleep at the time"
            data={[
              { value: "run_once", label: "Run once at start-up" },
              { value: "skip", label: "Skip it (recorded in the history)" },
            ]}
            data-testid="schedule-missed"
            {...register("missed_run_policy")}
          />
        </Section>

        <Section title="What">
          <NativeSelect
            label="Connection"
            data={connectionOptions}
            withAsterisk
            error={errors.connection_id?.message}
            data-testid="schedule-connection"
            {...register("connection_id")}
          />
          <Controller
            control={control}
            name="selection_kind"
            render={({ field }) => (
              <SegmentedControl
                value={field.value}
                onChange={(v) => field.onChange(v as ScheduleFormValues["selection_kind"])}
                data={[
                  { value: "fixed", label: "These VMs" },
                  { value: "rule", label: "VMs matching a rule" },
                ]}
                data-testid="schedule-selection"
              />
            )}
          />
          {selectionKind === "fixed" ? (
            <Controller
              control={control}
              name="vms"
              render={({ field, fieldState }) => (
                <VmPicker
                  connectionId={connectionId === "" ? null : connectionId}
                  value={field.value}
                  onChange={field.onChange}
                  error={fieldState.error?.message}
                />
              )}
            />
          ) : (
            <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="sm">
              <TextInput
                label="Name pattern"
                description="* any characters, ? one; case does not matter"
                placeholder="web*"
                error={errors.name_pattern?.message}
                data-testid="schedule-match"
                autoComplete="off"
                spellCheck={false}
                {...register("name_pattern")}
              />
              <TextInput
                label="Folder"
                description="Only VMs under this inventory folder"
                placeholder="/DC0/vm/prod"
                error={errors.folder?.message}
                data-testid="schedule-folder"
                autoComplete="off"
                spellCheck={false}
                {...register("folder")}
              />
              <Text size="xs" c="dimmed" style={{ gridColumn: "1 / -1" }}>
                Evaluated at every run, so a VM created later is backed up too. With both, a VM must match both.
              </Text>
            </SimpleGrid>
          )}
        </Section>

        <Section title="Where and how">
          <DestinationField
            form={fieldsForm}
            description={`An existing folder; each run writes DEST/<name>/<date-time>/${artefactName(pkg, compression, "VM")}`}
            testId="schedule-destination"
            browseTestId="schedule-browse"
          />
          <ExportFormatFields form={fieldsForm} testIdPrefix="schedule-format" nativeArchive={nativeArchive} exportOptions={kind?.export_options} />
        </Section>

        <Section title="Keep">
          <Controller
            control={control}
            name="retention_kind"
            render={({ field, fieldState }) => (
              <Radio.Group
                label="Old backups"
                description="Only runs that succeeded count as copies; only files this schedule wrote are ever deleted"
                value={field.value}
                onChange={(v) => field.onChange(v as ScheduleFormValues["retention_kind"])}
                error={fieldState.error?.message}
              >
                <Stack gap={6} mt={6}>
                  <Radio value="keep_all" label="Keep everything" data-testid="schedule-retention-keep_all" />
                  <Radio value="keep_last" label="Keep the last N runs" data-testid="schedule-retention-keep_last" />
                  <Radio
                    value="gfs"
                    label="Keep daily, weekly and monthly copies (grandfather-father-son)"
                    data-testid="schedule-retention-gfs"
                  />
                </Stack>
              </Radio.Group>
            )}
          />
          {retentionKind === "keep_last" && (
            <TextInput
              label="Runs to keep"
              inputMode="numeric"
              maw={200}
              error={errors.keep_last?.message}
              data-testid="schedule-keep-last"
              autoComplete="off"
              {...register("keep_last")}
            />
          )}
          {retentionKind === "gfs" && (
            <SimpleGrid cols={3} spacing="sm" maw={480}>
              <TextInput
                label="Daily"
                inputMode="numeric"
                error={errors.keep_daily?.message}
                data-testid="schedule-keep-daily"
                autoComplete="off"
                {...register("keep_daily")}
              />
              <TextInput
                label="Weekly"
                inputMode="numeric"
                error={errors.keep_weekly?.message}
                data-testid="schedule-keep-weekly"
                autoComplete="off"
                {...register("keep_weekly")}
              />
              <TextInput
                label="Monthly"
                inputMode="numeric"
                error={errors.keep_monthly?.message}
                data-testid="schedule-keep-monthly"
                autoComplete="off"
                {...register("keep_monthly")}
              />
            </SimpleGrid>
          )}
          <Controller
            control={control}
            name="enabled"
            render={({ field }) => (
              <Switch
                label="Enabled"
                description="A disabled schedule keeps its history and can still be run by hand"
                name={field.name}
                ref={field.ref}
                checked={field.value}
                onBlur={field.onBlur}
                onChange={(e) => field.onChange(e.currentTarget.checked)}
                data-testid="schedule-form-enabled"
              />
            )}
          />
        </Section>

        {justSaved && (
          <Alert color="teal" variant="light" icon={<IconCircleCheck size={18} aria-hidden />} data-testid="schedule-saved">
            <Text size="sm">
              Saved “{justSaved.name}”.{" "}
              {justSaved.next_run ? `Next run: ${formatLocal(justSaved.next_run)}.` : "It is disabled: it runs only when asked."}
            </Text>
          </Alert>
        )}
        <Group justify="flex-end">
          {justSaved ? (
            <Button variant="default" onClick={onClose} data-testid="schedule-done">
              Done
            </Button>
          ) : (
            <Button variant="default" onClick={onClose} disabled={isSubmitting}>
              Cancel
            </Button>
          )}
          <Button type="submit" loading={isSubmitting} data-testid="schedule-save">
            {savedId ? "Save changes" : "Save schedule"}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

import { Button, Group, NumberInput, SimpleGrid, Stack } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { zodResolver } from "@hookform/resolvers/zod";
import { Controller, useForm } from "react-hook-form";
import type { Settings } from "../../bindings";
import { useUpdateSettings } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LIMITS, settingsSchema } from "./schema";
import type { SettingsFormValues } from "./schema";

const FIELDS: {
  name: keyof SettingsFormValues;
  label: string;
  description: string;
  limits: { min: number; max: number };
  testId: string;
}[] = [
  {
    name: "max_concurrent_jobs",
    label: "Jobs at once",
    description: "How many jobs may run at the same time",
    limits: LIMITS.maxConcurrentJobs,
    testId: "settings-max-concurrent-jobs",
  },
  {
    name: "max_jobs_per_connection",
    label: "Jobs per connection",
    description: "How many of those may use the same connection",
    limits: LIMITS.maxJobsPerConnection,
    testId: "settings-max-jobs-per-connection",
  },
  {
    name: "disks_per_export",
    label: "Disks at once",
    description:
      "How many disks one export downloads in parallel; 1 writes each disk of an OVA only once, which is faster when the local disk is the limit",
    limits: LIMITS.disksPerExport,
    testId: "settings-disks-per-export",
  },
];

export function LimitsForm({ settings }: { settings: Settings }) {
  const update = useUpdateSettings();
  const {
    control,
    handleSubmit,
    reset,
    formState: { isDirty },
  } = useForm<SettingsFormValues>({
    resolver: zodResolver(settingsSchema),
    values: settings,
  });

  const submit = handleSubmit((values) =>
    // The form edits the limits only; the other settings are sent back unchanged.
    update.mutateAsync({ ...settings, ...values }).then(
      (saved) => {
        reset(saved);
        notifications.show({ color: "teal", title: "Settings saved", message: "New limits apply to jobs that start from now on." });
      },
      () => undefined, // shown by the alert below
    ),
  );

  return (
    <form onSubmit={(e) => void submit(e)} noValidate aria-label="Job limits">
      <Stack gap="md">
        {update.error && <ErrorAlert error={update.error} title="Could not save settings" />}
        <SimpleGrid cols={{ base: 1, sm: 3 }}>
          {FIELDS.map((f) => (
            <Controller
              key={f.name}
              control={control}
              name={f.name}
              render={({ field, fieldState }) => (
                <NumberInput
                  label={f.label}
                  description={`${f.description} (${f.limits.min}–${f.limits.max}).`}
                  min={f.limits.min}
                  max={f.limits.max}
                  allowDecimal={false}
                  allowNegative={false}
                  clampBehavior="none"
                  name={field.name}
                  ref={field.ref}
                  value={Number.isNaN(field.value) ? "" : field.value}
                  onBlur={field.onBlur}
                  onChange={(v) => field.onChange(typeof v === "number" ? v : Number.NaN)}
                  error={fieldState.error?.message}
                  data-testid={f.testId}
                />
              )}
            />
          ))}
        </SimpleGrid>
        <Group justify="flex-end">
          <Button type="submit" disabled={!isDirty} loading={update.isPending} data-testid="settings-save">
            Save limits
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

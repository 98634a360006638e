import { Button, Group, NumberInput, SimpleGrid, Stack } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { zodResolver } from "@hookform/resolvers/zod";
import { Controller, useForm } from "react-hook-form";
import type { Settings } from "../../bindings";
import { useUpdateSettings } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LIMITS, settingsSchema } from "./schema";
import type { SettingsFormValues } from "./schema";

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
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <Controller
            control={control}
            name="max_concurrent_jobs"
            render={({ field, fieldState }) => (
              <NumberInput
                label="Jobs at once"
                description={`How many jobs may run at the same time (${LIMITS.maxConcurrentJobs.min}–${LIMITS.maxConcurrentJobs.max}).`}
                min={LIMITS.maxConcurrentJobs.min}
                max={LIMITS.maxConcurrentJobs.max}
                allowDecimal={false}
                allowNegative={false}
                clampBehavior="none"
                name={field.name}
                ref={field.ref}
                value={Number.isNaN(field.value) ? "" : field.value}
                onBlur={field.onBlur}
                onChange={(v) => field.onChange(typeof v === "number" ? v : Number.NaN)}
                error={fieldState.error?.message}
                data-testid="settings-max-concurrent-jobs"
              />
            )}
          />
          <Controller
            control={control}
            name="max_jobs_per_connection"
            render={({ field, fieldState }) => (
              <NumberInput
                label="Jobs per connection"
                description={`How many of those may use the same connection (${LIMITS.maxJobsPerConnection.min}–${LIMITS.maxJobsPerConnection.max}).`}
                min={LIMITS.maxJobsPerConnection.min}
                max={LIMITS.maxJobsPerConnection.max}
                allowDecimal={false}
                allowNegative={false}
                clampBehavior="none"
                name={field.name}
                ref={field.ref}
                value={Number.isNaN(field.value) ? "" : field.value}
                onBlur={field.onBlur}
                onChange={(v) => field.onChange(typeof v === "number" ? v : Number.NaN)}
                error={fieldState.error?.message}
                data-testid="settings-max-jobs-per-connection"
              />
            )}
          />
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

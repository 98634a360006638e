import { Alert, Anchor, Button, Group, Stack, Switch, Text, TextInput } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { zodResolver } from "@hookform/resolvers/zod";
import { IconAlertTriangle } from "@tabler/icons-react";
import { Controller, useForm, useWatch } from "react-hook-form";
import type { Settings } from "../../bindings";
import { useUpdateSettings } from "../../api/hooks";
import { useMetricsEndpointStatus } from "../../api/metricsHooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { isLoopback, metricsSchema } from "./metricsEndpoint";
import type { MetricsFormValues } from "./metricsEndpoint";

/** Settings → Prometheus metrics: off by default, loopback unless the user says otherwise. */
export function MetricsEndpointForm({ settings }: { settings: Settings }) {
  const update = useUpdateSettings();
  const status = useMetricsEndpointStatus();
  const {
    control,
    handleSubmit,
    reset,
    formState: { isDirty },
  } = useForm<MetricsFormValues>({
    resolver: zodResolver(metricsSchema),
    values: { metrics_enabled: settings.metrics_enabled, metrics_listen: settings.metrics_listen },
  });
  const listen = useWatch({ control, name: "metrics_listen" });
  const enabled = useWatch({ control, name: "metrics_enabled" });
  const exposed = enabled && listen.trim() !== "" && !isLoopback(listen);

  const submit = handleSubmit((values) =>
    update.mutateAsync({ ...settings, ...values }).then(
      (saved) => {
        reset({ metrics_enabled: saved.metrics_enabled, metrics_listen: saved.metrics_listen });
        void status.refetch();
        notifications.show({
          color: "teal",
          title: "Settings saved",
          message: saved.metrics_enabled ? "The metrics endpoint follows the new settings." : "The metrics endpoint is off.",
        });
      },
      () => undefined, // shown by the alert below
    ),
  );

  const s = status.data;
  return (
    <form onSubmit={(e) => void submit(e)} noValidate aria-label="Prometheus metrics">
      <Stack gap="md">
        {update.error && <ErrorAlert error={update.error} title="Could not save settings" />}
        <Controller
          control={control}
          name="metrics_enabled"
          render={({ field }) => (
            <Switch
              label="Serve Prometheus metrics"
              description="Jobs by state, bytes exported, throughput, job durations, scheduler and webhook counters at /metrics."
              checked={field.value}
              onChange={(e) => field.onChange(e.currentTarget.checked)}
              data-testid="settings-metrics-enabled"
            />
          )}
        />
        <Controller
          control={control}
          name="metrics_listen"
          render={({ field, fieldState }) => (
            <TextInput
              label="Listen address"
              description="IP address and port. 127.0.0.1 lets only this machine connect."
              {...field}
              error={fieldState.error?.message}
              data-testid="settings-metrics-listen"
            />
          )}
        />
        {exposed && (
          <Alert color="orange" variant="light" icon={<IconAlertTriangle size={18} aria-hidden />} data-testid="settings-metrics-exposed">
            {listen.trim()} is reachable from other machines: anyone who can connect reads job names and figures, without
            signing in. Keep 127.0.0.1 unless a Prometheus on another machine must scrape this one, and limit access with a
            firewall.
          </Alert>
        )}
        {s?.enabled && s.url && (
          <Text size="sm" data-testid="settings-metrics-status">
            Serving on{" "}
            <Anchor href={s.url} target="_blank" rel="noreferrer" ff="monospace">
              {s.url}
            </Anchor>
          </Text>
        )}
        {s?.enabled && s.error && <ErrorAlert error={s.error} title="The metrics endpoint is not running" />}
        <Group justify="flex-end">
          <Button type="submit" disabled={!isDirty} loading={update.isPending} data-testid="settings-metrics-save">
            Save
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

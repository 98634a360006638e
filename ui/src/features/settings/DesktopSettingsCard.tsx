import { Card, Radio, Stack, Switch, Text, Title } from "@mantine/core";
import type { NotifyRuns } from "../../bindings";
import { useAutostart, useDesktopSettings, useSetAutostart, useUpdateDesktopSettings } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";

const NOTIFY_OPTIONS: { value: NotifyRuns; label: string }[] = [
  { value: "never", label: "Never" },
  { value: "failures_only", label: "Only when a run fails or is partial" },
  { value: "always", label: "After every run" },
];
/** The core's default (`NotifyRuns::Always`) when nothing was saved yet. */
const DEFAULT_NOTIFY: NotifyRuns = "always";

/** What only the desktop app acts on: run notifications and start at login. Saved on change. */
export function DesktopSettingsCard() {
  const settings = useDesktopSettings();
  const update = useUpdateDesktopSettings();
  const autostart = useAutostart();
  const setAutostart = useSetAutostart();

  return (
    <Card withBorder padding="lg" data-testid="settings-desktop">
      <Title order={3} size="h4" mb="md">
        Scheduled backups on this computer
      </Title>
      <Stack gap="lg">
        {settings.isPending && <LoadingBlock label="Loading settings" />}
        {settings.isError && <ErrorAlert error={settings.error} title="Could not load the notification setting" />}
        {settings.isSuccess && (
          <Radio.Group
            label="Notify after scheduled runs"
            description="A desktop notification says how each scheduled run went"
            value={settings.data.notify_runs ?? DEFAULT_NOTIFY}
            onChange={(value) => update.mutate({ ...settings.data, notify_runs: value as NotifyRuns })}
            data-testid="settings-notify-runs"
          >
            <Stack gap={6} mt={6}>
              {NOTIFY_OPTIONS.map((o) => (
                <Radio
                  key={o.value}
                  value={o.value}
                  label={o.label}
                  disabled={update.isPending}
                  data-testid={`settings-notify-${o.value}`}
                />
              ))}
            </Stack>
          </Radio.Group>
        )}
        {update.error && <ErrorAlert error={update.error} title="Could not save the notification setting" />}

        {autostart.isError && <ErrorAlert error={autostart.error} title="Could not read the start-at-login setting" />}
        {autostart.isSuccess && (
          <Switch
            label="Start at login"
            description="Opens HyperSDK Desktop in the tray when you sign in, so schedules run without opening the window"
            checked={autostart.data}
            disabled={setAutostart.isPending}
            onChange={(e) => setAutostart.mutate(e.currentTarget.checked)}
            data-testid="settings-autostart"
          />
        )}
        {setAutostart.error && <ErrorAlert error={setAutostart.error} title="Could not change the start-at-login setting" />}
        <Text size="xs" c="dimmed">
          Schedules fire while the app runs, window open or closed to the tray. On a server without the app, use{" "}
          <code>hyperctl scheduler</code>.
        </Text>
      </Stack>
    </Card>
  );
}

import { Card, Stack, Switch, Title } from "@mantine/core";
import { useUpdateWebhookSettings, useWebhookSettings } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";

export function WebhookSettingsCard() {
  const settings = useWebhookSettings();
  const update = useUpdateWebhookSettings();

  return (
    <Card withBorder padding="lg" data-testid="webhook-settings">
      <Title order={3} size="h4" mb="md">
        Delivery settings
      </Title>
      {settings.isPending && <LoadingBlock label="Loading webhook settings" />}
      {settings.isError && <ErrorAlert error={settings.error} title="Could not load webhook settings" />}
      {settings.isSuccess && (
        <Stack gap="sm">
          {update.error && <ErrorAlert error={update.error} title="Could not save webhook settings" />}
          <Switch
            label="Block private and loopback destinations"
            description="Refuse receivers on this computer or a private network (checked after DNS on every attempt); leave off if your receiver runs locally or on the LAN."
            checked={settings.data.block_private_destinations ?? false}
            disabled={update.isPending}
            // Every field is sent: the core fills a missing one with its default, not the stored value.
            onChange={(e) => update.mutate({ ...settings.data, block_private_destinations: e.currentTarget.checked })}
            data-testid="webhook-block-private"
          />
        </Stack>
      )}
    </Card>
  );
}

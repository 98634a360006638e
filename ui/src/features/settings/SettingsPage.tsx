import { Card, SimpleGrid, Stack, Title } from "@mantine/core";
import type { AppInfo } from "../../bindings";
import { useSettings } from "../../api/hooks";
import { CopyableValue } from "../../components/CopyableValue";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";
import { PageHeader } from "../../components/PageHeader";
import { DesktopSettingsCard } from "./DesktopSettingsCard";
import { LimitsForm } from "./LimitsForm";
import { MetricsEndpointForm } from "./MetricsEndpointForm";
import { ThemeSetting } from "./ThemeSetting";

export function SettingsPage({ info }: { info: AppInfo }) {
  const settings = useSettings();

  return (
    <Stack gap="lg" data-testid="page-settings">
      <PageHeader title="Settings" description="How many jobs run at once, and where HyperSDK Desktop keeps its files." />
      <Card withBorder padding="lg">
        <Title order={3} size="h4" mb="md">
          Job limits
        </Title>
        {settings.isPending && <LoadingBlock label="Loading settings" />}
        {settings.isError && <ErrorAlert error={settings.error} title="Could not load settings" />}
        {settings.isSuccess && <LimitsForm settings={settings.data} />}
      </Card>
      <DesktopSettingsCard />
      <ThemeSetting />
      <Card withBorder padding="lg">
        <Title order={3} size="h4" mb="md">
          Prometheus metrics
        </Title>
        {settings.isSuccess && <MetricsEndpointForm settings={settings.data} />}
      </Card>
      <Card withBorder padding="lg">
        <Title order={3} size="h4" mb="md">
          About this installation
        </Title>
        <SimpleGrid cols={{ base: 1, md: 2 }} spacing="md">
          <CopyableValue label="Version" value={info.version} testId="settings-version" />
          <CopyableValue label="Data directory" value={info.data_dir} testId="settings-data-dir" />
          <CopyableValue label="Log directory" value={info.log_dir} testId="settings-log-dir" />
          <CopyableValue label="Database" value={info.database_path} testId="settings-database-path" />
        </SimpleGrid>
      </Card>
    </Stack>
  );
}

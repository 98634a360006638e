import { Card, Center, Code, Group, Stack, Text, ThemeIcon, Title } from "@mantine/core";
import { IconAlertOctagon } from "@tabler/icons-react";
import type { ApiError, AppInfo } from "../../bindings";
import { errorDetails } from "../../api/errors";
import { CopyableValue } from "../../components/CopyableValue";
import { CopyDetailsButton } from "../../components/ErrorAlert";

type StartupErrorScreenProps = {
  error: ApiError;
  /** Known when the core answered; absent when the core could not be reached at all. */
  info?: AppInfo;
};

/** Full-page screen shown instead of the app when the core could not start. */
export function StartupErrorScreen({ error, info }: StartupErrorScreenProps) {
  const details = [
    errorDetails(error, "startup failed"),
    info ? `version: ${info.version}` : null,
    info ? `data dir: ${info.data_dir}` : null,
    info ? `log dir: ${info.log_dir}` : null,
    info ? `database: ${info.database_path}` : null,
  ]
    .filter((line): line is string => line !== null)
    .join("\n");

  return (
    <Center mih="100vh" p="lg" data-testid="startup-error">
      <Card withBorder shadow="sm" padding="xl" radius="md" maw={720} w="100%" component="main">
        <Stack gap="md">
          <Group gap="sm" wrap="nowrap">
            <ThemeIcon color="red" variant="light" size={44} radius="xl" aria-hidden>
              <IconAlertOctagon size={26} />
            </ThemeIcon>
            <Title order={1} size="h2">
              HyperSDK Desktop could not start
            </Title>
          </Group>
          <Text size="md" role="alert" data-testid="error-message" style={{ whiteSpace: "pre-wrap" }}>
            {error.message}
          </Text>
          <Group gap="xs">
            <Text size="sm" c="dimmed">
              Error code
            </Text>
            <Code data-testid="startup-error-code">{error.code}</Code>
          </Group>
          {info && (
            <Stack gap="sm">
              <CopyableValue label="Data directory" value={info.data_dir} />
              <CopyableValue label="Log directory" value={info.log_dir} />
            </Stack>
          )}
          <Text size="sm" c="dimmed">
            {info
              ? "The log directory has the full details. Fix the problem named above, then restart HyperSDK Desktop."
              : "The dashboard could not reach the HyperSDK core. Restart HyperSDK Desktop; if this keeps happening, copy the details and report them."}
          </Text>
          <Group justify="flex-end">
            <CopyDetailsButton text={details} />
          </Group>
        </Stack>
      </Card>
    </Center>
  );
}

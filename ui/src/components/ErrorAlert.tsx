import { Alert, Button, CopyButton, Group, Stack, Text } from "@mantine/core";
import { IconAlertTriangle, IconCheck, IconCopy } from "@tabler/icons-react";
import { errorDetails, toApiError } from "../api/errors";

type ErrorAlertProps = {
  error: unknown;
  title?: string;
  /** Extra words for the copied details, e.g. what was being done. */
  context?: string;
};

/** Shows the core's message with its code and a "Copy details" action. */
export function ErrorAlert({ error, title = "Something went wrong", context }: ErrorAlertProps) {
  const apiError = toApiError(error);
  return (
    <Alert
      color="red"
      variant="light"
      title={title}
      icon={<IconAlertTriangle size={20} aria-hidden />}
      role="alert"
    >
      <Stack gap="xs">
        <Text size="sm" data-testid="error-message" style={{ whiteSpace: "pre-wrap" }}>
          {apiError.message}
        </Text>
        <Group gap="sm" justify="space-between">
          <Text size="xs" c="dimmed" ff="monospace">
            {apiError.code}
            {apiError.retryable ? " · you can try again" : ""}
          </Text>
          <CopyDetailsButton text={errorDetails(apiError, context ?? title)} />
        </Group>
      </Stack>
    </Alert>
  );
}

export function CopyDetailsButton({ text }: { text: string }) {
  return (
    <CopyButton value={text} timeout={1500}>
      {({ copied, copy }) => (
        <Button
          size="compact-xs"
          variant="subtle"
          color={copied ? "teal" : "gray"}
          leftSection={copied ? <IconCheck size={14} aria-hidden /> : <IconCopy size={14} aria-hidden />}
          onClick={copy}
        >
          {copied ? "Copied" : "Copy details"}
        </Button>
      )}
    </CopyButton>
  );
}

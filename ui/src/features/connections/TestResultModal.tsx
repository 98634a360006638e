import { Alert, Group, List, Loader, Modal, Stack, Text, ThemeIcon } from "@mantine/core";
import { IconCircleCheck, IconCircleX } from "@tabler/icons-react";
import type { Connection, ConnectionTestResult } from "../../bindings";
import { ErrorAlert } from "../../components/ErrorAlert";

type TestResultModalProps = {
  connection: Connection | null;
  pending: boolean;
  result: ConnectionTestResult | undefined;
  error: unknown;
  onClose: () => void;
};

export function TestResultModal({ connection, pending, result, error, onClose }: TestResultModalProps) {
  return (
    <Modal
      opened={connection !== null}
      onClose={onClose}
      title={connection ? `Test “${connection.name}”` : "Test connection"}
      size="lg"
    >
      {pending && (
        <Group gap="sm">
          <Loader size="sm" />
          <Text size="sm">Checking the connection…</Text>
        </Group>
      )}
      {!pending && error !== null && error !== undefined && (
        <ErrorAlert error={error} title="The test could not run" />
      )}
      {!pending && result && <TestResultView result={result} />}
    </Modal>
  );
}

export function TestResultView({ result }: { result: ConnectionTestResult }) {
  return (
    <Stack gap="md" data-testid="connection-test-result" data-ok={result.ok}>
      <Alert
        color={result.ok ? "teal" : "red"}
        variant="light"
        icon={result.ok ? <IconCircleCheck aria-hidden /> : <IconCircleX aria-hidden />}
        title={result.ok ? "All checks passed" : "Some checks failed"}
      >
        {result.ok
          ? "The connection works and is ready to use."
          : "Fix the failing checks below, then test again."}
      </Alert>
      <List spacing="sm" listStyleType="none" aria-label="Checks">
        {result.checks.map((check) => (
          <List.Item
            key={check.name}
            data-testid="connection-test-check"
            data-ok={check.ok}
            icon={
              <ThemeIcon color={check.ok ? "teal" : "red"} size={22} radius="xl" variant="light">
                {check.ok ? <IconCircleCheck size={16} aria-label="passed" /> : <IconCircleX size={16} aria-label="failed" />}
              </ThemeIcon>
            }
          >
            <Text size="sm" fw={600}>
              {check.name}
            </Text>
            {check.detail && (
              <Text size="sm" c="dimmed" style={{ whiteSpace: "pre-wrap" }}>
                {check.detail}
              </Text>
            )}
          </List.Item>
        ))}
      </List>
    </Stack>
  );
}

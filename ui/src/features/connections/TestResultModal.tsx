import { Alert, Button, Group, List, Loader, Modal, Stack, Text, ThemeIcon } from "@mantine/core";
import { IconCircleCheck, IconCircleMinus, IconCircleX, IconEdit, IconShieldLock } from "@tabler/icons-react";
import type { Connection, ConnectionTestResult } from "../../bindings";
import { fixedByEditingConnection, toApiError } from "../../api/errors";
import { Breakable } from "../../components/CopyableValue";
import { ErrorAlert } from "../../components/ErrorAlert";
import { certificateProblemInTest, certificateProblemOf } from "./certificate";
import type { CertificateProblem } from "./certificate";

type TestResultModalProps = {
  connection: Connection | null;
  pending: boolean;
  result: ConnectionTestResult | undefined;
  error: unknown;
  onClose: () => void;
  /** Offered when the server's certificate is not trusted (or changed) and can be pinned. */
  onTrustCertificate?: (problem: CertificateProblem) => void;
  /** Offered when a check failed in a way editing the connection fixes (a refused password). */
  onEditConnection?: () => void;
};

export function TestResultModal({ connection, pending, result, error, onClose, onTrustCertificate, onEditConnection }: TestResultModalProps) {
  const hasError = error !== null && error !== undefined;
  const editFixes =
    !pending &&
    (hasError
      ? fixedByEditingConnection(toApiError(error).code)
      : (result?.checks.some((c) => !c.ok && !c.skipped && fixedByEditingConnection(c.code)) ?? false));
  const problem = pending
    ? null
    : hasError
      ? certificateProblemOf(toApiError(error))
      : certificateProblemInTest(result, connection);
  return (
    <Modal
      opened={connection !== null}
      onClose={onClose}
      title={connection ? `Test “${connection.name}”` : "Test connection"}
      size="lg"
    >
      <Stack gap="md">
        {pending && (
          <Group gap="sm">
            <Loader size="sm" />
            <Text size="sm">Checking the connection…</Text>
          </Group>
        )}
        {!pending && hasError && <ErrorAlert error={error} title="The test could not run" />}
        {!pending && result && <TestResultView result={result} />}
        {editFixes && onEditConnection && (
          <Group justify="flex-end">
            <Button leftSection={<IconEdit size={16} aria-hidden />} onClick={onEditConnection} data-testid="test-edit-connection">
              Edit connection…
            </Button>
          </Group>
        )}
        {problem?.fingerprint && onTrustCertificate && (
          <Group justify="flex-end">
            <Button
              variant="light"
              color={problem.kind === "changed" ? "red" : "yellow"}
              leftSection={<IconShieldLock size={16} aria-hidden />}
              onClick={() => onTrustCertificate(problem)}
              data-testid="pin-offer"
            >
              {pinOfferLabel(problem)}
            </Button>
          </Group>
        )}
      </Stack>
    </Modal>
  );
}

function pinOfferLabel(problem: CertificateProblem): string {
  const what = problem.pinOption ? "SSH host key" : "certificate";
  return problem.kind === "changed" ? `Review the changed ${what}…` : `Trust this ${what}…`;
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
            data-skipped={check.skipped === true}
            icon={
              // A check that could not run is not a second problem: grey, not red.
              <ThemeIcon color={check.ok ? "teal" : check.skipped ? "gray" : "red"} size={22} radius="xl" variant="light">
                {check.ok ? (
                  <IconCircleCheck size={16} aria-label="passed" />
                ) : check.skipped ? (
                  <IconCircleMinus size={16} aria-label="not checked" />
                ) : (
                  <IconCircleX size={16} aria-label="failed" />
                )}
              </ThemeIcon>
            }
          >
            <Text size="sm" fw={600} c={check.skipped ? "dimmed" : undefined}>
              {check.name}
            </Text>
            {check.detail && (
              <Text size="sm" c="dimmed" style={{ whiteSpace: "pre-wrap" }}>
                {check.detail}
              </Text>
            )}
            {check.fingerprint && (
              <Text size="xs" ff="monospace" style={{ overflowWrap: "anywhere" }} data-testid="connection-test-fingerprint">
                SHA-256 <Breakable text={check.fingerprint} />
              </Text>
            )}
          </List.Item>
        ))}
      </List>
    </Stack>
  );
}

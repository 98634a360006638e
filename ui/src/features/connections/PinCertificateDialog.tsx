import { Alert, Button, Group, Loader, Modal, Stack, Text } from "@mantine/core";
import { IconAlertTriangle, IconShieldCheck, IconShieldX } from "@tabler/icons-react";
import type { Connection } from "../../bindings";
import { useTestConnection, useUpdateConnection } from "../../api/hooks";
import { CopyableValue } from "../../components/CopyableValue";
import { ErrorAlert } from "../../components/ErrorAlert";
import { pinInput } from "./certificate";
import type { CertificateProblem } from "./certificate";
import { TestResultView } from "./TestResultModal";

type PinCertificateDialogProps = {
  opened: boolean;
  connection: Connection | null;
  problem: CertificateProblem | null;
  onClose: () => void;
  /** After the pin is saved (before the re-test finishes), e.g. to reload what failed. */
  onPinned?: (connection: Connection) => void;
};

/**
 * Shows the certificate a server presents and lets the user trust exactly that certificate:
 * "Trust and pin" saves its fingerprint on the connection (keeping the stored secret), then
 * tests the connection again and shows the result.
 */
export function PinCertificateDialog({ opened, connection, problem, onClose, onPinned }: PinCertificateDialogProps) {
  const update = useUpdateConnection();
  const test = useTestConnection();
  const changed = problem?.kind === "changed";
  const fingerprint = problem?.fingerprint ?? null;

  const close = () => {
    update.reset();
    test.reset();
    onClose();
  };

  const pin = () => {
    if (!connection || !fingerprint) return;
    test.reset();
    update.mutate(
      { id: connection.id, input: pinInput(connection, fingerprint, problem?.pinOption) },
      {
        onSuccess: (saved) => {
          onPinned?.(saved);
          test.mutate(saved.id);
        },
      },
    );
  };

  const pinned = update.isSuccess;
  // The same decision for an SSH host key (the data path of some providers) as for a certificate.
  const hostKey = Boolean(problem?.pinOption);
  const title = pinned
    ? hostKey
      ? "SSH host key pinned"
      : "Certificate pinned"
    : hostKey
      ? changed
        ? "The node's SSH host key has changed"
        : "This node's SSH host key is not trusted yet"
      : changed
        ? "The server's certificate has changed"
        : "This server's certificate is not trusted";

  return (
    <Modal opened={opened} onClose={close} title={title} size="lg">
      <Stack gap="md" data-testid="pin-dialog" data-kind={problem?.kind}>
        {pinned ? null : changed ? (
          <Alert color="red" variant="filled" icon={<IconShieldX aria-hidden />} title="Pinned certificate changed" data-testid="pin-changed-warning">
            {connection ? <b>{connection.name}</b> : "This connection"} was set to trust one certificate only, and
            the server now presents a different one. That happens when the server's certificate was renewed
            or replaced — and also when someone is intercepting the connection. Trust the new certificate
            only after its administrator has confirmed the fingerprint below.
          </Alert>
        ) : hostKey ? (
          <Alert color="yellow" variant="light" icon={<IconAlertTriangle aria-hidden />} data-testid="pin-host-key">
            The SSH server that exports the VMs presents a host key this connection has not seen before.
            Compare the fingerprint below with the node's (<code>ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub</code>{" "}
            on the node) and pin it: this connection will then accept exactly the keys it has pinned.
          </Alert>
        ) : (
          <Alert color="yellow" variant="light" icon={<IconAlertTriangle aria-hidden />}>
            This computer's certificate authorities do not vouch for the certificate of{" "}
            {connection ? <b>{connection.endpoint}</b> : "this server"} (self-signed servers, such as a
            fresh vCenter, are common). If the fingerprint below is the one its administrator gives you,
            pin it: this connection will then trust exactly that certificate and nothing else.
          </Alert>
        )}
        {fingerprint ? (
          <CopyableValue label={hostKey ? "SSH host key (SHA-256)" : "SHA-256 fingerprint"} value={fingerprint} testId="pin-fingerprint" />
        ) : (
          <Text size="sm" c="dimmed">
            The server's fingerprint is not known; test the connection to see it.
          </Text>
        )}
        {update.error && <ErrorAlert error={update.error} title="Could not pin the certificate" />}
        {pinned && (
          <Stack gap="sm" data-testid="pin-retest">
            <Group gap="xs">
              <IconShieldCheck size={18} aria-hidden color="var(--mantine-color-teal-6)" />
              <Text size="sm" fw={600}>
                {connection ? `${connection.name} now trusts exactly this certificate.` : "The certificate is pinned."}
              </Text>
            </Group>
            {test.isPending && (
              <Group gap="sm">
                <Loader size="sm" />
                <Text size="sm">Testing the connection again…</Text>
              </Group>
            )}
            {test.error && <ErrorAlert error={test.error} title="The test could not run" />}
            {test.data && <TestResultView result={test.data} />}
          </Stack>
        )}
        <Group justify="flex-end">
          {pinned ? (
            <Button onClick={close} data-testid="pin-done" disabled={test.isPending}>
              Done
            </Button>
          ) : (
            <>
              <Button variant="default" onClick={close} disabled={update.isPending} data-autofocus>
                Cancel
              </Button>
              <Button
                color={changed ? "red" : undefined}
                onClick={pin}
                loading={update.isPending}
                disabled={!connection || !fingerprint}
                data-testid="pin-certificate"
              >
                Trust and pin
              </Button>
            </>
          )}
        </Group>
      </Stack>
    </Modal>
  );
}

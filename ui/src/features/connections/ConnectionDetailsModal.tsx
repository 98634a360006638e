import { Badge, Divider, Group, Modal, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import type { Connection, ProviderKindInfo } from "../../bindings";
import { useConnectionDiagnostics } from "../../api/hooks";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";
import { formatDateTime } from "../jobs/format";

type ConnectionDetailsModalProps = {
  /** The connection shown; null when closed. */
  connection: Connection | null;
  kinds: readonly ProviderKindInfo[];
  onClose: () => void;
};

export function ConnectionDetailsModal({ connection, kinds, onClose }: ConnectionDetailsModalProps) {
  const kind = kinds.find((k) => k.kind === connection?.kind);
  return (
    <Modal opened={connection !== null} onClose={onClose} title={connection ? `Details of “${connection.name}”` : "Connection details"} size="lg">
      {connection && (
        <Stack gap="md" data-testid="connection-details-panel">
          <SimpleGrid cols={2} spacing="sm">
            <Field label="Kind" value={kind?.display_name ?? connection.kind} />
            <Field label={kind?.username_label ?? "User name"} value={connection.username || "—"} />
            <Field label="Endpoint" value={connection.endpoint} mono />
            <Field label={kind?.secret_label ?? "Secret"} value={connection.has_secret ? "Stored in the OS keyring" : "Not set"} />
            <Field
              label="Certificate"
              value={connection.tls_fingerprint ? `Pinned SHA-256 ${connection.tls_fingerprint}` : "Verified against the system's authorities"}
              mono={connection.tls_fingerprint !== null}
            />
            {Object.entries(connection.options).map(([key, value]) => (
              <Field key={key} label={kind?.options.find((o) => o.key === key)?.label ?? key} value={value ?? ""} />
            ))}
            <Field label="Added" value={formatDateTime(connection.created_at)} />
            <Field label="Changed" value={formatDateTime(connection.updated_at)} />
          </SimpleGrid>
          <Divider />
          <ConnectionDiagnostics connectionId={connection.id} />
        </Stack>
      )}
    </Modal>
  );
}

function Field({ label, value, mono = false }: { label: string; value: string; mono?: boolean }) {
  return (
    <Stack gap={2}>
      <Text size="xs" c="dimmed" fw={600} tt="uppercase">
        {label}
      </Text>
      <Text size="sm" ff={mono ? "monospace" : undefined} style={{ overflowWrap: "anywhere" }}>
        {value}
      </Text>
    </Stack>
  );
}

/**
 * What this process's provider reports for the connection (vSphere: session pool counters). It
 * lives in memory, so it is empty until the connection is browsed, exported from or tested.
 */
export function ConnectionDiagnostics({ connectionId }: { connectionId: string }) {
  const diagnostics = useConnectionDiagnostics(connectionId);
  return (
    <Stack gap="xs" data-testid="connection-diagnostics">
      <Group justify="space-between">
        <Title order={4} size="h5">
          Live details
        </Title>
        <Badge variant="light" color="gray" tt="none">
          this session
        </Badge>
      </Group>
      {diagnostics.isPending && <LoadingBlock label="Loading live details" />}
      {diagnostics.isError && <ErrorAlert error={diagnostics.error} title="Could not read the live details" />}
      {diagnostics.isSuccess && diagnostics.data.length === 0 && (
        <Stack gap={2} data-testid="connection-diagnostics-empty">
          <Text size="sm">Not used yet in this session</Text>
          <Text size="xs" c="dimmed">
            Counters such as vSphere sessions created and reused appear once HyperSDK Desktop has browsed or exported
            from this connection since it started.
          </Text>
        </Stack>
      )}
      {diagnostics.isSuccess && diagnostics.data.length > 0 && (
        <Table withRowBorders={false} verticalSpacing={4} aria-label="Live details">
          <Table.Tbody>
            {diagnostics.data.map((d) => (
              <Table.Tr key={d.label} data-testid="connection-diagnostic" data-label={d.label}>
                <Table.Td>
                  <Text size="sm" c="dimmed">
                    {d.label}
                  </Text>
                </Table.Td>
                <Table.Td ta="right">
                  <Text size="sm" ff="monospace">
                    {d.value}
                  </Text>
                </Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
    </Stack>
  );
}

import { ActionIcon, Alert, Badge, Button, Card, Group, NativeSelect, SimpleGrid, Stack, Text, Tooltip } from "@mantine/core";
import { IconEdit, IconPlugConnected, IconRefresh, IconServer2, IconServerOff, IconShieldLock, IconShieldX } from "@tabler/icons-react";
import { useState } from "react";
import type { Connection } from "../../bindings";
import { errorDetails, fixedByEditingConnection, toApiError } from "../../api/errors";
import { useConnections, useProviderKinds, useVms } from "../../api/hooks";
import { EmptyState } from "../../components/EmptyState";
import { CopyDetailsButton, ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";
import { PageHeader } from "../../components/PageHeader";
import { useInventory } from "../../store/inventory";
import { useNavigation } from "../../store/navigation";
import { certificateProblemOf } from "../connections/certificate";
import type { CertificateProblem } from "../connections/certificate";
import { ConnectionFormModal } from "../connections/ConnectionFormModal";
import { PinCertificateDialog } from "../connections/PinCertificateDialog";
import { InventoryBrowser } from "./InventoryBrowser";

export function InventoryPage() {
  const connections = useConnections();
  const kinds = useProviderKinds();
  const storedId = useInventory((s) => s.connectionId);
  const setConnectionId = useInventory((s) => s.setConnectionId);
  const setSection = useNavigation((s) => s.setSection);
  const goToConnections = () => setSection("connections");

  const browsable = (connections.data ?? []).filter(
    (c) => kinds.data?.find((k) => k.kind === c.kind)?.discovery_available === true,
  );
  const connection = browsable.find((c) => c.id === storedId) ?? browsable[0] ?? null;
  const vms = useVms(connection?.id ?? null);
  // Held here, not in the error view: the dialog stays open to show the re-test after the
  // pin has made the VM list load.
  const [pinning, setPinning] = useState<{ connection: Connection; problem: CertificateProblem } | null>(null);
  // A refused sign-in is fixed in the connection's form, opened right here.
  const [editing, setEditing] = useState<{ connection: Connection; key: number } | null>(null);

  let body;
  if (connections.isPending || kinds.isPending) {
    body = <LoadingBlock label="Loading connections" />;
  } else if (connections.isError) {
    body = <ErrorAlert error={connections.error} title="Could not load connections" />;
  } else if (connections.data.length === 0) {
    body = (
      <EmptyState
        icon={<IconServer2 size={30} />}
        title="Add a connection to browse your VMs"
        testId="inventory-empty"
        action={
          <Button leftSection={<IconPlugConnected size={16} />} onClick={goToConnections} data-testid="inventory-go-connections">
            Go to Connections
          </Button>
        }
      >
        Your VMs are listed here once HyperSDK Desktop knows where to find them: a vCenter, an AWS,
        Azure or GCP account, a Hyper-V host or a Proxmox cluster.
      </EmptyState>
    );
  } else if (connection === null) {
    const kindName = (kind: string) => kinds.data?.find((k) => k.kind === kind)?.display_name ?? kind;
    body = (
      <Stack gap="md" data-testid="inventory-none-browsable">
        <EmptyState
          icon={<IconServerOff size={30} />}
          title="None of your connections can be browsed yet"
          action={
            <Button variant="light" leftSection={<IconPlugConnected size={16} />} onClick={goToConnections} data-testid="inventory-go-connections">
              Go to Connections
            </Button>
          }
        >
          This build browses and exports VMware vSphere. Add a vSphere connection to see its VMs; the
          connections below are kept and become browsable in a later version.
        </EmptyState>
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
          {connections.data.map((c) => (
            <Card key={c.id} withBorder padding="md">
              <Group justify="space-between" wrap="nowrap">
                <Text fw={600} truncate>
                  {c.name}
                </Text>
                <Badge variant="light">{kindName(c.kind)}</Badge>
              </Group>
              <Text size="sm" c="dimmed" ff="monospace" truncate>
                {c.endpoint}
              </Text>
            </Card>
          ))}
        </SimpleGrid>
      </Stack>
    );
  } else if (vms.isPending) {
    body = <LoadingBlock label={`Loading the VMs of ${connection.name}`} />;
  } else if (vms.isError) {
    body = (
      <VmsError
        connection={connection}
        error={vms.error}
        onRetry={() => void vms.refetch()}
        retrying={vms.isFetching}
        onTrust={(problem) => setPinning({ connection, problem })}
        onEdit={() => setEditing({ connection, key: Date.now() })}
      />
    );
  } else if (vms.data.length === 0) {
    body = (
      <EmptyState icon={<IconServer2 size={30} />} title={`${connection.name} reports no VMs`} testId="inventory-no-vms">
        The account may not be allowed to see any VMs, or the connection's datacenter option limits
        discovery to an empty datacenter. Check both on the Connections page, then refresh.
      </EmptyState>
    );
  } else {
    // Keyed by connection: switching connections starts with a fresh tree, search and selection.
    body = <InventoryBrowser key={connection.id} connection={connection} vms={vms.data} />;
  }

  const picker =
    browsable.length > 0 ? (
      <>
        <NativeSelect
          aria-label="Connection"
          data={browsable.map((c) => ({ value: c.id, label: c.name }))}
          value={connection?.id ?? ""}
          onChange={(e) => setConnectionId(e.currentTarget.value)}
          data-testid="inventory-connection"
          miw={200}
        />
        <Tooltip label="Reload the VM list" withArrow openDelay={300}>
          <ActionIcon
            variant="default"
            size="lg"
            onClick={() => void vms.refetch()}
            loading={vms.isFetching}
            disabled={connection === null}
            aria-label="Reload the VM list"
            data-testid="inventory-refresh"
          >
            <IconRefresh size={18} aria-hidden />
          </ActionIcon>
        </Tooltip>
      </>
    ) : undefined;

  return (
    <Stack gap={0} data-testid="page-inventory">
      <PageHeader title="Inventory" description="The VMs on your connections, ready to export." actions={picker} />
      {body}
      <PinCertificateDialog
        opened={pinning !== null}
        connection={pinning?.connection ?? null}
        problem={pinning?.problem ?? null}
        onClose={() => setPinning(null)}
        onPinned={() => void vms.refetch()}
      />
      {kinds.data && (
        <ConnectionFormModal
          opened={editing !== null}
          formKey={editing?.key ?? 0}
          kinds={kinds.data}
          connection={editing?.connection ?? null}
          onClose={() => {
            setEditing(null);
            void vms.refetch();
          }}
        />
      )}
    </Stack>
  );
}

type VmsErrorProps = {
  connection: Connection;
  error: unknown;
  onRetry: () => void;
  retrying: boolean;
  onTrust: (problem: CertificateProblem) => void;
  /** Opens the connection's form (offered when the server refused the credentials). */
  onEdit: () => void;
};

/** Why the VMs could not be listed, with the next step: pin a certificate, or try again. */
function VmsError({ connection, error, onRetry, retrying, onTrust, onEdit }: VmsErrorProps) {
  const apiError = toApiError(error);
  const problem = certificateProblemOf(apiError);

  if (problem) {
    const changed = problem.kind === "changed";
    return (
      <Stack gap="md" data-testid="inventory-error" data-code={apiError.code}>
        <Alert
          color={changed ? "red" : "yellow"}
          variant={changed ? "filled" : "light"}
          icon={changed ? <IconShieldX aria-hidden /> : <IconShieldLock aria-hidden />}
          title={changed ? `The certificate of ${connection.name} has changed` : `The certificate of ${connection.name} is not trusted`}
          role="alert"
        >
          <Stack gap="xs">
            <Text size="sm" data-testid="error-message" style={{ whiteSpace: "pre-wrap" }}>
              {apiError.message}
            </Text>
            <Group gap="sm">
              <Button
                size="xs"
                color={changed ? "dark" : undefined}
                variant={changed ? "white" : "filled"}
                leftSection={<IconShieldLock size={14} aria-hidden />}
                onClick={() => onTrust(problem)}
                disabled={!problem.fingerprint}
                data-testid="pin-offer"
              >
                {changed ? "Review the new certificate…" : "Review and trust the certificate…"}
              </Button>
              <CopyDetailsButton text={errorDetails(apiError, `listing the VMs of “${connection.name}”`)} />
            </Group>
          </Stack>
        </Alert>
      </Stack>
    );
  }

  return (
    <Stack gap="sm" data-testid="inventory-error" data-code={apiError.code}>
      <ErrorAlert error={error} title={`Could not list the VMs of ${connection.name}`} context={`listing the VMs of “${connection.name}”`} />
      <Group>
        {fixedByEditingConnection(apiError.code) && (
          <Button leftSection={<IconEdit size={16} aria-hidden />} onClick={onEdit} data-testid="inventory-edit-connection">
            Edit connection…
          </Button>
        )}
        <Button variant="light" leftSection={<IconRefresh size={16} aria-hidden />} onClick={onRetry} loading={retrying} data-testid="inventory-retry">
          Try again
        </Button>
      </Group>
    </Stack>
  );
}

import { Button, Stack } from "@mantine/core";
import { IconPlugConnected, IconPlus } from "@tabler/icons-react";
import { useState } from "react";
import type { Connection } from "../../bindings";
import { useConnections, useProviderKinds, useTestConnection } from "../../api/hooks";
import { EmptyState } from "../../components/EmptyState";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";
import type { CertificateProblem } from "./certificate";
import { PageHeader } from "../../components/PageHeader";
import { ConnectionDetailsModal } from "./ConnectionDetailsModal";
import { ConnectionFormModal } from "./ConnectionFormModal";
import { ConnectionsTable } from "./ConnectionsTable";
import { PinCertificateDialog } from "./PinCertificateDialog";
import { RemoveConnectionDialog } from "./RemoveConnectionDialog";
import { TestResultModal } from "./TestResultModal";

/** `opened` is separate from the subject so dialogs keep their content while closing. */
type DialogState = { opened: boolean; connection: Connection | null; key: number };
const closedDialog: DialogState = { opened: false, connection: null, key: 0 };

export function ConnectionsPage() {
  const connections = useConnections();
  const kinds = useProviderKinds();
  const test = useTestConnection();
  const [form, setForm] = useState<DialogState>(closedDialog);
  const [testing, setTesting] = useState<Connection | null>(null);
  const [details, setDetails] = useState<Connection | null>(null);
  const [removing, setRemoving] = useState<DialogState>(closedDialog);
  const [pinning, setPinning] = useState<{ opened: boolean; connection: Connection | null; problem: CertificateProblem | null }>({
    opened: false,
    connection: null,
    problem: null,
  });

  const openDialog =
    (set: typeof setForm) =>
    (connection: Connection | null): void =>
      set((s) => ({ opened: true, connection, key: s.key + 1 }));
  const closeDialog = (set: typeof setForm) => () => set((s) => ({ ...s, opened: false }));

  const ready = kinds.isSuccess;
  const openAdd = () => openDialog(setForm)(null);

  const startTest = (connection: Connection) => {
    setTesting(connection);
    test.reset();
    test.mutate(connection.id);
  };

  let body;
  if (connections.isPending || kinds.isPending) {
    body = <LoadingBlock label="Loading connections" />;
  } else if (connections.isError || kinds.isError) {
    body = (
      <ErrorAlert
        error={connections.error ?? kinds.error}
        title="Could not load connections"
      />
    );
  } else if (connections.data.length === 0) {
    body = (
      <EmptyState
        icon={<IconPlugConnected size={30} />}
        title="No connections yet"
        action={
          <Button leftSection={<IconPlus size={16} />} onClick={openAdd} data-testid="connection-add-empty">
            Add your first connection
          </Button>
        }
      >
        A connection tells HyperSDK Desktop how to reach a vCenter, an AWS, Azure or GCP account, a
        Hyper-V host or a Proxmox cluster. Add one to browse and export its VMs.
      </EmptyState>
    );
  } else {
    body = (
      <ConnectionsTable
        connections={connections.data}
        kinds={kinds.data}
        onEdit={openDialog(setForm)}
        onTest={startTest}
        onDetails={setDetails}
        onRemove={openDialog(setRemoving)}
      />
    );
  }

  return (
    <Stack gap={0} data-testid="page-connections">
      <PageHeader
        title="Connections"
        description="Where your VMs live, and how to sign in. Secrets stay in the OS keyring."
        actions={
          <Button
            leftSection={<IconPlus size={16} />}
            onClick={openAdd}
            disabled={!ready}
            data-testid="connection-add"
          >
            Add connection
          </Button>
        }
      />
      {body}
      {ready && (
        <ConnectionFormModal
          opened={form.opened}
          formKey={form.key}
          kinds={kinds.data}
          connection={form.connection}
          onClose={closeDialog(setForm)}
        />
      )}
      <TestResultModal
        connection={testing}
        pending={test.isPending}
        result={test.data}
        error={test.error}
        onClose={() => setTesting(null)}
        onTrustCertificate={(problem) => {
          // The pin dialog takes over: it pins, tests again and shows the new result.
          setPinning({ opened: true, connection: testing, problem });
          setTesting(null);
        }}
        onEditConnection={() => {
          // The form takes over; testing again after saving is one click away.
          openDialog(setForm)(testing);
          setTesting(null);
        }}
      />
      <PinCertificateDialog
        opened={pinning.opened}
        connection={pinning.connection}
        problem={pinning.problem}
        onClose={() => setPinning((s) => ({ ...s, opened: false }))}
      />
      {ready && (
        <ConnectionDetailsModal
          // The list's copy, so an edit made meanwhile shows at once.
          connection={details ? (connections.data?.find((c) => c.id === details.id) ?? details) : null}
          kinds={kinds.data}
          onClose={() => setDetails(null)}
        />
      )}
      <RemoveConnectionDialog
        opened={removing.opened}
        connection={removing.connection}
        onClose={closeDialog(setRemoving)}
      />
    </Stack>
  );
}

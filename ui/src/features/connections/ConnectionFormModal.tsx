import { Modal } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import type { Connection, ConnectionInput, ProviderKindInfo } from "../../bindings";
import { useAddConnection, useUpdateConnection } from "../../api/hooks";
import { ConnectionForm } from "./ConnectionForm";

type ConnectionFormModalProps = {
  opened: boolean;
  /** Changes on every opening so the form starts fresh. */
  formKey: number;
  kinds: readonly ProviderKindInfo[];
  /** The connection to edit; null to add a new one. */
  connection: Connection | null;
  onClose: () => void;
};

export function ConnectionFormModal({ opened, formKey, kinds, connection, onClose }: ConnectionFormModalProps) {
  const add = useAddConnection();
  const update = useUpdateConnection();

  const submit = async (input: ConnectionInput) => {
    if (connection) {
      const saved = await update.mutateAsync({ id: connection.id, input });
      notifications.show({ color: "teal", title: "Connection saved", message: saved.name });
    } else {
      const added = await add.mutateAsync(input);
      notifications.show({ color: "teal", title: "Connection added", message: added.name });
    }
    onClose();
  };

  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={connection ? `Edit “${connection.name}”` : "Add connection"}
      size="lg"
    >
      <ConnectionForm
        key={formKey}
        kinds={kinds}
        connection={connection ?? undefined}
        onSubmit={submit}
        onCancel={onClose}
      />
    </Modal>
  );
}

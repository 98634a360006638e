import { Alert, Button, Group, Modal, Stack } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { useRef, useState } from "react";
import type { Connection, ConnectionInput, ConnectionTestResult, ProviderKindInfo } from "../../bindings";
import { api } from "../../api/client";
import { useAddConnection, useUpdateConnection } from "../../api/hooks";
import { ConnectionForm } from "./ConnectionForm";
import { TestResultView } from "./TestResultModal";

type ConnectionFormModalProps = {
  opened: boolean;
  /** Changes on every opening so the form starts fresh. */
  formKey: number;
  kinds: readonly ProviderKindInfo[];
  /** The connection to edit; null to add a new one. */
  connection: Connection | null;
  onClose: () => void;
};

/**
 * Add or edit a connection. Saving tests what the form holds first: a connection that passes is
 * saved at once; one that does not (unreachable, refused sign-in, an untrusted certificate) shows
 * why and asks before it is saved anyway.
 */
export function ConnectionFormModal({ opened, formKey, kinds, connection, onClose }: ConnectionFormModalProps) {
  const add = useAddConnection();
  const update = useUpdateConnection();
  const [review, setReview] = useState<{ input: ConnectionInput; result: ConnectionTestResult } | null>(null);
  // "Save anyway" submits the form again, untested, so a refusal (a name taken meanwhile, a
  // locked keyring) shows in the form at its field, as for any save.
  const untested = useRef(false);
  const formBox = useRef<HTMLDivElement>(null);

  const close = () => {
    setReview(null);
    onClose();
  };

  const save = async (input: ConnectionInput) => {
    if (connection) {
      const saved = await update.mutateAsync({ id: connection.id, input });
      notifications.show({ color: "teal", title: "Connection saved", message: saved.name });
    } else {
      const added = await add.mutateAsync(input);
      notifications.show({ color: "teal", title: "Connection added", message: added.name });
    }
    close();
  };

  // Errors (an invalid field, a name in use) reach the form, which shows them at the field.
  const submit = async (input: ConnectionInput) => {
    if (untested.current) {
      untested.current = false;
      return save(input);
    }
    const result = await api.testConnectionInput(connection?.id ?? null, input);
    if (result.ok) await save(input);
    else setReview({ input, result });
  };

  const saveAnyway = () => {
    untested.current = true;
    setReview(null);
    formBox.current?.querySelector("form")?.requestSubmit();
  };

  return (
    <Modal opened={opened} onClose={close} title={connection ? `Edit “${connection.name}”` : "Add connection"} size="lg">
      {review && (
        <Stack gap="md" data-testid="connection-save-review">
          <Alert color="yellow" variant="light" title="The connection does not work yet">
            Saved as it is, it will fail until the problem below is fixed. Go back to correct it, or save it anyway (to
            trust its certificate from its Test, for example).
          </Alert>
          <TestResultView result={review.result} />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setReview(null)} data-testid="connection-review-back" data-autofocus>
              Back to the form
            </Button>
            <Button color="yellow" onClick={saveAnyway} data-testid="connection-save-anyway">
              Save anyway
            </Button>
          </Group>
        </Stack>
      )}
      {/* Kept mounted while the review shows, so going back finds the form as it was. */}
      <div ref={formBox} style={{ display: review ? "none" : undefined }}>
        <ConnectionForm key={formKey} kinds={kinds} connection={connection ?? undefined} onSubmit={submit} onCancel={close} />
      </div>
    </Modal>
  );
}

import { ActionIcon, Badge, Group, Table, Text, Tooltip, VisuallyHidden } from "@mantine/core";
import { IconInfoCircle, IconKey, IconPencil, IconPlugConnected, IconTrash } from "@tabler/icons-react";
import type { ReactNode } from "react";
import type { Connection, ProviderKindInfo } from "../../bindings";

type RowActionProps = {
  label: string;
  hint: string;
  testId: string;
  color?: string;
  onClick: () => void;
  children: ReactNode;
};

function RowAction({ label, hint, testId, color, onClick, children }: RowActionProps) {
  return (
    <Tooltip label={hint} withArrow openDelay={300}>
      <ActionIcon variant="subtle" color={color} size="lg" aria-label={label} onClick={onClick} data-testid={testId}>
        {children}
      </ActionIcon>
    </Tooltip>
  );
}

type ConnectionsTableProps = {
  connections: readonly Connection[];
  kinds: readonly ProviderKindInfo[];
  onEdit: (connection: Connection) => void;
  onTest: (connection: Connection) => void;
  onDetails: (connection: Connection) => void;
  onRemove: (connection: Connection) => void;
};

export function ConnectionsTable({ connections, kinds, onEdit, onTest, onDetails, onRemove }: ConnectionsTableProps) {
  const kindName = (kind: string) => kinds.find((k) => k.kind === kind)?.display_name ?? kind;
  return (
    <Table.ScrollContainer minWidth={720}>
      <Table striped highlightOnHover verticalSpacing="sm" aria-label="Connections">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Kind</Table.Th>
            <Table.Th>Endpoint</Table.Th>
            <Table.Th>Username</Table.Th>
            <Table.Th>Secret</Table.Th>
            <Table.Th>
              <VisuallyHidden>Actions</VisuallyHidden>
            </Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {connections.map((c) => (
            <Table.Tr key={c.id} data-testid="connection-row" data-connection-name={c.name}>
              <Table.Td>
                <Text fw={600} size="sm">
                  {c.name}
                </Text>
              </Table.Td>
              <Table.Td>{kindName(c.kind)}</Table.Td>
              <Table.Td miw={160}>
                <Text size="sm" ff="monospace" style={{ overflowWrap: "anywhere" }}>
                  {c.endpoint}
                </Text>
              </Table.Td>
              <Table.Td miw={140} style={{ overflowWrap: "anywhere" }}>
                {c.username || (
                  <Text c="dimmed" size="sm">
                    —
                  </Text>
                )}
              </Table.Td>
              <Table.Td>
                {c.has_secret ? (
                  <Badge color="teal" variant="light" tt="none" leftSection={<IconKey size={12} aria-hidden />}>
                    Secret stored
                  </Badge>
                ) : (
                  <Badge color="gray" variant="light" tt="none">
                    No secret
                  </Badge>
                )}
              </Table.Td>
              <Table.Td>
                <Group gap={4} justify="flex-end" wrap="nowrap">
                  <RowAction label={`Test ${c.name}`} hint="Test" testId="connection-test" onClick={() => onTest(c)}>
                    <IconPlugConnected size={18} aria-hidden />
                  </RowAction>
                  <RowAction
                    label={`Details of ${c.name}`}
                    hint="Details"
                    testId="connection-details"
                    onClick={() => onDetails(c)}
                  >
                    <IconInfoCircle size={18} aria-hidden />
                  </RowAction>
                  <RowAction label={`Edit ${c.name}`} hint="Edit" testId="connection-edit" onClick={() => onEdit(c)}>
                    <IconPencil size={18} aria-hidden />
                  </RowAction>
                  <RowAction
                    label={`Remove ${c.name}`}
                    hint="Remove"
                    testId="connection-remove"
                    color="red"
                    onClick={() => onRemove(c)}
                  >
                    <IconTrash size={18} aria-hidden />
                  </RowAction>
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

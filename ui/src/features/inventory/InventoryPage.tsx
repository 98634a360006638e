import { Badge, Button, Card, Group, SimpleGrid, Stack, Text } from "@mantine/core";
import { IconPlugConnected, IconServer2 } from "@tabler/icons-react";
import { useConnections, useProviderKinds } from "../../api/hooks";
import { EmptyState } from "../../components/EmptyState";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";
import { PageHeader } from "../../components/PageHeader";
import { useNavigation } from "../../store/navigation";

export function InventoryPage() {
  const connections = useConnections();
  const kinds = useProviderKinds();
  const setSection = useNavigation((s) => s.setSection);
  const goToConnections = () => setSection("connections");

  let body;
  if (connections.isPending) {
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
  } else {
    const kindName = (kind: string) => kinds.data?.find((k) => k.kind === kind)?.display_name ?? kind;
    body = (
      <Stack gap="md">
        <Text size="sm" c="dimmed">
          Browsing VMs is not available in this build yet. These connections will be browsable
          here once it is:
        </Text>
        <SimpleGrid cols={{ base: 1, sm: 2, lg: 3 }}>
          {connections.data.map((c) => (
            <Card key={c.id} withBorder padding="md" data-testid="inventory-connection">
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
  }

  return (
    <Stack gap={0} data-testid="page-inventory">
      <PageHeader title="Inventory" description="The VMs on your connections, ready to export." />
      {body}
    </Stack>
  );
}

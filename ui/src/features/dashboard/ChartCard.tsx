import { Button, Card, Group, Menu, Stack, Text, Title } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconDownload } from "@tabler/icons-react";
import type { ReactNode } from "react";
import { toApiError } from "../../api/errors";
import { saveChartTable } from "./exportData";
import type { ChartTable, ExportFormat } from "./exportData";

type ChartCardProps = {
  testId: string;
  title: string;
  description?: string;
  /** What the chart shows right now; "Export data" saves exactly this. */
  table: ChartTable;
  controls?: ReactNode;
  children: ReactNode;
};

/** A titled chart with an "Export data" menu (CSV or JSON through the native save dialog). */
export function ChartCard({ testId, title, description, table, controls, children }: ChartCardProps) {
  const exportAs = async (format: ExportFormat) => {
    try {
      const path = await saveChartTable(table, format);
      if (path) notifications.show({ color: "teal", title: "Chart data saved", message: path });
    } catch (error) {
      notifications.show({ color: "red", title: "Could not save the chart data", message: toApiError(error).message });
    }
  };
  return (
    <Card withBorder padding="md" data-testid={testId} data-points={table.rows.length}>
      <Stack gap="sm">
        <Group justify="space-between" align="flex-start" wrap="nowrap">
          <Stack gap={2}>
            <Title order={3} size="h5">
              {title}
            </Title>
            {description && (
              <Text size="xs" c="dimmed">
                {description}
              </Text>
            )}
          </Stack>
          <Group gap="xs" wrap="nowrap">
            {controls}
            <Menu position="bottom-end" withinPortal={false}>
              <Menu.Target>
                <Button
                  size="compact-sm"
                  variant="subtle"
                  leftSection={<IconDownload size={14} aria-hidden />}
                  disabled={table.rows.length === 0}
                  data-testid={`${testId}-export`}
                >
                  Export data
                </Button>
              </Menu.Target>
              <Menu.Dropdown>
                <Menu.Item onClick={() => void exportAs("csv")} data-testid={`${testId}-export-csv`}>
                  CSV
                </Menu.Item>
                <Menu.Item onClick={() => void exportAs("json")} data-testid={`${testId}-export-json`}>
                  JSON
                </Menu.Item>
              </Menu.Dropdown>
            </Menu>
          </Group>
        </Group>
        {children}
      </Stack>
    </Card>
  );
}

/** What a chart says instead of an empty plot. */
export function ChartEmpty({ children }: { children: ReactNode }) {
  return (
    <Text size="sm" c="dimmed" ta="center" py="xl">
      {children}
    </Text>
  );
}

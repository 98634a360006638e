import { Button, Stack, Tooltip } from "@mantine/core";
import { IconCalendarPlus, IconCalendarTime } from "@tabler/icons-react";
import { useConnections } from "../../api/hooks";
import { EmptyState } from "../../components/EmptyState";
import { PageHeader } from "../../components/PageHeader";

export function SchedulesPage() {
  const connections = useConnections();
  const hasConnection = (connections.data?.length ?? 0) > 0;
  const reason = hasConnection ? "Scheduling is not available in this build yet" : "Needs a connection";

  return (
    <Stack gap={0} data-testid="page-schedules">
      <PageHeader title="Schedules" description="Recurring exports that keep a set number of backups." />
      <EmptyState
        icon={<IconCalendarTime size={30} />}
        title="No schedules yet"
        testId="schedules-empty"
        action={
          <Tooltip label={reason} withArrow>
            {/* data-disabled keeps the tooltip working on a disabled button. */}
            <Button
              leftSection={<IconCalendarPlus size={16} />}
              data-disabled
              aria-disabled
              onClick={(e) => e.preventDefault()}
              data-testid="schedule-create"
            >
              Create schedule
            </Button>
          </Tooltip>
        }
      >
        A schedule runs an export of the VMs you choose at set times (for example every night) and
        keeps the number of backups you ask for. Scheduling is not available in this build yet.
      </EmptyState>
    </Stack>
  );
}

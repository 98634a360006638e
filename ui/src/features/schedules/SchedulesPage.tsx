import { Button, Stack, Tooltip } from "@mantine/core";
import { notifications } from "@mantine/notifications";
import { IconCalendarPlus, IconCalendarTime } from "@tabler/icons-react";
import { useState } from "react";
import type { Schedule } from "../../bindings";
import { useConnections, useRunScheduleNow, useSchedules, useSetScheduleEnabled } from "../../api/hooks";
import { EmptyState } from "../../components/EmptyState";
import { ErrorAlert } from "../../components/ErrorAlert";
import { LoadingBlock } from "../../components/LoadingBlock";
import { PageHeader } from "../../components/PageHeader";
import { useNavigation } from "../../store/navigation";
import { RemoveScheduleDialog } from "./RemoveScheduleDialog";
import { ScheduleDetails } from "./ScheduleDetails";
import { ScheduleFormModal } from "./ScheduleFormModal";
import { SchedulerStatusBar } from "./SchedulerStatusBar";
import { SchedulesTable } from "./SchedulesTable";

/** `opened` is separate from the subject so dialogs keep their content while closing. */
type DialogState = { opened: boolean; schedule: Schedule | null; key: number };
const closedDialog: DialogState = { opened: false, schedule: null, key: 0 };

export function SchedulesPage() {
  const schedules = useSchedules();
  const connections = useConnections();
  const runNow = useRunScheduleNow();
  const setEnabled = useSetScheduleEnabled();
  const setSection = useNavigation((s) => s.setSection);
  const [form, setForm] = useState<DialogState>(closedDialog);
  const [removing, setRemoving] = useState<DialogState>(closedDialog);
  const [selectedId, setSelectedId] = useState<string | null>(null);

  const connectionList = connections.data ?? [];
  const canAdd = connectionList.length > 0;
  const openForm = (schedule: Schedule | null) => setForm((s) => ({ opened: true, schedule, key: s.key + 1 }));
  const selected = schedules.data?.find((s) => s.id === selectedId) ?? null;

  const startRun = (schedule: Schedule) => {
    setSelectedId(schedule.id);
    runNow.mutate(schedule.id, {
      onSuccess: (run) =>
        notifications.show(
          run.status === "skipped"
            ? { color: "yellow", title: `${schedule.name}: skipped`, message: run.reason ?? "The previous run is still going" }
            : { color: "teal", title: `${schedule.name}: run started`, message: "Its progress shows in the history and on the Jobs page." },
        ),
      onError: (error) => notifications.show({ color: "red", title: `Could not run ${schedule.name}`, message: error.message }),
    });
  };

  const toggle = (schedule: Schedule, enabled: boolean) =>
    setEnabled.mutate(
      { id: schedule.id, enabled },
      {
        onError: (error) =>
          notifications.show({ color: "red", title: `Could not ${enabled ? "enable" : "disable"} ${schedule.name}`, message: error.message }),
      },
    );

  const addButton = (
    <Button
      leftSection={<IconCalendarPlus size={16} />}
      onClick={() => openForm(null)}
      disabled={!canAdd}
      data-testid="schedule-add"
    >
      Add schedule
    </Button>
  );

  let body;
  if (schedules.isPending || connections.isPending) {
    body = <LoadingBlock label="Loading schedules" />;
  } else if (schedules.isError || connections.isError) {
    body = <ErrorAlert error={schedules.error ?? connections.error} title="Could not load schedules" />;
  } else if (schedules.data.length === 0) {
    body = (
      <EmptyState
        icon={<IconCalendarTime size={30} />}
        title="No schedules yet"
        testId="schedules-empty"
        action={
          canAdd ? (
            <Button leftSection={<IconCalendarPlus size={16} />} onClick={() => openForm(null)} data-testid="schedule-add-empty">
              Add your first schedule
            </Button>
          ) : (
            <Button variant="light" onClick={() => setSection("connections")} data-testid="schedules-go-connections">
              Add a connection first
            </Button>
          )
        }
      >
        A schedule exports the VMs you choose at set times (for example every night at 02:00), into a new folder
        each time, and keeps as many copies as you ask for. It runs while the app is open or in the tray.
      </EmptyState>
    );
  } else {
    body = (
      <SchedulesTable
        schedules={schedules.data}
        connections={connectionList}
        selectedId={selectedId}
        runningId={runNow.isPending ? (runNow.variables ?? null) : null}
        togglingId={setEnabled.isPending ? (setEnabled.variables?.id ?? null) : null}
        onSelect={(s) => setSelectedId((current) => (current === s.id ? null : s.id))}
        onRunNow={startRun}
        onToggle={toggle}
        onEdit={openForm}
        onRemove={(schedule) => setRemoving((s) => ({ opened: true, schedule, key: s.key + 1 }))}
      />
    );
  }

  return (
    <Stack gap={0} data-testid="page-schedules">
      <PageHeader
        title="Schedules"
        description="Backups that run by themselves: which VMs, when, where to, and how many copies to keep."
        actions={
          canAdd ? (
            addButton
          ) : (
            <Tooltip label="Needs a connection" withArrow>
              <span>{addButton}</span>
            </Tooltip>
          )
        }
      />
      <SchedulerStatusBar />
      {body}
      {selected && (
        <ScheduleDetails
          key={selected.id}
          scheduleId={selected.id}
          connections={connectionList}
          runningNow={runNow.isPending && runNow.variables === selected.id}
          onRunNow={() => startRun(selected)}
          onClose={() => setSelectedId(null)}
        />
      )}
      <ScheduleFormModal
        opened={form.opened}
        formKey={form.key}
        schedule={form.schedule}
        connections={connectionList}
        onSaved={(saved) => setSelectedId(saved.id)}
        onClose={() => setForm((s) => ({ ...s, opened: false }))}
      />
      <RemoveScheduleDialog
        opened={removing.opened}
        schedule={removing.schedule}
        onClose={() => setRemoving((s) => ({ ...s, opened: false }))}
        onRemoved={(s) => setSelectedId((current) => (current === s.id ? null : current))}
      />
    </Stack>
  );
}

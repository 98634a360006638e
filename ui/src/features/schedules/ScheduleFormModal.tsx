import { Modal } from "@mantine/core";
import type { Connection, Schedule } from "../../bindings";
import { useDestinations } from "../../store/destinations";
import { ScheduleForm } from "./ScheduleForm";

type ScheduleFormModalProps = {
  opened: boolean;
  /** Changes on every opening so the form starts fresh. */
  formKey: number;
  /** The schedule to edit; null to add one. */
  schedule: Schedule | null;
  connections: readonly Connection[];
  onSaved?: (schedule: Schedule) => void;
  onClose: () => void;
};

export function ScheduleFormModal({ opened, formKey, schedule, connections, onSaved, onClose }: ScheduleFormModalProps) {
  const lastUsed = useDestinations((s) => s.lastUsed);
  return (
    <Modal
      opened={opened}
      onClose={onClose}
      title={schedule ? `Edit “${schedule.name}”` : "Add schedule"}
      size="xl"
      closeOnClickOutside={false}
    >
      <ScheduleForm
        key={formKey}
        schedule={schedule}
        connections={connections}
        defaultDestination={lastUsed ?? ""}
        onSaved={onSaved}
        onClose={onClose}
      />
    </Modal>
  );
}

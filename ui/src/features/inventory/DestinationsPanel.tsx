import { ActionIcon, Button, Card, Group, Paper, Stack, Text, TextInput, Tooltip } from "@mantine/core";
import { useDroppable } from "@dnd-kit/core";
import { notifications } from "@mantine/notifications";
import { IconFolderOpen, IconFolderPlus, IconPackageExport, IconTrash } from "@tabler/icons-react";
import { open as openDialog } from "@tauri-apps/plugin-dialog";
import { memo, useState } from "react";
import type { FormEvent } from "react";
import { toApiError } from "../../api/errors";
import { normalizeFolder, useDestinations } from "../../store/destinations";
import { isAbsolutePath } from "../exports/schema";

/** What a drop target carries: the folder, or null for "choose a folder in the dialog". */
export type DropTargetData = { folder: string | null };

export const NEW_DESTINATION_DROP_ID = "destination:new";
export const destinationDropId = (index: number) => `destination:${index}`;

type DestinationsPanelProps = {
  /** How many VMs are selected; exporting is offered only when some are. */
  selectedCount: number;
  /** Opens the export dialog for the selection, prefilled with the folder (or empty). */
  onExport: (folder: string | null) => void;
};

/**
 * Saved destination folders. VMs dragged from the table onto a folder (or onto the "choose a
 * folder" zone) open the export dialog for that folder; each folder also has an "Export here"
 * button, so the same works from the keyboard.
 */
export const DestinationsPanel = memo(function DestinationsPanel({ selectedCount, onExport }: DestinationsPanelProps) {
  const destinations = useDestinations((s) => s.destinations);
  const add = useDestinations((s) => s.add);
  const remove = useDestinations((s) => s.remove);
  const [draft, setDraft] = useState("");
  const [error, setError] = useState<string | null>(null);

  const addDraft = (folder: string) => {
    const value = normalizeFolder(folder);
    if (value === "") {
      setError("Type or browse to a folder first");
      return;
    }
    if (!isAbsolutePath(value)) {
      setError(`The destination must be an absolute path, not ${value}`);
      return;
    }
    if (destinations.includes(value)) {
      setError("This folder is already a destination");
      return;
    }
    add(value);
    setDraft("");
    setError(null);
  };

  const submit = (e: FormEvent) => {
    e.preventDefault();
    addDraft(draft);
  };

  const browse = async () => {
    try {
      const folder = await openDialog({ directory: true, multiple: false, title: "Add a destination folder" });
      if (typeof folder === "string") addDraft(folder);
    } catch (err) {
      notifications.show({ color: "red", title: "Could not open the folder picker", message: toApiError(err).message });
    }
  };

  return (
    <Card withBorder padding="sm" data-testid="destinations">
      <Stack gap="xs">
        <Group justify="space-between" gap="xs">
          <Text fw={600} size="sm">
            Destinations
          </Text>
          <Text size="xs" c="dimmed">
            Drag selected VMs onto a folder to export them there
          </Text>
        </Group>
        <Group gap="xs" align="stretch">
          <NewDestinationZone />
          {destinations.map((folder, index) => (
            <DestinationItem
              key={folder}
              index={index}
              folder={folder}
              canExport={selectedCount > 0}
              onExport={() => onExport(folder)}
              onRemove={() => remove(folder)}
            />
          ))}
        </Group>
        <form onSubmit={submit} aria-label="Add destination" noValidate>
          <Group gap="xs" align="flex-start" wrap="nowrap">
            <TextInput
              style={{ flex: 1 }}
              size="xs"
              placeholder="/srv/exports"
              aria-label="Destination folder to add"
              value={draft}
              onChange={(e) => {
                setDraft(e.currentTarget.value);
                setError(null);
              }}
              error={error}
              spellCheck={false}
              autoComplete="off"
              data-testid="destination-add-input"
            />
            <Button
              size="xs"
              variant="default"
              leftSection={<IconFolderOpen size={14} aria-hidden />}
              onClick={() => void browse()}
              data-testid="destination-browse"
            >
              Browse…
            </Button>
            <Button size="xs" type="submit" variant="light" leftSection={<IconFolderPlus size={14} aria-hidden />} data-testid="destination-add">
              Add destination
            </Button>
          </Group>
        </form>
      </Stack>
    </Card>
  );
});

function dropStyle(isOver: boolean) {
  return {
    borderStyle: "dashed" as const,
    borderColor: isOver ? "var(--mantine-primary-color-filled)" : undefined,
    background: isOver ? "var(--mantine-primary-color-light)" : undefined,
    transition: "background 120ms, border-color 120ms",
  };
}

function NewDestinationZone() {
  const data: DropTargetData = { folder: null };
  const { setNodeRef, isOver } = useDroppable({ id: NEW_DESTINATION_DROP_ID, data });
  return (
    <Paper ref={setNodeRef} withBorder p="xs" miw={180} style={dropStyle(isOver)} data-testid="destination-drop" data-over={isOver || undefined}>
      <Group gap={6} wrap="nowrap" h="100%">
        <IconPackageExport size={18} aria-hidden />
        <Text size="xs" c="dimmed">
          Drop here to choose a folder
        </Text>
      </Group>
    </Paper>
  );
}

type DestinationItemProps = {
  index: number;
  folder: string;
  canExport: boolean;
  onExport: () => void;
  onRemove: () => void;
};

function DestinationItem({ index, folder, canExport, onExport, onRemove }: DestinationItemProps) {
  const data: DropTargetData = { folder };
  const { setNodeRef, isOver } = useDroppable({ id: destinationDropId(index), data });
  return (
    <Paper
      ref={setNodeRef}
      withBorder
      p="xs"
      maw={360}
      style={dropStyle(isOver)}
      data-testid={`destination-${index}`}
      data-folder={folder}
      data-over={isOver || undefined}
    >
      <Group gap={6} wrap="nowrap">
        <IconFolderOpen size={18} aria-hidden style={{ flexShrink: 0 }} />
        <Text size="xs" ff="monospace" title={folder} style={{ overflow: "hidden", textOverflow: "ellipsis", whiteSpace: "nowrap" }}>
          {folder}
        </Text>
        <Tooltip label={canExport ? "Export the selected VMs here" : "Select VMs first"} withArrow openDelay={300}>
          <Button
            size="compact-xs"
            variant="light"
            disabled={!canExport}
            onClick={onExport}
            aria-label={`Export the selected VMs to ${folder}`}
            data-testid={`destination-export-${index}`}
          >
            Export here
          </Button>
        </Tooltip>
        <Tooltip label="Remove destination" withArrow openDelay={300}>
          <ActionIcon
            size="sm"
            variant="subtle"
            color="gray"
            onClick={onRemove}
            aria-label={`Remove destination ${folder}`}
            data-testid={`destination-remove-${index}`}
          >
            <IconTrash size={14} aria-hidden />
          </ActionIcon>
        </Tooltip>
      </Group>
    </Paper>
  );
}

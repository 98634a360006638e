import { Stack, Table, Text, Tooltip } from "@mantine/core";
import type { ScheduleExecution } from "../../bindings";
import { formatEta } from "../jobs/format";
import { TRIGGER_LABEL, formatLocal } from "./format";
import { RunStatusBadge } from "./RunStatusBadge";

function duration(run: ScheduleExecution): string | null {
  if (!run.finished_at) return null;
  const ms = new Date(run.finished_at).getTime() - new Date(run.started_at).getTime();
  return Number.isFinite(ms) && ms >= 0 ? formatEta(ms / 1000) : null;
}

function fileName(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? path;
}

/** A schedule's runs, newest first, skipped ones included with their reason. */
export function HistoryTable({ runs }: { runs: readonly ScheduleExecution[] }) {
  if (runs.length === 0) {
    return (
      <Text size="sm" c="dimmed" data-testid="schedule-history" data-count={0}>
        No runs yet. Use “Run now” to try the schedule without waiting for its time.
      </Text>
    );
  }
  return (
    <Table.ScrollContainer minWidth={720}>
      <Table verticalSpacing="xs" striped aria-label="History" data-testid="schedule-history" data-count={runs.length}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Time</Table.Th>
            <Table.Th>Trigger</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Jobs</Table.Th>
            <Table.Th>Artefacts</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {runs.map((run) => {
            const took = duration(run);
            return (
              <Table.Tr
                key={run.id}
                data-testid="history-row"
                data-status={run.status}
                data-trigger={run.trigger}
                data-execution-id={run.id}
              >
                <Table.Td miw={170}>
                  <Text size="sm" title={`Started ${formatLocal(run.started_at)}`}>
                    {formatLocal(run.scheduled_for)}
                  </Text>
                  {took && (
                    <Text size="xs" c="dimmed">
                      took {took}
                    </Text>
                  )}
                </Table.Td>
                <Table.Td>
                  <Text size="sm">{TRIGGER_LABEL[run.trigger]}</Text>
                </Table.Td>
                <Table.Td maw={280}>
                  <Stack gap={2} align="flex-start">
                    <RunStatusBadge status={run.status} />
                    {run.reason && (
                      <Text size="xs" c={run.status === "skipped" ? "dimmed" : "red"} data-testid="history-reason">
                        {run.reason}
                      </Text>
                    )}
                  </Stack>
                </Table.Td>
                <Table.Td>
                  {run.job_ids.length === 0 ? (
                    <Text size="sm" c="dimmed">
                      —
                    </Text>
                  ) : (
                    <Tooltip label={run.job_ids.join(", ")} withArrow multiline maw={360}>
                      <Text size="sm">{run.job_ids.length === 1 ? "1 job" : `${run.job_ids.length} jobs`}</Text>
                    </Tooltip>
                  )}
                </Table.Td>
                <Table.Td maw={360}>
                  {run.artefacts.length === 0 && run.leftovers.length === 0 ? (
                    <Text size="sm" c="dimmed">
                      —
                    </Text>
                  ) : (
                    <Stack gap={2}>
                      {run.artefacts.map((a) => (
                        <Text
                          key={a}
                          size="xs"
                          ff="monospace"
                          title={a}
                          td={run.pruned_at ? "line-through" : undefined}
                          data-testid="history-artefact"
                          style={{ overflowWrap: "anywhere" }}
                        >
                          {fileName(a)}
                        </Text>
                      ))}
                      {run.leftovers.length > 0 && (
                        <Text size="xs" c="dimmed" title={run.leftovers.join("\n")}>
                          {run.leftovers.length} partial file{run.leftovers.length === 1 ? "" : "s"} left
                        </Text>
                      )}
                      {run.pruned_at && (
                        <Text size="xs" c="dimmed">
                          Deleted by retention {formatLocal(run.pruned_at)}
                        </Text>
                      )}
                      {run.run_dir && !run.pruned_at && (
                        <Text size="xs" c="dimmed" ff="monospace" style={{ overflowWrap: "anywhere" }}>
                          in {run.run_dir}
                        </Text>
                      )}
                    </Stack>
                  )}
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

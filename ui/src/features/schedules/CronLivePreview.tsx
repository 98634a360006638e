import { Group, Loader, Text } from "@mantine/core";
import { useDebouncedValue } from "@mantine/hooks";
import { useQuery } from "@tanstack/react-query";
import type { CronPreview } from "../../bindings";
import { api } from "../../api/client";
import type { CoreError } from "../../api/errors";
import { formatLocal } from "./format";

/**
 * What the expression being typed means and when it would fire next, from the core (the window
 * never evaluates cron itself), a moment after the typing stops.
 */
export function CronLivePreview({ cron, timeZone }: { cron: string; timeZone: string }) {
  const [typed] = useDebouncedValue({ cron: cron.trim(), timeZone: timeZone.trim() }, 250);
  const preview = useQuery<CronPreview, CoreError>({
    queryKey: ["cron-preview", typed.cron, typed.timeZone],
    queryFn: () => api.previewCron(typed.cron, typed.timeZone),
    enabled: typed.cron !== "",
    retry: false,
    staleTime: 60_000,
  });
  if (typed.cron === "") return null;
  if (preview.isPending) return <Loader size="xs" aria-label="Reading the expression" />;
  if (preview.isError) {
    return (
      <Text size="xs" c="red" data-testid="schedule-cron-preview" data-valid={false}>
        {preview.error.message}
      </Text>
    );
  }
  const next = preview.data.upcoming.slice(0, 3);
  return (
    <Group gap={4} data-testid="schedule-cron-preview" data-valid={true}>
      <Text size="xs" fw={600}>
        {preview.data.description}
      </Text>
      {next.length > 0 && (
        <Text size="xs" c="dimmed" data-testid="schedule-cron-preview-next">
          · next {next.map(formatLocal).join("; ")}
        </Text>
      )}
    </Group>
  );
}

import { Badge, Tooltip } from "@mantine/core";
import type { ExecutionStatus } from "../../bindings";
import { STATUS_COLOR, STATUS_LABEL } from "./format";

type RunStatusBadgeProps = {
  status: ExecutionStatus;
  /** Why it was skipped, failed or partial: shown on hover. */
  reason?: string | null;
  testId?: string;
};

export function RunStatusBadge({ status, reason, testId }: RunStatusBadgeProps) {
  const badge = (
    <Badge color={STATUS_COLOR[status]} variant="light" data-testid={testId}>
      {STATUS_LABEL[status]}
    </Badge>
  );
  return reason ? (
    <Tooltip label={reason} withArrow multiline maw={360}>
      {badge}
    </Tooltip>
  ) : (
    badge
  );
}

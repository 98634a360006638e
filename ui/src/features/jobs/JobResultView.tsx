import { ActionIcon, Anchor, Badge, CopyButton, Group, List, Stack, Text, Tooltip } from "@mantine/core";
import { IconCheck, IconCopy, IconMinus, IconRosetteDiscountCheck } from "@tabler/icons-react";
import { useState } from "react";
import type { DiskCheck, JobResult } from "../../bindings";
import { formatBytes } from "./format";

/** What a finished export produced: where, which files, how big, and whether it was verified. */
export function JobResultView({ jobId, result }: { jobId: string; result: JobResult }) {
  const [showFiles, setShowFiles] = useState(false);
  const [showChecks, setShowChecks] = useState(false);
  const fileCount = result.files.length;
  const checks = result.disk_checks ?? [];
  const skipped = checks.filter((c) => c.skipped !== null).length;
  return (
    <Stack gap={4} align="flex-start" data-testid={`job-result-${jobId}`}>
      <Group gap={4} wrap="nowrap" maw="100%">
        <Text size="sm" ff="monospace" style={{ wordBreak: "break-all" }} data-testid="job-result-path">
          {result.path}
        </Text>
        <CopyButton value={result.path} timeout={1500}>
          {({ copied, copy }) => (
            <Tooltip label={copied ? "Copied" : "Copy path"} withArrow>
              <ActionIcon variant="subtle" size="sm" color={copied ? "teal" : "gray"} onClick={copy} aria-label="Copy path">
                {copied ? <IconCheck size={14} aria-hidden /> : <IconCopy size={14} aria-hidden />}
              </ActionIcon>
            </Tooltip>
          )}
        </CopyButton>
      </Group>
      <Group gap="xs">
        <Text size="xs" c="dimmed" data-testid="job-result-summary">
          {formatBytes(result.bytes)} · {fileCount} {fileCount === 1 ? "file" : "files"} ·{" "}
          {result.manifest_algorithm ? `${result.manifest_algorithm.toUpperCase()} manifest` : "the archive's own checksums"}
        </Text>
        {result.verified ? (
          <Tooltip
            label={
              result.manifest_algorithm
                ? "Checked after writing: descriptor first, every file's size and digest matches the manifest, and every disk reads as an image of its format and size"
                : "Read through before it got its final name: every checksum of the platform's archive format matched"
            }
            withArrow
            multiline
            w={260}
          >
            <Badge
              color="teal"
              variant="light"
              size="sm"
              tt="none"
              leftSection={<IconRosetteDiscountCheck size={12} aria-hidden />}
              data-testid={`job-verified-${jobId}`}
            >
              Verified
            </Badge>
          </Tooltip>
        ) : (
          <Badge color="gray" variant="light" size="sm" tt="none" data-testid={`job-unverified-${jobId}`}>
            Not verified
          </Badge>
        )}
      </Group>
      {checks.length > 0 && (
        <>
          <Anchor
            component="button"
            type="button"
            size="xs"
            onClick={() => setShowChecks((v) => !v)}
            aria-expanded={showChecks}
            data-testid="job-result-checks-toggle"
          >
            {showChecks ? "Hide disk checks" : `Show disk checks (${checks.length - skipped} passed${skipped > 0 ? `, ${skipped} skipped` : ""})`}
          </Anchor>
          {showChecks && <DiskChecks checks={checks} />}
        </>
      )}
      {fileCount > 0 && (
        <>
          <Anchor
            component="button"
            type="button"
            size="xs"
            onClick={() => setShowFiles((v) => !v)}
            aria-expanded={showFiles}
            data-testid="job-result-files-toggle"
          >
            {showFiles ? "Hide files" : "Show files"}
          </Anchor>
          {showFiles && (
            <List size="xs" spacing={2} data-testid="job-result-files">
              {result.files.map((file) => (
                <List.Item key={file}>
                  <Text size="xs" ff="monospace" style={{ wordBreak: "break-all" }}>
                    {file}
                  </Text>
                </List.Item>
              ))}
            </List>
          )}
        </>
      )}
    </Stack>
  );
}

/** Each disk's image checks: passed ones with a tick, skipped ones grey with the reason. */
function DiskChecks({ checks }: { checks: DiskCheck[] }) {
  const disks = [...new Set(checks.map((c) => c.disk))];
  return (
    <Stack gap={2} data-testid="job-result-checks">
      {disks.map((disk) => (
        <Stack key={disk} gap={0}>
          <Text size="xs" ff="monospace" style={{ wordBreak: "break-all" }}>
            {disk}
          </Text>
          {checks
            .filter((c) => c.disk === disk)
            .map((c) => (
              <Group key={c.check} gap={4} wrap="nowrap" pl="xs" data-testid="job-result-check" data-skipped={c.skipped !== null}>
                {c.skipped === null ? (
                  <IconCheck size={12} color="var(--mantine-color-teal-6)" aria-label="passed" />
                ) : (
                  <IconMinus size={12} color="var(--mantine-color-gray-5)" aria-label="skipped" />
                )}
                <Text size="xs" c={c.skipped === null ? undefined : "dimmed"}>
                  {c.check}
                  {c.skipped !== null && ` — skipped: ${c.skipped}`}
                </Text>
              </Group>
            ))}
        </Stack>
      ))}
    </Stack>
  );
}

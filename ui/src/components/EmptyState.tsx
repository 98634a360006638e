import { Center, Stack, Text, ThemeIcon, Title } from "@mantine/core";
import type { ReactNode } from "react";

type EmptyStateProps = {
  icon: ReactNode;
  title: string;
  children: ReactNode;
  action?: ReactNode;
  testId?: string;
};

/** Tells the user what is missing and what to do next. */
export function EmptyState({ icon, title, children, action, testId }: EmptyStateProps) {
  return (
    <Center py={48} data-testid={testId}>
      <Stack align="center" gap="sm" maw={480} ta="center">
        <ThemeIcon size={56} radius="xl" variant="light" aria-hidden>
          {icon}
        </ThemeIcon>
        <Title order={3}>{title}</Title>
        <Text c="dimmed" size="sm" component="div">
          {children}
        </Text>
        {action}
      </Stack>
    </Center>
  );
}

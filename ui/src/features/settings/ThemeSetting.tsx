import { Card, SegmentedControl, Stack, Text, Title, useMantineColorScheme } from "@mantine/core";
import type { MantineColorScheme } from "@mantine/core";

const CHOICES: { label: string; value: MantineColorScheme }[] = [
  { label: "System", value: "auto" },
  { label: "Light", value: "light" },
  { label: "Dark", value: "dark" },
];

/** Light, dark, or the desktop's choice; kept by this window's storage, read before it paints. */
export function ThemeSetting() {
  const { colorScheme, setColorScheme } = useMantineColorScheme();
  return (
    <Card withBorder padding="lg" data-testid="settings-theme">
      <Title order={3} size="h4" mb="md">
        Appearance
      </Title>
      <Stack gap={6}>
        <SegmentedControl
          value={colorScheme}
          onChange={(v) => setColorScheme(v as MantineColorScheme)}
          data={CHOICES}
          w="fit-content"
          aria-label="Theme"
          data-testid="settings-theme-choice"
        />
        <Text size="xs" c="dimmed">
          System follows the desktop's light or dark setting.
        </Text>
      </Stack>
    </Card>
  );
}

import { AppShell, Badge, Group, NavLink, ScrollArea, Text, ThemeIcon, Title } from "@mantine/core";
import { IconStack2 } from "@tabler/icons-react";
import type { AppInfo } from "../../bindings";
import { useNavigation } from "../../store/navigation";
import type { Section } from "../../store/navigation";
import { ConnectionsPage } from "../connections/ConnectionsPage";
import { lazy, Suspense } from "react";
import { LoadingBlock } from "../../components/LoadingBlock";
import { InventoryPage } from "../inventory/InventoryPage";
import { JobsPage } from "../jobs/JobsPage";
import { SchedulesPage } from "../schedules/SchedulesPage";
import { SettingsPage } from "../settings/SettingsPage";
import { WebhooksPage } from "../webhooks/WebhooksPage";
import { SECTION_INFO } from "./sections";

// The charts library is most of the dashboard's weight: loaded when the section is first opened,
// so start-up parses none of it.
const DashboardPage = lazy(() => import("../dashboard/DashboardPage").then((m) => ({ default: m.DashboardPage })));

function CurrentPage({ section, info }: { section: Section; info: AppInfo }) {
  switch (section) {
    case "dashboard":
      return (
        <Suspense fallback={<LoadingBlock label="Loading the dashboard" />}>
          <DashboardPage />
        </Suspense>
      );
    case "inventory":
      return <InventoryPage />;
    case "jobs":
      return <JobsPage />;
    case "schedules":
      return <SchedulesPage />;
    case "connections":
      return <ConnectionsPage />;
    case "webhooks":
      return <WebhooksPage />;
    case "settings":
      return <SettingsPage info={info} />;
  }
}

export function AppFrame({ info }: { info: AppInfo }) {
  const section = useNavigation((s) => s.section);
  const setSection = useNavigation((s) => s.setSection);

  return (
    <AppShell header={{ height: 52 }} navbar={{ width: { base: 200, lg: 220 }, breakpoint: 0 }} padding="md">
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="xs">
            <ThemeIcon variant="light" size="md" aria-hidden>
              <IconStack2 size={18} />
            </ThemeIcon>
            <Title order={1} size="h4">
              HyperSDK Desktop
            </Title>
          </Group>
          <Badge variant="light" color="gray" title="Version">
            v{info.version}
          </Badge>
        </Group>
      </AppShell.Header>

      <AppShell.Navbar p="xs" component="nav" aria-label="Sections">
        <AppShell.Section grow component={ScrollArea}>
          {SECTION_INFO.map(({ id, label, icon: Icon }) => (
            <NavLink
              key={id}
              component="button"
              type="button"
              label={label}
              leftSection={<Icon size={18} stroke={1.6} />}
              active={section === id}
              aria-current={section === id ? "page" : undefined}
              onClick={() => setSection(id)}
              data-testid={`nav-${id}`}
              style={{ borderRadius: "var(--mantine-radius-sm)" }}
            />
          ))}
        </AppShell.Section>
        <AppShell.Section>
          <Text size="xs" c="dimmed" px="sm" py="xs">
            Export and back up VMs from vSphere, AWS, Azure, GCP, Hyper-V and Proxmox.
          </Text>
        </AppShell.Section>
      </AppShell.Navbar>

      <AppShell.Main>
        <CurrentPage section={section} info={info} />
      </AppShell.Main>
    </AppShell>
  );
}

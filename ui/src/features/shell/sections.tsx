import {
  IconCalendarTime,
  IconChartHistogram,
  IconListDetails,
  IconPlugConnected,
  IconServer2,
  IconSettings,
  IconWebhook,
} from "@tabler/icons-react";
import type { ComponentType } from "react";
import type { Section } from "../../store/navigation";

type SectionInfo = {
  id: Section;
  label: string;
  icon: ComponentType<{ size?: number; stroke?: number }>;
};

export const SECTION_INFO: readonly SectionInfo[] = [
  { id: "dashboard", label: "Dashboard", icon: IconChartHistogram },
  { id: "inventory", label: "Inventory", icon: IconServer2 },
  { id: "jobs", label: "Jobs", icon: IconListDetails },
  { id: "schedules", label: "Schedules", icon: IconCalendarTime },
  { id: "connections", label: "Connections", icon: IconPlugConnected },
  { id: "webhooks", label: "Webhooks", icon: IconWebhook },
  { id: "settings", label: "Settings", icon: IconSettings },
];

import { create } from "zustand";

export const SECTIONS = ["dashboard", "inventory", "jobs", "schedules", "connections", "webhooks", "settings"] as const;
export type Section = (typeof SECTIONS)[number];

type NavigationState = {
  section: Section;
  setSection: (section: Section) => void;
};

export const useNavigation = create<NavigationState>((set) => ({
  section: "inventory",
  setSection: (section) => set({ section }),
}));

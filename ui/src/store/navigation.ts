import { create } from "zustand";

export const SECTIONS = ["dashboard", "inventory", "jobs", "schedules", "connections", "webhooks", "settings"] as const;
export type Section = (typeof SECTIONS)[number];

type NavigationState = {
  section: Section;
  setSection: (section: Section) => void;
};

/** The section named by the URL's hash (`#jobs`), which the shell sets for `--section jobs`. */
export function sectionFromHash(hash: string): Section | null {
  const name = hash.replace(/^#/, "");
  return (SECTIONS as readonly string[]).includes(name) ? (name as Section) : null;
}

export const useNavigation = create<NavigationState>((set) => ({
  section: sectionFromHash(window.location.hash) ?? "inventory",
  setSection: (section) => {
    // The hash follows, so asking again for the section the window opened on still switches.
    history.replaceState(null, "", `#${section}`);
    set({ section });
  },
}));

// An open window asked for a section (a second launch with `--section`).
window.addEventListener("hashchange", () => {
  const section = sectionFromHash(window.location.hash);
  if (section) useNavigation.setState({ section });
});

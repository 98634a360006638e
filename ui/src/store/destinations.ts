import { create } from "zustand";
import { createJSONStorage, persist } from "zustand/middleware";

/**
 * Folders the user keeps as export destinations (drop targets in the inventory), and the
 * last folder an export went to. Kept in the window's local storage: they are a convenience
 * of this window, not data the core or `hyperctl` needs.
 */
type DestinationsState = {
  destinations: string[];
  lastUsed: string | null;
  /** Adds a folder (trimmed; a folder already in the list is not added twice). */
  add: (folder: string) => void;
  remove: (folder: string) => void;
  setLastUsed: (folder: string) => void;
};

/** Folder paths compare without a trailing separator (`/exports/` is `/exports`). */
export function normalizeFolder(folder: string): string {
  const trimmed = folder.trim();
  if (trimmed.length > 1 && /[\\/]$/.test(trimmed) && !/^[A-Za-z]:[\\/]$/.test(trimmed)) {
    return trimmed.replace(/[\\/]+$/, "") || trimmed;
  }
  return trimmed;
}

export const useDestinations = create<DestinationsState>()(
  persist(
    (set) => ({
      destinations: [],
      lastUsed: null,
      add: (folder) =>
        set((s) => {
          const normalized = normalizeFolder(folder);
          if (normalized === "" || s.destinations.includes(normalized)) return s;
          return { destinations: [...s.destinations, normalized] };
        }),
      remove: (folder) => set((s) => ({ destinations: s.destinations.filter((d) => d !== folder) })),
      setLastUsed: (folder) => set({ lastUsed: normalizeFolder(folder) }),
    }),
    {
      name: "hypersdk.destinations",
      version: 1,
      storage: createJSONStorage(() => localStorage),
      partialize: (s) => ({ destinations: s.destinations, lastUsed: s.lastUsed }),
    },
  ),
);

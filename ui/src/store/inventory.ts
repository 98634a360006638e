import { create } from "zustand";

/** The connection the inventory shows, kept while the user visits other sections. */
type InventoryState = {
  connectionId: string | null;
  setConnectionId: (id: string) => void;
};

export const useInventory = create<InventoryState>((set) => ({
  connectionId: null,
  setConnectionId: (connectionId) => set({ connectionId }),
}));

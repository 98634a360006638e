import "@mantine/core/styles.css";
import "@mantine/notifications/styles.css";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import { Providers } from "./Providers";
import { createQueryClient } from "./api/queryClient";

async function start() {
  // Browser-only preview: `vite build --mode mock` swaps the Tauri IPC for canned data.
  // In every other mode this branch is removed from the bundle.
  if (import.meta.env.MODE === "mock") {
    const { installMockIpc } = await import("./dev/mockIpc");
    installMockIpc();
  }
  const root = document.getElementById("root");
  if (!root) throw new Error("#root element missing");
  createRoot(root).render(
    <StrictMode>
      <Providers client={createQueryClient()}>
        <App />
      </Providers>
    </StrictMode>,
  );
}

void start();

import { Badge, createTheme } from "@mantine/core";

export const theme = createTheme({
  primaryColor: "blue",
  defaultRadius: "md",
  fontFamily:
    "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', 'Noto Sans', 'Liberation Sans', Arial, sans-serif",
  fontFamilyMonospace: "ui-monospace, 'SFMono-Regular', 'DejaVu Sans Mono', Menlo, Consolas, monospace",
  components: {
    // Badges sit in table cells: never let the table squeeze their words into an ellipsis.
    Badge: Badge.extend({
      styles: { root: { flexShrink: 0 }, label: { overflow: "visible" } },
    }),
  },
});

import { save } from "@tauri-apps/plugin-dialog";
import { api } from "../../api/client";

export type Cell = string | number | null;

/** Exactly what a chart plots: one row per point, one column per plotted value. */
export type ChartTable = {
  /** File name stem, e.g. `throughput-live`. */
  name: string;
  columns: string[];
  rows: Cell[][];
};

export type ExportFormat = "csv" | "json";

function csvCell(cell: Cell): string {
  if (cell === null) return "";
  const text = String(cell);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** RFC 4180 CSV with a header line; numbers exactly as plotted, empty for a gap. */
export function toCsv(table: ChartTable): string {
  const lines = [table.columns.map(csvCell).join(",")];
  for (const row of table.rows) lines.push(row.map(csvCell).join(","));
  return `${lines.join("\r\n")}\r\n`;
}

/** An array of objects keyed by column, numbers as numbers, gaps as null. */
export function toJson(table: ChartTable): string {
  const objects = table.rows.map((row) => Object.fromEntries(table.columns.map((c, i) => [c, row[i] ?? null])));
  return `${JSON.stringify(objects, null, 2)}\n`;
}

export function render(table: ChartTable, format: ExportFormat): string {
  return format === "csv" ? toCsv(table) : toJson(table);
}

/**
 * Asks where to save (the native dialog), then has the core write the file. Resolves to the
 * path, or null when the user cancelled.
 */
export async function saveChartTable(table: ChartTable, format: ExportFormat): Promise<string | null> {
  const path = await save({
    title: "Export chart data",
    defaultPath: `${table.name}.${format}`,
    filters: [format === "csv" ? { name: "CSV", extensions: ["csv"] } : { name: "JSON", extensions: ["json"] }],
  });
  if (!path) return null;
  return api.saveChartExport(path, render(table, format));
}

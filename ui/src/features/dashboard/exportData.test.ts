import { describe, expect, it } from "vitest";
import { toCsv, toJson } from "./exportData";

describe("chart export formats", () => {
  const table = {
    name: "x",
    columns: ["t", "name, quoted \"x\"", "value"],
    rows: [
      [1, "a\nb", 1.5],
      [2, "plain", null],
    ],
  };

  it("writes RFC 4180 CSV: quoted where needed, gaps empty, CRLF lines", () => {
    expect(toCsv(table)).toBe('t,"name, quoted ""x""",value\r\n1,"a\nb",1.5\r\n2,plain,\r\n');
  });

  it("writes JSON objects keyed by column with numbers and nulls as such", () => {
    expect(JSON.parse(toJson(table))).toEqual([
      { t: 1, 'name, quoted "x"': "a\nb", value: 1.5 },
      { t: 2, 'name, quoted "x"': "plain", value: null },
    ]);
  });
});

describe("timeTicks", () => {
  it("puts a few ticks at round times, none of them reading the same", async () => {
    const { timeTicks } = await import("./format");
    for (const [from, to] of [
      [1_795_000_003, 1_795_000_047], // 44 s
      [1_795_000_000, 1_795_000_000 + 7 * 60 + 13], // 7 min
      [1_795_000_000, 1_795_000_000 + 95 * 60], // 95 min: minutes, never seconds, no repeats
      [1_795_000_000, 1_795_000_000 + 3 * 86_400],
    ] as const) {
      const { ticks, label } = timeTicks(from, to);
      expect(ticks.length).toBeGreaterThan(0);
      expect(ticks.length).toBeLessThanOrEqual(6);
      expect(ticks.every((t) => t >= from && t <= to)).toBe(true);
      const labels = ticks.map(label);
      expect(new Set(labels).size).toBe(labels.length);
    }
  });
});

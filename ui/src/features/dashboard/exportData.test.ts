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

import { describe, expect, it } from "vitest";
import { counted } from "./plural";

describe("counted", () => {
  it("puts the noun in the number the count needs", () => {
    expect(counted(1, "job")).toBe("1 job");
    expect(counted(0, "job")).toBe("0 jobs");
    expect(counted(2, "VM")).toBe("2 VMs");
    expect(counted(1, "run")).toBe("1 run");
    expect(counted(1204, "job")).toMatch(/^1.204 jobs$/);
  });
});

import { describe, expect, it } from "vitest";
import { sectionFromHash, useNavigation } from "./navigation";

describe("navigation", () => {
  it("takes only known sections from the hash", () => {
    expect(sectionFromHash("#jobs")).toBe("jobs");
    expect(sectionFromHash("dashboard")).toBe("dashboard");
    expect(sectionFromHash("#nope")).toBeNull();
    expect(sectionFromHash("")).toBeNull();
  });

  it("follows a hash set from outside, and keeps the hash in step with the section", () => {
    useNavigation.getState().setSection("settings");
    expect(window.location.hash).toBe("#settings");
    window.location.hash = "#jobs";
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    expect(useNavigation.getState().section).toBe("jobs");
    window.location.hash = "#bogus";
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    expect(useNavigation.getState().section).toBe("jobs");
  });
});

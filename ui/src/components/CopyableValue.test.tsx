import { screen } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { renderWithProviders } from "../test/render";
import { CopyableValue } from "./CopyableValue";

describe("CopyableValue", () => {
  it("lets a fingerprint wrap after a colon only, and copies it whole", () => {
    const fp = Array(32).fill("C4").join(":");
    renderWithProviders(<CopyableValue label="SHA-256 fingerprint" value={fp} testId="fp" />);
    const shown = screen.getByTestId("fp");
    expect(shown).toHaveTextContent(fp);
    expect(shown.querySelectorAll("wbr")).toHaveLength(31);
    expect(shown.style.overflowWrap).toBe("anywhere");
  });
});

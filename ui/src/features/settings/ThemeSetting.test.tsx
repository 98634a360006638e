import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { renderWithProviders } from "../../test/render";
import { ThemeSetting } from "./ThemeSetting";

describe("ThemeSetting", () => {
  it("switches between system, light and dark, and keeps the choice", async () => {
    const user = userEvent.setup();
    const { unmount } = renderWithProviders(<ThemeSetting />);
    await user.click(screen.getByText("Dark"));
    expect(document.documentElement).toHaveAttribute("data-mantine-color-scheme", "dark");
    expect(localStorage.getItem("mantine-color-scheme-value")).toBe("dark");
    unmount();
    // A new window reads it back.
    renderWithProviders(<ThemeSetting />);
    expect(screen.getByRole("radio", { name: "Dark" })).toBeChecked();
    await user.click(screen.getByText("System"));
    expect(localStorage.getItem("mantine-color-scheme-value")).toBe("auto");
  });
});

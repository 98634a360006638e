import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { ConnectionTestResult } from "../../bindings";
import { connection } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { TestResultModal } from "./TestResultModal";

vi.mock("../../bindings", () => ({ commands: {}, events: { coreEvent: { listen: vi.fn() } } }));

function offerFor(result: ConnectionTestResult) {
  renderWithProviders(
    <TestResultModal connection={connection} pending={false} result={result} error={null} onClose={vi.fn()} onTrustCertificate={vi.fn()} />,
  );
  return screen.getByTestId("pin-offer");
}

describe("TestResultModal", () => {
  it("offers to trust a server certificate", () => {
    const offer = offerFor({
      ok: false,
      checks: [{ name: "TLS certificate", ok: false, detail: "not trusted", fingerprint: "ab".repeat(32) }],
    });
    expect(offer).toHaveTextContent("Trust this certificate…");
  });

  it("names an SSH host key as such", () => {
    const offer = offerFor({
      ok: false,
      checks: [{ name: "SSH data path (vzdump)", ok: false, detail: "host key not trusted yet", fingerprint: "SHA256:abc", pin_option: "ssh_host_keys" }],
    });
    expect(offer).toHaveTextContent("Trust this SSH host key…");
  });

  it("offers to edit the connection when the password was refused, and only then", async () => {
    const onEdit = vi.fn();
    const { unmount } = renderWithProviders(
      <TestResultModal
        connection={connection}
        pending={false}
        result={{
          ok: false,
          checks: [
            { name: "TLS certificate", ok: true, detail: "trusted" },
            { name: "Sign in", ok: false, detail: "the server refused the user or password", code: "auth_failed" },
            { name: "Inventory readable", ok: false, detail: "not checked: not signed in", skipped: true },
          ],
        }}
        error={null}
        onClose={vi.fn()}
        onEditConnection={onEdit}
      />,
    );
    await userEvent.click(screen.getByTestId("test-edit-connection"));
    expect(onEdit).toHaveBeenCalledOnce();
    unmount();

    // An unreachable server is not fixed by editing the password: no offer.
    renderWithProviders(
      <TestResultModal
        connection={connection}
        pending={false}
        result={{ ok: false, checks: [{ name: "TLS certificate", ok: false, detail: "connection refused", code: "unreachable" }] }}
        error={null}
        onClose={vi.fn()}
        onEditConnection={onEdit}
      />,
    );
    expect(screen.queryByTestId("test-edit-connection")).toBeNull();
  });
});

import { screen } from "@testing-library/react";
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
});

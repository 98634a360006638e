import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import type { Connection } from "../../bindings";
import { connection } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { PinCertificateDialog } from "./PinCertificateDialog";

vi.mock("../../bindings", () => ({
  commands: { updateConnection: vi.fn(), testConnection: vi.fn(), listConnections: vi.fn() },
  events: { coreEvent: { listen: vi.fn() } },
}));

const mocked = vi.mocked(commands);
const FP = Array(32).fill("AB").join(":");

beforeEach(() => {
  vi.clearAllMocks();
  mocked.updateConnection.mockImplementation((id, input) =>
    Promise.resolve({ status: "ok", data: { ...connection, id, tls_fingerprint: "ab".repeat(32), name: input.name } }),
  );
  mocked.testConnection.mockResolvedValue({
    status: "ok",
    data: { ok: true, checks: [{ name: "TLS certificate", ok: true, detail: "matches the pinned SHA-256 fingerprint", fingerprint: null }] },
  });
});

function setup(kind: "untrusted" | "changed", subject: Connection = connection) {
  const onClose = vi.fn();
  const onPinned = vi.fn();
  renderWithProviders(
    <PinCertificateDialog opened connection={subject} problem={{ kind, fingerprint: FP }} onClose={onClose} onPinned={onPinned} />,
  );
  return { onClose, onPinned, user: userEvent.setup() };
}

describe("PinCertificateDialog", () => {
  it("shows the fingerprint, pins it keeping the stored secret, then tests again", async () => {
    const { user, onPinned, onClose } = setup("untrusted");
    const dialog = screen.getByTestId("pin-dialog");
    expect(screen.getByText("This server's certificate is not trusted")).toBeInTheDocument();
    expect(within(dialog).getByTestId("pin-fingerprint")).toHaveTextContent(FP);
    expect(within(dialog).queryByTestId("pin-changed-warning")).not.toBeInTheDocument();

    await user.click(screen.getByTestId("pin-certificate"));

    await waitFor(() => expect(mocked.testConnection).toHaveBeenCalledWith("c-1"));
    expect(mocked.updateConnection).toHaveBeenCalledTimes(1);
    expect(mocked.updateConnection).toHaveBeenCalledWith("c-1", {
      kind: "vsphere",
      name: "Lab vCenter",
      endpoint: "vcenter.lab.local",
      username: "administrator@vsphere.local",
      secret: null,
      options: { datacenter: "DC1" },
      tls_fingerprint: FP,
    });
    // Pinned before tested: the test must see the new pin.
    const updateOrder = mocked.updateConnection.mock.invocationCallOrder[0] ?? 0;
    expect(mocked.testConnection.mock.invocationCallOrder[0]).toBeGreaterThan(updateOrder);
    expect(onPinned).toHaveBeenCalledWith(expect.objectContaining({ id: "c-1" }));
    expect(await screen.findByTestId("connection-test-result")).toHaveAttribute("data-ok", "true");

    await user.click(screen.getByTestId("pin-done"));
    expect(onClose).toHaveBeenCalled();
  });

  it("warns more strongly when the pinned certificate changed", () => {
    setup("changed", { ...connection, tls_fingerprint: "0f".repeat(32) });
    expect(screen.getByText("The server's certificate has changed")).toBeInTheDocument();
    expect(screen.getByTestId("pin-changed-warning")).toHaveTextContent(/was set to trust one certificate only/);
    expect(screen.getByTestId("pin-dialog")).toHaveAttribute("data-kind", "changed");
  });

  it("shows the core's message when pinning fails and does not test", async () => {
    mocked.updateConnection.mockResolvedValue({
      status: "error",
      error: { code: "keyring_locked", message: "the OS keyring is locked", retryable: true },
    });
    const { user, onPinned } = setup("untrusted");
    await user.click(screen.getByTestId("pin-certificate"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent("the OS keyring is locked");
    expect(mocked.testConnection).not.toHaveBeenCalled();
    expect(onPinned).not.toHaveBeenCalled();
    expect(screen.getByTestId("pin-certificate")).toBeEnabled();
  });

  it("cannot pin without a fingerprint", () => {
    const onClose = vi.fn();
    renderWithProviders(<PinCertificateDialog opened connection={connection} problem={{ kind: "untrusted", fingerprint: null }} onClose={onClose} />);
    expect(screen.getByTestId("pin-certificate")).toBeDisabled();
  });
});

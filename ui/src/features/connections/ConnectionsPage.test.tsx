import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import type { Connection } from "../../bindings";
import { connection, kinds } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { ConnectionsPage } from "./ConnectionsPage";

vi.mock("../../bindings", () => ({
  commands: {
    listProviderKinds: vi.fn(),
    listConnections: vi.fn(),
    addConnection: vi.fn(),
    updateConnection: vi.fn(),
    testConnection: vi.fn(),
    testConnectionInput: vi.fn(),
    removeConnection: vi.fn(),
    connectionDiagnostics: vi.fn(),
  },
  events: { coreEvent: { listen: vi.fn() } },
}));

const mocked = vi.mocked(commands);
let stored: Connection[];

beforeEach(() => {
  vi.clearAllMocks();
  stored = [connection];
  mocked.listProviderKinds.mockResolvedValue(kinds);
  mocked.listConnections.mockImplementation(() => Promise.resolve({ status: "ok", data: stored }));
  // Saving tests the form first; by default it passes.
  mocked.testConnectionInput.mockResolvedValue({ status: "ok", data: { ok: true, checks: [{ name: "Sign in", ok: true, detail: "signed in" }] } });
});

describe("ConnectionsPage", () => {
  it("lists connections with kind, endpoint, username and the secret badge", async () => {
    renderWithProviders(<ConnectionsPage />);
    const row = await screen.findByTestId("connection-row");
    expect(row).toHaveAttribute("data-connection-name", "Lab vCenter");
    expect(within(row).getByText("VMware vSphere")).toBeInTheDocument();
    expect(within(row).getByText("vcenter.lab.local")).toBeInTheDocument();
    expect(within(row).getByText("administrator@vsphere.local")).toBeInTheDocument();
    expect(within(row).getByText("Secret stored")).toBeInTheDocument();
  });

  it("adds a connection and refreshes the list", async () => {
    const user = userEvent.setup();
    const added: Connection = { ...connection, id: "c-2", name: "Second", endpoint: "vc2.lab" };
    mocked.addConnection.mockImplementation(() => {
      stored = [...stored, added];
      return Promise.resolve({ status: "ok", data: added });
    });
    renderWithProviders(<ConnectionsPage />);
    await screen.findByTestId("connection-row");

    await user.click(screen.getByTestId("connection-add"));
    await user.type(await screen.findByTestId("connection-name"), "Second");
    await user.type(screen.getByTestId("connection-endpoint"), "vc2.lab");
    await user.click(screen.getByTestId("connection-save"));

    await waitFor(() => expect(screen.getAllByTestId("connection-row")).toHaveLength(2));
    expect(mocked.addConnection).toHaveBeenCalledWith({
      kind: "vsphere",
      name: "Second",
      endpoint: "vc2.lab",
      username: "",
      secret: null,
      options: {},
      secret_options: {},
      tls_fingerprint: null,
    });
  });

  it("shows a core error that belongs to no field as an alert with the core's message", async () => {
    const user = userEvent.setup();
    mocked.addConnection.mockResolvedValue({
      status: "error",
      error: { code: "keyring_unavailable", message: "The OS keyring is locked", retryable: false },
    });
    renderWithProviders(<ConnectionsPage />);
    await screen.findByTestId("connection-row");
    await user.click(screen.getByTestId("connection-add"));
    await user.type(await screen.findByTestId("connection-name"), "X");
    await user.type(screen.getByTestId("connection-endpoint"), "x");
    await user.click(screen.getByTestId("connection-save"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent("The OS keyring is locked");
  });

  it("tests a connection before saving it, and asks when the test fails", async () => {
    const user = userEvent.setup();
    const added: Connection = { ...connection, id: "c-2", name: "Second", endpoint: "vc2.lab" };
    mocked.addConnection.mockImplementation(() => {
      stored = [...stored, added];
      return Promise.resolve({ status: "ok", data: added });
    });
    mocked.testConnectionInput.mockResolvedValue({
      status: "ok",
      data: {
        ok: false,
        checks: [
          { name: "Endpoint reachable", ok: false, detail: "cannot connect to vc2.lab:443: connection refused" },
          { name: "Sign in", ok: false, skipped: true, detail: "not checked: the endpoint is unreachable" },
        ],
      },
    });
    renderWithProviders(<ConnectionsPage />);
    await screen.findByTestId("connection-row");
    await user.click(screen.getByTestId("connection-add"));
    await user.type(await screen.findByTestId("connection-name"), "Second");
    await user.type(screen.getByTestId("connection-endpoint"), "vc2.lab");
    await user.click(screen.getByTestId("connection-save"));

    // Nothing saved yet: the failing check, the skipped one in grey, and a question.
    const review = await screen.findByTestId("connection-save-review");
    expect(mocked.testConnectionInput).toHaveBeenCalledWith(null, expect.objectContaining({ name: "Second", endpoint: "vc2.lab" }));
    expect(mocked.addConnection).not.toHaveBeenCalled();
    const checks = within(review).getAllByTestId("connection-test-check");
    expect(checks.map((c) => c.getAttribute("data-skipped"))).toEqual(["false", "true"]);
    expect(within(checks[1]!).getByLabelText("not checked")).toBeInTheDocument();

    // Back to the form keeps what was typed; Save anyway saves it.
    await user.click(within(review).getByTestId("connection-review-back"));
    expect(screen.getByTestId("connection-name")).toHaveValue("Second");
    await user.click(screen.getByTestId("connection-save"));
    await user.click(await screen.findByTestId("connection-save-anyway"));
    await waitFor(() => expect(screen.getAllByTestId("connection-row")).toHaveLength(2));
    expect(mocked.addConnection).toHaveBeenCalledTimes(1);
  });

  it("tests a connection and shows the checks", async () => {
    const user = userEvent.setup();
    mocked.testConnection.mockResolvedValue({
      status: "ok",
      data: {
        ok: false,
        checks: [
          { name: "Reach endpoint", ok: true, detail: "connected" },
          { name: "Sign in", ok: false, detail: "incorrect user name or password" },
        ],
      },
    });
    renderWithProviders(<ConnectionsPage />);
    await user.click(within(await screen.findByTestId("connection-row")).getByTestId("connection-test"));
    const result = await screen.findByTestId("connection-test-result");
    expect(mocked.testConnection).toHaveBeenCalledWith("c-1");
    expect(result).toHaveTextContent("Some checks failed");
    expect(result).toHaveTextContent("incorrect user name or password");
  });

  it("offers to pin an untrusted certificate from a test, pins it and tests again", async () => {
    const user = userEvent.setup();
    const fp = Array(32).fill("5C").join(":");
    mocked.testConnection
      .mockResolvedValueOnce({
        status: "ok",
        data: {
          ok: false,
          checks: [
            { name: "Reach endpoint", ok: true, detail: "connected", fingerprint: null },
            { name: "TLS certificate", ok: false, detail: "self-signed certificate", fingerprint: fp },
          ],
        },
      })
      .mockResolvedValueOnce({
        status: "ok",
        data: { ok: true, checks: [{ name: "TLS certificate", ok: true, detail: "matches the pinned SHA-256 fingerprint", fingerprint: null }] },
      });
    mocked.updateConnection.mockImplementation((id, input) =>
      Promise.resolve({ status: "ok", data: { ...connection, id, tls_fingerprint: input.tls_fingerprint ?? null } }),
    );
    renderWithProviders(<ConnectionsPage />);
    await user.click(within(await screen.findByTestId("connection-row")).getByTestId("connection-test"));
    expect(await screen.findByTestId("connection-test-fingerprint")).toHaveTextContent(fp);

    await user.click(screen.getByTestId("pin-offer"));
    expect(await screen.findByTestId("pin-fingerprint")).toHaveTextContent(fp);
    await user.click(screen.getByTestId("pin-certificate"));

    await waitFor(() => expect(mocked.testConnection).toHaveBeenCalledTimes(2));
    expect(mocked.updateConnection).toHaveBeenCalledWith("c-1", expect.objectContaining({ secret: null, tls_fingerprint: fp, name: "Lab vCenter" }));
    expect(await screen.findByText("All checks passed")).toBeInTheDocument();
  });

  it("offers no pin when a failing check has no fingerprint", async () => {
    const user = userEvent.setup();
    mocked.testConnection.mockResolvedValue({
      status: "ok",
      data: { ok: false, checks: [{ name: "Sign in", ok: false, detail: "incorrect password", fingerprint: null }] },
    });
    renderWithProviders(<ConnectionsPage />);
    await user.click(within(await screen.findByTestId("connection-row")).getByTestId("connection-test"));
    await screen.findByTestId("connection-test-result");
    expect(screen.queryByTestId("pin-offer")).not.toBeInTheDocument();
  });

  it("shows a connection's details with its live session pool counters", async () => {
    const user = userEvent.setup();
    mocked.connectionDiagnostics.mockResolvedValue({
      status: "ok",
      data: [
        { label: "Sessions created", value: "2" },
        { label: "Sessions reused", value: "17" },
        { label: "Re-logins after expiry", value: "1" },
        { label: "Health checks", value: "9" },
      ],
    });
    renderWithProviders(<ConnectionsPage />);
    await user.click(within(await screen.findByTestId("connection-row")).getByTestId("connection-details"));

    const diagnostics = await screen.findByTestId("connection-diagnostics");
    await waitFor(() => expect(within(diagnostics).getAllByTestId("connection-diagnostic")).toHaveLength(4));
    expect(mocked.connectionDiagnostics).toHaveBeenCalledWith("c-1");
    const lines = within(diagnostics)
      .getAllByTestId("connection-diagnostic")
      .map((r) => [r.getAttribute("data-label"), r.textContent]);
    expect(lines).toEqual([
      ["Sessions created", "Sessions created2"],
      ["Sessions reused", "Sessions reused17"],
      ["Re-logins after expiry", "Re-logins after expiry1"],
      ["Health checks", "Health checks9"],
    ]);
    expect(within(diagnostics).queryByText("Not used yet in this session")).not.toBeInTheDocument();
    // The connection's own details are there too, and no secret value.
    expect(screen.getByTestId("connection-details-panel")).toHaveTextContent("vcenter.lab.local");
    expect(screen.getByTestId("connection-details-panel")).toHaveTextContent("Stored in the OS keyring");
  });

  it("says a connection has not been used yet when there are no live details", async () => {
    const user = userEvent.setup();
    mocked.connectionDiagnostics.mockResolvedValue({ status: "ok", data: [] });
    renderWithProviders(<ConnectionsPage />);
    await user.click(within(await screen.findByTestId("connection-row")).getByTestId("connection-details"));
    const diagnostics = await screen.findByTestId("connection-diagnostics");
    expect(await within(diagnostics).findByText("Not used yet in this session")).toBeInTheDocument();
    expect(within(diagnostics).queryByTestId("connection-diagnostic")).not.toBeInTheDocument();
  });

  it("removes a connection after confirmation", async () => {
    const user = userEvent.setup();
    mocked.removeConnection.mockImplementation(() => {
      stored = [];
      return Promise.resolve({ status: "ok", data: null });
    });
    renderWithProviders(<ConnectionsPage />);
    await user.click(within(await screen.findByTestId("connection-row")).getByTestId("connection-remove"));
    expect(mocked.removeConnection).not.toHaveBeenCalled();
    await user.click(await screen.findByTestId("confirm-remove"));
    await waitFor(() => expect(screen.queryByTestId("connection-row")).not.toBeInTheDocument());
    expect(mocked.removeConnection).toHaveBeenCalledWith("c-1");
    expect(screen.getByText("No connections yet")).toBeInTheDocument();
  });
});

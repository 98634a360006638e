import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { ConnectionInput } from "../../bindings";
import { CoreError } from "../../api/errors";
import { connection, kinds, proxmoxKind } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { ConnectionForm } from "./ConnectionForm";

vi.mock("../../bindings", () => ({ commands: {}, events: { coreEvent: { listen: vi.fn() } } }));

function setup(props: Partial<Parameters<typeof ConnectionForm>[0]> = {}) {
  const onSubmit = vi.fn<(input: ConnectionInput) => Promise<unknown>>().mockResolvedValue(undefined);
  const onCancel = vi.fn();
  renderWithProviders(<ConnectionForm kinds={kinds} onSubmit={onSubmit} onCancel={onCancel} {...props} />);
  return { onSubmit, onCancel, user: userEvent.setup() };
}

describe("ConnectionForm", () => {
  it("renders the fields described by the selected provider kind", async () => {
    const { user } = setup();
    const kind = screen.getByTestId("connection-kind");
    expect(kind.tagName).toBe("SELECT");
    expect(screen.getByTestId("connection-endpoint")).toHaveAttribute("placeholder", "vcenter.example.com");
    expect(screen.getByLabelText("User name")).toBe(screen.getByTestId("connection-username"));
    const secret = screen.getByTestId("connection-secret");
    expect(secret.tagName).toBe("INPUT");
    expect(secret).toHaveAttribute("type", "password");
    expect(screen.getByLabelText("Password")).toBe(secret);
    expect(screen.getByTestId("connection-option-datacenter")).toHaveAttribute("placeholder", "DC1");
    expect(screen.queryByTestId("connection-option-region")).not.toBeInTheDocument();

    await user.selectOptions(kind, "aws");

    expect(screen.getByTestId("connection-endpoint")).toHaveAttribute("placeholder", "https://vpce-….ec2.us-east-1.vpce.amazonaws.com");
    // A kind with endpoints of its own: optional, and what empty means is said.
    expect(screen.getByText("Empty: AWS's own endpoint in each region")).toBeInTheDocument();
    expect(screen.getByText("Empty: your AWS profile's credentials")).toBeInTheDocument();
    expect(screen.getByLabelText("Access key ID")).toBe(screen.getByTestId("connection-username"));
    expect(screen.getByLabelText("Secret access key")).toBe(screen.getByTestId("connection-secret"));
    expect(screen.getByTestId("connection-option-region").tagName).toBe("INPUT");
    expect(screen.getByTestId("connection-option-bucket")).toBeInTheDocument();
    expect(screen.queryByTestId("connection-option-datacenter")).not.toBeInTheDocument();
    expect(screen.getByTestId("connection-save").tagName).toBe("BUTTON");
  });

  it("shows validation messages and does not submit invalid values", async () => {
    const { user, onSubmit } = setup();
    await user.click(screen.getByTestId("connection-save"));
    expect(await screen.findByText("Name is required")).toBeInTheDocument();
    expect(screen.getByText("Endpoint is required")).toBeInTheDocument();
    expect(onSubmit).not.toHaveBeenCalled();

    await user.selectOptions(screen.getByTestId("connection-kind"), "aws");
    await user.type(screen.getByTestId("connection-name"), "AWS prod");
    await user.type(screen.getByTestId("connection-endpoint"), "https://ec2.eu-west-1.amazonaws.com");
    await user.click(screen.getByTestId("connection-save"));
    expect(await screen.findByText("Region is required")).toBeInTheDocument();
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it("keeps secret options (an SSH key) out of plain fields, and edits keep or remove them", async () => {
    const { user, onSubmit } = setup({ kinds: [proxmoxKind] });
    const key = screen.getByTestId("connection-secret-option-ssh_key");
    expect(key.tagName).toBe("TEXTAREA");
    expect(screen.getByTestId("connection-secret-option-ssh_password")).toHaveAttribute("type", "password");
    expect(screen.queryByTestId("connection-option-ssh_key")).not.toBeInTheDocument();
    await user.type(screen.getByTestId("connection-name"), "Lab PVE");
    await user.type(screen.getByTestId("connection-endpoint"), "https://pve:8006");
    await user.type(key, "-----BEGIN OPENSSH PRIVATE KEY-----");
    await user.click(screen.getByTestId("connection-save"));
    await waitFor(() =>
      expect(onSubmit).toHaveBeenCalledWith(
        expect.objectContaining({ kind: "proxmox", options: {}, secret_options: { ssh_key: "-----BEGIN OPENSSH PRIVATE KEY-----" } }),
      ),
    );
  });

  it("offers to remove a saved secret option when editing", async () => {
    const saved = { ...connection, kind: "proxmox" as const, secret_options: ["ssh_key"] };
    const { user, onSubmit } = setup({ kinds: [proxmoxKind], connection: saved });
    expect(screen.getByTestId("connection-secret-option-ssh_key")).toHaveAttribute("placeholder", "Unchanged");
    expect(screen.queryByTestId("connection-clear-secret-option-ssh_password")).not.toBeInTheDocument();
    await user.click(screen.getByTestId("connection-clear-secret-option-ssh_key"));
    await user.click(screen.getByTestId("connection-save"));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledWith(expect.objectContaining({ secret_options: { ssh_key: "" } })));
  });

  it("submits trimmed values with the secret and options", async () => {
    const { user, onSubmit } = setup();
    await user.type(screen.getByTestId("connection-name"), "  Lab  ");
    await user.type(screen.getByTestId("connection-endpoint"), "vc.lab");
    await user.type(screen.getByTestId("connection-username"), "admin");
    await user.type(screen.getByTestId("connection-secret"), "s3cret");
    await user.type(screen.getByTestId("connection-option-datacenter"), "DC9");
    await user.click(screen.getByTestId("connection-save"));
    await waitFor(() =>
      expect(onSubmit).toHaveBeenCalledWith({
        kind: "vsphere",
        name: "Lab",
        endpoint: "vc.lab",
        username: "admin",
        secret: "s3cret",
        options: { datacenter: "DC9" },
        secret_options: {},
        tls_fingerprint: null,
      }),
    );
  });

  it("edits keep the stored secret when the secret field is left empty", async () => {
    const { user, onSubmit } = setup({ connection });
    expect(screen.getByTestId("connection-name")).toHaveValue("Lab vCenter");
    expect(screen.getByTestId("connection-secret")).toHaveValue("");
    expect(screen.getByText("Leave empty to keep the stored secret.")).toBeInTheDocument();
    await user.click(screen.getByTestId("connection-save"));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledWith(expect.objectContaining({ kind: "vsphere", name: "Lab vCenter", secret: null, options: { datacenter: "DC1" } })));
  });

  it("shows core errors under the matching field, others as an alert", async () => {
    const onSubmit = vi
      .fn<(input: ConnectionInput) => Promise<unknown>>()
      .mockRejectedValueOnce(new CoreError({ code: "connection_name_taken", message: "A connection named “Lab vCenter” already exists", retryable: false }))
      .mockRejectedValueOnce(new CoreError({ code: "keyring_unavailable", message: "The OS keyring is locked", retryable: true }));
    const { user } = setup({ connection, onSubmit });

    await user.click(screen.getByTestId("connection-save"));
    expect(await screen.findByText("A connection named “Lab vCenter” already exists")).toBeInTheDocument();
    expect(screen.getByTestId("connection-name")).toHaveAttribute("aria-invalid", "true");

    await user.click(screen.getByTestId("connection-save"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent(/^The OS keyring is locked$/);
    expect(screen.getByRole("button", { name: "Copy details" })).toBeInTheDocument();
  });
});

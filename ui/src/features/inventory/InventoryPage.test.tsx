import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { notifications } from "@mantine/notifications";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import type { Connection, VmInfo } from "../../bindings";
import { awsKind, connection, kinds, makeJob } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { makeVm, sampleVms } from "../../test/vms";
import { useDestinations } from "../../store/destinations";
import { useInventory } from "../../store/inventory";
import { useNavigation } from "../../store/navigation";
import { InventoryPage } from "./InventoryPage";

vi.mock("../../bindings", () => ({
  commands: {
    listProviderKinds: vi.fn(),
    listConnections: vi.fn(),
    listVms: vi.fn(),
    startExport: vi.fn(),
    updateConnection: vi.fn(),
    testConnection: vi.fn(),
  },
  events: { coreEvent: { listen: vi.fn() } },
}));
vi.mock("@tauri-apps/plugin-dialog", () => ({ open: vi.fn() }));

const mocked = vi.mocked(commands);
const FP = Array(32).fill("C4").join(":");

// jsdom lays nothing out: give scroll containers a height so the virtualiser renders rows.
const clientHeight = Object.getOwnPropertyDescriptor(HTMLElement.prototype, "clientHeight");
const clientWidth = Object.getOwnPropertyDescriptor(HTMLElement.prototype, "clientWidth");
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 600 });
  Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 1200 });
});
afterAll(() => {
  if (clientHeight) Object.defineProperty(HTMLElement.prototype, "clientHeight", clientHeight);
  if (clientWidth) Object.defineProperty(HTMLElement.prototype, "clientWidth", clientWidth);
});

let connections: Connection[];
beforeEach(() => {
  vi.clearAllMocks();
  connections = [connection];
  useNavigation.setState({ section: "inventory" });
  useInventory.setState({ connectionId: null });
  useDestinations.setState({ destinations: [], lastUsed: null });
  mocked.listProviderKinds.mockResolvedValue(kinds);
  mocked.listConnections.mockImplementation(() => Promise.resolve({ status: "ok", data: connections }));
  mocked.listVms.mockResolvedValue({ status: "ok", data: sampleVms });
  mocked.startExport.mockImplementation((spec) =>
    Promise.resolve({ status: "ok", data: spec.vm_ids.map((id) => makeJob({ id: `j-${id}` })) }),
  );
});

// jsdom renders Mantine far slower than a browser, and CI shares two cores with cargo.
const slow = { timeout: 20_000 };

const shownNames = () => screen.queryAllByTestId(/^vm-row-/).map((row) => row.getAttribute("data-vm-name"));

async function renderLoaded() {
  const user = userEvent.setup();
  renderWithProviders(<InventoryPage />);
  await screen.findByTestId("vm-row-vm-web01");
  return user;
}

describe("InventoryPage: choosing what to see", slow, () => {
  it("lists only browsable connections and loads the VMs of the first", async () => {
    connections = [
      { ...connection, id: "c-aws", kind: "aws", name: "AWS" },
      connection,
      { ...connection, id: "c-2", name: "Second vCenter" },
    ];
    mocked.listProviderKinds.mockResolvedValue([kinds[0]!, { ...awsKind, discovery_available: false }]);
    const user = await renderLoaded();

    const select = screen.getByTestId("inventory-connection");
    expect(within(select).getAllByRole("option").map((o) => o.textContent)).toEqual(["Lab vCenter", "Second vCenter"]);
    expect(mocked.listVms).toHaveBeenCalledWith("c-1", { text: null, power_state: null });

    await user.selectOptions(select, "c-2");
    await waitFor(() => expect(mocked.listVms).toHaveBeenCalledWith("c-2", { text: null, power_state: null }));
    expect(useInventory.getState().connectionId).toBe("c-2");
  });

  it("shows rows before their details, and fills them in when the platform has read them", async () => {
    const pending = sampleVms.map((vm) => ({ ...vm, guest_os: "", disks: 0, nics: 0, details_pending: true }));
    mocked.listVms
      .mockResolvedValueOnce({ status: "ok", data: pending })
      .mockResolvedValueOnce({ status: "ok", data: pending })
      .mockResolvedValue({ status: "ok", data: sampleVms });
    await renderLoaded();
    expect(within(screen.getByTestId("vm-row-vm-web01")).getAllByTestId("vm-detail-pending")).toHaveLength(5);
    await waitFor(() => expect(screen.queryAllByTestId("vm-detail-pending")).toHaveLength(0), { timeout: 5000 });
    expect(screen.getByTestId("vm-row-vm-web01")).toHaveTextContent("Ubuntu Linux (64-bit)");
    const calls = mocked.listVms.mock.calls.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(mocked.listVms.mock.calls.length).toBe(calls);
  });

  it("shows every column of a VM, sorted by name", async () => {
    await renderLoaded();
    expect(shownNames()).toEqual(["build01", "db01", "loose01", "web01", "web02", "web10"]);
    const row = screen.getByTestId("vm-row-vm-db01");
    const cells = within(row).getAllByRole("gridcell").map((c) => c.textContent);
    expect(cells.slice(1)).toEqual(["db01", "/DC0/vm/prod/db/db01", "On", "Ubuntu Linux (64-bit)", "8", "64.0 GiB", "1", "200 GiB", "61.5 GiB", "LocalDS_0", "1", "Running"]);
    // A platform that does not say: a dash, not a zero.
    const web = within(screen.getByTestId("vm-row-vm-web01")).getAllByRole("gridcell").map((c) => c.textContent);
    expect(web.slice(8, 10)).toEqual(["—", "—"]);
    expect(screen.getByTestId("inventory-count")).toHaveTextContent("6 VMs");
  });

  it("sorts by a column, both ways", async () => {
    const user = await renderLoaded();
    await user.click(screen.getByTestId("vm-sort-name"));
    expect(shownNames()).toEqual(["web10", "web02", "web01", "loose01", "db01", "build01"]);
    await user.click(screen.getByTestId("vm-sort-cpus"));
    expect(shownNames()[0]).toBe("db01");
  });

  it("narrows by tree node and by facet", async () => {
    const user = await renderLoaded();
    const node = (key: string) => document.querySelector<HTMLElement>(`[data-testid="inventory-tree-node"][data-node-key="${key}"]`)!;
    await user.click(node("/DC0/vm/prod"));
    await waitFor(() => expect(shownNames()).toEqual(["db01", "web01", "web02"]));

    await user.selectOptions(screen.getByTestId("inventory-facet-cluster"), "C1");
    await waitFor(() => expect(shownNames()).toEqual(["web01", "web02"]));
    expect(screen.getByTestId("inventory-count")).toHaveTextContent("2 of 6 VMs");

    await user.click(node("/DC1"));
    expect(await screen.findByTestId("inventory-no-match")).toHaveTextContent("No VMs match");
    await user.click(screen.getByTestId("inventory-clear-filters"));
    await waitFor(() => expect(shownNames()).toHaveLength(6));
  });

  it("builds a closed folder's subfolders when it is first opened", async () => {
    const user = await renderLoaded();
    const node = (key: string) => document.querySelector<HTMLElement>(`[data-testid="inventory-tree-node"][data-node-key="${key}"]`);
    expect(node("/DC0/vm/prod")).toHaveAttribute("aria-expanded", "false");
    expect(node("/DC0/vm/prod/db")).toBeNull();
    await user.click(node("/DC0/vm/prod")!);
    expect(node("/DC0/vm/prod")).toHaveAttribute("aria-expanded", "true");
    await user.click(node("/DC0/vm/prod/db")!);
    await waitFor(() => expect(shownNames()).toEqual(["db01"]));
  });

  it("filters as you type, by name or path", async () => {
    const user = await renderLoaded();
    await user.type(screen.getByTestId("inventory-search"), "WEB0");
    await waitFor(() => expect(shownNames()).toEqual(["web01", "web02"]));
    await user.clear(screen.getByTestId("inventory-search"));
    await user.type(screen.getByTestId("inventory-search"), "/dc0/vm/dev");
    await waitFor(() => expect(shownNames()).toEqual(["build01"]));
  });

  it("renders only the rows in view for 10,000 VMs", async () => {
    const many: VmInfo[] = Array.from({ length: 10_000 }, (_, i) =>
      makeVm(`/DC0/vm/f${i % 20}/vm-${String(i).padStart(5, "0")}`, { id: `id-${i}` }),
    );
    mocked.listVms.mockResolvedValue({ status: "ok", data: many });
    const user = userEvent.setup();
    renderWithProviders(<InventoryPage />);
    await screen.findByTestId("vm-row-id-0", {}, { timeout: 10_000 });
    expect(screen.getByTestId("inventory-count")).toHaveTextContent(`${(10_000).toLocaleString()} VMs`);
    const rendered = screen.getAllByTestId(/^vm-row-/).length;
    expect(rendered).toBeGreaterThan(5);
    expect(rendered).toBeLessThan(60);

    // Pasted rather than typed key by key: jsdom renders far slower than a browser.
    await user.click(screen.getByTestId("inventory-search"));
    await user.paste("vm-09999");
    await waitFor(() => expect(shownNames()).toEqual(["vm-09999"]));
    expect(screen.getByTestId("inventory-count")).toHaveTextContent(`1 of ${(10_000).toLocaleString()} VMs`);
  }, 30_000);
});

describe("InventoryPage: selecting and exporting", slow, () => {
  it("selects with checkboxes (shift for a range) and rows (ctrl to add), then exports by keyboard", async () => {
    const user = await renderLoaded();
    const exportButton = screen.getByTestId("export-selected");
    expect(exportButton).toBeDisabled();

    // Shown order: build01, db01, loose01, web01, web02, web10.
    await user.click(screen.getByTestId("vm-select-vm-db01"));
    await user.keyboard("{Shift>}");
    await user.click(screen.getByTestId("vm-select-vm-web01"));
    await user.keyboard("{/Shift}");
    expect(screen.getByTestId("inventory-count")).toHaveTextContent("3 selected");
    for (const id of ["db01", "loose01", "web01"]) {
      expect(screen.getByTestId(`vm-row-vm-${id}`)).toHaveAttribute("aria-selected", "true");
    }

    await user.keyboard("{Control>}");
    await user.click(screen.getByTestId("vm-row-vm-web10"));
    await user.keyboard("{/Control}");
    expect(screen.getByTestId("inventory-count")).toHaveTextContent("4 selected");

    // A plain click keeps only that row.
    await user.click(screen.getByTestId("vm-row-vm-web02"));
    expect(screen.getByTestId("inventory-count")).toHaveTextContent("1 selected");
    await user.keyboard("{Control>}");
    await user.click(screen.getByTestId("vm-row-vm-build01"));
    await user.keyboard("{/Control}");

    await user.click(exportButton);
    expect(await screen.findByTestId("export-summary")).toHaveTextContent("2 VMs from Lab vCenter");
    await user.type(screen.getByTestId("export-destination"), "/srv/exports");
    await user.click(screen.getByTestId("export-submit"));

    await waitFor(() => expect(useNavigation.getState().section).toBe("jobs"));
    expect(mocked.startExport).toHaveBeenCalledWith({
      connection_id: "c-1",
      vm_ids: ["vm-web02", "vm-build01"],
      destination_dir: "/srv/exports",
      format: { package: "ova", compression: "none", compression_level: null, manifest: "sha256", disk_format: null },
    });
  });

  it("keeps each row true to its VM when the search puts other VMs in its place", async () => {
    const user = await renderLoaded();
    // Shown order: build01, db01, loose01, web01, web02, web10; select the first.
    await user.click(screen.getByTestId("vm-select-vm-build01"));
    await user.type(screen.getByTestId("inventory-search"), "web");
    await waitFor(() => expect(shownNames()).toEqual(["web01", "web02", "web10"]));
    // Rows are reused in place: the first one now shows web01, unselected, and acts on it.
    const first = screen.getByTestId("vm-row-vm-web01");
    expect(first).toHaveAttribute("aria-selected", "false");
    expect(within(first).getByTestId("vm-select-vm-web01")).not.toBeChecked();
    expect(within(first).getAllByRole("gridcell")[2]).toHaveTextContent("/DC0/vm/prod/web01");
    expect(screen.getByTestId("inventory-count")).toHaveTextContent("3 of 6 VMs · 1 selected (1 not shown)");
    await user.click(within(first).getByTestId("vm-select-vm-web01"));
    expect(screen.getByTestId("inventory-count")).toHaveTextContent("2 selected (1 not shown)");

    await user.clear(screen.getByTestId("inventory-search"));
    await waitFor(() => expect(shownNames()).toHaveLength(6));
    const selected = screen.getAllByTestId(/^vm-row-/).filter((row) => row.getAttribute("aria-selected") === "true");
    expect(selected.map((row) => row.getAttribute("data-vm-name"))).toEqual(["build01", "web01"]);
  });

  it("moves through rows with the arrow keys and selects with Space and Shift", async () => {
    const user = await renderLoaded();
    screen.getByTestId("vm-row-vm-build01").focus();
    await user.keyboard(" ");
    await user.keyboard("{Shift>}{ArrowDown}{ArrowDown}{/Shift}");
    expect(screen.getByTestId("inventory-count")).toHaveTextContent("3 selected");
    expect(document.activeElement).toBe(screen.getByTestId("vm-row-vm-loose01"));
    await user.keyboard("{End} ");
    expect(screen.getByTestId("vm-row-vm-web10")).toHaveAttribute("aria-selected", "true");
    await user.keyboard("{Control>}a{/Control}");
    expect(screen.getByTestId("inventory-count")).toHaveTextContent("6 selected");
  });

  it("selects every shown VM with the header checkbox", async () => {
    const user = await renderLoaded();
    await user.type(screen.getByTestId("inventory-search"), "web");
    await waitFor(() => expect(shownNames()).toHaveLength(3));
    await user.click(screen.getByTestId("vm-select-all"));
    expect(screen.getByTestId("inventory-count")).toHaveTextContent("3 selected");
    await user.clear(screen.getByTestId("inventory-search"));
    await waitFor(() => expect(shownNames()).toHaveLength(6));
    expect(screen.getByTestId("vm-select-all")).toHaveAttribute("data-indeterminate", "true");
  });

  it("saves destinations and exports the selection to one of them", async () => {
    const user = await renderLoaded();
    await user.type(screen.getByTestId("destination-add-input"), "relative/dir");
    await user.click(screen.getByTestId("destination-add"));
    expect(await screen.findByText("The destination must be an absolute path, not relative/dir")).toBeInTheDocument();

    await user.clear(screen.getByTestId("destination-add-input"));
    await user.type(screen.getByTestId("destination-add-input"), "/mnt/backup/");
    await user.click(screen.getByTestId("destination-add"));
    const destination = await screen.findByTestId("destination-0");
    expect(destination).toHaveAttribute("data-folder", "/mnt/backup");
    expect(useDestinations.getState().destinations).toEqual(["/mnt/backup"]);
    expect(screen.getByTestId("destination-export-0")).toBeDisabled();

    await user.click(screen.getByTestId("vm-select-vm-web01"));
    await user.click(screen.getByTestId("destination-export-0"));
    expect(await screen.findByTestId("export-destination")).toHaveValue("/mnt/backup");
    await user.click(screen.getByTestId("export-submit"));
    await waitFor(() =>
      expect(mocked.startExport).toHaveBeenCalledWith(expect.objectContaining({ vm_ids: ["vm-web01"], destination_dir: "/mnt/backup" })),
    );
  });

  it("marks a VM the provider cannot export and leaves it out of an export, saying why", async () => {
    const reason = "LXC containers cannot be exported yet: only QEMU VMs";
    mocked.listVms.mockResolvedValue({
      status: "ok",
      data: [...sampleVms, makeVm("/DC0/vm/ct101", { not_exportable: reason })],
    });
    const show = vi.spyOn(notifications, "show");
    const user = await renderLoaded();
    const row = await screen.findByTestId("vm-row-vm-ct101");
    expect(within(row).getByText("Not exportable")).toHaveAttribute("title", reason);

    await user.click(screen.getByTestId("vm-select-vm-ct101"));
    await user.click(screen.getByTestId("vm-select-vm-web01"));
    await user.click(screen.getByTestId("export-selected"));
    expect(show).toHaveBeenCalledWith(expect.objectContaining({ title: "ct101 cannot be exported", message: reason }));
    expect(await screen.findByTestId("export-summary")).toHaveTextContent("1 VM from Lab vCenter");
  });

  it("prefills Export… with the last folder used", async () => {
    useDestinations.setState({ destinations: [], lastUsed: "/srv/last" });
    const user = await renderLoaded();
    await user.click(screen.getByTestId("vm-select-vm-web01"));
    await user.click(screen.getByTestId("export-selected"));
    expect(await screen.findByTestId("export-destination")).toHaveValue("/srv/last");
  });
});

describe("InventoryPage: empty and error states", slow, () => {
  it("says what to do when no connection can be browsed", async () => {
    connections = [{ ...connection, id: "c-aws", kind: "aws", name: "AWS" }];
    mocked.listProviderKinds.mockResolvedValue([{ ...awsKind, discovery_available: false }]);
    const user = userEvent.setup();
    renderWithProviders(<InventoryPage />);
    expect(await screen.findByTestId("inventory-none-browsable")).toHaveTextContent("AWS");
    expect(mocked.listVms).not.toHaveBeenCalled();
    await user.click(screen.getByTestId("inventory-go-connections"));
    expect(useNavigation.getState().section).toBe("connections");
  });

  it("says so when a connection has no VMs", async () => {
    mocked.listVms.mockResolvedValue({ status: "ok", data: [] });
    renderWithProviders(<InventoryPage />);
    expect(await screen.findByTestId("inventory-no-vms")).toHaveTextContent("Lab vCenter reports no VMs");
  });

  it("shows the core's message with copy details, and tries again", async () => {
    mocked.listVms
      .mockResolvedValueOnce({ status: "error", error: { code: "unreachable", message: "cannot reach vcenter.lab.local: timed out", retryable: false } })
      .mockResolvedValueOnce({ status: "ok", data: sampleVms });
    const user = userEvent.setup();
    renderWithProviders(<InventoryPage />);
    expect(await screen.findByTestId("error-message")).toHaveTextContent("cannot reach vcenter.lab.local: timed out");
    expect(screen.getByRole("button", { name: "Copy details" })).toBeInTheDocument();
    await user.click(screen.getByTestId("inventory-retry"));
    expect(await screen.findByTestId("vm-row-vm-web01")).toBeInTheDocument();
  });

  it("offers Edit connection when the server refused the credentials, and only then", async () => {
    mocked.listVms.mockResolvedValue({ status: "error", error: { code: "auth_failed", message: "vcenter.lab.local refused the user or password", retryable: false } });
    const user = userEvent.setup();
    const { unmount } = renderWithProviders(<InventoryPage />);
    await user.click(await screen.findByTestId("inventory-edit-connection"));
    expect(await screen.findByRole("dialog", { name: "Edit “Lab vCenter”" })).toBeInTheDocument();
    unmount();
    mocked.listVms.mockResolvedValue({ status: "error", error: { code: "unreachable", message: "timed out", retryable: true } });
    renderWithProviders(<InventoryPage />);
    await screen.findByTestId("inventory-retry");
    expect(screen.queryByTestId("inventory-edit-connection")).not.toBeInTheDocument();
  });

  it("offers to pin an untrusted certificate, pins it and loads the VMs", async () => {
    mocked.listVms
      .mockResolvedValueOnce({
        status: "error",
        error: {
          code: "certificate_untrusted",
          message: `the certificate of https://vcenter.lab.local/sdk is not trusted (self-signed certificate); its SHA-256 fingerprint is ${FP} — pin it on the connection if you trust this server`,
          retryable: false,
        },
      })
      .mockResolvedValue({ status: "ok", data: sampleVms });
    mocked.updateConnection.mockImplementation((id, input) =>
      Promise.resolve({ status: "ok", data: { ...connection, id, tls_fingerprint: input.tls_fingerprint ?? null } }),
    );
    mocked.testConnection.mockResolvedValue({ status: "ok", data: { ok: true, checks: [] } });
    const user = userEvent.setup();
    renderWithProviders(<InventoryPage />);

    const error = await screen.findByTestId("inventory-error");
    expect(error).toHaveAttribute("data-code", "certificate_untrusted");
    expect(within(error).getByRole("button", { name: "Copy details" })).toBeInTheDocument();
    await user.click(within(error).getByTestId("pin-offer"));
    expect(await screen.findByTestId("pin-fingerprint")).toHaveTextContent(FP);
    await user.click(screen.getByTestId("pin-certificate"));

    await waitFor(() =>
      expect(mocked.updateConnection).toHaveBeenCalledWith("c-1", expect.objectContaining({ secret: null, tls_fingerprint: FP })),
    );
    await waitFor(() => expect(mocked.testConnection).toHaveBeenCalledWith("c-1"));
    expect(await screen.findByTestId("vm-row-vm-web01")).toBeInTheDocument();
    // The dialog stays to show the re-test.
    expect(screen.getByTestId("pin-done")).toBeInTheDocument();
  });

  it("warns that a pinned certificate changed", async () => {
    mocked.listVms.mockResolvedValue({
      status: "error",
      error: {
        code: "certificate_changed",
        message: `the certificate of https://vcenter.lab.local/sdk has changed: it does not match the pinned SHA-256 fingerprint; the server presented ${FP}; the connection was refused`,
        retryable: false,
      },
    });
    const user = userEvent.setup();
    renderWithProviders(<InventoryPage />);
    expect(await screen.findByText("The certificate of Lab vCenter has changed")).toBeInTheDocument();
    await user.click(screen.getByTestId("pin-offer"));
    expect(await screen.findByTestId("pin-changed-warning")).toBeInTheDocument();
    expect(screen.getByTestId("pin-fingerprint")).toHaveTextContent(FP);
  });
});

import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { open } from "@tauri-apps/plugin-dialog";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import { connection, makeJob, proxmoxKind, vsphereKind } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { makeVm } from "../../test/vms";
import { useDestinations } from "../../store/destinations";
import { useNavigation } from "../../store/navigation";
import { ExportDialog } from "./ExportDialog";
import { messages } from "./schema";

vi.mock("../../bindings", () => ({
  commands: { startExport: vi.fn(), listProviderKinds: vi.fn(), destinationSpace: vi.fn() },
  events: { coreEvent: { listen: vi.fn() } },
}));
vi.mock("@tauri-apps/plugin-dialog", () => ({ open: vi.fn() }));

const startExport = vi.mocked(commands.startExport);
const listProviderKinds = vi.mocked(commands.listProviderKinds);
const vms = [makeVm("/DC0/vm/prod/web01"), makeVm("/DC0/vm/prod/db01")];

function setup(destination = "", subject = connection) {
  const onClose = vi.fn();
  renderWithProviders(<ExportDialog request={{ connection: subject, vms, destination }} onClose={onClose} />);
  return { onClose, user: userEvent.setup() };
}

beforeEach(() => {
  vi.clearAllMocks();
  useNavigation.setState({ section: "inventory" });
  useDestinations.setState({ destinations: [], lastUsed: null });
  startExport.mockResolvedValue({ status: "ok", data: [makeJob({ id: "j-a" }), makeJob({ id: "j-b" })] });
  listProviderKinds.mockResolvedValue([vsphereKind, proxmoxKind]);
  vi.mocked(commands.destinationSpace).mockResolvedValue({ status: "ok", data: { free_bytes: 500 * GiB, total_bytes: 1000 * GiB } });
});

const GiB = 1024 ** 3;

describe("ExportDialog: will it fit", () => {
  const sized = (capacity: number, used: number) => [
    makeVm("/DC0/vm/a", { disk_capacity_bytes: capacity * GiB, disk_used_bytes: used * GiB }),
    makeVm("/DC0/vm/b", { disk_capacity_bytes: capacity * GiB, disk_used_bytes: used * GiB }),
  ];
  const open = (list: ReturnType<typeof sized>, destination = "/srv/exports") =>
    renderWithProviders(<ExportDialog request={{ connection, vms: list, destination }} onClose={() => {}} />);

  it("says how much it writes and how much the destination has", async () => {
    open(sized(100, 40));
    await waitFor(() =>
      expect(screen.getByTestId("export-space")).toHaveTextContent(
        "To write: up to 200 GiB (the disks' provisioned size), 80.0 GiB in use. Free at the destination: 500 GiB.",
      ),
    );
    expect(screen.queryByTestId("export-space-warning")).not.toBeInTheDocument();
    expect(commands.destinationSpace).toHaveBeenCalledWith("/srv/exports");
  });

  it("warns when the provisioned size is over the free space, louder when the used size is too", async () => {
    const { unmount } = open(sized(300, 100));
    expect(await screen.findByTestId("export-space-warning")).toHaveAttribute("data-severity", "may-not-fit");
    unmount();
    open(sized(400, 300));
    const warning = await screen.findByTestId("export-space-warning");
    expect(warning).toHaveAttribute("data-severity", "will-not-fit");
    expect(warning).toHaveTextContent("The disks hold 600 GiB and /srv/exports has 500 GiB free");
    // A warning, not a refusal: the export can still start.
    expect(screen.getByTestId("export-submit")).toBeEnabled();
  });
});

describe("ExportDialog", () => {
  it("says what is exported and starts with the defaults and the given folder", () => {
    setup("/srv/saved");
    expect(screen.getByTestId("export-summary")).toHaveTextContent("2 VMs from Lab vCenter: web01, db01");
    expect(screen.getByTestId("export-package")).toHaveValue("ova");
    expect(screen.getByTestId("export-compression")).toHaveValue("none");
    expect(screen.getByTestId("export-level")).toBeDisabled();
    expect(screen.getByTestId("export-manifest")).toHaveValue("sha256");
    expect(screen.getByTestId("export-disk-format")).toHaveValue("keep");
    expect(screen.getByTestId("export-destination")).toHaveValue("/srv/saved");
  });

  it("validates before calling the core", async () => {
    const { user } = setup();
    await user.click(screen.getByTestId("export-submit"));
    expect(await screen.findByText(messages.destinationRequired)).toBeInTheDocument();
    expect(screen.getByTestId("export-destination")).toHaveAttribute("aria-invalid", "true");

    await user.type(screen.getByTestId("export-destination"), "exports");
    await user.selectOptions(screen.getByTestId("export-compression"), "gzip");
    await user.type(screen.getByTestId("export-level"), "12");
    await user.click(screen.getByTestId("export-submit"));
    expect(await screen.findByText(messages.gzipLevel)).toBeInTheDocument();
    expect(screen.getByText(messages.destinationAbsolute("exports"))).toBeInTheDocument();
    expect(startExport).not.toHaveBeenCalled();
  });

  it("submits the ExportSpec, remembers the folder, closes and opens Jobs", async () => {
    const { user, onClose } = setup();
    await user.selectOptions(screen.getByTestId("export-compression"), "zstd");
    await user.type(screen.getByTestId("export-level"), "19");
    await user.selectOptions(screen.getByTestId("export-manifest"), "sha1");
    await user.selectOptions(screen.getByTestId("export-disk-format"), "qcow2");
    await user.type(screen.getByTestId("export-destination"), "/srv/exports");
    await user.click(screen.getByTestId("export-submit"));

    await waitFor(() => expect(onClose).toHaveBeenCalled());
    expect(startExport).toHaveBeenCalledTimes(1);
    expect(startExport).toHaveBeenCalledWith({
      connection_id: "c-1",
      vm_ids: ["vm-web01", "vm-db01"],
      destination_dir: "/srv/exports",
      format: { package: "ova", compression: "zstd", compression_level: 19, manifest: "sha1", disk_format: "qcow2" },
    });
    expect(useNavigation.getState().section).toBe("jobs");
    expect(useDestinations.getState().lastUsed).toBe("/srv/exports");
  });

  it("disables compression for OVF and sends none", async () => {
    const { user } = setup("/srv/exports");
    await user.selectOptions(screen.getByTestId("export-compression"), "gzip");
    await user.type(screen.getByTestId("export-level"), "9");
    await user.selectOptions(screen.getByTestId("export-package"), "ovf");
    expect(screen.getByTestId("export-compression")).toBeDisabled();
    expect(screen.getByTestId("export-compression")).toHaveValue("none");
    expect(screen.getByTestId("export-level")).toHaveValue("");
    await user.click(screen.getByTestId("export-submit"));
    await waitFor(() => expect(startExport).toHaveBeenCalled());
    expect(startExport.mock.calls[0]?.[0].format).toEqual({
      package: "ovf",
      compression: "none",
      compression_level: null,
      manifest: "sha256",
      disk_format: null,
    });
  });

  it("shows the core's destination errors beside the folder field and others as an alert", async () => {
    startExport
      .mockResolvedValueOnce({
        status: "error",
        error: { code: "invalid_destination", message: "The folder /srv/missing does not exist", retryable: false },
      })
      .mockResolvedValueOnce({
        status: "error",
        error: { code: "certificate_untrusted", message: "the certificate of vc is not trusted", retryable: false },
      });
    const { user, onClose } = setup("/srv/missing");
    await user.click(screen.getByTestId("export-submit"));
    expect(await screen.findByText("The folder /srv/missing does not exist")).toBeInTheDocument();
    expect(screen.getByTestId("export-destination")).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByTestId("error-message")).not.toBeInTheDocument();

    await user.click(screen.getByTestId("export-submit"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent("the certificate of vc is not trusted");
    expect(onClose).not.toHaveBeenCalled();
    expect(useNavigation.getState().section).toBe("inventory");
  });

  it("fills the destination from the native folder picker", async () => {
    vi.mocked(open).mockResolvedValue("/home/ada/Exports");
    const { user } = setup();
    await user.click(screen.getByTestId("export-browse"));
    await waitFor(() => expect(screen.getByTestId("export-destination")).toHaveValue("/home/ada/Exports"));
    expect(open).toHaveBeenCalledWith(expect.objectContaining({ directory: true }));
  });

  it("offers the platform's own archive where there is one, without options that do not apply", async () => {
    const { user } = setup("/srv/backups", { ...connection, kind: "proxmox", name: "pve" });
    const pkg = screen.getByTestId("export-package");
    await waitFor(() => expect(pkg).toHaveTextContent("Proxmox backup (.vma.zst"));
    await user.selectOptions(screen.getByTestId("export-disk-format"), "qcow2");
    await user.selectOptions(pkg, "native");
    for (const id of ["export-compression", "export-manifest", "export-disk-format"]) {
      expect(screen.getByTestId(id)).toBeDisabled();
    }
    await user.click(screen.getByTestId("export-submit"));
    await waitFor(() => expect(startExport).toHaveBeenCalledTimes(1));
    expect(startExport.mock.calls[0]?.[0].format).toEqual({
      package: "native", compression: "none", compression_level: null, manifest: "sha256", disk_format: null,
    });
  });

  it("offers the platform's own choices, sending the one picked", async () => {
    const { user } = setup("/srv/backups", { ...connection, kind: "proxmox", name: "pve" });
    const mode = await screen.findByTestId("export-option-mode");
    expect(mode).toHaveValue("snapshot");
    await user.selectOptions(mode, "stop");
    await user.click(screen.getByTestId("export-submit"));
    await waitFor(() => expect(startExport).toHaveBeenCalledTimes(1));
    expect(startExport.mock.calls[0]?.[0].format.platform_options).toEqual({ mode: "stop" });
  });

  it("does not offer it for a platform without one", async () => {
    setup();
    await waitFor(() => expect(listProviderKinds).toHaveBeenCalled());
    expect(screen.getByTestId("export-package")).not.toHaveTextContent("Proxmox backup");
    expect(screen.getByTestId("export-package").querySelectorAll("option")).toHaveLength(2);
    expect(screen.queryByTestId("export-option-mode")).not.toBeInTheDocument();
  });
});

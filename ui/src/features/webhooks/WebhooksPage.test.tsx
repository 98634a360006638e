import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import type { Webhook, WebhookSettings } from "../../bindings";
import { makeDelivery, makeWebhook, webhookEvents } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { formatDateTime } from "../jobs/format";
import { WebhooksPage } from "./WebhooksPage";

vi.mock("../../bindings", () => ({
  commands: {
    listWebhooks: vi.fn(),
    listWebhookEvents: vi.fn(),
    listWebhookDeliveries: vi.fn(),
    addWebhook: vi.fn(),
    updateWebhook: vi.fn(),
    removeWebhook: vi.fn(),
    setWebhookEnabled: vi.fn(),
    testWebhook: vi.fn(),
    redeliverWebhook: vi.fn(),
    getWebhookSettings: vi.fn(),
    updateWebhookSettings: vi.fn(),
  },
  events: { coreEvent: { listen: vi.fn() } },
}));

const mocked = vi.mocked(commands);
let stored: Webhook[];
const settings: Required<WebhookSettings> = {
  block_private_destinations: false,
  progress_interval_seconds: 120,
  retry_base_ms: 2000,
  retry_cap_ms: 900_000,
};

const ok = <T,>(data: T) => Promise.resolve({ status: "ok" as const, data });

beforeEach(() => {
  vi.clearAllMocks();
  stored = [makeWebhook()];
  mocked.listWebhooks.mockImplementation(() => ok(stored));
  mocked.listWebhookEvents.mockResolvedValue(webhookEvents);
  mocked.listWebhookDeliveries.mockImplementation(() => ok([]));
  mocked.getWebhookSettings.mockImplementation(() => ok(settings));
  mocked.setWebhookEnabled.mockImplementation((id, enabled) => ok(makeWebhook({ id, enabled })));
});

const row = async (name = "Ops chat") => {
  const rows = await screen.findAllByTestId("webhook-row");
  const found = rows.find((r) => r.getAttribute("data-webhook-name") === name);
  if (!found) throw new Error(`no row ${name}`);
  return found;
};

describe("WebhooksPage", () => {
  it("lists hooks with URL, events, last delivery (code, time, latency) and queue counts", async () => {
    stored = [
      makeWebhook({
        last_delivery: { delivery_id: 7, event: "job.failed", status: "delivered", status_code: 204, at: "2026-11-26T12:00:00Z", error: null },
        pending: 2,
        dead: 1,
      }),
      makeWebhook({
        id: "w-2",
        name: "Ticketing",
        url: "https://user:pw@tickets.example.net/in?queue=backup",
        events: ["*"],
        has_secret: false,
        enabled: false,
        disabled_reason: "the receiver answered 410 Gone",
      }),
    ];
    mocked.listWebhookDeliveries.mockImplementation(() => ok([makeDelivery({ id: 7, last_latency_ms: 1234 })]));
    renderWithProviders(<WebhooksPage />);

    const ops = await row("Ops chat");
    expect(within(ops).getByTestId("webhook-row-url")).toHaveTextContent("https://hooks.example.com/hypersdk");
    expect(within(ops).getByText("job.completed")).toBeInTheDocument();
    expect(within(ops).getByText("job.failed")).toBeInTheDocument();
    expect(within(ops).getByTestId("webhook-enabled")).toBeChecked();
    const last = within(ops).getByTestId("webhook-last-delivery");
    expect(last).toHaveAttribute("data-status", "delivered");
    expect(last).toHaveTextContent("Delivered");
    expect(last).toHaveTextContent(formatDateTime("2026-11-26T12:00:00Z"));
    await waitFor(() => expect(last).toHaveTextContent("HTTP 204 · 1.2 s"));
    expect(within(ops).getByTestId("webhook-pending")).toHaveTextContent("2 pending");
    expect(within(ops).getByTestId("webhook-dead")).toHaveTextContent("1 dead");
    expect(mocked.listWebhookDeliveries).toHaveBeenCalledWith({ limit: 100 });

    const ticketing = await row("Ticketing");
    // Never a user name or password in the list.
    expect(within(ticketing).getByTestId("webhook-row-url")).toHaveTextContent(/^https:\/\/tickets\.example\.net\/in\?queue=backup$/);
    expect(within(ticketing).getByText("All events")).toBeInTheDocument();
    expect(within(ticketing).getByTestId("webhook-last-delivery")).toHaveTextContent("Never");
    expect(within(ticketing).getByTestId("webhook-enabled")).not.toBeChecked();
    expect(within(ticketing).getByTestId("webhook-disabled-reason")).toHaveTextContent("410 Gone");
    expect(within(ticketing).queryByTestId("webhook-pending")).not.toBeInTheDocument();
  });

  it("shows a failed last attempt that will be retried as Retrying, with its error", async () => {
    stored = [
      makeWebhook({
        last_delivery: { delivery_id: 3, event: "job.completed", status: "pending", status_code: 503, at: "2026-11-26T12:00:00Z", error: "the receiver answered 503" },
        pending: 1,
      }),
    ];
    renderWithProviders(<WebhooksPage />);
    const last = within(await row()).getByTestId("webhook-last-delivery");
    expect(last).toHaveTextContent("Retrying");
    expect(last).toHaveTextContent("HTTP 503");
    expect(last).toHaveTextContent("the receiver answered 503");
  });

  it("says what to do when there is no webhook", async () => {
    stored = [];
    renderWithProviders(<WebhooksPage />);
    const empty = await screen.findByTestId("webhooks-empty");
    expect(empty).toHaveTextContent("No webhooks yet");
    expect(empty).toHaveTextContent("Send test event");
    await waitFor(() => expect(screen.getByTestId("webhook-add-empty")).toBeEnabled());
    expect(mocked.listWebhookDeliveries).not.toHaveBeenCalled();
  });

  it("adds a webhook, and turns it off afterwards when the form says so", async () => {
    const user = userEvent.setup();
    const added = makeWebhook({ id: "w-9", name: "New", url: "https://new.example/in", events: ["*"], headers: [], has_secret: false });
    mocked.addWebhook.mockImplementation(() => {
      stored = [...stored, added];
      return ok(added);
    });
    renderWithProviders(<WebhooksPage />);
    await row();
    await waitFor(() => expect(screen.getByTestId("webhook-add")).toBeEnabled());
    await user.click(screen.getByTestId("webhook-add"));
    await user.type(await screen.findByTestId("webhook-name"), "New");
    await user.type(screen.getByTestId("webhook-url"), "https://new.example/in");
    await user.click(screen.getByTestId("webhook-form-enabled"));
    await user.click(screen.getByTestId("webhook-save"));

    await waitFor(() => expect(screen.getAllByTestId("webhook-row")).toHaveLength(2));
    expect(mocked.addWebhook).toHaveBeenCalledWith({
      name: "New",
      url: "https://new.example/in",
      events: ["*"],
      headers: [],
      timeout_ms: 10_000,
      max_attempts: 25,
      signing_secret: null,
    });
    expect(mocked.setWebhookEnabled).toHaveBeenCalledWith("w-9", false, false);
  });

  it("edits a hook with update_webhook and leaves its enabled state alone", async () => {
    const user = userEvent.setup();
    mocked.updateWebhook.mockImplementation((id, input) => ok(makeWebhook({ id, name: input.name })));
    renderWithProviders(<WebhooksPage />);
    await waitFor(() => expect(screen.getByTestId("webhook-add")).toBeEnabled());
    await user.click(within(await row()).getByTestId("webhook-edit"));
    const name = await screen.findByTestId("webhook-name");
    await user.clear(name);
    await user.type(name, "Ops room");
    await user.click(screen.getByTestId("webhook-save"));
    await waitFor(() =>
      expect(mocked.updateWebhook).toHaveBeenCalledWith(
        "w-1",
        expect.objectContaining({ name: "Ops room", signing_secret: null, headers: [{ name: "Authorization", value: "", secret: true }, { name: "X-Team", value: "infra", secret: false }] }),
      ),
    );
    expect(mocked.setWebhookEnabled).not.toHaveBeenCalled();
  });

  it("sends a test event and shows status and latency", async () => {
    const user = userEvent.setup();
    mocked.testWebhook.mockResolvedValue({
      status: "ok",
      data: { ok: true, status_code: 200, latency_ms: 35, error: null, event_id: "e-1", delivery_id: 12 },
    });
    renderWithProviders(<WebhooksPage />);
    await user.click(within(await row()).getByTestId("webhook-test"));
    const result = await screen.findByTestId("webhook-test-result");
    expect(mocked.testWebhook).toHaveBeenCalledWith("w-1");
    expect(result).toHaveAttribute("data-ok", "true");
    expect(result).toHaveTextContent("Delivered: HTTP 200 in 35 ms");
    expect(within(result).getByTestId("webhook-test-status")).toHaveTextContent("HTTP 200");
    expect(within(result).getByTestId("webhook-test-latency")).toHaveTextContent("35 ms");
    expect(within(result).queryByTestId("webhook-test-error")).not.toBeInTheDocument();
    expect(result).toHaveTextContent("#12");
  });

  it("shows a failed test's error, and an error the test could not even be sent with", async () => {
    const user = userEvent.setup();
    mocked.testWebhook
      .mockResolvedValueOnce({
        status: "ok",
        data: { ok: false, status_code: null, latency_ms: 5012, error: "connection refused (127.0.0.1:9)", event_id: "e-2", delivery_id: 13 },
      })
      .mockResolvedValueOnce({ status: "error", error: { code: "not_found", message: "webhook \"w-1\" was not found", retryable: false } });
    renderWithProviders(<WebhooksPage />);
    await user.click(within(await row()).getByTestId("webhook-test"));
    const result = await screen.findByTestId("webhook-test-result");
    expect(result).toHaveAttribute("data-ok", "false");
    expect(result).toHaveTextContent("Not delivered: No answer");
    expect(within(result).getByTestId("webhook-test-latency")).toHaveTextContent("5.0 s");
    expect(within(result).getByTestId("webhook-test-error")).toHaveTextContent("connection refused (127.0.0.1:9)");

    await user.keyboard("{Escape}");
    await waitFor(() => expect(screen.queryByTestId("webhook-test-result")).not.toBeInTheDocument());
    await user.click(within(await row()).getByTestId("webhook-test"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent("webhook \"w-1\" was not found");
    expect(screen.queryByTestId("webhook-test-result")).not.toBeInTheDocument();
  });

  it("turns a hook off at once, or asks what to do with its waiting deliveries", async () => {
    const user = userEvent.setup();
    stored = [makeWebhook(), makeWebhook({ id: "w-2", name: "Busy", pending: 3 })];
    renderWithProviders(<WebhooksPage />);

    await user.click(within(await row("Ops chat")).getByTestId("webhook-enabled"));
    await waitFor(() => expect(mocked.setWebhookEnabled).toHaveBeenCalledWith("w-1", false, false));

    await user.click(within(await row("Busy")).getByTestId("webhook-enabled"));
    expect(await screen.findByText(/3 deliveries are waiting/)).toBeInTheDocument();
    expect(mocked.setWebhookEnabled).toHaveBeenCalledTimes(1);
    await user.click(screen.getByTestId("webhook-disable-drop"));
    await waitFor(() => expect(mocked.setWebhookEnabled).toHaveBeenCalledWith("w-2", false, true));
  });

  it("removes a hook after confirmation", async () => {
    const user = userEvent.setup();
    mocked.removeWebhook.mockImplementation(() => {
      stored = [];
      return ok(null);
    });
    renderWithProviders(<WebhooksPage />);
    await user.click(within(await row()).getByTestId("webhook-remove"));
    expect(mocked.removeWebhook).not.toHaveBeenCalled();
    await user.click(await screen.findByTestId("confirm-remove"));
    await waitFor(() => expect(screen.queryByTestId("webhook-row")).not.toBeInTheDocument());
    expect(mocked.removeWebhook).toHaveBeenCalledWith("w-1");
    expect(screen.getByTestId("webhooks-empty")).toBeInTheDocument();
  });

  it("opens the delivery log filtered to dead deliveries from the dead count", async () => {
    const user = userEvent.setup();
    stored = [makeWebhook({ dead: 1 })];
    renderWithProviders(<WebhooksPage />);
    await user.click(within(await row()).getByTestId("webhook-dead"));
    expect(await screen.findByTestId("webhook-deliveries")).toBeInTheDocument();
    await waitFor(() =>
      expect(mocked.listWebhookDeliveries).toHaveBeenCalledWith({ webhook: "w-1", status: "dead", limit: 200 }),
    );
  });

  it("saves the private-destination guard with every other setting unchanged", async () => {
    const user = userEvent.setup();
    mocked.updateWebhookSettings.mockImplementation((s) => ok(s));
    renderWithProviders(<WebhooksPage />);
    const toggle = await screen.findByTestId("webhook-block-private");
    expect(toggle).not.toBeChecked();
    expect(screen.getByTestId("webhook-settings")).toHaveTextContent(/private network/);
    await user.click(toggle);
    await waitFor(() => expect(mocked.updateWebhookSettings).toHaveBeenCalledWith({ ...settings, block_private_destinations: true }));
    await waitFor(() => expect(screen.getByTestId("webhook-block-private")).toBeChecked());
  });
});

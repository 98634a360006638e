import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { beforeEach, describe, expect, it, vi } from "vitest";
import { commands } from "../../bindings";
import type { DeliveryFilter, WebhookDelivery } from "../../bindings";
import { makeDelivery, makeWebhook } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { formatDateTime } from "../jobs/format";
import { DeliveryLog } from "./DeliveryLog";

vi.mock("../../bindings", () => ({
  commands: { listWebhookDeliveries: vi.fn(), redeliverWebhook: vi.fn() },
  events: { coreEvent: { listen: vi.fn() } },
}));

const mocked = vi.mocked(commands);

const log: WebhookDelivery[] = [
  makeDelivery({ id: 5, event: "job.failed", status: "dead", attempts: 25, last_status_code: 500, last_error: "the receiver answered 500", last_latency_ms: 80, last_attempt_at: "2026-11-26T13:00:00Z" }),
  makeDelivery({ id: 4, event: "job.started", status: "pending", attempts: 2, last_status_code: 503, last_error: "the receiver answered 503", next_attempt_at: "2026-11-26T13:05:00Z" }),
  makeDelivery({ id: 3, event: "job.created", status: "cancelled", attempts: 0, last_status_code: null, last_latency_ms: null, last_attempt_at: null, created_at: "2026-11-26T11:00:00Z" }),
  makeDelivery({ id: 2, event: "job.completed", status: "delivered", attempts: 1, last_status_code: 200, last_latency_ms: 35 }),
];

/** The core filters by status; so does this stand-in. */
function serve(filter: DeliveryFilter) {
  return Promise.resolve({ status: "ok" as const, data: log.filter((d) => !filter.status || d.status === filter.status) });
}

beforeEach(() => {
  vi.clearAllMocks();
  mocked.listWebhookDeliveries.mockImplementation(serve);
});

const rows = () => screen.getAllByTestId("delivery-row");
const rowOf = (id: number) => {
  const r = rows().find((x) => x.getAttribute("data-delivery-id") === String(id));
  if (!r) throw new Error(`no delivery row ${id}`);
  return r;
};

describe("DeliveryLog", () => {
  it("shows time, event, status, status code, latency, attempts and error of each delivery", async () => {
    renderWithProviders(<DeliveryLog webhook={makeWebhook()} />);
    await waitFor(() => expect(rows()).toHaveLength(4));
    expect(mocked.listWebhookDeliveries).toHaveBeenCalledWith({ webhook: "w-1", status: null, limit: 200 });

    const dead = rowOf(5);
    expect(dead).toHaveAttribute("data-delivery-status", "dead");
    expect(dead).toHaveTextContent(formatDateTime("2026-11-26T13:00:00Z"));
    expect(dead).toHaveTextContent("job.failed");
    expect(dead).toHaveTextContent("Dead");
    expect(within(dead).getByTestId("delivery-status-code")).toHaveTextContent("500");
    expect(within(dead).getByTestId("delivery-latency")).toHaveTextContent("80 ms");
    expect(within(dead).getByTestId("delivery-attempts")).toHaveTextContent("25");
    expect(within(dead).getByTestId("delivery-error")).toHaveTextContent("the receiver answered 500");

    const pending = rowOf(4);
    expect(within(pending).getByTestId("delivery-attempts")).toHaveTextContent("2 of 25");
    expect(pending).toHaveTextContent(`Next attempt ${formatDateTime("2026-11-26T13:05:00Z")}`);

    // Never attempted: its time is when it was queued, with no code or latency.
    const cancelled = rowOf(3);
    expect(cancelled).toHaveTextContent(formatDateTime("2026-11-26T11:00:00Z"));
    expect(within(cancelled).getByTestId("delivery-status-code")).toHaveTextContent("—");
    expect(within(cancelled).getByTestId("delivery-latency")).toHaveTextContent("—");

    // Only finished-but-failed deliveries offer Redeliver.
    expect(within(rowOf(5)).getByTestId("delivery-redeliver")).toBeInTheDocument();
    expect(within(rowOf(3)).getByTestId("delivery-redeliver")).toBeInTheDocument();
    expect(within(rowOf(4)).queryByTestId("delivery-redeliver")).not.toBeInTheDocument();
    expect(within(rowOf(2)).queryByTestId("delivery-redeliver")).not.toBeInTheDocument();
  });

  it("filters by status through the core", async () => {
    const user = userEvent.setup();
    renderWithProviders(<DeliveryLog webhook={makeWebhook()} />);
    await waitFor(() => expect(rows()).toHaveLength(4));

    await user.click(within(screen.getByTestId("delivery-filter")).getByText("Dead"));
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(mocked.listWebhookDeliveries).toHaveBeenLastCalledWith({ webhook: "w-1", status: "dead", limit: 200 });
    expect(rows()[0]).toHaveAttribute("data-delivery-id", "5");

    await user.click(within(screen.getByTestId("delivery-filter")).getByText("Delivered"));
    await waitFor(() => expect(rows()[0]).toHaveAttribute("data-delivery-id", "2"));
    expect(rows()).toHaveLength(1);
    expect(mocked.listWebhookDeliveries).toHaveBeenLastCalledWith({ webhook: "w-1", status: "delivered", limit: 200 });

    mocked.listWebhookDeliveries.mockResolvedValue({ status: "ok", data: [] });
    await user.click(within(screen.getByTestId("delivery-filter")).getByText("Pending"));
    expect(await screen.findByTestId("deliveries-empty")).toHaveTextContent("Nothing is waiting to be sent.");
  });

  it("starts from the status it was opened with", async () => {
    renderWithProviders(<DeliveryLog webhook={makeWebhook()} initialStatus="pending" />);
    await waitFor(() => expect(rows()).toHaveLength(1));
    expect(mocked.listWebhookDeliveries).toHaveBeenCalledWith({ webhook: "w-1", status: "pending", limit: 200 });
  });

  it("redelivers a dead delivery and refreshes the log", async () => {
    const user = userEvent.setup();
    mocked.redeliverWebhook.mockImplementation((id) =>
      Promise.resolve({ status: "ok", data: makeDelivery({ id, status: "pending", attempts: 0 }) }),
    );
    renderWithProviders(<DeliveryLog webhook={makeWebhook()} />);
    await waitFor(() => expect(rows()).toHaveLength(4));
    const calls = mocked.listWebhookDeliveries.mock.calls.length;

    await user.click(within(rowOf(5)).getByTestId("delivery-redeliver"));
    await waitFor(() => expect(mocked.redeliverWebhook).toHaveBeenCalledWith(5));
    expect(mocked.redeliverWebhook).toHaveBeenCalledTimes(1);
    await waitFor(() => expect(mocked.listWebhookDeliveries.mock.calls.length).toBeGreaterThan(calls));
  });

  it("shows why a redelivery was refused", async () => {
    const user = userEvent.setup();
    mocked.redeliverWebhook.mockResolvedValue({
      status: "error",
      error: { code: "not_found", message: "delivery \"5\" was not found", retryable: false },
    });
    renderWithProviders(<DeliveryLog webhook={makeWebhook()} />);
    await waitFor(() => expect(rows()).toHaveLength(4));
    await user.click(within(rowOf(5)).getByTestId("delivery-redeliver"));
    expect(await screen.findByTestId("error-message")).toHaveTextContent("delivery \"5\" was not found");
  });

  it("shows the exact payload on request", async () => {
    const user = userEvent.setup();
    renderWithProviders(<DeliveryLog webhook={makeWebhook()} />);
    await waitFor(() => expect(rows()).toHaveLength(4));
    await user.click(screen.getByRole("button", { name: "Show the payload of delivery 2" }));
    expect(screen.getByTestId("delivery-payload")).toHaveTextContent('"event": "job.completed"');
  });
});

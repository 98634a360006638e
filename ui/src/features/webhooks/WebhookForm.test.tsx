import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import type { Webhook, WebhookInput } from "../../bindings";
import { CoreError } from "../../api/errors";
import { makeWebhook, webhookEvents } from "../../test/fixtures";
import { renderWithProviders } from "../../test/render";
import { WebhookForm } from "./WebhookForm";

vi.mock("../../bindings", () => ({ commands: {}, events: { coreEvent: { listen: vi.fn() } } }));

type Submit = (input: WebhookInput, enabled: boolean) => Promise<unknown>;

function setup(webhook?: Webhook, onSubmit = vi.fn<Submit>().mockResolvedValue(undefined)) {
  renderWithProviders(<WebhookForm webhook={webhook} eventNames={webhookEvents} onSubmit={onSubmit} onCancel={vi.fn()} />);
  return { onSubmit, user: userEvent.setup() };
}

describe("WebhookForm — add", () => {
  it("shows the core's rules and does not submit invalid values", async () => {
    const { user, onSubmit } = setup();
    await user.click(screen.getByTestId("webhook-event-all"));
    await user.type(screen.getByTestId("webhook-url"), "https://ada:pw@hooks.example.com/x");
    await user.click(screen.getByTestId("webhook-save"));

    expect(await screen.findByText("Name is required")).toBeInTheDocument();
    expect(screen.getByText(/must not contain a user name or password/)).toBeInTheDocument();
    expect(screen.getByTestId("webhook-events-error")).toHaveTextContent("Choose at least one event, or All events");
    expect(onSubmit).not.toHaveBeenCalled();
  });

  it("sends exactly the WebhookInput the core expects", async () => {
    const { user, onSubmit } = setup();
    // "All events" is the default: every specific event shows as included and cannot be picked.
    expect(screen.getByTestId("webhook-event-all")).toBeChecked();
    expect(screen.getByTestId("webhook-event-job.failed")).toBeDisabled();
    expect(screen.getByTestId("webhook-secret-status")).toHaveTextContent("not set");

    await user.type(screen.getByTestId("webhook-name"), "Ops chat");
    await user.type(screen.getByTestId("webhook-url"), "https://hooks.example.com/hypersdk");
    await user.click(screen.getByTestId("webhook-event-all"));
    // Picked out of order; sent in the core's order.
    await user.click(screen.getByTestId("webhook-event-job.failed"));
    await user.click(screen.getByTestId("webhook-event-job.completed"));

    await user.click(screen.getByTestId("webhook-header-add"));
    await user.type(screen.getByTestId("webhook-header-name-0"), "Authorization");
    await user.click(screen.getByTestId("webhook-header-secret-0"));
    const secretValue = screen.getByTestId("webhook-header-value-0");
    expect(secretValue).toHaveAttribute("type", "password");
    await user.type(secretValue, "Bearer t0ken");
    await user.click(screen.getByTestId("webhook-header-add"));
    await user.type(screen.getByTestId("webhook-header-name-1"), "X-Team");
    await user.type(screen.getByTestId("webhook-header-value-1"), "infra");
    expect(screen.getByTestId("webhook-header-value-1")).not.toHaveAttribute("type", "password");

    expect(screen.getByTestId("webhook-secret")).toHaveAttribute("type", "password");
    await user.type(screen.getByTestId("webhook-secret"), "signing-key");
    const timeout = screen.getByTestId("webhook-timeout");
    await user.clear(timeout);
    await user.type(timeout, "2.5");
    const attempts = screen.getByTestId("webhook-max-attempts");
    await user.clear(attempts);
    await user.type(attempts, "5");
    await user.click(screen.getByTestId("webhook-form-enabled"));

    await user.click(screen.getByTestId("webhook-save"));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(1));
    expect(onSubmit).toHaveBeenCalledWith(
      {
        name: "Ops chat",
        url: "https://hooks.example.com/hypersdk",
        events: ["job.completed", "job.failed"],
        headers: [
          { name: "Authorization", value: "Bearer t0ken", secret: true },
          { name: "X-Team", value: "infra", secret: false },
        ],
        timeout_ms: 2500,
        max_attempts: 5,
        signing_secret: "signing-key",
      },
      false,
    );
  });

  it("sends no signing secret (null) and ['*'] by default", async () => {
    const { user, onSubmit } = setup();
    await user.type(screen.getByTestId("webhook-name"), "All");
    await user.type(screen.getByTestId("webhook-url"), "http://127.0.0.1:9000/in");
    await user.click(screen.getByTestId("webhook-save"));
    await waitFor(() =>
      expect(onSubmit).toHaveBeenCalledWith(
        {
          name: "All",
          url: "http://127.0.0.1:9000/in",
          events: ["*"],
          headers: [],
          timeout_ms: 10_000,
          max_attempts: 25,
          signing_secret: null,
        },
        true,
      ),
    );
  });

  it("asks for the value of a new secret header", async () => {
    const { user, onSubmit } = setup();
    await user.type(screen.getByTestId("webhook-name"), "A");
    await user.type(screen.getByTestId("webhook-url"), "https://a.example");
    await user.click(screen.getByTestId("webhook-header-add"));
    await user.type(screen.getByTestId("webhook-header-name-0"), "X-Token");
    await user.click(screen.getByTestId("webhook-header-secret-0"));
    await user.click(screen.getByTestId("webhook-save"));
    expect(await screen.findByText("The secret header X-Token needs a value")).toBeInTheDocument();
    expect(onSubmit).not.toHaveBeenCalled();
  });
});

describe("WebhookForm — edit", () => {
  it("never shows stored secrets and keeps them when left empty", async () => {
    const { user, onSubmit } = setup(makeWebhook());
    expect(screen.getByTestId("webhook-name")).toHaveValue("Ops chat");
    expect(screen.getByTestId("webhook-secret-status")).toHaveTextContent("set");
    expect(screen.getByTestId("webhook-secret")).toHaveValue("");
    expect(screen.getByTestId("webhook-secret")).toHaveAttribute("placeholder", "Unchanged");
    const stored = screen.getByTestId("webhook-header-value-0");
    expect(stored).toHaveValue("");
    expect(stored).toHaveAttribute("type", "password");
    expect(stored).toHaveAttribute("placeholder", "Stored (unchanged)");
    expect(screen.getByTestId("webhook-header-value-1")).toHaveValue("infra");
    expect(screen.getByTestId("webhook-event-all")).not.toBeChecked();
    expect(screen.getByTestId("webhook-event-job.failed")).toBeChecked();
    expect(screen.getByTestId("webhook-event-job.started")).not.toBeChecked();

    await user.click(screen.getByTestId("webhook-save"));
    await waitFor(() =>
      expect(onSubmit).toHaveBeenCalledWith(
        expect.objectContaining({
          headers: [
            { name: "Authorization", value: "", secret: true },
            { name: "X-Team", value: "infra", secret: false },
          ],
          signing_secret: null,
        }),
        true,
      ),
    );
  });

  it("removes the signing secret with '' and replaces it with a typed one", async () => {
    const { user, onSubmit } = setup(makeWebhook());
    await user.click(screen.getByTestId("webhook-secret-remove"));
    expect(screen.getByTestId("webhook-secret-status")).toHaveTextContent("will be removed");
    expect(screen.getByTestId("webhook-secret")).toBeDisabled();
    await user.click(screen.getByTestId("webhook-save"));
    await waitFor(() => expect(onSubmit).toHaveBeenLastCalledWith(expect.objectContaining({ signing_secret: "" }), true));

    await user.click(screen.getByTestId("webhook-secret-remove")); // "Keep it"
    expect(screen.getByTestId("webhook-secret-status")).toHaveTextContent("set");
    await user.type(screen.getByTestId("webhook-secret"), "new-key");
    await user.click(screen.getByTestId("webhook-save"));
    await waitFor(() => expect(onSubmit).toHaveBeenCalledTimes(2));
    expect(onSubmit).toHaveBeenLastCalledWith(expect.objectContaining({ signing_secret: "new-key" }), true);
  });

  it("drops a removed header and refuses a renamed secret header without a value", async () => {
    const { user, onSubmit } = setup(makeWebhook());
    await user.clear(screen.getByTestId("webhook-header-name-0"));
    await user.type(screen.getByTestId("webhook-header-name-0"), "X-Renamed");
    await user.click(screen.getByTestId("webhook-save"));
    expect(await screen.findByText("The secret header X-Renamed needs a value")).toBeInTheDocument();
    expect(onSubmit).not.toHaveBeenCalled();

    await user.click(screen.getByTestId("webhook-header-remove-0"));
    await user.click(screen.getByTestId("webhook-save"));
    await waitFor(() =>
      expect(onSubmit).toHaveBeenCalledWith(
        expect.objectContaining({ headers: [{ name: "X-Team", value: "infra", secret: false }] }),
        true,
      ),
    );
  });
});

describe("WebhookForm — core errors", () => {
  const reject = (code: string, message: string) => new CoreError({ code, message, retryable: false });

  it("shows each core error beside its field, others as an alert", async () => {
    const onSubmit = vi
      .fn<Submit>()
      .mockRejectedValueOnce(reject("invalid_url", "\"https://x\" has no host name"))
      .mockRejectedValueOnce(reject("webhook_name_taken", "A webhook named “Ops chat” already exists"))
      .mockRejectedValueOnce(reject("invalid_header", "The header X-Team needs a value"))
      .mockRejectedValueOnce(reject("invalid_event", "unknown event \"job.x\""))
      .mockRejectedValueOnce(reject("invalid_input", "The timeout must be between 0.5 and 300 seconds"))
      .mockRejectedValueOnce(reject("keyring_unavailable", "The OS keyring is locked"));
    const { user } = setup(makeWebhook(), onSubmit);
    const save = () => user.click(screen.getByTestId("webhook-save"));

    await save();
    expect(await screen.findByText("\"https://x\" has no host name")).toBeInTheDocument();
    expect(screen.getByTestId("webhook-url")).toHaveAttribute("aria-invalid", "true");

    await save();
    expect(await screen.findByText("A webhook named “Ops chat” already exists")).toBeInTheDocument();
    expect(screen.getByTestId("webhook-name")).toHaveAttribute("aria-invalid", "true");

    await save();
    expect(await screen.findByTestId("webhook-headers-error")).toHaveTextContent("The header X-Team needs a value");
    expect(within(screen.getByTestId("webhook-headers")).getByRole("alert")).toBeInTheDocument();

    await save();
    expect(await screen.findByTestId("webhook-events-error")).toHaveTextContent("unknown event \"job.x\"");

    await save();
    expect(await screen.findByText("The timeout must be between 0.5 and 300 seconds")).toBeInTheDocument();
    expect(screen.getByTestId("webhook-timeout")).toHaveAttribute("aria-invalid", "true");
    expect(screen.queryByTestId("error-message")).not.toBeInTheDocument();

    await save();
    expect(await screen.findByTestId("error-message")).toHaveTextContent(/^The OS keyring is locked$/);
  });
});

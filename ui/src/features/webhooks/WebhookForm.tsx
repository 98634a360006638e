import {
  ActionIcon,
  Badge,
  Button,
  Checkbox,
  Fieldset,
  Group,
  NumberInput,
  PasswordInput,
  SimpleGrid,
  Stack,
  Switch,
  Text,
  TextInput,
  Tooltip,
} from "@mantine/core";
import { zodResolver } from "@hookform/resolvers/zod";
import { IconKey, IconPlus, IconTrash } from "@tabler/icons-react";
import { useMemo, useState } from "react";
import { Controller, useFieldArray, useForm, useWatch } from "react-hook-form";
import type { Control } from "react-hook-form";
import type { Webhook, WebhookInput } from "../../bindings";
import { toCoreError } from "../../api/errors";
import type { CoreError } from "../../api/errors";
import { ErrorAlert } from "../../components/ErrorAlert";
import { EVENT_DESCRIPTIONS, eventLabel } from "./format";
import {
  ALL_EVENTS,
  LIMITS,
  defaultWebhookValues,
  fieldForWebhookError,
  toWebhookInput,
  webhookFormSchema,
} from "./schema";
import type { WebhookFormOutput, WebhookFormValues } from "./schema";

type WebhookFormProps = {
  /** The hook being edited; absent when adding. */
  webhook?: Webhook;
  /** From `list_webhook_events`: the subscribable names and `*`. */
  eventNames: readonly string[];
  /** `enabled` is not part of WebhookInput: the caller applies it with set_webhook_enabled. */
  onSubmit: (input: WebhookInput, enabled: boolean) => Promise<unknown>;
  onCancel: () => void;
};

export function WebhookForm({ webhook, eventNames, onSubmit, onCancel }: WebhookFormProps) {
  const editing = webhook !== undefined;
  const storedSecretHeaders = useMemo(
    () => (webhook?.headers ?? []).filter((h) => h.secret).map((h) => h.name),
    [webhook],
  );
  const schema = useMemo(() => webhookFormSchema({ storedSecretHeaders }), [storedSecretHeaders]);
  const [submitError, setSubmitError] = useState<CoreError | null>(null);

  const {
    register,
    handleSubmit,
    control,
    setError,
    setValue,
    formState: { errors, isSubmitting },
  } = useForm<WebhookFormValues, unknown, WebhookFormOutput>({
    resolver: zodResolver(schema),
    defaultValues: defaultWebhookValues(webhook),
  });
  const headers = useFieldArray({ control, name: "headers" });
  const removeSecret = useWatch({ control, name: "remove_signing_secret" });

  const submit = handleSubmit(async (values) => {
    setSubmitError(null);
    try {
      await onSubmit(toWebhookInput(values), values.enabled);
    } catch (error) {
      const coreError = toCoreError(error);
      const field = fieldForWebhookError(coreError);
      if (field) {
        setError(field, { type: "core", message: coreError.message }, { shouldFocus: true });
      } else {
        setSubmitError(coreError);
      }
    }
  });

  const hasStoredSecret = editing && webhook.has_secret;
  const secretStatus = removeSecret ? "will be removed" : hasStoredSecret ? "set" : "not set";
  const secretHelp = removeSecret
    ? "The signing secret is removed when you save; deliveries are then sent unsigned."
    : hasStoredSecret
      ? "Leave empty to keep the stored secret, or type a new one to replace it."
      : "Optional. Signs every delivery (X-HyperSDK-Signature, HMAC-SHA256) so the receiver can check it came from here. Kept in the OS keyring, never shown again.";
  const headersError = errors.headers?.message ?? errors.headers?.root?.message;

  return (
    <form onSubmit={(e) => void submit(e)} noValidate aria-label={editing ? "Edit webhook" : "Add webhook"}>
      <Stack gap="sm">
        {submitError && (
          <ErrorAlert error={submitError} title={editing ? "Could not save the webhook" : "Could not add the webhook"} />
        )}
        <TextInput
          label="Name"
          placeholder="e.g. Ops chat"
          withAsterisk
          error={errors.name?.message}
          data-testid="webhook-name"
          autoComplete="off"
          {...register("name")}
        />
        <TextInput
          label="URL"
          placeholder="https://hooks.example.com/hypersdk"
          description="Where each event is POSTed as JSON. No user name or password here: put a token in a secret header."
          withAsterisk
          error={errors.url?.message}
          data-testid="webhook-url"
          autoComplete="off"
          {...register("url")}
        />
        <EventsField control={control} eventNames={eventNames} error={errors.events?.message} />

        <Fieldset legend="Custom headers" variant="filled" data-testid="webhook-headers">
          <Stack gap="xs">
            <Text size="xs" c="dimmed">
              Sent with every delivery. A secret header's value goes to the OS keyring and is never shown again.
            </Text>
            {headers.fields.map((field, index) => (
              <HeaderRow
                key={field.id}
                index={index}
                control={control}
                storedSecretHeaders={storedSecretHeaders}
                onRemove={() => headers.remove(index)}
              />
            ))}
            {headersError && (
              <Text size="sm" c="red" role="alert" data-testid="webhook-headers-error">
                {headersError}
              </Text>
            )}
            <Group>
              <Button
                variant="light"
                size="compact-sm"
                leftSection={<IconPlus size={14} aria-hidden />}
                onClick={() => headers.append({ name: "", value: "", secret: false })}
                disabled={headers.fields.length >= LIMITS.headers}
                data-testid="webhook-header-add"
              >
                Add header
              </Button>
            </Group>
          </Stack>
        </Fieldset>

        <Stack gap={4}>
          <Group gap="xs">
            <Text size="sm" fw={500}>
              Signing secret
            </Text>
            <Badge
              variant="light"
              tt="none"
              color={removeSecret ? "red" : hasStoredSecret ? "teal" : "gray"}
              leftSection={hasStoredSecret && !removeSecret ? <IconKey size={12} aria-hidden /> : undefined}
              data-testid="webhook-secret-status"
            >
              {secretStatus}
            </Badge>
          </Group>
          <Group align="flex-end" gap="xs" wrap="nowrap">
            <PasswordInput
              style={{ flex: 1 }}
              aria-label="Signing secret"
              description={secretHelp}
              placeholder={hasStoredSecret && !removeSecret ? "Unchanged" : undefined}
              disabled={removeSecret}
              error={errors.signing_secret?.message}
              data-testid="webhook-secret"
              autoComplete="new-password"
              {...register("signing_secret")}
            />
            {hasStoredSecret && (
              <Button
                variant="subtle"
                color={removeSecret ? "gray" : "red"}
                onClick={() => {
                  setValue("signing_secret", "");
                  setValue("remove_signing_secret", !removeSecret, { shouldDirty: true });
                }}
                data-testid="webhook-secret-remove"
              >
                {removeSecret ? "Keep it" : "Remove"}
              </Button>
            )}
          </Group>
        </Stack>

        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <Controller
            control={control}
            name="timeout_seconds"
            render={({ field, fieldState }) => (
              <NumberInput
                label="Timeout (seconds)"
                description={`For each whole attempt (${LIMITS.timeoutSeconds.min}–${LIMITS.timeoutSeconds.max}).`}
                min={LIMITS.timeoutSeconds.min}
                max={LIMITS.timeoutSeconds.max}
                step={1}
                decimalScale={3}
                allowNegative={false}
                clampBehavior="none"
                name={field.name}
                ref={field.ref}
                value={field.value}
                onBlur={field.onBlur}
                onChange={field.onChange}
                error={fieldState.error?.message}
                data-testid="webhook-timeout"
              />
            )}
          />
          <Controller
            control={control}
            name="max_attempts"
            render={({ field, fieldState }) => (
              <NumberInput
                label="Maximum attempts"
                description={`Then it is dead and can be redelivered (${LIMITS.maxAttempts.min}–${LIMITS.maxAttempts.max}).`}
                min={LIMITS.maxAttempts.min}
                max={LIMITS.maxAttempts.max}
                allowDecimal={false}
                allowNegative={false}
                clampBehavior="none"
                name={field.name}
                ref={field.ref}
                value={Number.isNaN(field.value) ? "" : field.value}
                onBlur={field.onBlur}
                onChange={(v) => field.onChange(typeof v === "number" ? v : Number.NaN)}
                error={fieldState.error?.message}
                data-testid="webhook-max-attempts"
              />
            )}
          />
        </SimpleGrid>

        <Controller
          control={control}
          name="enabled"
          render={({ field }) => (
            <Switch
              label="Enabled"
              description={
                editing && webhook.disabled_reason
                  ? `Turned off by HyperSDK: ${webhook.disabled_reason}`
                  : "A disabled hook gets no new events; its waiting deliveries resume when it is enabled again."
              }
              checked={field.value}
              onChange={(e) => field.onChange(e.currentTarget.checked)}
              onBlur={field.onBlur}
              ref={field.ref}
              data-testid="webhook-form-enabled"
            />
          )}
        />

        <Group justify="flex-end" mt="sm">
          <Button variant="default" onClick={onCancel} disabled={isSubmitting}>
            Cancel
          </Button>
          <Button type="submit" loading={isSubmitting} data-testid="webhook-save">
            {editing ? "Save changes" : "Add webhook"}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

type EventsFieldProps = {
  control: Control<WebhookFormValues, unknown, WebhookFormOutput>;
  eventNames: readonly string[];
  error: string | undefined;
};

/** "All events" or any set of the named events, kept in the core's order. */
function EventsField({ control, eventNames, error }: EventsFieldProps) {
  const specific = eventNames.filter((e) => e !== ALL_EVENTS);
  return (
    <Controller
      control={control}
      name="events"
      render={({ field }) => {
        const all = field.value.includes(ALL_EVENTS);
        const toggle = (event: string, checked: boolean) => {
          const next = new Set(field.value);
          if (checked) next.add(event);
          else next.delete(event);
          field.onChange(specific.filter((e) => next.has(e)));
        };
        return (
          <Fieldset legend="Events" variant="filled" data-testid="webhook-events" aria-invalid={error ? true : undefined}>
            <Stack gap={6}>
              <Checkbox
                label={eventLabel(ALL_EVENTS)}
                description="Every event below, and any added in later versions"
                checked={all}
                onChange={(e) => field.onChange(e.currentTarget.checked ? [ALL_EVENTS] : [])}
                ref={field.ref}
                data-testid="webhook-event-all"
              />
              <SimpleGrid cols={{ base: 1, sm: 2 }} spacing="xs" verticalSpacing={6} pl="lg">
                {specific.map((event) => (
                  <Checkbox
                    key={event}
                    label={event}
                    description={EVENT_DESCRIPTIONS[event]}
                    checked={all || field.value.includes(event)}
                    disabled={all}
                    onChange={(e) => toggle(event, e.currentTarget.checked)}
                    data-testid={`webhook-event-${event}`}
                  />
                ))}
              </SimpleGrid>
              {error && (
                <Text size="sm" c="red" role="alert" data-testid="webhook-events-error">
                  {error}
                </Text>
              )}
            </Stack>
          </Fieldset>
        );
      }}
    />
  );
}

type HeaderRowProps = {
  index: number;
  control: Control<WebhookFormValues, unknown, WebhookFormOutput>;
  storedSecretHeaders: readonly string[];
  onRemove: () => void;
};

function HeaderRow({ index, control, storedSecretHeaders, onRemove }: HeaderRowProps) {
  const name = useWatch({ control, name: `headers.${index}.name` });
  const secret = useWatch({ control, name: `headers.${index}.secret` });
  const stored = secret && storedSecretHeaders.some((n) => n.toLowerCase() === name.trim().toLowerCase());
  return (
    <Group align="flex-start" gap="xs" wrap="nowrap" data-testid="webhook-header-row">
      <Controller
        control={control}
        name={`headers.${index}.name`}
        render={({ field, fieldState }) => (
          <TextInput
            style={{ flex: 2 }}
            aria-label={`Header ${index + 1} name`}
            placeholder="Authorization"
            autoComplete="off"
            {...field}
            error={fieldState.error?.message}
            data-testid={`webhook-header-name-${index}`}
          />
        )}
      />
      <Controller
        control={control}
        name={`headers.${index}.value`}
        render={({ field, fieldState }) =>
          secret ? (
            <PasswordInput
              style={{ flex: 3 }}
              aria-label={`Header ${index + 1} value (secret)`}
              placeholder={stored ? "Stored (unchanged)" : "Secret value"}
              autoComplete="new-password"
              {...field}
              error={fieldState.error?.message}
              data-testid={`webhook-header-value-${index}`}
            />
          ) : (
            <TextInput
              style={{ flex: 3 }}
              aria-label={`Header ${index + 1} value`}
              placeholder="Value"
              autoComplete="off"
              {...field}
              error={fieldState.error?.message}
              data-testid={`webhook-header-value-${index}`}
            />
          )
        }
      />
      <Controller
        control={control}
        name={`headers.${index}.secret`}
        render={({ field }) => (
          <Tooltip label="Keep the value in the OS keyring; it is never shown again" withArrow openDelay={300}>
            <Checkbox
              mt={8}
              label="Secret"
              checked={field.value}
              onChange={(e) => field.onChange(e.currentTarget.checked)}
              onBlur={field.onBlur}
              ref={field.ref}
              data-testid={`webhook-header-secret-${index}`}
            />
          </Tooltip>
        )}
      />
      <ActionIcon
        variant="subtle"
        color="red"
        size="lg"
        mt={2}
        aria-label={`Remove header ${index + 1}`}
        onClick={onRemove}
        data-testid={`webhook-header-remove-${index}`}
      >
        <IconTrash size={16} aria-hidden />
      </ActionIcon>
    </Group>
  );
}

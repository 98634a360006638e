import { Button, Checkbox, Group, NativeSelect, PasswordInput, Stack, TextInput, Textarea } from "@mantine/core";
import { zodResolver } from "@hookform/resolvers/zod";
import { useMemo, useState } from "react";
import { useForm, useWatch } from "react-hook-form";
import type { Connection, ConnectionInput, ProviderKindInfo } from "../../bindings";
import { toCoreError } from "../../api/errors";
import type { CoreError } from "../../api/errors";
import { ErrorAlert } from "../../components/ErrorAlert";
import {
  connectionFormSchema,
  defaultFormValues,
  fieldForErrorCode,
  toConnectionInput,
} from "./schema";
import type { ConnectionFormOutput, ConnectionFormValues } from "./schema";

type ConnectionFormProps = {
  kinds: readonly ProviderKindInfo[];
  /** The connection being edited; absent when adding. */
  connection?: Connection;
  onSubmit: (input: ConnectionInput) => Promise<unknown>;
  onCancel: () => void;
};

/** Add/edit form whose fields come from the selected provider kind's description. */
export function ConnectionForm({ kinds, connection, onSubmit, onCancel }: ConnectionFormProps) {
  const editing = connection !== undefined;
  const schema = useMemo(() => connectionFormSchema(kinds), [kinds]);
  const [submitError, setSubmitError] = useState<CoreError | null>(null);

  const {
    register,
    handleSubmit,
    control,
    setError,
    formState: { errors, isSubmitting },
  } = useForm<ConnectionFormValues, unknown, ConnectionFormOutput>({
    resolver: zodResolver(schema),
    defaultValues: defaultFormValues(kinds, connection),
  });

  const kind = useWatch({ control, name: "kind" });
  const info = kinds.find((k) => k.kind === kind);

  const submit = handleSubmit(async (values) => {
    setSubmitError(null);
    try {
      await onSubmit(toConnectionInput(values, info));
    } catch (error) {
      const coreError = toCoreError(error);
      const field = fieldForErrorCode(coreError.code);
      if (field) {
        setError(field, { type: "core", message: coreError.message }, { shouldFocus: true });
      } else {
        setSubmitError(coreError);
      }
    }
  });

  const secretHelp = editing
    ? connection.has_secret
      ? "Leave empty to keep the stored secret."
      : "No secret is stored; leave empty to keep it that way."
    : "Stored in the operating system's keyring, never in the database.";

  return (
    <form onSubmit={(e) => void submit(e)} noValidate aria-label={editing ? "Edit connection" : "Add connection"}>
      <Stack gap="sm">
        {submitError && (
          <ErrorAlert
            error={submitError}
            title={editing ? "Could not save the connection" : "Could not add the connection"}
          />
        )}
        {editing ? (
          // Not registered: a disabled input would submit no value; the kind comes from defaultValues.
          <NativeSelect
            label="Provider"
            data={kinds.map((k) => ({ value: k.kind, label: k.display_name }))}
            value={connection.kind}
            disabled
            description="The provider of an existing connection cannot be changed."
            error={errors.kind?.message}
            data-testid="connection-kind"
          />
        ) : (
          <NativeSelect
            label="Provider"
            data={kinds.map((k) => ({ value: k.kind, label: k.display_name }))}
            error={errors.kind?.message}
            data-testid="connection-kind"
            {...register("kind")}
          />
        )}
        <TextInput
          label="Name"
          placeholder="e.g. Production vCenter"
          withAsterisk
          error={errors.name?.message}
          data-testid="connection-name"
          autoComplete="off"
          {...register("name")}
        />
        <TextInput
          label="Endpoint"
          placeholder={info?.endpoint_hint}
          description={info?.endpoint_optional ?? (info ? `Default port ${info.default_port}` : undefined)}
          withAsterisk={!info?.endpoint_optional}
          error={errors.endpoint?.message}
          data-testid="connection-endpoint"
          autoComplete="off"
          {...register("endpoint")}
        />
        <TextInput
          label={info?.username_label ?? "Username"}
          description={info?.username_optional ?? undefined}
          error={errors.username?.message}
          data-testid="connection-username"
          autoComplete="off"
          {...register("username")}
        />
        <PasswordInput
          label={info?.secret_label ?? "Secret"}
          description={secretHelp}
          placeholder={editing && connection.has_secret ? "Unchanged" : undefined}
          error={errors.secret?.message}
          data-testid="connection-secret"
          autoComplete="new-password"
          {...register("secret")}
        />
        {info?.options.filter((field) => !field.secret).map((field) => (
          <TextInput
            key={`${info.kind}-${field.key}`}
            label={field.label}
            description={field.help || undefined}
            placeholder={field.placeholder || undefined}
            withAsterisk={field.required}
            error={errors.options?.[field.key]?.message}
            data-testid={`connection-option-${field.key}`}
            autoComplete="off"
            {...register(`options.${field.key}`)}
          />
        ))}
        {info?.options.filter((field) => field.secret).map((field) => {
          const saved = editing && (connection.secret_options ?? []).includes(field.key);
          const description = `${field.help ? `${field.help}. ` : ""}${saved ? "Saved in the keyring; leave empty to keep it." : "Stored in the operating system's keyring."}`;
          const common = {
            label: field.label,
            description,
            placeholder: saved ? "Unchanged" : undefined,
            autoComplete: "off",
            "data-testid": `connection-secret-option-${field.key}`,
          };
          return (
            <Stack key={`${info.kind}-secret-${field.key}`} gap={4}>
              {field.multiline ? (
                <Textarea {...common} autosize minRows={2} maxRows={6} spellCheck={false} styles={{ input: { fontFamily: "monospace" } }} {...register(`secret_options.${field.key}`)} />
              ) : (
                <PasswordInput {...common} autoComplete="new-password" {...register(`secret_options.${field.key}`)} />
              )}
              {saved && (
                <Checkbox
                  size="xs"
                  label={`Remove the saved ${field.label.toLowerCase()}`}
                  value={field.key}
                  data-testid={`connection-clear-secret-option-${field.key}`}
                  {...register("clear_secret_options")}
                />
              )}
            </Stack>
          );
        })}
        <TextInput
          label="Pinned certificate (SHA-256)"
          description="Trust exactly this server certificate instead of the system's certificate authorities; leave empty to verify normally."
          placeholder="AB:CD:…"
          error={errors.tls_fingerprint?.message}
          data-testid="connection-tls-fingerprint"
          autoComplete="off"
          {...register("tls_fingerprint")}
        />
        <Group justify="flex-end" mt="sm">
          <Button variant="default" onClick={onCancel} disabled={isSubmitting}>
            Cancel
          </Button>
          <Button type="submit" loading={isSubmitting} data-testid="connection-save">
            {editing ? "Save changes" : "Add connection"}
          </Button>
        </Group>
      </Stack>
    </form>
  );
}

import type { ApiError } from "../bindings";

/** The shape tauri-specta gives every command that returns a Rust `Result`. */
export type Result<T, E> = { status: "ok"; data: T } | { status: "error"; error: E };

/** An error reported by the Rust core (or by the IPC layer), with the core's code and message. */
export class CoreError extends Error {
  readonly code: string;
  readonly retryable: boolean;

  constructor(error: ApiError) {
    super(error.message);
    this.name = "CoreError";
    this.code = error.code;
    this.retryable = error.retryable;
  }

  toApiError(): ApiError {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

function isApiError(value: unknown): value is ApiError {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.code === "string" && typeof v.message === "string";
}

/** Turns anything thrown or returned as an error into the core's `{code, message, retryable}` shape. */
export function toApiError(error: unknown): ApiError {
  if (error instanceof CoreError) return error.toApiError();
  if (isApiError(error)) {
    return { code: error.code, message: error.message, retryable: error.retryable === true };
  }
  if (error instanceof Error) {
    return { code: "ipc_error", message: error.message || "Unexpected error", retryable: false };
  }
  if (typeof error === "string" && error.length > 0) {
    return { code: "ipc_error", message: error, retryable: false };
  }
  return { code: "unknown", message: "An unexpected error occurred.", retryable: false };
}

export function toCoreError(error: unknown): CoreError {
  return error instanceof CoreError ? error : new CoreError(toApiError(error));
}

/** Returns the data of an ok Result or throws a CoreError carrying the core's error. */
export function unwrap<T>(result: Result<T, ApiError>): T {
  if (result.status === "ok") return result.data;
  throw new CoreError(toApiError(result.error));
}

/** Awaits a command returning a Result and unwraps it; IPC failures become CoreErrors too. */
export async function callResult<T>(command: () => Promise<Result<T, ApiError>>): Promise<T> {
  let result: Result<T, ApiError>;
  try {
    result = await command();
  } catch (error) {
    throw toCoreError(error);
  }
  return unwrap(result);
}

/** Awaits a command that returns its value directly; IPC failures become CoreErrors. */
export async function call<T>(command: () => Promise<T>): Promise<T> {
  try {
    return await command();
  } catch (error) {
    throw toCoreError(error);
  }
}

/** Plain-text details of an error for the "Copy details" action. */
export function errorDetails(error: ApiError, context?: string): string {
  const lines = [
    context ? `HyperSDK Desktop: ${context}` : "HyperSDK Desktop error",
    `code: ${error.code}`,
    `message: ${error.message}`,
    `retryable: ${error.retryable ? "yes" : "no"}`,
  ];
  return lines.join("\n");
}

/**
 * Error codes the user fixes by editing the connection: a refused password or token, a refused SSH
 * login, a secret gone from the keyring. Wherever one shows (the Inventory, a test's checks), the
 * window offers "Edit connection".
 */
const FIXED_BY_EDITING = new Set(["auth_failed", "ssh_auth_failed", "secret_missing"]);

export function fixedByEditingConnection(code: string | null | undefined): boolean {
  return code != null && FIXED_BY_EDITING.has(code);
}

import { describe, expect, it } from "vitest";
import { call, callResult, CoreError, errorDetails, toApiError, unwrap } from "./errors";

describe("unwrap", () => {
  it("returns the data of an ok result", () => {
    expect(unwrap({ status: "ok", data: [1, 2] })).toEqual([1, 2]);
    expect(unwrap({ status: "ok", data: null })).toBeNull();
  });

  it("throws a CoreError carrying the core's code, message and retryable flag", () => {
    const run = () =>
      unwrap({
        status: "error",
        error: { code: "connection_name_taken", message: "A connection named “Lab” already exists", retryable: false },
      });
    expect(run).toThrow(CoreError);
    try {
      run();
    } catch (e) {
      const err = e as CoreError;
      expect(err.code).toBe("connection_name_taken");
      expect(err.message).toBe("A connection named “Lab” already exists");
      expect(err.retryable).toBe(false);
      expect(err.toApiError()).toEqual({
        code: "connection_name_taken",
        message: "A connection named “Lab” already exists",
        retryable: false,
      });
    }
  });

  it("keeps retryable true", () => {
    expect(() => unwrap({ status: "error", error: { code: "busy", message: "Busy", retryable: true } })).toThrow(
      expect.objectContaining({ code: "busy", retryable: true }),
    );
  });
});

describe("callResult / call", () => {
  it("unwraps a resolved result", async () => {
    await expect(callResult(() => Promise.resolve({ status: "ok" as const, data: 42 }))).resolves.toBe(42);
  });

  it("turns an error result into a CoreError", async () => {
    await expect(
      callResult(() =>
        Promise.resolve({ status: "error" as const, error: { code: "invalid_endpoint", message: "Bad endpoint", retryable: false } }),
      ),
    ).rejects.toMatchObject({ name: "CoreError", code: "invalid_endpoint", message: "Bad endpoint" });
  });

  it("turns an IPC rejection (string or Error) into a CoreError", async () => {
    await expect(callResult(() => Promise.reject("command list_jobs not found"))).rejects.toMatchObject({
      code: "ipc_error",
      message: "command list_jobs not found",
    });
    await expect(call(() => Promise.reject(new TypeError("no IPC")))).rejects.toMatchObject({
      code: "ipc_error",
      message: "no IPC",
    });
  });

  it("passes an ApiError-shaped rejection through", async () => {
    await expect(
      call(() => Promise.reject({ code: "database_locked", message: "Locked", retryable: true })),
    ).rejects.toMatchObject({ code: "database_locked", message: "Locked", retryable: true });
  });
});

describe("toApiError / errorDetails", () => {
  it("gives a generic message for unknown values", () => {
    expect(toApiError(undefined)).toEqual({ code: "unknown", message: "An unexpected error occurred.", retryable: false });
  });

  it("formats copyable details", () => {
    const text = errorDetails({ code: "x_failed", message: "It failed", retryable: false }, "saving");
    expect(text).toContain("code: x_failed");
    expect(text).toContain("message: It failed");
    expect(text).toContain("saving");
  });
});

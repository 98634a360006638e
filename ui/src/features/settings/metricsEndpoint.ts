import { z } from "zod";

/** The host part of `IP:port` / `[IPv6]:port`, or null if it is not that shape. */
export function listenHost(listen: string): string | null {
  const text = listen.trim();
  const v6 = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(text);
  if (v6) return v6[1] ?? null;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d{1,5})$/.exec(text);
  return v4 ? (v4[1] ?? null) : null;
}

/** Only this machine can connect (127.0.0.0/8 or ::1), as the core decides. */
export function isLoopback(listen: string): boolean {
  const host = listenHost(listen);
  if (host === null) return false;
  return host.startsWith("127.") || host === "::1" || host === "0:0:0:0:0:0:0:1";
}

const MESSAGE = "Enter an IP address and port, e.g. 127.0.0.1:9464";

/** Mirrors the core's check (`invalid_listen_address`): an IP address and a port 0–65535. */
export const listenSchema = z
  .string()
  .trim()
  .refine((v) => {
    const host = listenHost(v);
    const port = Number(v.slice(v.lastIndexOf(":") + 1));
    if (host === null || !Number.isInteger(port) || port > 65535) return false;
    if (host.includes(":")) return true;
    return host.split(".").every((o) => Number(o) <= 255);
  }, MESSAGE);

export const metricsSchema = z.object({
  metrics_enabled: z.boolean(),
  metrics_listen: listenSchema,
});

export type MetricsFormValues = z.infer<typeof metricsSchema>;

import { QueryClient } from "@tanstack/react-query";
import { CoreError } from "./errors";

export function createQueryClient(): QueryClient {
  return new QueryClient({
    defaultOptions: {
      queries: {
        // Data changes are pushed by core events; only retry what the core says is retryable.
        staleTime: 30_000,
        retry: (failureCount, error) =>
          error instanceof CoreError && error.retryable && failureCount < 2,
      },
      mutations: { retry: false },
    },
  });
}

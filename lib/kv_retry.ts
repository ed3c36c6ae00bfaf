/**
 * Living with SQLite's lock: two processes on one KV file make each other's
 * writes fail now and then with "database is locked". Writes outside the
 * feed writer (which retries on its own) go through {@linkcode retryLocked}.
 *
 * @module
 */
import { metrics } from "./metrics.ts";

/**
 * Runs `attempt` again, with growing random pauses, while it fails with
 * "database is locked", for up to `waitMs`. Any other failure is thrown at once.
 *
 * @example
 * ```ts
 * await retryLocked(() => kv.atomic().check(entry).set(key, value).commit());
 * ```
 */
export async function retryLocked<T>(attempt: () => Promise<T>, waitMs = 10_000): Promise<T> {
  const deadline = Date.now() + waitMs;
  for (let delay = 5;; delay = Math.min(delay * 2, 250)) {
    try {
      return await attempt();
    } catch (error) {
      if (!isLocked(error) || Date.now() > deadline) throw error;
      metrics.lockRetries++;
      await new Promise((r) => setTimeout(r, delay * (0.5 + Math.random())));
    }
  }
}

/**
 * Opens the KV at `path` (a file, `:memory:` or a KV Connect URL; none for
 * Deno Deploy's own), waiting out another process that is opening it too.
 */
export function openKv(path?: string): Promise<Deno.Kv> {
  return retryLocked(() => Deno.openKv(path));
}

/** Whether `error` is SQLite's "database is locked", which passes if tried again. */
export function isLocked(error: unknown): boolean {
  return /database is locked/i.test(String(error));
}

/**
 * The health check's look at KV.
 *
 * @module
 */

import { healthKey } from "./keys.ts";

/** Resolves when KV answers a read; rejects when it cannot. */
export async function pingKv(kv: Deno.Kv): Promise<void> {
  await kv.get(healthKey());
}

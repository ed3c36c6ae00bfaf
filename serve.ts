/**
 * Parley as one worker of `deno serve --parallel` (see `scripts/start.ts`):
 * every worker is a thread of one process with its own KV handle on the same
 * database, and `kv.watch` on the doorbells carries each worker's commits to
 * the others, so a stream on one worker gets what is posted to another.
 *
 * @module
 */
import { createApp } from "./http/app.ts";
import { kvLocation, loadConfig } from "./lib/config.ts";
import { readFilterTerms } from "./lib/content_filter.ts";
import { openKv } from "./lib/kv_retry.ts";

const config = loadConfig(Deno.env.toObject());
if (config.contentFilterFile) {
  config.contentFilterTerms = await readFilterTerms(config.contentFilterFile);
}
const kv = await openKv(kvLocation(config));
const app = createApp({ kv, clock: Date.now, config });

// A stop signal ends this worker's streams cleanly (clients resume elsewhere) and exits.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  try {
    Deno.addSignalListener(signal, async () => {
      setTimeout(() => Deno.exit(1), 4_000);
      await app.close();
      kv.close();
      Deno.exit(0);
    });
  } catch { /* a worker that cannot listen for signals stops with the process */ }
}

export default { fetch: app.fetch } satisfies Deno.ServeDefaultExport;

/**
 * Starts Parley: reads the configuration, opens the embedded KV file, builds
 * the app and serves it.
 *
 * @module
 */
import { dirname } from "node:path";
import { createApp } from "./lib/app.ts";
import { loadConfig } from "./lib/config.ts";
import { openKv } from "./lib/kv_retry.ts";

const config = loadConfig(Deno.env.toObject());
await Deno.mkdir(dirname(config.kvPath), { recursive: true });
const kv = await openKv(config.kvPath);
const app = createApp({ kv, clock: Date.now, config });

const server = Deno.serve({
  port: config.port,
  hostname: config.hostname,
  onListen: ({ hostname, port }) => console.log(`Parley listening on http://${hostname}:${port}`),
}, app.fetch);

// On Ctrl-C or a stop signal, end streams and mark this instance's users offline.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    await app.close();
    await server.shutdown();
    kv.close();
    Deno.exit(0);
  });
}

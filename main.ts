/**
 * Starts Parley: reads the configuration, opens the embedded KV file, builds
 * the app and serves it.
 *
 * @module
 */
import { dirname } from "node:path";
import { createApp } from "./lib/app.ts";
import { loadConfig } from "./lib/config.ts";

const config = loadConfig(Deno.env.toObject());
await Deno.mkdir(dirname(config.kvPath), { recursive: true });
const kv = await Deno.openKv(config.kvPath);
const app = createApp({ kv, clock: Date.now, config });

Deno.serve({
  port: config.port,
  hostname: config.hostname,
  onListen: ({ hostname, port }) => console.log(`Parley listening on http://${hostname}:${port}`),
}, app.fetch);

/**
 * Starts Parley: reads the configuration, opens KV (Deno Deploy's own, a KV
 * Connect URL or a local file), builds the app and serves it.
 *
 * @module
 */
import { dirname } from "node:path";
import { createApp } from "./http/app.ts";
import { kvLocation, loadConfig } from "./lib/config.ts";
import { readFilterTerms } from "./lib/content_filter.ts";
import { openKv } from "./lib/kv_retry.ts";

const config = loadConfig(Deno.env.toObject());
if (config.contentFilterFile) {
  config.contentFilterTerms = await readFilterTerms(config.contentFilterFile);
}
const location = kvLocation(config);
if (location && !config.kvUrl && location !== ":memory:") {
  await Deno.mkdir(dirname(location), { recursive: true });
}
const kv = await openKv(location);
const app = createApp({ kv, clock: Date.now, config });

// Deno Deploy runs scheduled work through Deno.cron, registered before serving.
if (config.onDeploy && typeof Deno.cron === "function") {
  Deno.cron("parley jobs", "* * * * *", () => app.services.jobs.runDue());
}

const server = Deno.serve({
  port: config.port,
  hostname: config.hostname,
  onListen: ({ hostname, port }) => console.log(`Parley listening on http://${hostname}:${port}`),
}, app.fetch);

// On Ctrl-C or a stop signal (Deno Deploy sends SIGINT, then SIGKILL 5 s later):
// stop taking connections, end every stream cleanly so its client resumes on
// another instance, let the requests in flight finish, and exit.
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, async () => {
    setTimeout(() => Deno.exit(1), 4_000).unref?.();
    const stopped = server.shutdown();
    await app.close();
    await stopped;
    kv.close();
    Deno.exit(0);
  });
}

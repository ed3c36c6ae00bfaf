/**
 * `deno task start`: serves Parley with as many workers as the machine has
 * cores (`WORKERS`, default the core count). One worker runs `main.ts`
 * itself; several run `serve.ts` under `deno serve --parallel`, threads of
 * one process that share the KV file and wake each other through
 * `kv.watch`.
 *
 * @module
 */
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { kvLocation, loadConfig } from "../lib/config.ts";

const root = fileURLToPath(new URL("../", import.meta.url));
const config = loadConfig(Deno.env.toObject());
const workers = Number(Deno.env.get("WORKERS") ?? navigator.hardwareConcurrency);
if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
  throw new Error(`WORKERS must be a whole number from 1 to 256, not "${Deno.env.get("WORKERS")}"`);
}

// Each worker would get a database of its own in memory: one worker, then.
if (workers > 1 && config.kvPath === ":memory:" && !config.kvUrl && !config.onDeploy) {
  console.warn("KV_PATH=:memory: is one database per worker: serving with one worker.");
}
const permissions = ["--allow-net", "--allow-env", "--allow-read", "--allow-write"];
const location = kvLocation(config);
if (location && !config.kvUrl && location !== ":memory:") {
  await Deno.mkdir(dirname(location), { recursive: true });
}
const single = workers === 1 || (config.kvPath === ":memory:" && !config.kvUrl);
const args = single ? ["run", ...permissions, "main.ts"] : [
  "serve",
  "--parallel",
  ...permissions,
  "--host",
  config.hostname,
  "--port",
  String(config.port),
  "serve.ts",
];
const child = new Deno.Command(Deno.execPath(), {
  args,
  cwd: root,
  env: { DENO_JOBS: String(workers) },
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => child.kill(signal));
}
Deno.exit((await child.status).code);

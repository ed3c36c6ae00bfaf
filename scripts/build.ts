/**
 * Bundles the web app's islands into `static/app.js` with `deno bundle`.
 *
 *     deno run -A scripts/build.ts             # always build
 *     deno run -A scripts/build.ts --if-stale  # only when a source is newer than the bundle
 *     deno run -A scripts/build.ts --watch     # build, then again whenever a source changes
 *
 * The bundle's sources are `islands/` and `shared/` (the parser, types and limits).
 *
 * @module
 */
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
/** Where the bundle is written. */
export const BUNDLE = `${root}static/app.js`;
const ENTRY = `${root}islands/main.tsx`;
const SOURCES = [`${root}islands`, `${root}shared`, `${root}deno.json`];

/** Whether the bundle is missing or older than one of its sources. */
export async function isStale(): Promise<boolean> {
  const built = await mtime(BUNDLE);
  if (built === null) return true;
  for (const source of SOURCES) {
    if ((await newest(source)) > built) return true;
  }
  return false;
}

/**
 * Builds the bundle (when `ifStale`, only if it is missing or stale).
 *
 * @returns whether it built.
 * @throws {Error} when `deno bundle` fails.
 */
export async function build(ifStale = false): Promise<boolean> {
  if (ifStale && !(await isStale())) return false;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform", "browser", "--minify", "-o", BUNDLE, ENTRY],
    cwd: root,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (code !== 0) throw new Error(`deno bundle failed:\n${new TextDecoder().decode(stderr)}`);
  return true;
}

async function mtime(path: string): Promise<number | null> {
  try {
    return (await Deno.stat(path)).mtime?.getTime() ?? 0;
  } catch {
    return null;
  }
}

async function newest(path: string): Promise<number> {
  const info = await Deno.stat(path);
  if (!info.isDirectory) return info.mtime?.getTime() ?? 0;
  let max = 0;
  for await (const entry of Deno.readDir(path)) {
    max = Math.max(max, await newest(`${path}/${entry.name}`));
  }
  return max;
}

/** Rebuilds whenever a source changes, until the process ends. */
async function watch(): Promise<never> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  for await (const _ of Deno.watchFs(SOURCES.filter((s) => !s.endsWith(".json")))) {
    // An editor's save is several events: build once they settle.
    clearTimeout(timer);
    timer = setTimeout(() => run(false).catch((e) => console.error(e.message)), 100);
  }
  throw new Error("file watcher ended");
}

async function run(ifStale: boolean): Promise<void> {
  const started = performance.now();
  if (!(await build(ifStale))) return;
  const size = (await Deno.stat(BUNDLE)).size;
  const ms = Math.round(performance.now() - started);
  console.log(`Built static/app.js (${Math.round(size / 1024)} KB) in ${ms} ms`);
}

if (import.meta.main) {
  await run(Deno.args.includes("--if-stale"));
  if (Deno.args.includes("--watch")) await watch();
}

/**
 * Serves the files of one directory (the web app's bundle, stylesheet and
 * icon), with an ETag so browsers revalidate instead of re-downloading.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const TYPES: Record<string, string> = {
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".map": "application/json",
};

/** The `static/` directory next to `lib/`. */
export const STATIC_DIR: string = fileURLToPath(new URL("../static/", import.meta.url));

/**
 * A handler for `GET {prefix}*` that answers with the file of that name in
 * `dir`. Names with `..`, hidden files and unknown types are not served.
 *
 * @example
 * ```ts
 * app.get("/static/*", staticFiles("/static/", STATIC_DIR));
 * ```
 */
export function staticFiles(prefix: string, dir: string): MiddlewareHandler {
  return async function serveStatic(c, next) {
    let name: string;
    try {
      name = decodeURIComponent(c.req.path.slice(prefix.length));
    } catch {
      return await next(); // malformed percent-encoding
    }
    const type = TYPES[extname(name)];
    if (!type || !/^[\w-]+(\.[\w-]+)+$/.test(name)) return await next();
    const path = normalize(join(dir, name));
    let file: Deno.FileInfo;
    try {
      file = await Deno.stat(path);
    } catch {
      return await next();
    }
    const etag = `"${file.size.toString(36)}-${(file.mtime?.getTime() ?? 0).toString(36)}"`;
    const headers = { "content-type": type, "cache-control": "no-cache", etag };
    if (c.req.header("if-none-match") === etag) return c.body(null, 304, headers);
    return c.body(await Deno.readFile(path), 200, headers);
  };
}

/**
 * Limits on request bodies: a size cap on every route and JSON only.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import { ApiError, Errors } from "../../lib/errors.ts";

/** The largest body any API route accepts, in bytes. */
export const MAX_BODY_BYTES = 32 * 1024;

/** Refuses bodies over `maxBytes` with 413, whether or not they declare a length. */
export function limitBody(maxBytes = MAX_BODY_BYTES): MiddlewareHandler {
  return bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new ApiError(Errors.tooLarge, { maxBytes });
    },
  });
}

/** Refuses a request that has a body in anything but JSON with 415. */
export function requireJsonBody(): MiddlewareHandler {
  return async function requireJson(c, next) {
    const req = c.req.raw;
    // A body is declared by a length or a chunked transfer; Deno gives even an
    // empty POST a body stream, so the stream alone says nothing.
    const length = Number(req.headers.get("content-length") ?? 0);
    const hasBody = length > 0 || req.headers.has("transfer-encoding");
    const type = req.headers.get("content-type")?.split(";")[0].trim().toLowerCase();
    if (hasBody && type !== "application/json") {
      throw new ApiError(Errors.unsupportedMediaType, { contentType: type ?? null });
    }
    await next();
  };
}

/**
 * Security headers on every response.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { secureHeaders } from "hono/secure-headers";

/**
 * Hono's `secureHeaders` with a Content-Security-Policy that allows only this
 * origin's own scripts, styles and connections, and no framing. A file sent
 * as a file (with `Content-Disposition`: attachments) gets `sandbox` instead,
 * so an uploaded HTML or SVG page can never run in this origin.
 */
export function securityHeaders(): MiddlewareHandler {
  const site = secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", "data:"],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
    xFrameOptions: "DENY",
    referrerPolicy: "same-origin",
    crossOriginResourcePolicy: "same-origin",
  });
  return async function securityHeaders(c, next) {
    await site(c, next);
    if (c.res.headers.has("content-disposition")) {
      c.res.headers.set("content-security-policy", "sandbox");
    }
  };
}

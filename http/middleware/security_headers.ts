/**
 * Security headers on every response.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";

/**
 * For pages and files: a Content-Security-Policy that allows only this
 * origin's own scripts, styles and connections, and no framing, with the
 * headers Hono's `secureHeaders` sets by default. Written once as a constant
 * list: building them per request was a measurable share of a message's CPU.
 */
const PAGE_HEADERS: readonly [string, string][] = [
  [
    "content-security-policy",
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; " +
    "frame-ancestors 'none'",
  ],
  ["cross-origin-opener-policy", "same-origin"],
  ["cross-origin-resource-policy", "same-origin"],
  ["origin-agent-cluster", "?1"],
  ["referrer-policy", "same-origin"],
  ["strict-transport-security", "max-age=15552000; includeSubDomains"],
  ["x-content-type-options", "nosniff"],
  ["x-dns-prefetch-control", "off"],
  ["x-download-options", "noopen"],
  ["x-frame-options", "DENY"],
  ["x-permitted-cross-domain-policies", "none"],
  ["x-xss-protection", "0"],
];

/**
 * For JSON answers, which are data and never a document: what OWASP's REST
 * security guidance asks of an API (nothing may load, frame or sniff it).
 * Half the page list, on the hot path of every message.
 */
const API_HEADERS: readonly [string, string][] = [
  ["content-security-policy", "default-src 'none'; frame-ancestors 'none'"],
  ["cross-origin-resource-policy", "same-origin"],
  ["referrer-policy", "same-origin"],
  ["strict-transport-security", "max-age=15552000; includeSubDomains"],
  ["x-content-type-options", "nosniff"],
  ["x-frame-options", "DENY"],
];

/**
 * Sets {@linkcode API_HEADERS} on JSON answers and {@linkcode PAGE_HEADERS} on
 * everything else but event streams. A file sent as a file (with
 * `Content-Disposition`: attachments) gets CSP `sandbox` instead, so an
 * uploaded HTML or SVG page can never run in this origin.
 */
export function securityHeaders(): MiddlewareHandler {
  return async function securityHeaders(c, next) {
    await next();
    const headers = c.res.headers;
    // An event stream is read by code, never rendered, and held open for hours:
    // a page's policies add nothing to it but memory for every idle stream.
    if (headers.get("content-type")?.startsWith("text/event-stream")) {
      headers.set("x-content-type-options", "nosniff");
      return;
    }
    const json = headers.get("content-type")?.startsWith("application/json");
    for (const [name, value] of json ? API_HEADERS : PAGE_HEADERS) headers.set(name, value);
    if (headers.has("content-disposition")) headers.set("content-security-policy", "sandbox");
  };
}

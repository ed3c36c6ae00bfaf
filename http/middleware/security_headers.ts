/**
 * Security headers on every response.
 *
 * @module
 */
import { secureHeaders } from "hono/secure-headers";

/**
 * Hono's `secureHeaders` with a Content-Security-Policy that allows only this
 * origin's own scripts, styles and connections, and no framing.
 */
export function securityHeaders() {
  return secureHeaders({
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
}

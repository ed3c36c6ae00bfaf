/**
 * Signing requests in: bearer tokens and the session cookie, and the
 * same-origin rule for cookie-authenticated changes.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { getCookie } from "hono/cookie";
import { ApiError, Errors } from "../../lib/errors.ts";
import type { AppEnv, Services } from "../router.ts";

/** The name of the session cookie. */
export const SESSION_COOKIE = "parley_session";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

/**
 * Requires a signed-in user and sets `user`, `token` and `session`.
 *
 * A token comes from `Authorization: Bearer …` or the session cookie. A
 * cookie-authenticated request that changes something must be same-origin,
 * or a cross-site page could act for the user.
 *
 * @throws {ApiError} `unauthorized` (401) or `cross_origin` (403).
 */
export function requireUser(deps: Services): MiddlewareHandler<AppEnv> {
  return async function requireUser(c, next) {
    // Routers overlap (`/rooms/*` also covers `/rooms/:id/messages`): sign in once.
    if (c.get("user")) return await next();
    const bearer = c.req.header("authorization")?.match(/^Bearer\s+(\S+)$/i)?.[1];
    const token = bearer ?? getCookie(c, SESSION_COOKIE);
    if (!token) throw new ApiError(Errors.unauthorized);
    if (!bearer && !SAFE_METHODS.has(c.req.method) && !isSameOrigin(c, deps.config.publicOrigin)) {
      throw new ApiError(Errors.crossOrigin);
    }
    const signedIn = await deps.sessions.signIn(token);
    if (!signedIn) throw new ApiError(Errors.unauthorized);
    c.set("user", signedIn.user);
    c.set("session", signedIn.session);
    await next();
  };
}

/**
 * Whether a request comes from this site: its `Origin` is the configured
 * public origin, or the request's own scheme, host and port (the scheme as
 * the client used it, behind a trusted proxy too); without `Origin`,
 * `Sec-Fetch-Site` must say `same-origin`. With neither there is no evidence,
 * and the request is refused.
 */
export function isSameOrigin(c: Context<AppEnv>, publicOrigin?: string): boolean {
  const origin = c.req.header("origin");
  if (origin) {
    if (origin === publicOrigin) return true;
    const scheme = c.var.client.https ? "https:" : "http:";
    const host = c.req.header("host") ?? new URL(c.req.url).host;
    try {
      return new URL(origin).origin === new URL(`${scheme}//${host}`).origin;
    } catch {
      return false;
    }
  }
  return c.req.header("sec-fetch-site") === "same-origin";
}

/** Whether the client reached the server (or its public origin) over https. */
export function isHttps(c: Context<AppEnv>, publicOrigin?: string): boolean {
  return c.var.client.https || publicOrigin?.startsWith("https:") === true;
}

/**
 * The app factory: every route and middleware, wired to the dependencies it
 * is given, and the long-lived services (feed writer, hub, presence) built on
 * them. Nothing here opens KV or reads the environment, so tests build as
 * many apps as they like over `Deno.openKv(":memory:")`.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { mountApiDocs } from "../routes/api_docs.tsx";
import { authRoutes } from "../routes/auth.ts";
import { directRoutes } from "../routes/direct.ts";
import { encryptionRoutes } from "../routes/encryption.ts";
import { eventRoutes } from "../routes/events.ts";
import { healthRoutes } from "../routes/health.ts";
import { adminRoutes } from "../routes/admin.ts";
import { attachmentRoutes } from "../routes/attachments.ts";
import { inviteRoutes } from "../routes/invites.ts";
import { moderationRoutes } from "../routes/moderation.ts";
import { meRoutes } from "../routes/me.ts";
import { messageRoutes } from "../routes/messages.ts";
import { pageRoutes } from "../routes/pages.tsx";
import { roomRoutes } from "../routes/rooms.ts";
import { userRoutes } from "../routes/users.ts";
import { metricsRoutes } from "../routes/metrics.ts";
import { ApiError, errorBody, Errors } from "../lib/errors.ts";
import { countResponse } from "../lib/metrics.ts";
import { limitBody, requireJsonBody } from "./middleware/json_body.ts";
import { securityHeaders } from "./middleware/security_headers.ts";
import { createDomain, type Deps } from "../lib/domain.ts";
import { clientInfo, parseRanges } from "./client_address.ts";
import { type AppEnv, newRouter, type Services } from "./router.ts";

/** A built app: its HTTP handler, its services, and a way to stop them. */
export interface ParleyApp extends AsyncDisposable {
  /** The Hono app, for `app.request()` in tests. */
  hono: OpenAPIHono<AppEnv>;
  /** The handler to give `Deno.serve`. */
  fetch: (req: Request, info?: Deno.ServeHandlerInfo) => Response | Promise<Response>;
  /** Calls the app without a socket. */
  request: OpenAPIHono<AppEnv>["request"];
  /** The services, for tests that look inside. */
  services: Services;
  /** Ends every stream cleanly, stops the timers, drops this instance's presence leases and lets pending commits finish. */
  close(): Promise<void>;
}

/**
 * Builds the Parley app.
 *
 * @example
 * ```ts
 * const parley = createApp({ kv: await Deno.openKv(":memory:"), clock: Date.now, config: defaultConfig });
 * const res = await parley.request("/api/health");
 * await parley.close();
 * ```
 */
export function createApp(deps: Deps): ParleyApp {
  const services = createDomain(deps);
  const app = newRouter();
  const proxies = parseRanges(deps.config.trustedProxies);
  app.use(async (c, next) => {
    c.set("client", clientInfo(c, proxies));
    await next();
    // Which instance (or worker) answered: for operators and tests of several.
    c.res.headers.set("x-parley-instance", services.instanceId);
    countResponse(c.res.status);
  });
  app.use(securityHeaders());
  // Uploads stream their own bodies, with their own limits; everything else is small JSON.
  const [sizeCap, jsonOnly] = [limitBody(), requireJsonBody()];
  const isUpload = (c: Context) =>
    c.req.method === "POST" && /^\/api\/rooms\/[^/]+\/attachments$/.test(c.req.path);
  app.use("/api/*", (c, next) => isUpload(c) ? next() : sizeCap(c, next));
  app.use("/api/*", (c, next) => isUpload(c) ? next() : jsonOnly(c, next));

  app.route("/api", healthRoutes(services));
  app.route("/api", authRoutes(services));
  app.route("/api", meRoutes(services));
  app.route("/api", roomRoutes(services));
  app.route("/api", messageRoutes(services));
  app.route("/api", directRoutes(services));
  app.route("/api", encryptionRoutes(services));
  app.route("/api", inviteRoutes(services));
  app.route("/api", moderationRoutes(services));
  app.route("/api", adminRoutes(services));
  app.route("/api", attachmentRoutes(services));
  app.route("/api", userRoutes(services));
  app.route("/api", eventRoutes(services));
  app.route("/", metricsRoutes(services));
  mountApiDocs(app);
  app.route("/", pageRoutes(services));

  app.notFound(() => {
    throw new ApiError(Errors.notFound);
  });
  app.onError(errorResponse);

  const close = () => services.close();
  return {
    hono: app,
    fetch: (req, info) => app.fetch(req, info),
    request: app.request,
    services,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** Turns any thrown error into the project's error shape; never leaks a stack. */
function errorResponse(err: Error, c: Context): Response {
  if (err instanceof ApiError) {
    const { status, code } = err.kind;
    return c.json(errorBody(code, err.message, err.details), status, err.headers);
  }
  if (err instanceof HTTPException && err.status < 500) {
    // Hono's own validators throw these, e.g. for a body that is not JSON.
    const kind = /json/i.test(err.message) ? Errors.malformedJson : Errors.invalidInput;
    return c.json(errorBody(kind.code, kind.message), kind.status);
  }
  console.error(err);
  return c.json(errorBody(Errors.internal.code, Errors.internal.message), 500);
}

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
import { eventRoutes } from "../routes/events.ts";
import { healthRoutes } from "../routes/health.ts";
import { meRoutes } from "../routes/me.ts";
import { messageRoutes } from "../routes/messages.ts";
import { pageRoutes } from "../routes/pages.tsx";
import { roomRoutes } from "../routes/rooms.ts";
import { userRoutes } from "../routes/users.ts";
import { metricsRoutes } from "../routes/metrics.ts";
import { needsPoll } from "../lib/config.ts";
import { ApiError, errorBody, Errors } from "../lib/errors.ts";
import { FeedWriter, TRIM_BATCH, trimLog } from "../lib/feed.ts";
import { defaultHubOptions, Hub } from "../lib/hub.ts";
import { newId } from "../lib/ids.ts";
import { Jobs } from "../lib/jobs.ts";
import { MessageSender } from "../lib/messages.ts";
import { countResponse } from "../lib/metrics.ts";
import { limitBody, requireJsonBody } from "./middleware/json_body.ts";
import { securityHeaders } from "./middleware/security_headers.ts";
import { defaultPresenceOptions, Presence } from "../lib/presence.ts";
import { type AppEnv, type Deps, newRouter, type Services } from "./router.ts";
import { SessionCache } from "../lib/session_cache.ts";

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
  /** Ends every stream, stops the timers, and marks this instance's users offline. */
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
  const { services, stopTimers } = startServices(deps);
  const app = newRouter();
  app.use(async (c, next) => {
    await next();
    countResponse(c.res.status);
  });
  app.use(securityHeaders());
  app.use("/api/*", limitBody(), requireJsonBody());

  app.route("/api", healthRoutes(deps));
  app.route("/api", authRoutes(services));
  app.route("/api", meRoutes(services));
  app.route("/api", roomRoutes(services));
  app.route("/api", messageRoutes(services));
  app.route("/api", directRoutes(services));
  app.route("/api", userRoutes(services));
  app.route("/api", eventRoutes(services));
  app.route("/", metricsRoutes(services));
  mountApiDocs(app);
  app.route("/", pageRoutes(services));

  app.notFound(() => {
    throw new ApiError(Errors.notFound);
  });
  app.onError(errorResponse);

  const close = async () => {
    stopTimers();
    await services.hub.close();
    await services.presence.close();
    await services.feed.close();
  };
  return {
    hono: app,
    fetch: (req, info) => app.fetch(req, info),
    request: app.request,
    services,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function startServices(deps: Deps): { services: Services; stopTimers: () => void } {
  const { kv, clock, config } = deps;
  const instanceId = newId();
  const feed = new FeedWriter(kv, clock);
  const presence = new Presence(kv, feed, clock, instanceId, {
    ...defaultPresenceOptions,
    graceMs: config.presenceGraceMs,
  });
  const hub = new Hub(kv, feed, presence, clock, {
    ...defaultHubOptions,
    pollMs: needsPoll(config) ? defaultHubOptions.pollMs : null,
    maxBufferedBytes: config.streamBufferBytes,
  });
  const heartbeatMs = defaultPresenceOptions.leaseMs / 3;
  const jobs = new Jobs(kv, clock, instanceId, [
    { name: "presence_sweep", everyMs: heartbeatMs, run: () => presence.sweep() },
    {
      name: "log_trim",
      everyMs: 60_000,
      run: () => trimOldLog(kv, clock() - config.resumeWindowMs),
    },
  ]);
  // On Deno Deploy, main.ts ticks the jobs from Deno.cron instead.
  if (!config.onDeploy) jobs.start();
  const heartbeat = setInterval(() => {
    presence.renew().catch((e) => console.error("presence heartbeat failed", e));
  }, heartbeatMs);
  return {
    services: {
      ...deps,
      sessions: new SessionCache(),
      feed,
      sender: new MessageSender(feed, (messages) => hub.remember(messages)),
      hub,
      presence,
      jobs,
    },
    stopTimers: () => {
      clearInterval(heartbeat);
      jobs.stop();
    },
  };
}

/** Trims the log entries older than `before`, 500 to a commit, until none are left. */
async function trimOldLog(kv: Deno.Kv, before: number): Promise<void> {
  while (await trimLog(kv, before) === TRIM_BATCH);
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

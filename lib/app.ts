/**
 * The app factory: every route and middleware, wired to the dependencies it
 * is given. Nothing here opens KV or reads the environment, so tests build
 * as many apps as they like over `Deno.openKv(":memory:")`.
 *
 * @module
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { mountApiDocs } from "../routes/api_docs.tsx";
import { authRoutes } from "../routes/auth.ts";
import { healthRoutes } from "../routes/health.ts";
import { meRoutes } from "../routes/me.ts";
import { ApiError, errorBody, Errors } from "./errors.ts";
import { limitBody, requireJsonBody } from "./middleware/json_body.ts";
import { securityHeaders } from "./middleware/security_headers.ts";
import { type AppEnv, type Deps, newRouter } from "./router.ts";

/**
 * Builds the Parley app.
 *
 * @example
 * ```ts
 * const app = createApp({ kv: await Deno.openKv(":memory:"), clock: Date.now, config: defaultConfig });
 * const res = await app.request("/api/health");
 * ```
 */
export function createApp(deps: Deps): OpenAPIHono<AppEnv> {
  const app = newRouter();
  app.use(securityHeaders());
  app.use("/api/*", limitBody(), requireJsonBody());

  app.route("/api", healthRoutes(deps));
  app.route("/api", authRoutes(deps));
  app.route("/api", meRoutes(deps));
  mountApiDocs(app);

  app.notFound(() => {
    throw new ApiError(Errors.notFound);
  });
  app.onError(errorResponse);
  return app;
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

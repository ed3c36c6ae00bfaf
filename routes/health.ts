/**
 * `/api/health`: whether the server and its KV answer.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { ApiError, Errors } from "../lib/errors.ts";
import { errors, json } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import { HealthResult } from "../shared/schemas.ts";

const health = createRoute({
  method: "get",
  path: "/health",
  tags: ["Server"],
  summary: "Checks that the server and its KV store answer",
  responses: { 200: json(HealthResult, "Healthy"), ...errors(503) },
});

/** The health check route. */
export function healthRoutes(deps: Services) {
  const app = newRouter();
  app.openapi(health, async (c) => {
    try {
      await deps.health.ping();
    } catch {
      throw new ApiError(Errors.unavailable);
    }
    return c.json({ status: "ok" as const }, 200);
  });
  return app;
}

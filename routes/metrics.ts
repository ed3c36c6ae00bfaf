/**
 * `/metrics`: the process's counters in the Prometheus text format, for a
 * scraper holding `METRICS_TOKEN`. Without the variable the route is absent.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { timingSafeEqual } from "node:crypto";
import { ApiError, Errors } from "../lib/errors.ts";
import { renderMetrics } from "../lib/metrics.ts";
import { errors } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";

const scrape = createRoute({
  method: "get",
  path: "/metrics",
  tags: ["Server"],
  security: [{ bearer: [] }],
  summary: "Prometheus metrics; needs METRICS_TOKEN as the bearer token",
  description: "Answers 404 unless the server was started with `METRICS_TOKEN`.",
  responses: {
    200: {
      description: "Prometheus text format 0.0.4",
      content: { "text/plain": { schema: z.string() } },
    },
    ...errors(401, 404),
  },
});

/** The metrics route. */
export function metricsRoutes(s: Services) {
  const app = newRouter();
  app.openapi(scrape, (c) => {
    const expected = s.config.metricsToken;
    if (!expected) throw new ApiError(Errors.notFound);
    const given = c.req.header("authorization")?.match(/^Bearer (.+)$/)?.[1] ?? "";
    if (!sameText(given, expected)) throw new ApiError(Errors.unauthorized);
    const text = renderMetrics({ streamsOpen: s.hub.streamCount });
    return c.text(text, 200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
  });
  return app;
}

function sameText(a: string, b: string): boolean {
  const x = new TextEncoder().encode(a), y = new TextEncoder().encode(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * `/api/me`: the signed-in user.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { requireUser } from "../http/middleware/auth.ts";
import { errors, json, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import { MeResult } from "../shared/schemas.ts";

const me = createRoute({
  method: "get",
  path: "/me",
  tags: ["Accounts"],
  security: signedIn,
  summary: "The signed-in user and their total unread count",
  responses: { 200: json(MeResult, "The signed-in user"), ...errors(401) },
});

/** The `/me` route. */
export function meRoutes(deps: Services) {
  const app = newRouter();
  app.use("/me", requireUser(deps));
  app.openapi(me, async (c) => {
    return c.json({ user: c.var.user, unread: await deps.rooms.unreadTotal(c.var.user.id) }, 200);
  });
  return app;
}

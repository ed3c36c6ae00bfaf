/**
 * `/api/users`: who is here, and who is online.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { requireUser } from "../http/middleware/auth.ts";
import { errors, json, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import { UserList, UsersQuery } from "../shared/schemas.ts";

const users = createRoute({
  method: "get",
  path: "/users",
  tags: ["Presence"],
  security: signedIn,
  summary: "Users with online and lastSeen, alphabetically; ?online=true for those online",
  request: { query: UsersQuery },
  responses: { 200: json(UserList, "Users"), ...errors(400, 401) },
});

/** The user directory route. */
export function userRoutes(s: Services) {
  const app = newRouter();
  app.use("/users", requireUser(s));
  app.openapi(users, async (c) => {
    const { online, limit } = c.req.valid("query");
    const onlineOnly = online === "true";
    const list = await s.users.withPresence(c.var.user.id, { onlineOnly, limit });
    return c.json({ users: list }, 200);
  });
  return app;
}

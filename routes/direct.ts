/**
 * `/api/direct/:username`: the one-to-one conversation with another user.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { requireUser } from "../http/middleware/auth.ts";
import { errors, json, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import { DirectParams, RoomResult } from "../shared/schemas.ts";

const direct = createRoute({
  method: "post",
  path: "/direct/{username}",
  tags: ["Rooms"],
  security: signedIn,
  summary: "Open the direct conversation with a user; the same room from both sides",
  request: { params: DirectParams },
  responses: {
    201: json(RoomResult, "Created; the other user gets a room event"),
    200: json(RoomResult, "It already existed"),
    ...errors(400, 401, 404),
  },
});

/** The direct conversation route. */
export function directRoutes(s: Services) {
  const app = newRouter();
  app.use("/direct/*", requireUser(s));
  app.openapi(direct, async (c) => {
    const { room, created } = await s.directs.open(c.var.user, c.req.valid("param").username);
    return c.json({ room }, created ? 201 : 200);
  });
  return app;
}

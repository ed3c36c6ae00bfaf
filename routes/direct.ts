/**
 * `/api/direct/:username`: the one-to-one conversation with another user.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { requireUser } from "../http/middleware/auth.ts";
import { errors, json, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import { DirectBody, DirectParams, RoomResult } from "../shared/schemas.ts";

const direct = createRoute({
  method: "post",
  path: "/direct/{username}",
  tags: ["Rooms"],
  security: signedIn,
  summary: "Open the direct conversation with a user; the same room from both sides",
  description: "The body is optional: `{encrypted: true}` creates it end-to-end encrypted " +
    "(docs/encryption.md); opening one that exists leaves its encryption as it is.",
  request: {
    params: DirectParams,
    body: { content: { "application/json": { schema: DirectBody } }, required: false },
  },
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
    const { username } = c.req.valid("param");
    const { encrypted } = c.req.valid("json");
    const { room, created } = await s.directs.open(c.var.user, username, encrypted);
    return c.json({ room }, created ? 201 : 200);
  });
  return app;
}

/**
 * `/api/invites`: invitations into rooms, which their invitee accepts or
 * declines. Sending one is `POST /api/rooms/:id/members`.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { requireUser } from "../http/middleware/auth.ts";
import { errors, json, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import { InvitationList, RoomParams, RoomResult } from "../shared/schemas.ts";

const tags = ["Rooms"];
const security = signedIn;

const list = createRoute({
  method: "get",
  path: "/invites",
  tags,
  security,
  summary: "Your pending invitations, newest first",
  responses: { 200: json(InvitationList, "Invitations"), ...errors(401) },
});

const accept = createRoute({
  method: "post",
  path: "/invites/{id}/accept",
  tags,
  security,
  summary: "Accept the invitation into room `id`: you join it",
  request: { params: RoomParams },
  responses: { 200: json(RoomResult, "The room you joined"), ...errors(400, 401, 403, 404, 409) },
});

const decline = createRoute({
  method: "post",
  path: "/invites/{id}/decline",
  tags,
  security,
  summary: "Decline the invitation into room `id`",
  request: { params: RoomParams },
  responses: { 204: { description: "Declined" }, ...errors(400, 401, 403, 404) },
});

/** The invitation routes. */
export function inviteRoutes(s: Services) {
  const app = newRouter();
  app.use("/invites", requireUser(s));
  app.use("/invites/*", requireUser(s));
  app.openapi(
    list,
    async (c) => c.json({ invitations: await s.invitations.list(c.var.user.id) }, 200),
  );
  app.openapi(accept, async (c) => {
    const room = await s.invitations.accept(c.var.user, c.req.valid("param").id);
    return c.json({ room }, 200);
  });
  app.openapi(decline, async (c) => {
    await s.invitations.decline(c.var.user, c.req.valid("param").id);
    return c.body(null, 204);
  });
  return app;
}

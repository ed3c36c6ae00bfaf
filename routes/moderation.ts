/**
 * Room moderation routes: roles, removing and banning members, the room's
 * audit log, and deleting a room.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { requireUser } from "../http/middleware/auth.ts";
import { errors, json, jsonBody, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import {
  AuditPage,
  AuditQuery,
  BanBody,
  BanList,
  MemberParams,
  RoleBody,
  RoomParams,
} from "../shared/schemas.ts";

const tags = ["Moderation"];
const security = signedIn;

const role = createRoute({
  method: "put",
  path: "/rooms/{id}/members/{userId}/role",
  tags,
  security,
  summary: "Set a member's role (owner only); `owner` hands the room over",
  description: "The former owner becomes a moderator. Members get a `member` event with " +
    '`action: "role"`.',
  request: { params: MemberParams, ...jsonBody(RoleBody) },
  responses: { 204: { description: "Set" }, ...errors(400, 401, 403, 404) },
});

const kick = createRoute({
  method: "delete",
  path: "/rooms/{id}/members/{userId}",
  tags,
  security,
  summary: "Remove a member (owner or moderators, never the owner or a higher role)",
  description: "They may rejoin a public room. Their streams stop carrying the room at once and " +
    'they get a `member` event with `action: "removed"`.',
  request: { params: MemberParams },
  responses: { 204: { description: "Removed" }, ...errors(400, 401, 403, 404) },
});

const ban = createRoute({
  method: "post",
  path: "/rooms/{id}/bans",
  tags,
  security,
  summary: "Ban a user: removed, and refused rejoining, invitations and posting (403 `banned`)",
  request: { params: RoomParams, ...jsonBody(BanBody) },
  responses: { 204: { description: "Banned" }, ...errors(400, 401, 403, 404) },
});

const bans = createRoute({
  method: "get",
  path: "/rooms/{id}/bans",
  tags,
  security,
  summary: "The room's bans in force (owner and moderators)",
  request: { params: RoomParams },
  responses: { 200: json(BanList, "Bans"), ...errors(401, 403, 404) },
});

const unban = createRoute({
  method: "delete",
  path: "/rooms/{id}/bans/{userId}",
  tags,
  security,
  summary: "Lift a ban (owner and moderators)",
  request: { params: MemberParams },
  responses: { 204: { description: "Lifted" }, ...errors(400, 401, 403, 404) },
});

const audit = createRoute({
  method: "get",
  path: "/rooms/{id}/audit",
  tags,
  security,
  summary: "The room's audit log, newest first (owner and moderators)",
  request: { params: RoomParams, query: AuditQuery },
  responses: { 200: json(AuditPage, "A page of the log"), ...errors(400, 401, 403, 404) },
});

const remove = createRoute({
  method: "delete",
  path: "/rooms/{id}",
  tags,
  security,
  summary: "Delete a room (its owner or an administrator); members get `room_deleted`",
  request: { params: RoomParams },
  responses: { 204: { description: "Deleted" }, ...errors(400, 401, 403, 404) },
});

/** The moderation routes. */
export function moderationRoutes(s: Services) {
  const app = newRouter();
  app.use("/rooms/*", requireUser(s));
  app.openapi(role, async (c) => {
    const { id, userId } = c.req.valid("param");
    await s.rooms.setRole(c.var.user, id, userId, c.req.valid("json").role);
    return c.body(null, 204);
  });
  app.openapi(kick, async (c) => {
    const { id, userId } = c.req.valid("param");
    await s.rooms.kick(c.var.user, id, userId);
    return c.body(null, 204);
  });
  app.openapi(ban, async (c) => {
    await s.rooms.ban(c.var.user, c.req.valid("param").id, c.req.valid("json"));
    return c.body(null, 204);
  });
  app.openapi(bans, async (c) => {
    return c.json({ bans: await s.rooms.bans(c.var.user, c.req.valid("param").id) }, 200);
  });
  app.openapi(unban, async (c) => {
    const { id, userId } = c.req.valid("param");
    await s.rooms.unban(c.var.user, id, userId);
    return c.body(null, 204);
  });
  app.openapi(audit, async (c) => {
    const page = await s.rooms.audit(c.var.user, c.req.valid("param").id, c.req.valid("query"));
    return c.json(page, 200);
  });
  app.openapi(remove, async (c) => {
    await s.rooms.delete(c.var.user, c.req.valid("param").id);
    return c.body(null, 204);
  });
  return app;
}

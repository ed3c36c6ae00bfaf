/**
 * `/api/rooms`: creating, browsing, joining, leaving and inviting, members,
 * read markers and typing.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { ApiError, Errors } from "../lib/errors.ts";
import { requireUser } from "../http/middleware/auth.ts";
import { errors, json, jsonBody, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import {
  AddMemberBody,
  CreateRoomBody,
  InvitationResult,
  MemberList,
  PublicRoomList,
  PublicRoomsQuery,
  ReadBody,
  RoomList,
  RoomParams,
  RoomResult,
  RoomSettingsBody,
} from "../shared/schemas.ts";

const tags = ["Rooms"];
const security = signedIn;

const create = createRoute({
  method: "post",
  path: "/rooms",
  tags,
  security,
  summary: "Create a group room; you are its owner and first member",
  request: jsonBody(CreateRoomBody),
  responses: { 201: json(RoomResult, "The new room"), ...errors(400, 401, 403) },
});

const mine = createRoute({
  method: "get",
  path: "/rooms",
  tags,
  security,
  summary: "Your rooms and direct conversations, most recent activity first, with unread counts",
  responses: { 200: json(RoomList, "Your rooms"), ...errors(401) },
});

const directory = createRoute({
  method: "get",
  path: "/rooms/public",
  tags,
  security,
  summary: "Public rooms anyone may join, with member counts",
  request: { query: PublicRoomsQuery },
  responses: { 200: json(PublicRoomList, "Public rooms"), ...errors(400, 401) },
});

const one = createRoute({
  method: "get",
  path: "/rooms/{id}",
  tags,
  security,
  summary: "One of your rooms",
  request: { params: RoomParams },
  responses: { 200: json(RoomResult, "The room"), ...errors(401, 403, 404) },
});

const join = createRoute({
  method: "post",
  path: "/rooms/{id}/join",
  tags,
  security,
  summary: "Join a room by id; joining twice is harmless",
  request: { params: RoomParams },
  responses: {
    200: json(RoomResult, "The room"),
    ...errors(401, 403, 404, 409),
  },
});

const leave = createRoute({
  method: "post",
  path: "/rooms/{id}/leave",
  tags,
  security,
  summary: "Leave a group room",
  request: { params: RoomParams },
  responses: { 204: { description: "Left" }, ...errors(400, 401, 403, 404) },
});

const members = createRoute({
  method: "get",
  path: "/rooms/{id}/members",
  tags,
  security,
  summary: "The room's members, with presence (members only)",
  request: { params: RoomParams },
  responses: { 200: json(MemberList, "Members"), ...errors(401, 403, 404) },
});

const invite = createRoute({
  method: "post",
  path: "/rooms/{id}/members",
  tags,
  security,
  summary: "Invite a user (only the owner may); they join when they accept",
  description: "The invitee gets an `invite` event and sees it in `GET /api/invites`; until " +
    "they accept it they are not a member and see nothing of the room. Inviting someone " +
    "already invited answers the same invitation; a member already, 409; someone who blocked " +
    "you, 403 `blocked`.",
  request: { params: RoomParams, ...jsonBody(AddMemberBody) },
  responses: {
    201: json(InvitationResult, "The invitation"),
    ...errors(400, 401, 403, 404, 409, 429),
  },
});

const read = createRoute({
  method: "post",
  path: "/rooms/{id}/read",
  tags,
  security,
  summary: "Move your read marker forward to seq (never back)",
  request: { params: RoomParams, ...jsonBody(ReadBody) },
  responses: {
    200: json(RoomResult, "The room with its new unread count"),
    ...errors(400, 401, 403, 404),
  },
});

const typing = createRoute({
  method: "post",
  path: "/rooms/{id}/typing",
  tags,
  security,
  summary: "Tell the room you are typing (not stored)",
  request: { params: RoomParams },
  responses: { 204: { description: "Sent" }, ...errors(401, 403, 404) },
});

const settings = createRoute({
  method: "put",
  path: "/rooms/{id}/settings",
  tags,
  security,
  summary: "Your settings of a room: muted rooms count unread but do not notify",
  request: { params: RoomParams, ...jsonBody(RoomSettingsBody) },
  responses: { 200: json(RoomResult, "The room as you now see it"), ...errors(400, 401, 403, 404) },
});

/** The room routes. */
export function roomRoutes(s: Services) {
  const app = newRouter();
  app.use("/rooms", requireUser(s));
  app.use("/rooms/*", requireUser(s));

  app.openapi(create, async (c) => {
    const room = await s.rooms.create(c.var.user, c.req.valid("json"));
    return c.json({ room }, 201);
  });

  app.openapi(mine, async (c) => c.json({ rooms: await s.rooms.mine(c.var.user.id) }, 200));

  app.openapi(directory, async (c) => {
    const rooms = await s.rooms.directory(c.req.valid("query"));
    const shown = rooms.map(({ id, name, capacity, memberCount, createdAt }) => ({
      id,
      name,
      capacity,
      memberCount,
      createdAt,
    }));
    return c.json({ rooms: shown }, 200);
  });

  app.openapi(one, async (c) => {
    const { id } = c.req.valid("param");
    await s.rooms.assertMember(id, c.var.user.id);
    return c.json({ room: await s.rooms.view(id, c.var.user.id) }, 200);
  });

  app.openapi(join, async (c) => {
    const room = await s.rooms.join(c.var.user, c.req.valid("param").id);
    return c.json({ room }, 200);
  });

  app.openapi(leave, async (c) => {
    await s.rooms.leave(c.var.user, c.req.valid("param").id);
    return c.body(null, 204);
  });

  app.openapi(members, async (c) => {
    const { id } = c.req.valid("param");
    return c.json({ members: await s.rooms.members(id, c.var.user.id) }, 200);
  });

  app.openapi(invite, async (c) => {
    const { id } = c.req.valid("param");
    const invitation = await s.invitations.send(c.var.user, id, c.req.valid("json").username);
    return c.json({ invitation }, 201);
  });

  app.openapi(read, async (c) => {
    const { id } = c.req.valid("param");
    const { seq } = c.req.valid("json");
    await s.rooms.assertMember(id, c.var.user.id);
    const room = await s.rooms.view(id, c.var.user.id);
    if (seq > room.lastSeq) {
      throw new ApiError(Errors.invalidInput, { lastSeq: room.lastSeq }, {
        message: "seq is past the room's last message.",
      });
    }
    await s.readMarkers.mark(c.var.user.id, id, seq);
    return c.json({ room: await s.rooms.view(id, c.var.user.id) }, 200);
  });

  app.openapi(settings, async (c) => {
    const room = await s.rooms.settings(c.var.user, c.req.valid("param").id, c.req.valid("json"));
    return c.json({ room }, 200);
  });

  app.openapi(typing, async (c) => {
    const { id } = c.req.valid("param");
    await s.rooms.assertMember(id, c.var.user.id);
    await s.typing.send(id, c.var.user);
    return c.body(null, 204);
  });

  return app;
}

/**
 * `/api/me`: the signed-in user, their settings, their sessions, their
 * password and whom they block.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { deleteCookie } from "hono/cookie";
import { requireUser, SESSION_COOKIE } from "../http/middleware/auth.ts";
import { errors, json, jsonBody, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import type { User } from "../lib/accounts.ts";
import { ApiError, Errors } from "../lib/errors.ts";
import {
  BlockBody,
  BlockList,
  BlockSchema,
  MentionSchema,
  MentionsQuery,
  MeResult,
  MeUpdateBody,
  PasswordChangeBody,
  SessionList,
  SessionParams,
  UserIdParams,
} from "../shared/schemas.ts";

const tags = ["Accounts"];
const security = signedIn;

const me = createRoute({
  method: "get",
  path: "/me",
  tags,
  security,
  summary: "The signed-in user, their total unread count and their settings",
  responses: { 200: json(MeResult, "The signed-in user"), ...errors(401) },
});

const update = createRoute({
  method: "patch",
  path: "/me",
  tags,
  security,
  summary: "Change your settings: who sees your presence",
  request: jsonBody(MeUpdateBody),
  responses: { 200: json(MeResult, "The signed-in user"), ...errors(400, 401, 403) },
});

const sessions = createRoute({
  method: "get",
  path: "/me/sessions",
  tags,
  security,
  summary: "Your sessions: device, address, when started and last used; this one marked",
  responses: { 200: json(SessionList, "Your live sessions"), ...errors(401) },
});

const endOne = createRoute({
  method: "delete",
  path: "/me/sessions/{id}",
  tags,
  security,
  summary: "End one of your sessions: its token stops working and its streams end",
  request: { params: SessionParams },
  responses: { 204: { description: "Ended" }, ...errors(400, 401, 403, 404) },
});

const logoutAll = createRoute({
  method: "post",
  path: "/me/logout-all",
  tags,
  security,
  summary: "End every one of your sessions, this one too",
  responses: { 204: { description: "Signed out everywhere" }, ...errors(401, 403) },
});

const password = createRoute({
  method: "post",
  path: "/me/password",
  tags,
  security,
  summary: "Change your password; every other session ends",
  request: jsonBody(PasswordChangeBody),
  responses: { 204: { description: "Changed" }, ...errors(400, 401, 403, 429) },
});

const blocks = createRoute({
  method: "get",
  path: "/me/blocks",
  tags,
  security,
  summary: "The users you block",
  responses: { 200: json(BlockList, "Your blocks"), ...errors(401) },
});

const block = createRoute({
  method: "post",
  path: "/me/blocks",
  tags,
  security,
  summary: "Block a user: no direct messages or invitations from them, no typing or presence",
  request: jsonBody(BlockBody),
  responses: {
    201: json(z.object({ block: BlockSchema }), "Blocked"),
    ...errors(400, 401, 403, 404),
  },
});

const unblock = createRoute({
  method: "delete",
  path: "/me/blocks/{userId}",
  tags,
  security,
  summary: "Lift a block",
  request: { params: UserIdParams },
  responses: { 204: { description: "Unblocked" }, ...errors(400, 401, 403) },
});

const mentions = createRoute({
  method: "get",
  path: "/me/mentions",
  tags,
  security,
  summary: "Messages that mention you, newest first, across your rooms",
  request: { query: MentionsQuery },
  responses: {
    200: json(
      z.object({ mentions: z.array(MentionSchema), next: z.string().nullable() }),
      "A page of mentions",
    ),
    ...errors(400, 401),
  },
});

/** The `/me` routes. */
export function meRoutes(s: Services) {
  const app = newRouter();
  app.use("/me", requireUser(s));
  app.use("/me/*", requireUser(s));
  const profile = async (user: User) => ({
    user,
    unread: await s.rooms.unreadTotal(user.id),
    ...await s.accounts.settings(user),
  });

  app.openapi(me, async (c) => c.json(await profile(c.var.user), 200));

  app.openapi(update, async (c) => {
    await s.accounts.updateSettings(c.var.user.id, c.req.valid("json"));
    return c.json(await profile(c.var.user), 200);
  });

  app.openapi(sessions, async (c) => {
    const list = await s.sessions.list(c.var.user.id);
    const shown = list.map(({ id, device, address, createdAt, lastUsedAt }) => ({
      id,
      device,
      address,
      createdAt,
      lastUsedAt,
      current: id === c.var.session.id,
    }));
    return c.json({ sessions: shown }, 200);
  });

  app.openapi(endOne, async (c) => {
    const ended = await s.sessions.end(c.var.user.id, [c.req.valid("param").id]);
    if (!ended.length) {
      throw new ApiError(Errors.notFound, undefined, { message: "No such session." });
    }
    return c.body(null, 204);
  });

  app.openapi(logoutAll, async (c) => {
    await s.sessions.end(c.var.user.id, { allBut: null });
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.body(null, 204);
  });

  app.openapi(password, async (c) => {
    const { current, new: next } = c.req.valid("json");
    await s.accounts.changePassword(c.var.user, current, next, c.var.session.id);
    return c.body(null, 204);
  });

  app.openapi(mentions, async (c) => {
    return c.json(await s.messages.mentions(c.var.user.id, c.req.valid("query")), 200);
  });

  app.openapi(blocks, async (c) => c.json({ blocks: await s.blocks.list(c.var.user.id) }, 200));

  app.openapi(block, async (c) => {
    const created = await s.blocks.block(c.var.user, c.req.valid("json").username);
    return c.json({ block: created }, 201);
  });

  app.openapi(unblock, async (c) => {
    await s.blocks.unblock(c.var.user, c.req.valid("param").userId);
    return c.body(null, 204);
  });

  return app;
}

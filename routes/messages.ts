/**
 * `/api/rooms/:id/messages`: sending and history.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { requireUser } from "../http/middleware/auth.ts";
import { errors, json, jsonBody, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import {
  EditBody,
  HistoryPage,
  HistoryQuery,
  MessageParams,
  MessageResult,
  ReactionParams,
  RoomParams,
  SendBody,
} from "../shared/schemas.ts";

const send = createRoute({
  method: "post",
  path: "/rooms/{id}/messages",
  tags: ["Messages"],
  security: signedIn,
  summary: "Send a message; answered only once it is stored",
  description: "In an end-to-end encrypted conversation send `{envelope}` instead of `{text}`: " +
    "text is refused with 400 `encryption_required`, and an envelope sent elsewhere with 400 " +
    "`not_encrypted`. Its `senderDevice` must be an active device of yours " +
    "(docs/encryption.md).",
  request: { params: RoomParams, ...jsonBody(SendBody) },
  responses: {
    201: json(MessageResult, "Stored"),
    200: json(MessageResult, "This clientId was sent before: the original message"),
    ...errors(400, 401, 403, 404, 413, 415, 422, 429),
  },
});

const edit = createRoute({
  method: "patch",
  path: "/rooms/{id}/messages/{seq}",
  tags: ["Messages"],
  security: signedIn,
  summary: "Edit your message: new text, `editedAt`; members get `message_update`",
  description: "In an end-to-end encrypted conversation the edit is `{envelope}` instead of " +
    "`{text}` (400 `encryption_required` for text); elsewhere an envelope is refused (400 " +
    "`not_encrypted`). Encryption notices cannot be edited.",
  request: { params: MessageParams, ...jsonBody(EditBody) },
  responses: { 200: json(MessageResult, "Edited"), ...errors(400, 401, 403, 404, 422) },
});

const reactionRoute = (method: "put" | "delete") =>
  createRoute({
    method,
    path: "/rooms/{id}/messages/{seq}/reactions/{emoji}",
    tags: ["Messages"],
    security: signedIn,
    summary: method === "put"
      ? "React to a message with one emoji (members; twice is harmless)"
      : "Take your reaction back",
    description: "Members get a `reaction` event with the new count. At most 20 different " +
      "reactions a message (409).",
    request: { params: ReactionParams },
    responses: { 204: { description: "Done" }, ...errors(400, 401, 403, 404, 409, 429) },
  });

const remove = createRoute({
  method: "delete",
  path: "/rooms/{id}/messages/{seq}",
  tags: ["Messages"],
  security: signedIn,
  summary: "Delete a message (its author, the room's moderators or an administrator)",
  description: "The message keeps its seq as a tombstone (`deleted: true`, no text); members " +
    "get `message_update`. A deletion by anyone but the author is on the audit log.",
  request: { params: MessageParams },
  responses: { 204: { description: "Deleted" }, ...errors(400, 401, 403, 404) },
});

const history = createRoute({
  method: "get",
  path: "/rooms/{id}/messages",
  tags: ["Messages"],
  security: signedIn,
  summary: "A page of history, ascending by seq: newest by default, or before/after a seq",
  request: { params: RoomParams, query: HistoryQuery },
  responses: { 200: json(HistoryPage, "Messages"), ...errors(400, 401, 403, 404) },
});

/** The message routes. */
export function messageRoutes(s: Services) {
  const app = newRouter();
  app.use("/rooms/:id/messages", requireUser(s));
  app.use("/rooms/:id/messages/*", requireUser(s));

  app.openapi(send, async (c) => {
    const { id } = c.req.valid("param");
    const { message, duplicate } = await s.messages.send(id, c.var.user, c.req.valid("json"));
    return c.json({ message }, duplicate ? 200 : 201);
  });

  app.openapi(edit, async (c) => {
    const { id, seq } = c.req.valid("param");
    const { text, envelope } = c.req.valid("json");
    const change = envelope ? { envelope } : { text: text! };
    const message = await s.messages.edit(c.var.user, id, seq, change);
    return c.json({ message }, 200);
  });

  app.openapi(remove, async (c) => {
    const { id, seq } = c.req.valid("param");
    await s.messages.delete(c.var.user, id, seq);
    return c.body(null, 204);
  });

  for (const method of ["put", "delete"] as const) {
    app.openapi(reactionRoute(method), async (c) => {
      const { id, seq, emoji } = c.req.valid("param");
      await s.messages.react(c.var.user, id, seq, emoji, method === "put");
      return c.body(null, 204);
    });
  }

  app.openapi(history, async (c) => {
    const { id } = c.req.valid("param");
    // Read while membership is checked: one round trip's wait, and nothing is
    // answered unless the check passes.
    const [, page] = await Promise.all([
      s.rooms.assertMember(id, c.var.user.id),
      s.messages.history(c.var.user.id, id, c.req.valid("query")),
    ]);
    return c.json(page, 200);
  });

  return app;
}

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
  HistoryPage,
  HistoryQuery,
  MessageResult,
  RoomParams,
  SendBody,
} from "../shared/schemas.ts";

const send = createRoute({
  method: "post",
  path: "/rooms/{id}/messages",
  tags: ["Messages"],
  security: signedIn,
  summary: "Send a message; answered only once it is stored",
  request: { params: RoomParams, ...jsonBody(SendBody) },
  responses: {
    201: json(MessageResult, "Stored"),
    200: json(MessageResult, "This clientId was sent before: the original message"),
    ...errors(400, 401, 403, 404, 413, 415),
  },
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

  app.openapi(send, async (c) => {
    const { id } = c.req.valid("param");
    const { text, clientId } = c.req.valid("json");
    const { message, duplicate } = await s.messages.send(id, c.var.user, text, clientId);
    return c.json({ message }, duplicate ? 200 : 201);
  });

  app.openapi(history, async (c) => {
    const { id } = c.req.valid("param");
    await s.rooms.assertMember(id, c.var.user.id);
    return c.json(await s.messages.history(id, c.req.valid("query")), 200);
  });

  return app;
}

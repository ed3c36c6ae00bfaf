/**
 * `/api/events`: the signed-in user's live event stream (Server-Sent Events).
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { requireUser } from "../http/middleware/auth.ts";
import { errors, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import { EVENT_ID_MAX } from "../shared/limits.ts";
import { EventsQuery } from "../shared/schemas.ts";

const events = createRoute({
  method: "get",
  path: "/events",
  tags: ["Events"],
  security: signedIn,
  summary: "Live events: message, room, member, presence, read, typing; resumable",
  description: "Server-Sent Events. Every event has an `id`; reconnect with `Last-Event-ID` " +
    "(or `?lastEventId=`) to receive the message, room, member and read events missed, in " +
    "order, then live ones, on any instance. The first event is `ready` (a fresh stream), or " +
    "`reset` when the id cannot be resumed (older than the resume window, or too far behind): " +
    "reload rooms and history then. `typing` and `presence` events are of the moment: they " +
    "carry no id and are never replayed. A comment line keeps the stream alive every 20 s.",
  request: {
    query: EventsQuery,
    headers: z.object({ "last-event-id": z.string().max(EVENT_ID_MAX).optional() }),
  },
  responses: {
    200: {
      description: "An event stream",
      content: { "text/event-stream": { schema: z.string() } },
    },
    ...errors(400, 401, 429),
  },
});

/** The event stream route. */
export function eventRoutes(s: Services) {
  const app = newRouter();
  app.use("/events", requireUser(s));
  app.openapi(events, async (c) => {
    // Hono answers HEAD with the GET handler: a HEAD (which never reads a
    // body) must not subscribe anything, or it would hold a stream for good.
    if (c.req.method !== "GET") {
      return c.body(null, 200, { "content-type": "text/event-stream; charset=utf-8" });
    }
    const lastEventId = c.req.valid("header")["last-event-id"] ?? c.req.valid("query").lastEventId;
    const session = { id: c.var.session.id, expiresAt: c.var.session.expiresAt };
    return await s.hub.subscribe(c.var.user, lastEventId ?? null, session);
  });
  return app;
}

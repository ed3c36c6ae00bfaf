/**
 * The AsyncAPI 3.0 document of the event stream, generated from the same zod
 * schemas that type what the server sends (`shared/events.ts`). Payload
 * schemas are shared with the OpenAPI document's components.
 *
 * @module
 */
import { eventDocs, type EventName, eventSchemaIds, eventSchemas } from "../shared/events.ts";

/** A JSON Schema object, as the OpenAPI document's components hold them. */
type Schemas = Record<string, unknown>;

const RESUME_RULES = "One stream per client: `GET /api/events` with a bearer token or the " +
  "session cookie. Every event carries an SSE `id` except `typing` and `presence`. To resume, " +
  "reconnect with the last id seen in `Last-Event-ID` (or `?lastEventId=`): the server replays " +
  "the message, room, member and read events missed, in order, each once, then live events, " +
  "on any instance. An id it cannot resume (unknown, older than the resume window, or more " +
  "log entries behind than a replay may read) gets `reset` first: reload rooms and history. " +
  "A comment line (`:`) keeps the stream alive every 20 s; `retry:` suggests a reconnect delay.";

/**
 * Builds the document.
 *
 * @param schemas the OpenAPI document's component schemas, which include every event payload.
 * @example
 * ```ts
 * const doc = asyncApiDocument(openapi.components.schemas);
 * doc.asyncapi; // "3.0.0"
 * ```
 */
export function asyncApiDocument(schemas: Schemas) {
  const names = Object.keys(eventSchemas) as EventName[];
  const payloadRef = (name: EventName) => {
    const id = eventSchemaIds[name];
    if (!(id in schemas)) throw new Error(`event schema ${id} is not registered`);
    return { $ref: `#/components/schemas/${id}` };
  };
  return {
    asyncapi: "3.0.0",
    info: {
      title: "Parley event stream",
      version: "0.1.0",
      description: RESUME_RULES,
    },
    defaultContentType: "application/json",
    servers: {
      local: { host: "localhost:8000", protocol: "http", description: "`deno task start`" },
    },
    channels: {
      events: {
        address: "/api/events",
        title: "The signed-in user's events",
        description: "Server-Sent Events (`text/event-stream`). The SSE `event` field is the " +
          "message name below; `data` is its payload as one line of JSON.",
        messages: Object.fromEntries(
          names.map((n) => [n, { $ref: `#/components/messages/${n}` }]),
        ),
      },
    },
    operations: {
      receiveEvents: {
        action: "receive",
        channel: { $ref: "#/channels/events" },
        summary: "Receive live events, resumable with Last-Event-ID",
        messages: names.map((n) => ({ $ref: `#/channels/events/messages/${n}` })),
      },
    },
    components: {
      messages: Object.fromEntries(names.map((n) => [n, {
        name: n,
        title: n,
        summary: eventDocs[n].summary,
        payload: payloadRef(n),
        "x-replayed-on-resume": eventDocs[n].replayed,
        "x-has-id": n !== "typing" && n !== "presence",
      }])),
      schemas,
    },
  };
}

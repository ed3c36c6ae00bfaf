/**
 * The names of the events on `GET /api/events`, with no dependency, so the
 * web app's bundle can list them without carrying the schemas (and zod).
 * `shared/events.ts` has one schema for each, checked against this list.
 *
 * @module
 */

/** Every event type the stream sends. */
export const EVENT_NAMES = [
  "ready",
  "reset",
  "message",
  "room",
  "member",
  "read",
  "presence",
  "typing",
  "invite",
  "block",
  "message_update",
  "reaction",
  "room_deleted",
  "devices",
] as const;

/** The name of an event type. */
export type EventName = (typeof EVENT_NAMES)[number];

/**
 * The event contract of `GET /api/events`: one zod schema per event type.
 * The server encodes every event through these types, the AsyncAPI document
 * is generated from them, the tests validate every event they receive
 * against them, and the clients take their types from here.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import type { EventName } from "./event_names.ts";
import { InvitationSchema, MessageSchema, RoleSchema, RoomSchema, UserSchema } from "./schemas.ts";

export type { EventName };

const RoomIdField = z.string().openapi({ description: "The room the event is about." });

/** The payload of every event type, by event name. */
export const eventSchemas = {
  ready: z.object({
    position: z.string().openapi({ description: "The stream's position: the event's own id." }),
  }).openapi("ReadyEvent"),
  reset: z.object({
    reason: z.string().openapi({ description: "Why the id could not be resumed." }),
  }).openapi("ResetEvent"),
  message: MessageSchema,
  room: z.object({ room: RoomSchema }).openapi("RoomEvent"),
  member: z.object({
    roomId: RoomIdField,
    user: UserSchema,
    action: z.enum(["joined", "left", "removed", "banned", "role"]).openapi({
      description: "`removed` and `banned`: a moderator took them out; `role`: their role changed.",
    }),
    role: RoleSchema.optional().openapi({ description: "Their role now (joined, role)." }),
    reason: z.string().nullable().optional().openapi({
      description: "Why they were removed or banned.",
    }),
    memberCount: z.number().int().openapi({ description: "The room's member count after this." }),
    ownerId: z.string().nullable().openapi({
      description: "The room's owner after this: an owner who leaves hands the room on.",
    }),
  }).openapi("MemberEvent"),
  message_update: MessageSchema.openapi("MessageUpdateEvent"),
  room_deleted: z.object({ roomId: RoomIdField }).openapi("RoomDeletedEvent"),
  invite: z.object({
    invitation: InvitationSchema,
    status: z.enum(["pending", "accepted", "declined"]),
  }).openapi("InviteEvent"),
  block: z.object({
    user: UserSchema,
    blocked: z.boolean().openapi({ description: "false: the block was lifted." }),
  }).openapi("BlockEvent"),
  read: z.object({
    roomId: RoomIdField,
    seq: z.number().int().openapi({ description: "Your read marker in the room now." }),
    mentions: z.number().int().openapi({ description: "Unread messages mentioning you now." }),
  }).openapi("ReadEvent"),
  reaction: z.object({
    roomId: RoomIdField,
    seq: z.number().int(),
    emoji: z.string(),
    userId: z.string().openapi({ description: "Who reacted, or took a reaction back." }),
    added: z.boolean(),
    count: z.number().int().openapi({ description: "How many reacted so now." }),
  }).openapi("ReactionEvent"),
  presence: z.object({
    userId: z.string(),
    username: z.string(),
    online: z.boolean(),
    lastSeen: z.number().int(),
  }).openapi("PresenceEvent"),
  typing: z.object({ roomId: RoomIdField, user: UserSchema }).openapi("TypingEvent"),
  devices: z.object({
    roomId: RoomIdField,
    userId: z.string().openapi({ description: "Whose active devices changed: re-read them." }),
  }).openapi("DevicesEvent"),
} satisfies Record<EventName, z.ZodType>;

/** The component name each payload schema is documented under. */
export const eventSchemaIds = {
  ready: "ReadyEvent",
  reset: "ResetEvent",
  message: "Message",
  room: "RoomEvent",
  member: "MemberEvent",
  read: "ReadEvent",
  presence: "PresenceEvent",
  typing: "TypingEvent",
  invite: "InviteEvent",
  message_update: "MessageUpdateEvent",
  reaction: "ReactionEvent",
  room_deleted: "RoomDeletedEvent",
  block: "BlockEvent",
  devices: "DevicesEvent",
} as const satisfies Record<EventName, string>;

/** The payload of event type `N`. */
export type EventData<N extends EventName> = z.infer<(typeof eventSchemas)[N]>;

/** One event as a client receives it: its type, its id (`null`: it has none) and its payload. */
export type ParleyEvent = {
  [N in EventName]: { type: N; id: string | null; data: EventData<N> };
}[EventName];

/** What each event type means and whether a resume replays it. */
export const eventDocs: Record<EventName, { summary: string; replayed: boolean }> = {
  ready: { summary: "The first event of a fresh stream (no Last-Event-ID).", replayed: false },
  reset: {
    summary: "The first event when Last-Event-ID cannot be resumed (unknown, older than the " +
      "resume window, or too far behind): reload rooms and history, then carry on.",
    replayed: false,
  },
  message: { summary: "A new message in one of your rooms.", replayed: true },
  room: {
    summary: "A room or direct conversation you are now in, as you see it: created, joined, " +
      "added to, or opened by the other side.",
    replayed: true,
  },
  member: { summary: "Someone joined or left one of your rooms.", replayed: true },
  read: { summary: "Your read marker moved (on another device of yours).", replayed: true },
  presence: {
    summary: "Someone who shares a room with you came online or went offline. No id; never " +
      "replayed.",
    replayed: false,
  },
  typing: {
    summary: "Someone is typing in one of your rooms. No id; never replayed.",
    replayed: false,
  },
  message_update: {
    summary: "A message was edited (new text, editedAt) or deleted (a tombstone: deleted, no " +
      "text): replace the one with the same seq. Unread counts do not change.",
    replayed: true,
  },
  reaction: {
    summary: "Someone reacted to a message, or took a reaction back: its count now.",
    replayed: true,
  },
  room_deleted: {
    summary: "A room you were in was deleted by its owner or an administrator.",
    replayed: true,
  },
  invite: {
    summary: "An invitation to you: new (pending), or accepted or declined on another of " +
      "your devices.",
    replayed: true,
  },
  block: { summary: "You blocked someone, or lifted a block (on any device).", replayed: true },
  devices: {
    summary: "A participant of an end-to-end encrypted direct conversation of yours added or " +
      "retired a device: re-read their devices (GET /api/users/:username/devices) before the " +
      "next message, and warn that they changed.",
    replayed: true,
  },
};

/**
 * Validates one received event against the contract.
 *
 * @returns the problem, or `null` when the event is as documented.
 */
export function checkEvent(type: string, data: unknown): string | null {
  const schema = (eventSchemas as Record<string, z.ZodType>)[type];
  if (!schema) return `unknown event type ${type}`;
  const result = schema.safeParse(data);
  return result.success ? null : `${type}: ${z.prettifyError(result.error)}`;
}

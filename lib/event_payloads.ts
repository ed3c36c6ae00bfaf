/**
 * The payloads of the events that need no read, built from a log event in
 * the shape the event contract (`shared/events.ts`) gives them, and their
 * encoding, shared by live delivery and replay.
 *
 * @module
 */
import type { EventData } from "../shared/events.ts";
import type { FeedEvent } from "./feed.ts";
import { encodeEvent } from "./sse.ts";

type Of<T extends FeedEvent["type"]> = Extract<FeedEvent, { type: T }>;

/** A `member` event's payload. */
function memberPayload(e: Of<"member">): EventData<"member"> {
  return {
    roomId: e.roomId,
    user: e.user,
    action: e.action,
    memberCount: e.memberCount,
    ownerId: e.ownerId,
    ...e.role ? { role: e.role } : {},
    ...e.reason !== undefined ? { reason: e.reason } : {},
  };
}

/** A `read` event's payload. */
function readPayload(e: Of<"read">): EventData<"read"> {
  return { roomId: e.roomId, seq: e.seq, mentions: e.mentions };
}

/** A `presence` event's payload. */
export function presencePayload(e: Of<"presence">): EventData<"presence"> {
  return { userId: e.user.id, username: e.user.username, online: e.online, lastSeen: e.lastSeen };
}

/** A `typing` event's payload. */
export function typingPayload(e: Of<"typing">): EventData<"typing"> {
  return { roomId: e.roomId, user: e.user };
}

/** An `invite` event's payload. */
function invitePayload(e: Of<"invite">): EventData<"invite"> {
  return { invitation: e.invitation, status: e.status };
}

/** A `block` event's payload. */
function blockPayload(e: Of<"block">): EventData<"block"> {
  return { user: e.user, blocked: e.blocked };
}

/** A `devices` event's payload. */
function devicesPayload(e: Of<"devices">): EventData<"devices"> {
  return { roomId: e.roomId, userId: e.userId };
}

/** A `reaction` event's payload. */
function reactionPayload(e: Of<"reaction">): EventData<"reaction"> {
  const { roomId, seq, emoji, userId, added, count } = e;
  return { roomId, seq, emoji, userId, added, count };
}

/**
 * Encodes a durable event that needs no read, the same for live delivery and
 * replay; `null` for the others (messages and rooms are read, presence and
 * typing carry no id, ended sessions are never sent).
 *
 * @example
 * ```ts
 * const chunk = encodeStored(event, "ab12:00000000000000000001:1");
 * ```
 */
export function encodeStored(e: FeedEvent, id: string): Uint8Array | null {
  switch (e.type) {
    case "member":
      return encodeEvent("member", id, memberPayload(e));
    case "read":
      return encodeEvent("read", id, readPayload(e));
    case "reaction":
      return encodeEvent("reaction", id, reactionPayload(e));
    case "message_update":
      return encodeEvent("message_update", id, e.message);
    case "devices":
      return encodeEvent("devices", id, devicesPayload(e));
    case "room_deleted":
      return encodeEvent("room_deleted", id, { roomId: e.roomId });
    case "invite":
      return encodeEvent("invite", id, invitePayload(e));
    case "block":
      return encodeEvent("block", id, blockPayload(e));
    default:
      return null;
  }
}

/**
 * The payloads of the events that need no read, built from a log event in
 * the shape the event contract (`shared/events.ts`) gives them.
 *
 * @module
 */
import type { EventData } from "../shared/events.ts";
import type { FeedEvent } from "./feed.ts";

type Of<T extends FeedEvent["type"]> = Extract<FeedEvent, { type: T }>;

/** A `member` event's payload. */
export function memberPayload(e: Of<"member">): EventData<"member"> {
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
export function readPayload(e: Of<"read">): EventData<"read"> {
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
export function invitePayload(e: Of<"invite">): EventData<"invite"> {
  return { invitation: e.invitation, status: e.status };
}

/** A `block` event's payload. */
export function blockPayload(e: Of<"block">): EventData<"block"> {
  return { user: e.user, blocked: e.blocked };
}

/** A `devices` event's payload. */
export function devicesPayload(e: Of<"devices">): EventData<"devices"> {
  return { roomId: e.roomId, userId: e.userId };
}

/** A `reaction` event's payload. */
export function reactionPayload(e: Of<"reaction">): EventData<"reaction"> {
  const { roomId, seq, emoji, userId, added, count } = e;
  return { roomId, seq, emoji, userId, added, count };
}

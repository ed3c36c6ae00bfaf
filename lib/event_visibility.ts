/**
 * Who sees what: the one rule, used by live delivery and by replay alike,
 * that decides whether a user's stream carries an event of the log.
 *
 * @module
 */
import { type FeedEvent, isEphemeral } from "./feed.ts";

/** A user looking at the log: the rooms they are in now, and whom they block. */
export interface Viewer {
  id: string;
  inRoom(roomId: string): boolean;
  blocks(userId: string): boolean;
}

/**
 * Whether `viewer` receives `event`.
 *
 * @param subjectRooms for a `presence` event, the rooms of the user whose presence changed.
 * @example
 * ```ts
 * sees({ type: "read", userId: "u1", roomId: "r", seq: 3 }, { id: "u1", inRoom: () => true }); // true
 * ```
 */
export function sees(event: FeedEvent, viewer: Viewer, subjectRooms: string[] = []): boolean {
  switch (event.type) {
    case "message":
      return viewer.inRoom(event.roomId);
    case "member":
      // The member themselves learns it too: joining or leaving changes their rooms.
      return event.user.id === viewer.id || viewer.inRoom(event.roomId);
    case "room":
      // The room itself is then shown only to those who are still members.
      return event.userIds.includes(viewer.id);
    case "read":
      return event.userId === viewer.id;
    case "typing":
      return event.user.id !== viewer.id && viewer.inRoom(event.roomId) &&
        !viewer.blocks(event.user.id);
    case "presence":
      return event.user.id !== viewer.id && subjectRooms.some((r) => viewer.inRoom(r)) &&
        !viewer.blocks(event.user.id);
    case "message_update":
    case "reaction":
    case "devices":
      return viewer.inRoom(event.roomId);
    case "room_deleted":
      return event.userIds.includes(viewer.id) || viewer.inRoom(event.roomId);
    case "invite":
    case "block":
      return event.userId === viewer.id;
    case "sessions_ended":
      return false; // for the instances, not for clients
  }
}

/** Whether a resume replays an event: typing and presence are of the moment. */
export function isReplayed(event: FeedEvent): boolean {
  return !isEphemeral(event);
}

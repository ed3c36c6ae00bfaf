/**
 * Direct conversations: the one room two users share, opened from either
 * side. Its conflict domain is the pair: the commit checks the pair's
 * `directs` key, so two users opening it at once get one room.
 *
 * @module
 */
import { findUserByName, type User } from "./accounts.ts";
import { ApiError, Errors } from "./errors.ts";
import { domainOf, type FeedWriter, noChange, type Op } from "./feed.ts";
import { newId } from "./ids.ts";
import { directKey, memberKey, membershipKey, roomHeadKey, roomKey } from "./keys.ts";
import { assertNotBlocked } from "./blocks.ts";
import { rejoinDirect, type StoredMember } from "./members.ts";
import type { RoomHead } from "./messages.ts";
import { getRoomView, type RoomView, type StoredRoom } from "./rooms.ts";

/**
 * Opens the one direct conversation between `user` and `peerName`, creating
 * it the first time, end-to-end encrypted when `encrypted`; opening an
 * existing one leaves its encryption as it is. Both users get a `room` event
 * when it is created.
 *
 * @throws {ApiError} `user_not_found`; `invalid_input` for oneself; `blocked`
 * when the other user has blocked this one.
 */
export async function openDirect(
  feed: FeedWriter,
  user: User,
  peerName: string,
  encrypted = false,
): Promise<{ room: RoomView; created: boolean }> {
  const peer = await findUserByName(feed.kv, peerName);
  if (!peer) throw new ApiError(Errors.userNotFound, { username: peerName });
  if (peer.id === user.id) {
    throw new ApiError(Errors.invalidInput, undefined, {
      message: "A direct conversation needs someone else.",
    });
  }
  await assertNotBlocked(feed.kv, peer.id, user.id);
  const domain = domainOf.pair(user.id, peer.id);
  const opened = await feed.run(domain, async (kv, now): Promise<Op<Opened>> => {
    const existing = await kv.get<string>(directKey(user.id, peer.id));
    if (existing.value) return noChange({ roomId: existing.value, created: false });
    const room: StoredRoom = {
      id: newId(),
      name: "",
      kind: "direct",
      capacity: 2,
      private: true,
      ownerId: null,
      createdAt: now,
      memberCount: 2,
      peers: [user, peer],
      encrypted,
    };
    const head: RoomHead = { seq: 0, lastMessage: null, lastActivityAt: now };
    return {
      checks: [existing],
      events: [{ type: "room", roomId: room.id, userIds: [user.id, peer.id] }],
      apply(op) {
        op.set(directKey(user.id, peer.id), room.id);
        op.set(roomKey(room.id), room).set(roomHeadKey(room.id), head);
        for (const u of [user, peer]) {
          op.set(
            memberKey(room.id, u.id),
            { role: "member", joinedAt: now } satisfies StoredMember,
          );
          op.set(membershipKey(u.id, room.id), now);
        }
      },
      value: { roomId: room.id, created: true },
    };
  });
  // Someone who had left it is back in it when they open it again.
  if (!opened.created) await rejoinDirect(feed, user, opened.roomId);
  return { room: await getRoomView(feed.kv, opened.roomId, user.id), created: opened.created };
}

interface Opened {
  roomId: string;
  created: boolean;
}

/**
 * Members and invitations: joining, leaving, adding someone to a room (the
 * invitation of a private room), member lists and the membership check.
 *
 * Every change here is in the room's conflict domain: its commit checks the
 * room record, which every change of membership rewrites (member count).
 *
 * @module
 */
import { findUserByName, getUsers, type User } from "./accounts.ts";
import { ApiError, Errors } from "./errors.ts";
import { domainOf, type FeedWriter, noChange, type Op } from "./feed.ts";
import {
  inviteKey,
  memberKey,
  membershipKey,
  membersPrefix,
  readMarkerKey,
  roomHeadKey,
  roomKey,
} from "./keys.ts";
import type { RoomHead } from "./messages.ts";
import { getPresence } from "./presence.ts";
import type { Member } from "../shared/api_types.ts";
import { unreadCount } from "./read_markers.ts";
import { type RoomView, roomView, type StoredRoom } from "./rooms.ts";

/** A membership as stored under the room. */
export interface StoredMember {
  role: "owner" | "member";
  joinedAt: number;
}

/**
 * Joins a group room. Joining twice is harmless.
 *
 * @throws {ApiError} `room_not_found`, `private_room` (not invited) or `room_full`.
 */
export function joinRoom(feed: FeedWriter, user: User, roomId: string): Promise<RoomView> {
  return feed.run(domainOf.room(roomId), async (kv, now): Promise<Op<RoomView>> => {
    const [room, head, member, invite, read] = await kv.getMany<
      [StoredRoom, RoomHead, StoredMember, boolean, Deno.KvU64]
    >([
      roomKey(roomId),
      roomHeadKey(roomId),
      memberKey(roomId, user.id),
      inviteKey(roomId, user.id),
      readMarkerKey(user.id, roomId),
    ]);
    if (!room.value || !head.value) throw new ApiError(Errors.roomNotFound);
    if (member.value) {
      return noChange(
        roomView(room.value, head.value, unreadCount(head.value, read.value), user.id),
      );
    }
    if (room.value.kind === "direct" || (room.value.private && !invite.value)) {
      throw new ApiError(Errors.privateRoom);
    }
    if (room.value.memberCount >= room.value.capacity) {
      throw new ApiError(Errors.roomFull, { capacity: room.value.capacity });
    }
    return {
      ...addMemberPlan(room.value, head.value, user, now, [user.id]),
      checks: [room, head],
    };
  });
}

/**
 * Adds `username` to a room; only its owner may. In a private room this is
 * the invitation: someone who leaves needs a new one to come back.
 *
 * @throws {ApiError} `not_owner`, `user_not_found`, `room_full`.
 */
export function addMember(
  feed: FeedWriter,
  owner: User,
  roomId: string,
  username: string,
): Promise<{ room: RoomView; user: User }> {
  const domain = domainOf.room(roomId);
  return feed.run(domain, async (kv, now): Promise<Op<{ room: RoomView; user: User }>> => {
    const invitee = await findUserByName(kv, username);
    const [room, head] = await kv.getMany<[StoredRoom, RoomHead]>([
      roomKey(roomId),
      roomHeadKey(roomId),
    ]);
    if (!room.value || !head.value) throw new ApiError(Errors.roomNotFound);
    if (room.value.ownerId !== owner.id || room.value.kind !== "group") {
      throw new ApiError(Errors.notOwner);
    }
    if (!invitee) throw new ApiError(Errors.userNotFound, { username });
    const [member, ownerMember] = await kv.getMany<[StoredMember, StoredMember]>([
      memberKey(roomId, invitee.id),
      memberKey(roomId, owner.id),
    ]);
    if (!ownerMember.value) throw new ApiError(Errors.notMember);
    const seen = roomView(room.value, head.value, 0, owner.id);
    if (member.value) return noChange({ room: seen, user: invitee });
    if (room.value.memberCount >= room.value.capacity) {
      throw new ApiError(Errors.roomFull, { capacity: room.value.capacity });
    }
    const plan = addMemberPlan(room.value, head.value, invitee, now, [invitee.id]);
    return {
      ...plan,
      checks: [room, head],
      apply(op) {
        plan.apply(op);
        op.set(inviteKey(roomId, invitee.id), true);
      },
      value: { room: { ...seen, memberCount: seen.memberCount + 1 }, user: invitee },
    };
  });
}

/** The writes of one user becoming a member; their unread count starts at the room's head. */
function addMemberPlan(
  room: StoredRoom,
  head: RoomHead,
  user: User,
  now: number,
  notify: string[],
): Op<RoomView> {
  const updated = { ...room, memberCount: room.memberCount + 1 };
  const role = room.ownerId === user.id ? "owner" : "member";
  return {
    checks: [],
    events: [
      { type: "member", roomId: room.id, user, action: "joined", memberCount: updated.memberCount },
      { type: "room", roomId: room.id, userIds: notify },
    ],
    apply(op) {
      op.set(roomKey(room.id), updated);
      op.set(memberKey(room.id, user.id), { role, joinedAt: now } satisfies StoredMember);
      op.set(membershipKey(user.id, room.id), now);
      op.max(readMarkerKey(user.id, room.id), BigInt(head.seq));
    },
    value: roomView(updated, head, 0, user.id),
  };
}

/**
 * Leaves a group room. Leaving a room one is not in is harmless.
 *
 * @throws {ApiError} `room_not_found`; `invalid_input` for a direct conversation.
 */
export function leaveRoom(feed: FeedWriter, user: User, roomId: string): Promise<void> {
  return feed.run(domainOf.room(roomId), async (kv): Promise<Op<void>> => {
    const [room, member] = await kv.getMany<[StoredRoom, StoredMember]>([
      roomKey(roomId),
      memberKey(roomId, user.id),
    ]);
    if (!room.value) throw new ApiError(Errors.roomNotFound);
    if (room.value.kind === "direct") {
      throw new ApiError(Errors.invalidInput, undefined, {
        message: "A direct conversation cannot be left.",
      });
    }
    if (!member.value) return noChange(undefined);
    const updated = { ...room.value, memberCount: room.value.memberCount - 1 };
    return {
      checks: [room],
      events: [{ type: "member", roomId, user, action: "left", memberCount: updated.memberCount }],
      apply(op) {
        op.set(roomKey(roomId), updated);
        op.delete(memberKey(roomId, user.id)).delete(membershipKey(user.id, roomId));
        // Coming back into a private room takes a new invitation.
        op.delete(inviteKey(roomId, user.id));
      },
      value: undefined,
    };
  });
}

/** The user ids and roles of a room's members. */
export async function listMemberIds(
  kv: Deno.Kv,
  roomId: string,
): Promise<{ userId: string; role: StoredMember["role"] }[]> {
  const members = [];
  for await (const e of kv.list<StoredMember>({ prefix: membersPrefix(roomId) })) {
    members.push({ userId: e.key[2] as string, role: e.value.role });
  }
  return members;
}

/**
 * Requires that the room exists and `userId` is a member of it.
 *
 * @throws {ApiError} `room_not_found` or `not_member`.
 */
export async function assertMember(kv: Deno.Kv, roomId: string, userId: string): Promise<void> {
  const [room, member] = await kv.getMany<[StoredRoom, StoredMember]>([
    roomKey(roomId),
    memberKey(roomId, userId),
  ]);
  if (!room.value) throw new ApiError(Errors.roomNotFound);
  if (!member.value) throw new ApiError(Errors.notMember);
}

/**
 * A room's members with their roles and whether they are online, for a
 * member of the room.
 *
 * @throws {ApiError} `room_not_found` or `not_member`.
 */
export async function listMembers(
  kv: Deno.Kv,
  roomId: string,
  asUserId: string,
): Promise<Member[]> {
  await assertMember(kv, roomId, asUserId);
  const list = await listMemberIds(kv, roomId);
  const ids = list.map((m) => m.userId);
  const [users, presence] = await Promise.all([getUsers(kv, ids), getPresence(kv, ids)]);
  return list.flatMap((m, i) => {
    const user = users[i];
    return user ? [{ ...user, role: m.role, online: presence[i].online }] : [];
  });
}

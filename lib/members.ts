/**
 * Members: joining (a public room, or a private one with an invitation),
 * leaving, member lists and the membership check.
 *
 * Every change here is in the room's conflict domain: its commit checks the
 * room record, which every change of membership rewrites (member count).
 *
 * @module
 */
import { getUsers, type User } from "./accounts.ts";
import { assertNotBanned } from "./moderation.ts";
import { ApiError, Errors } from "./errors.ts";
import {
  domainOf,
  type FeedEvent,
  type FeedWriter,
  type MemberAction,
  noChange,
  type Op,
  type Writes,
} from "./feed.ts";
import { type Invitation, removeInvitation } from "./invitations.ts";
import {
  inviteKey,
  memberKey,
  membershipKey,
  membersPrefix,
  publicRoomKey,
  readMarkerKey,
  roomHeadKey,
  roomKey,
  roomSettingsKey,
} from "./keys.ts";
import type { RoomHead } from "./messages.ts";
import { getPresence } from "./presence.ts";
import type { Member, Role } from "../shared/api_types.ts";
import { unreadCount } from "./read_markers.ts";
import { roomIdsOf, type RoomView, roomView, type StoredRoom } from "./rooms.ts";

/** A membership as stored under the room. */
export interface StoredMember {
  role: Role;
  joinedAt: number;
}

/** How roles rank: someone may act only on lower ranks. */
export const ROLE_RANK: Record<Role, number> = { owner: 3, moderator: 2, member: 1 };

/**
 * Joins a group room: a public one freely, a private one with an invitation.
 * An invitation is used up by joining. Joining twice is harmless.
 *
 * @param mustBeInvited accepting an invitation: without one it is refused.
 * @throws {ApiError} `room_not_found`, `private_room` (not invited), `room_full`,
 * `no_invitation` (with `mustBeInvited`).
 */
export function joinRoom(
  feed: FeedWriter,
  user: User,
  roomId: string,
  mustBeInvited = false,
): Promise<RoomView> {
  return feed.run(domainOf.room(roomId), async (kv, now): Promise<Op<RoomView>> => {
    const [room, head, member, invite, read] = await kv.getMany<
      [StoredRoom, RoomHead, StoredMember, Invitation, Deno.KvU64]
    >([
      roomKey(roomId),
      roomHeadKey(roomId),
      memberKey(roomId, user.id),
      inviteKey(roomId, user.id),
      readMarkerKey(user.id, roomId),
    ]);
    if (mustBeInvited && !invite.value && !member.value) throw new ApiError(Errors.notInvited);
    if (!room.value || !head.value || room.value.deleted) throw new ApiError(Errors.roomNotFound);
    await assertNotBanned(kv, roomId, user.id, now);
    if (member.value) {
      return noChange(
        roomView(room.value, head.value, unreadCount(head.value, read.value), user.id),
      );
    }
    if (room.value.kind === "direct" || (room.value.private && !invite.value)) {
      throw new ApiError(Errors.privateRoom);
    }
    // Databases from before invitations were asked held `true` here: no invitation to announce.
    const invitation = typeof invite.value === "object" ? invite.value : null;
    if (room.value.memberCount >= room.value.capacity) {
      throw new ApiError(Errors.roomFull, { capacity: room.value.capacity });
    }
    const plan = addMemberPlan(room.value, head.value, user, now);
    if (!invite.value) return { ...plan, checks: [room, head] };
    const accepted = invitation
      ? [{ type: "invite" as const, userId: user.id, invitation, status: "accepted" as const }]
      : [];
    return {
      ...plan,
      checks: [room, head, invite],
      events: [...plan.events, ...accepted],
      apply(op) {
        plan.apply(op);
        removeInvitation(op, roomId, user.id);
      },
    };
  });
}

/** The writes of one user becoming a member; their unread count starts at the room's head. */
function addMemberPlan(room: StoredRoom, head: RoomHead, user: User, now: number): Op<RoomView> {
  const updated = { ...room, memberCount: room.memberCount + 1 };
  const role = room.ownerId === user.id ? "owner" : "member";
  return {
    checks: [],
    events: [
      memberEvent(updated, user, "joined", { role }),
      { type: "room", roomId: room.id, userIds: [user.id] },
    ],
    apply(op) {
      op.set(roomKey(room.id), updated);
      op.set(memberKey(room.id, user.id), { role, joinedAt: now } satisfies StoredMember);
      op.set(membershipKey(user.id, room.id), now);
      op.max(readMarkerKey(user.id, room.id), BigInt(head.seq));
      if (!room.private && room.kind === "group") op.set(publicRoomKey(room.id), true);
    },
    value: roomView(updated, head, 0, user.id),
  };
}

/**
 * A `member` event: what happened to whom, and the room's member count and
 * owner after it.
 */
export function memberEvent(
  room: StoredRoom,
  user: User,
  action: MemberAction,
  extra: { role?: Role; reason?: string | null } = {},
): Extract<FeedEvent, { type: "member" }> {
  return {
    type: "member",
    roomId: room.id,
    user,
    action,
    memberCount: room.memberCount,
    ownerId: room.ownerId,
    ...extra,
  };
}

/** The writes that bring a user back into a direct conversation they had left. */
export function rejoinPlan(room: StoredRoom, user: User, now: number) {
  const updated = { ...room, memberCount: room.memberCount + 1 };
  return {
    events: [
      memberEvent(updated, user, "joined"),
      { type: "room" as const, roomId: room.id, userIds: [user.id] },
    ],
    apply(op: Writes) {
      op.set(roomKey(room.id), updated);
      op.set(memberKey(room.id, user.id), { role: "member", joinedAt: now } satisfies StoredMember);
      op.set(membershipKey(user.id, room.id), now);
    },
  };
}

/**
 * Brings `user` back into a direct conversation they had left (they open it
 * again); nothing to do if they are in it.
 */
export function rejoinDirect(feed: FeedWriter, user: User, roomId: string): Promise<void> {
  return feed.run(domainOf.room(roomId), async (kv, now): Promise<Op<void>> => {
    const [room, member] = await kv.getMany<[StoredRoom, StoredMember]>([
      roomKey(roomId),
      memberKey(roomId, user.id),
    ]);
    if (!room.value) throw new ApiError(Errors.roomNotFound);
    if (member.value || room.value.kind !== "direct") return noChange(undefined);
    return { ...rejoinPlan(room.value, user, now), checks: [room], value: undefined };
  });
}

/**
 * Leaves a room or a direct conversation; leaving one you are not in is
 * harmless. A direct conversation comes back when the other side writes. An
 * owner who leaves hands the room to its longest-standing member; a room
 * nobody is left in drops out of the public directory.
 *
 * @throws {ApiError} `room_not_found`.
 */
export function leaveRoom(feed: FeedWriter, user: User, roomId: string): Promise<void> {
  return feed.run(domainOf.room(roomId), async (kv): Promise<Op<void>> => {
    const [room, member] = await kv.getMany<[StoredRoom, StoredMember]>([
      roomKey(roomId),
      memberKey(roomId, user.id),
    ]);
    if (!room.value) throw new ApiError(Errors.roomNotFound);
    if (!member.value) return noChange(undefined);
    let heir: { userId: string; member: StoredMember } | undefined;
    if (room.value.kind === "group" && room.value.ownerId === user.id) {
      heir = await longestStanding(kv, roomId, user.id);
    }
    const updated: StoredRoom = {
      ...room.value,
      memberCount: room.value.memberCount - 1,
      ownerId: room.value.ownerId === user.id ? heir?.userId ?? null : room.value.ownerId,
    };
    return {
      checks: [room],
      events: [memberEvent(updated, user, "left")],
      apply(op) {
        op.set(roomKey(roomId), updated);
        op.delete(memberKey(roomId, user.id)).delete(membershipKey(user.id, roomId))
          .delete(roomSettingsKey(user.id, roomId));
        if (heir) op.set(memberKey(roomId, heir.userId), { ...heir.member, role: "owner" });
        if (!updated.memberCount) op.delete(publicRoomKey(roomId));
      },
      value: undefined,
    };
  });
}

/** The member who joined first, other than `exceptId`. */
async function longestStanding(
  kv: Deno.Kv,
  roomId: string,
  exceptId: string,
): Promise<{ userId: string; member: StoredMember } | undefined> {
  let best: { userId: string; member: StoredMember } | undefined;
  for await (const e of kv.list<StoredMember>({ prefix: membersPrefix(roomId) })) {
    const userId = e.key[2] as string;
    if (userId === exceptId) continue;
    if (!best || e.value.joinedAt < best.member.joinedAt) best = { userId, member: e.value };
  }
  return best;
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
  if (!room.value || room.value.deleted) throw new ApiError(Errors.roomNotFound);
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

/** Everyone who shares a room or a direct conversation with `userId`. */
export async function contactsOf(kv: Deno.Kv, userId: string): Promise<Set<string>> {
  const contacts = new Set<string>();
  for (const roomId of await roomIdsOf(kv, userId)) {
    for (const m of await listMemberIds(kv, roomId)) contacts.add(m.userId);
  }
  return contacts;
}

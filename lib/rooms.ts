/**
 * Rooms and direct conversations: creating, joining, leaving, inviting,
 * listing, and each member's unread count.
 *
 * Every change here is one feed operation, planned from reads that the feed
 * head's check guards and committed in one atomic commit together with the
 * events it causes.
 *
 * @module
 */
import { findUserByName, type User } from "./accounts.ts";
import { ApiError, Errors } from "./errors.ts";
import { domainOf, type FeedWriter, type Plan } from "./feed.ts";
import { newId } from "./ids.ts";
import {
  directKey,
  inviteKey,
  memberKey,
  membershipKey,
  membershipsPrefix,
  membersPrefix,
  publicRoomKey,
  publicRoomsPrefix,
  readMarkerKey,
  roomHeadKey,
  roomKey,
} from "./keys.ts";
import { getManyChunked } from "./get_many.ts";
import { CAPACITY_DEFAULT } from "../shared/limits.ts";
import type { Message, RoomHead } from "./messages.ts";

/** A room as stored. */
export interface StoredRoom {
  id: string;
  name: string;
  kind: "group" | "direct";
  capacity: number;
  private: boolean;
  ownerId: string | null;
  createdAt: number;
  memberCount: number;
  /** The two users of a direct conversation. */
  peers?: User[];
}

/** A membership as stored under the room. */
export interface StoredMember {
  role: "owner" | "member";
  joinedAt: number;
}

/** A room as one user sees it. */
export interface RoomView extends Omit<StoredRoom, "peers"> {
  lastSeq: number;
  lastMessage: Message | null;
  lastActivityAt: number;
  unread: number;
  /** In a direct conversation: the other user. Its `name` is their username. */
  peer?: User;
}

type Op<T> = Plan & { value: T };

/** Creates a group room whose owner and first member is `owner`. */
export function createRoom(
  feed: FeedWriter,
  owner: User,
  input: { name: string; capacity?: number; private?: boolean },
): Promise<RoomView> {
  // A new room's keys are new: nothing to check.
  return feed.run(null, (_kv, now): Promise<Op<RoomView>> => {
    const room: StoredRoom = {
      id: newId(),
      name: input.name,
      kind: "group",
      capacity: input.capacity ?? CAPACITY_DEFAULT,
      private: input.private ?? false,
      ownerId: owner.id,
      createdAt: now,
      memberCount: 1,
    };
    const head: RoomHead = { seq: 0, lastMessage: null, lastActivityAt: now };
    return Promise.resolve({
      checks: [],
      events: [{ type: "room", roomId: room.id, userIds: [owner.id] }],
      apply(op) {
        op.set(roomKey(room.id), room).set(roomHeadKey(room.id), head);
        op.set(
          memberKey(room.id, owner.id),
          { role: "owner", joinedAt: now } satisfies StoredMember,
        );
        op.set(membershipKey(owner.id, room.id), now);
        if (room.private) op.set(inviteKey(room.id, owner.id), true);
        else op.set(publicRoomKey(room.id), true);
      },
      value: view(room, head, 0, owner.id),
    });
  });
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
      return noChange(view(room.value, head.value, unread(head.value, read.value), user.id));
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
    const seen = view(room.value, head.value, 0, owner.id);
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
      { type: "member", roomId: room.id, user, action: "joined" },
      { type: "room", roomId: room.id, userIds: notify },
    ],
    apply(op) {
      op.set(roomKey(room.id), updated);
      op.set(memberKey(room.id, user.id), { role, joinedAt: now } satisfies StoredMember);
      op.set(membershipKey(user.id, room.id), now);
      op.max(readMarkerKey(user.id, room.id), BigInt(head.seq));
    },
    value: view(updated, head, 0, user.id),
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
      events: [{ type: "member", roomId, user, action: "left" }],
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

/**
 * Opens the one direct conversation between `user` and `peerName`, creating
 * it the first time. Both users get a `room` event when it is created.
 *
 * @throws {ApiError} `user_not_found`; `invalid_input` for oneself.
 */
export async function openDirect(
  feed: FeedWriter,
  user: User,
  peerName: string,
): Promise<{ room: RoomView; created: boolean }> {
  const peer = await findUserByName(feed.kv, peerName);
  if (!peer) throw new ApiError(Errors.userNotFound, { username: peerName });
  if (peer.id === user.id) {
    throw new ApiError(Errors.invalidInput, undefined, {
      message: "A direct conversation needs someone else.",
    });
  }
  const domain = domainOf.pair(user.id, peer.id);
  return feed.run(domain, async (kv, now): Promise<Op<{ room: RoomView; created: boolean }>> => {
    const existing = await kv.get<string>(directKey(user.id, peer.id));
    if (existing.value) {
      return noChange({ room: await getRoomView(kv, existing.value, user.id), created: false });
    }
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
      value: { room: view(room, head, 0, user.id), created: true },
    };
  });
}

/**
 * Moves a user's read marker in a room forward to `seq` (never back), and
 * tells their other clients. A marker already at or past `seq` stays, and
 * nobody is told.
 */
export function markRead(
  feed: FeedWriter,
  userId: string,
  roomId: string,
  seq: number,
): Promise<void> {
  // Markers only rise with `max`, so this needs no check: at worst a raced
  // marker is announced twice.
  return feed.run(null, async (kv): Promise<Op<void>> => {
    if (seq <= await readMarker(kv, userId, roomId)) return noChange(undefined);
    return {
      checks: [],
      events: [{ type: "read", userId, roomId, seq }],
      apply: (op) => void op.max(readMarkerKey(userId, roomId), BigInt(seq)),
      value: undefined,
    };
  });
}

/** The caller's read marker in a room (0 when nothing was read). */
export async function readMarker(kv: Deno.Kv, userId: string, roomId: string): Promise<number> {
  const e = await kv.get<Deno.KvU64>(readMarkerKey(userId, roomId));
  return e.value ? Number(e.value.value) : 0;
}

/**
 * The room as `userId` sees it.
 *
 * @throws {ApiError} `room_not_found`.
 */
export async function getRoomView(kv: Deno.Kv, roomId: string, userId: string): Promise<RoomView> {
  const found = await readRoomView(kv, roomId, userId, false);
  if (!found) throw new ApiError(Errors.roomNotFound);
  return found;
}

/** The room as `userId` sees it if they are a member of it now, else `null`. */
export function memberRoomView(
  kv: Deno.Kv,
  roomId: string,
  userId: string,
): Promise<RoomView | null> {
  return readRoomView(kv, roomId, userId, true);
}

async function readRoomView(
  kv: Deno.Kv,
  roomId: string,
  userId: string,
  membersOnly: boolean,
): Promise<RoomView | null> {
  const [room, head, read, member] = await kv.getMany<
    [StoredRoom, RoomHead, Deno.KvU64, StoredMember]
  >([
    roomKey(roomId),
    roomHeadKey(roomId),
    readMarkerKey(userId, roomId),
    memberKey(roomId, userId),
  ]);
  if (!room.value || !head.value || (membersOnly && !member.value)) return null;
  return view(room.value, head.value, unread(head.value, read.value), userId);
}

/** A user's rooms and direct conversations, most recent activity first. */
export async function listRoomsOf(kv: Deno.Kv, userId: string): Promise<RoomView[]> {
  const ids = await roomIdsOf(kv, userId);
  const [rooms, heads, reads] = await Promise.all([
    getManyChunked<StoredRoom>(kv, ids.map(roomKey)),
    getManyChunked<RoomHead>(kv, ids.map(roomHeadKey)),
    getManyChunked<Deno.KvU64>(kv, ids.map((id) => readMarkerKey(userId, id))),
  ]);
  return ids.flatMap((_, i) => {
    const room = rooms[i], head = heads[i];
    return room && head ? [view(room, head, unread(head, reads[i]), userId)] : [];
  }).sort((a, b) => b.lastActivityAt - a.lastActivityAt);
}

/** The ids of a user's rooms. */
export async function roomIdsOf(kv: Deno.Kv, userId: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const e of kv.list({ prefix: membershipsPrefix(userId) })) {
    ids.push(e.key[2] as string);
  }
  return ids;
}

/** The sum of a user's unread counts. */
export async function unreadTotal(kv: Deno.Kv, userId: string): Promise<number> {
  return (await listRoomsOf(kv, userId)).reduce((n, r) => n + r.unread, 0);
}

/** Public group rooms anyone may join, in id order, with their member counts. */
export async function listPublicRooms(
  kv: Deno.Kv,
  options: { limit: number; after?: string },
): Promise<StoredRoom[]> {
  const selector: Deno.KvListSelector = options.after
    ? { prefix: publicRoomsPrefix(), start: [...publicRoomKey(options.after), ""] }
    : { prefix: publicRoomsPrefix() };
  const ids: string[] = [];
  for await (const e of kv.list(selector, { limit: options.limit })) ids.push(e.key[1] as string);
  return (await getManyChunked<StoredRoom>(kv, ids.map(roomKey))).filter((r) => r !== null);
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

function unread(head: RoomHead, read: Deno.KvU64 | null): number {
  return Math.max(0, head.seq - (read ? Number(read.value) : 0));
}

function view(room: StoredRoom, head: RoomHead, unreadCount: number, userId: string): RoomView {
  const { peers, ...rest } = room;
  const peer = peers?.find((p) => p.id !== userId);
  return {
    ...rest,
    ...(peer ? { name: peer.username, peer } : {}),
    lastSeq: head.seq,
    lastMessage: head.lastMessage,
    lastActivityAt: head.lastActivityAt,
    unread: unreadCount,
  };
}

function noChange<T>(value: T): Op<T> {
  return { checks: [], events: [], apply() {}, value };
}

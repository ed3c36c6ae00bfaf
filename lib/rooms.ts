/**
 * Rooms: creating a group room, how a room looks to one user (with their
 * unread count), a user's rooms, and the public directory.
 *
 * Membership lives in `members.ts`, direct conversations in `directs.ts`,
 * read markers in `read_markers.ts`.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import { ApiError, Errors } from "./errors.ts";
import type { FeedWriter, Op } from "./feed.ts";
import { getManyChunked } from "./get_many.ts";
import { newId } from "./ids.ts";
import {
  memberKey,
  membershipKey,
  membershipsPrefix,
  publicRoomKey,
  publicRoomsPrefix,
  readMarkerKey,
  roomHeadKey,
  roomKey,
  roomSettingsKey,
} from "./keys.ts";
import type { StoredMember } from "./members.ts";
import type { Message, RoomHead } from "./messages.ts";
import { unreadCount, unreadMentions } from "./read_markers.ts";
import { CAPACITY_DEFAULT } from "../shared/limits.ts";

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
  /** A direct conversation that is end-to-end encrypted: messages are envelopes (absent: no). */
  encrypted?: boolean;
  /** Deleted by its owner or an administrator: it answers as if it never was. */
  deleted?: boolean;
}

/** A room as one user sees it. */
export interface RoomView extends Omit<StoredRoom, "peers" | "encrypted"> {
  /** An end-to-end encrypted direct conversation; never a group room. */
  encrypted: boolean;
  lastSeq: number;
  lastMessage: Message | null;
  lastActivityAt: number;
  unread: number;
  /** Unread messages that mention the viewer. */
  mentions: number;
  /** The viewer muted it. */
  muted: boolean;
  /** In a direct conversation: the other user. Its `name` is their username. */
  peer?: User;
}

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
        if (!room.private) op.set(publicRoomKey(room.id), true);
      },
      value: roomView(room, head, 0, owner.id),
    });
  });
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
  const [room, head, read, member, settings] = await kv.getMany<
    [StoredRoom, RoomHead, Deno.KvU64, StoredMember, { muted: boolean }]
  >([
    roomKey(roomId),
    roomHeadKey(roomId),
    readMarkerKey(userId, roomId),
    memberKey(roomId, userId),
    roomSettingsKey(userId, roomId),
  ]);
  if (!room.value || !head.value || room.value.deleted || (membersOnly && !member.value)) {
    return null;
  }
  const own = await ownView(kv, userId, roomId, read.value, settings.value);
  return roomView(room.value, head.value, unreadCount(head.value, read.value), userId, own);
}

/** A user's rooms and direct conversations, most recent activity first. */
export async function listRoomsOf(kv: Deno.Kv, userId: string): Promise<RoomView[]> {
  const ids = await roomIdsOf(kv, userId);
  const [rooms, heads, reads, settings] = await Promise.all([
    getManyChunked<StoredRoom>(kv, ids.map(roomKey)),
    getManyChunked<RoomHead>(kv, ids.map(roomHeadKey)),
    getManyChunked<Deno.KvU64>(kv, ids.map((id) => readMarkerKey(userId, id))),
    getManyChunked<{ muted: boolean }>(kv, ids.map((id) => roomSettingsKey(userId, id))),
  ]);
  const own = await Promise.all(
    ids.map((id, i) => ownView(kv, userId, id, reads[i], settings[i])),
  );
  return ids.flatMap((_, i) => {
    const room = rooms[i], head = heads[i];
    return room && head && !room.deleted
      ? [roomView(room, head, unreadCount(head, reads[i]), userId, own[i])]
      : [];
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

/** The room as `userId` sees it, from its record, its head and their unread count. */
export function roomView(
  room: StoredRoom,
  head: RoomHead,
  unreadCount: number,
  userId: string,
  own: { mentions: number; muted: boolean } = { mentions: 0, muted: false },
): RoomView {
  const { peers, encrypted, ...rest } = room;
  const peer = peers?.find((p) => p.id !== userId);
  return {
    ...rest,
    encrypted: encrypted ?? false,
    ...(peer ? { name: peer.username, peer } : {}),
    lastSeq: head.seq,
    lastMessage: head.lastMessage,
    lastActivityAt: head.lastActivityAt,
    unread: unreadCount,
    mentions: own.mentions,
    muted: own.muted,
  };
}

/** A member's own view of a room: unread mentions past their marker, and whether they muted it. */
async function ownView(
  kv: Deno.Kv,
  userId: string,
  roomId: string,
  read: Deno.KvU64 | null,
  settings: { muted: boolean } | null,
) {
  const marker = read ? Number(read.value) : 0;
  return {
    mentions: await unreadMentions(kv, userId, roomId, marker),
    muted: settings?.muted ?? false,
  };
}

/** Mutes or unmutes a room for one member; their other clients get the room as it now is. */
export function setRoomSettings(
  feed: FeedWriter,
  userId: string,
  roomId: string,
  settings: { muted: boolean },
): Promise<void> {
  return feed.run(null, async (kv): Promise<Op<void>> => {
    const member = await kv.get(memberKey(roomId, userId));
    if (!member.value) throw new ApiError(Errors.notMember);
    return {
      checks: [],
      events: [{ type: "room", roomId, userIds: [userId] }],
      apply: (op) => void op.set(roomSettingsKey(userId, roomId), settings),
      value: undefined,
    };
  });
}

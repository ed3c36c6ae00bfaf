/**
 * Read markers: the last seq a user has read in a room, only ever raised (a
 * `max` mutation, so it needs no check), and the unread counts derived from it.
 *
 * @module
 */
import { type FeedWriter, noChange, type Op } from "./feed.ts";
import { mentionsPrefix, readMarkerKey } from "./keys.ts";
import type { RoomHead } from "./messages.ts";

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
    const mentions = await unreadMentions(kv, userId, roomId, seq);
    return {
      checks: [],
      events: [{ type: "read", userId, roomId, seq, mentions }],
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

/** A room's unread count for a reader: its head seq past their marker. */
export function unreadCount(head: RoomHead, read: Deno.KvU64 | null): number {
  return Math.max(0, head.seq - (read ? Number(read.value) : 0));
}

/** How many messages of a room mention `userId` past seq `after`: one list read. */
export async function unreadMentions(
  kv: Deno.Kv,
  userId: string,
  roomId: string,
  after: number,
): Promise<number> {
  const prefix = mentionsPrefix(userId, roomId);
  let n = 0;
  for await (const _ of kv.list({ start: [...prefix, after + 1], end: [...prefix, Infinity] })) n++;
  return n;
}

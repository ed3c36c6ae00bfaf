/**
 * `@username` mentions: which messages mention a user, newest first, across
 * the rooms they are still in. (Sending records them; read markers count the
 * unread ones.)
 *
 * @module
 */
import { getManyChunked } from "./get_many.ts";
import { memberKey, mentionFeedPrefix, messageKey, roomKey } from "./keys.ts";
import type { Message } from "./messages.ts";
import type { StoredRoom } from "./rooms.ts";

/** One mention of a user. */
export interface Mention {
  roomId: string;
  roomName: string;
  message: Message;
}

/**
 * A page of the messages that mention `userId`, newest first.
 *
 * @param before the `next` of the previous page.
 */
export async function listMentions(
  kv: Deno.Kv,
  userId: string,
  options: { limit: number; before?: string },
): Promise<{ mentions: Mention[]; next: string | null }> {
  const prefix = mentionFeedPrefix(userId);
  const cursor = options.before?.match(/^(\d+)-([\w-]+)-(\d+)$/);
  const selector: Deno.KvListSelector = cursor
    ? { prefix, end: [...prefix, Number(cursor[1]), cursor[2], Number(cursor[3])] }
    : { prefix };
  const found: { at: number; roomId: string; seq: number }[] = [];
  for await (const e of kv.list(selector, { reverse: true, limit: options.limit + 1 })) {
    found.push({ at: e.key[2] as number, roomId: e.key[3] as string, seq: e.key[4] as number });
  }
  const more = found.length > options.limit;
  const page = found.slice(0, options.limit);
  const [messages, rooms, memberships] = await Promise.all([
    getManyChunked<Message>(kv, page.map((f) => messageKey(f.roomId, f.seq))),
    getManyChunked<StoredRoom>(kv, page.map((f) => roomKey(f.roomId))),
    getManyChunked<unknown>(kv, page.map((f) => memberKey(f.roomId, userId))),
  ]);
  // Rooms one has left, or that are gone, are not listed.
  const mentions = page.flatMap((f, i) => {
    const m = messages[i], room = rooms[i];
    if (!m || !room || room.deleted || !memberships[i]) return [];
    return [{ roomId: f.roomId, roomName: room.name, message: m }];
  });
  const last = page.at(-1);
  return { mentions, next: more && last ? `${last.at}-${last.roomId}-${last.seq}` : null };
}

/**
 * Reactions: a member reacts to a message with one emoji, or takes it back.
 * The message keeps the counts; who reacted is kept beside it, so a reader's
 * own reactions can be marked. At most 20 different reactions a message.
 * Every change reaches the room's members as a `reaction` event.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import { ApiError, Errors } from "./errors.ts";
import { domainOf, type FeedWriter, noChange, type Op } from "./feed.ts";
import {
  memberKey,
  messageKey,
  reactionKey,
  reactionsPrefix,
  roomHeadKey,
  userReactionKey,
  userReactionsPrefix,
} from "./keys.ts";
import type { Message, RoomHead } from "./messages.ts";
import { REACTIONS_MAX } from "../shared/limits.ts";

/**
 * Adds or takes back `user`'s `emoji` on message `seq`; doing either twice
 * changes nothing.
 *
 * @throws {ApiError} `not_member`, `message_not_found`, `conflict` (20 kinds already).
 */
export function react(
  feed: FeedWriter,
  user: User,
  roomId: string,
  seq: number,
  emoji: string,
  add: boolean,
): Promise<void> {
  return feed.run(domainOf.room(roomId), async (kv, now): Promise<Op<void>> => {
    const [member, message, mine, head] = await kv.getMany<[unknown, Message, number, RoomHead]>([
      memberKey(roomId, user.id),
      messageKey(roomId, seq),
      reactionKey(roomId, seq, emoji, user.id),
      roomHeadKey(roomId),
    ]);
    if (!member.value) throw new ApiError(Errors.notMember);
    if (!message.value || message.value.deleted) throw new ApiError(Errors.messageNotFound);
    if (add === (mine.value !== null)) return noChange(undefined);
    const reactions = message.value.reactions ?? [];
    const current = reactions.find((r) => r.emoji === emoji)?.count ?? 0;
    if (add && !current && reactions.length >= REACTIONS_MAX) {
      throw new ApiError(Errors.conflict, { max: REACTIONS_MAX }, {
        message: `A message holds at most ${REACTIONS_MAX} different reactions.`,
      });
    }
    const count = current + (add ? 1 : -1);
    const others = reactions.filter((r) => r.emoji !== emoji);
    const updated: Message = {
      ...message.value,
      reactions: count ? [...others, { emoji, count }] : others,
    };
    if (!updated.reactions!.length) delete updated.reactions;
    const isLast = head.value?.lastMessage?.seq === seq;
    return {
      // The head only when it is written: unchecked, it could put back an older seq under a
      // racing send; checked when it is not written, every send would make the reaction retry.
      checks: isLast ? [message, mine, head] : [message, mine],
      events: [{ type: "reaction", roomId, seq, emoji, userId: user.id, added: add, count }],
      apply(op) {
        op.set(messageKey(roomId, seq), updated);
        if (isLast && head.value) {
          op.set(roomHeadKey(roomId), { ...head.value, lastMessage: updated });
        }
        if (add) {
          op.set(reactionKey(roomId, seq, emoji, user.id), now);
          op.set(userReactionKey(user.id, roomId, seq, emoji), true);
        } else {
          op.delete(reactionKey(roomId, seq, emoji, user.id));
          op.delete(userReactionKey(user.id, roomId, seq, emoji));
        }
      },
      value: undefined,
    };
  });
}

/** Marks, on messages as `userId` reads them, which reactions are theirs: one list read. */
export async function markOwnReactions(
  kv: Deno.Kv,
  userId: string,
  roomId: string,
  messages: Message[],
): Promise<Message[]> {
  const reacted = messages.filter((m) => m.reactions?.length);
  if (!reacted.length) return messages;
  const mine = new Set<string>();
  const prefix = userReactionsPrefix(userId, roomId);
  const selector = {
    start: [...prefix, reacted[0].seq],
    end: [...prefix, reacted.at(-1)!.seq + 1],
  };
  for await (const e of kv.list(selector)) mine.add(`${String(e.key[3])}\n${String(e.key[4])}`);
  return messages.map((m) =>
    m.reactions?.length
      ? {
        ...m,
        reactions: m.reactions.map((r) => ({ ...r, me: mine.has(`${m.seq}\n${r.emoji}`) })),
      }
      : m
  );
}

/**
 * Removes who reacted how to a deleted message (its tombstone shows no
 * reactions), a few hundred a commit. Run after the deletion commits; what a
 * crash leaves behind is never shown, only stored.
 */
export async function forgetReactions(kv: Deno.Kv, roomId: string, seq: number): Promise<void> {
  const keys: Deno.KvKey[] = [];
  for await (const e of kv.list({ prefix: reactionsPrefix(roomId, seq) }, { limit: 2_000 })) {
    keys.push(e.key);
  }
  for (let i = 0; i < keys.length; i += 400) {
    const op = kv.atomic();
    for (const key of keys.slice(i, i + 400)) {
      const [, , , emoji, userId] = key as [string, string, number, string, string];
      op.delete(key).delete(userReactionKey(userId, roomId, seq, emoji));
    }
    await op.commit();
  }
  if (keys.length === 2_000) await forgetReactions(kv, roomId, seq);
}

/**
 * Blocking: a user can block another. The blocked user can no longer open a
 * direct conversation with them, write in an existing one, or invite them
 * anywhere; the blocker no longer sees the blocked user's typing or presence.
 * A block is the blocker's own: its commit is in their user domain.
 *
 * @module
 */
import { findUserByName, type User } from "./accounts.ts";
import { ApiError, Errors } from "./errors.ts";
import { domainOf, type FeedWriter, noChange, type Op } from "./feed.ts";
import { blockKey, blocksPrefix } from "./keys.ts";

/** A block as stored and listed. */
export interface Block {
  user: User;
  createdAt: number;
}

/**
 * Blocks `username` for `blocker`. Blocking twice is harmless.
 *
 * @throws {ApiError} `user_not_found`; `invalid_input` for oneself.
 */
export async function blockUser(feed: FeedWriter, blocker: User, username: string) {
  const target = await findUserByName(feed.kv, username);
  if (!target) throw new ApiError(Errors.userNotFound, { username });
  if (target.id === blocker.id) {
    throw new ApiError(Errors.invalidInput, undefined, { message: "You cannot block yourself." });
  }
  return await feed.run(domainOf.user(blocker.id), async (kv, now): Promise<Op<Block>> => {
    const existing = await kv.get<Block>(blockKey(blocker.id, target.id));
    if (existing.value) return noChange(existing.value);
    const block: Block = { user: target, createdAt: now };
    return {
      checks: [existing],
      events: [{ type: "block", userId: blocker.id, user: target, blocked: true }],
      apply: (op) => void op.set(blockKey(blocker.id, target.id), block),
      value: block,
    };
  });
}

/** Lifts a block; lifting one that is not there is harmless. */
export function unblockUser(feed: FeedWriter, blocker: User, userId: string): Promise<void> {
  return feed.run(domainOf.user(blocker.id), async (kv): Promise<Op<void>> => {
    const existing = await kv.get<Block>(blockKey(blocker.id, userId));
    if (!existing.value) return noChange(undefined);
    return {
      checks: [existing],
      events: [{ type: "block", userId: blocker.id, user: existing.value.user, blocked: false }],
      apply: (op) => void op.delete(blockKey(blocker.id, userId)),
      value: undefined,
    };
  });
}

/** The users `userId` has blocked, oldest first. */
export async function listBlocks(kv: Deno.Kv, userId: string): Promise<Block[]> {
  const blocks: Block[] = [];
  for await (const e of kv.list<Block>({ prefix: blocksPrefix(userId) })) blocks.push(e.value);
  return blocks.sort((a, b) => a.createdAt - b.createdAt);
}

/** Whether `blockerId` has blocked `userId`. */
export async function hasBlocked(kv: Deno.Kv, blockerId: string, userId: string): Promise<boolean> {
  return (await kv.get(blockKey(blockerId, userId))).value !== null;
}

/**
 * Refuses what `userId` tries to do to `blockerId` if they are blocked.
 *
 * @throws {ApiError} `blocked`.
 */
export async function assertNotBlocked(
  kv: Deno.Kv,
  blockerId: string,
  userId: string,
): Promise<void> {
  if (await hasBlocked(kv, blockerId, userId)) throw new ApiError(Errors.blocked);
}

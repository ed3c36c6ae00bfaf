/**
 * Server administration, for the usernames in `PARLEY_ADMINS`: suspending
 * accounts (their sessions and streams end, their logins are refused),
 * deleting rooms, and paging through accounts. Every action is on the audit
 * log. Room owners may delete their own rooms too.
 *
 * @module
 */
import type { PresenceVisibility, StoredUser, User } from "./accounts.ts";
import { discardRoomFiles } from "./attachments.ts";
import { recordAudit } from "./audit.ts";
import { ApiError, Errors } from "./errors.ts";
import { domainOf, type FeedWriter, noChange, type Op } from "./feed.ts";
import { getManyChunked } from "./get_many.ts";
import {
  memberKey,
  membershipKey,
  membershipsPrefix,
  membersPrefix,
  publicRoomKey,
  roomKey,
  roomSettingsKey,
  userKey,
  usernameKey,
  usernamesPrefix,
} from "./keys.ts";
import type { Actor } from "./moderation.ts";
import { getPresence } from "./presence.ts";
import type { StoredRoom } from "./rooms.ts";
import type { AdminUser } from "../shared/api_types.ts";

export type { AdminUser };

/** Why and since when an account is suspended, as stored on the user. */
export interface Suspension {
  reason: string | null;
  at: number;
  by: string;
}

/** A stored user with the fields administration adds. */
export interface AdministeredUser extends StoredUser {
  suspended?: Suspension;
  presenceVisibility?: PresenceVisibility;
}

/**
 * Suspends an account, or lifts a suspension (`reason === undefined` lifts).
 * Ending its sessions is the caller's next step.
 *
 * @returns the user.
 * @throws {ApiError} `user_not_found`.
 */
export async function setSuspension(
  feed: FeedWriter,
  actor: User,
  username: string,
  suspend: { reason: string | null } | null,
): Promise<User> {
  const id = (await feed.kv.get<string>(usernameKey(username))).value;
  if (!id) throw new ApiError(Errors.userNotFound, { username });
  return await feed.run(domainOf.user(id), async (kv, now): Promise<Op<User>> => {
    const entry = await kv.get<AdministeredUser>(userKey(id));
    if (!entry.value) throw new ApiError(Errors.userNotFound, { username });
    const user = { id, username: entry.value.username };
    if (!suspend && !entry.value.suspended) return noChange(user);
    const { suspended: _, ...rest } = entry.value;
    const updated: AdministeredUser = suspend
      ? { ...rest, suspended: { reason: suspend.reason, at: now, by: actor.id } }
      : rest;
    return {
      checks: [entry],
      events: [],
      apply(op) {
        op.set(userKey(id), updated);
        recordAudit(kv, op, {
          action: suspend ? "suspend" : "unsuspend",
          actor,
          target: { userId: id, username: user.username },
          roomId: null,
          reason: suspend?.reason ?? null,
        }, now);
      },
      value: user,
    };
  }, { alone: true });
}

/** The suspension of an account, if it is suspended. */
export async function suspensionOf(kv: Deno.Kv, userId: string): Promise<Suspension | null> {
  return (await kv.get<AdministeredUser>(userKey(userId))).value?.suspended ?? null;
}

/**
 * Deletes a room: its owner or an administrator may. Its members' streams
 * learn at once (`room_deleted`), it leaves the directory, and what it held
 * is cleared in the background.
 *
 * @throws {ApiError} `room_not_found`, `forbidden`.
 */
export async function deleteRoom(feed: FeedWriter, actor: Actor, roomId: string): Promise<void> {
  const memberIds = await feed.run(
    domainOf.room(roomId),
    async (kv, now): Promise<Op<string[]>> => {
      const room = await kv.get<StoredRoom>(roomKey(roomId));
      if (!room.value || room.value.deleted) throw new ApiError(Errors.roomNotFound);
      const owns = room.value.kind === "group" && room.value.ownerId === actor.user.id;
      if (!owns && !actor.isAdmin) {
        throw new ApiError(Errors.forbidden, undefined, {
          message: "Only the room's owner or an administrator can delete it.",
        });
      }
      const ids: string[] = [];
      for await (const e of kv.list({ prefix: membersPrefix(roomId) })) {
        ids.push(e.key[2] as string);
      }
      return {
        checks: [room],
        events: [{ type: "room_deleted", roomId, userIds: ids }],
        apply(op) {
          op.set(roomKey(roomId), { ...room.value!, deleted: true, memberCount: 0 });
          op.delete(publicRoomKey(roomId));
          recordAudit(kv, op, {
            action: "delete_room",
            actor: actor.user,
            target: {},
            roomId,
            reason: null,
          }, now);
        },
        value: ids,
      };
    },
    { alone: true },
  );
  await discardRoomFiles(feed.kv, roomId);
  // The room already answers as gone; its memberships go in commits of a few hundred
  // (three deletes each, under KV's 1,000 mutations a commit).
  for (let i = 0; i < memberIds.length; i += 300) {
    const batch = memberIds.slice(i, i + 300);
    await feed.run<void>(null, () =>
      Promise.resolve({
        checks: [],
        events: [],
        apply(op) {
          for (const id of batch) {
            op.delete(memberKey(roomId, id)).delete(membershipKey(id, roomId))
              .delete(roomSettingsKey(id, roomId));
          }
        },
        value: undefined,
      }));
  }
}

/** A page of accounts in name order, with their status, room count and last activity. */
export async function listAccounts(
  kv: Deno.Kv,
  options: { limit: number; after?: string },
): Promise<{ users: AdminUser[]; next: string | null }> {
  const selector: Deno.KvListSelector = options.after
    ? { prefix: usernamesPrefix(), start: [...usernameKey(options.after), ""] }
    : { prefix: usernamesPrefix() };
  const ids: string[] = [];
  for await (const e of kv.list<string>(selector, { limit: options.limit + 1 })) ids.push(e.value);
  const more = ids.length > options.limit;
  const page = ids.slice(0, options.limit);
  const [stored, presence, rooms] = await Promise.all([
    getManyChunked<AdministeredUser>(kv, page.map(userKey)),
    getPresence(kv, page),
    Promise.all(page.map((id) => countRooms(kv, id))),
  ]);
  const users = page.flatMap((id, i) => {
    const u = stored[i];
    if (!u) return [];
    return [{
      id,
      username: u.username,
      createdAt: u.createdAt,
      status: u.suspended ? "suspended" as const : "active" as const,
      suspendedReason: u.suspended?.reason ?? null,
      rooms: rooms[i],
      lastSeen: presence[i].lastSeen,
    }];
  });
  return { users, next: more ? users.at(-1)?.username.toLowerCase() ?? null : null };
}

async function countRooms(kv: Deno.Kv, userId: string): Promise<number> {
  let n = 0;
  for await (const _ of kv.list({ prefix: membershipsPrefix(userId) })) n++;
  return n;
}

/**
 * Room moderation: the owner gives roles (moderator, member, or hands the
 * room over); owners and moderators remove members (kick) and ban them for a
 * while or for good. Nobody acts on someone of their own rank or higher.
 * Every action is a commit in the room's domain, carries a `member` event
 * (so the removed user's streams stop carrying the room at once, on every
 * instance, and they learn why) and an audit entry.
 *
 * @module
 */
import { findUserByName, getUsers, type User } from "./accounts.ts";
import { recordAudit } from "./audit.ts";
import { ApiError, Errors } from "./errors.ts";
import { domainOf, type FeedWriter, noChange, type Op } from "./feed.ts";
import { getManyChunked } from "./get_many.ts";
import { removeInvitation } from "./invitations.ts";
import {
  banKey,
  bansPrefix,
  memberKey,
  membershipKey,
  publicRoomKey,
  roomKey,
  roomSettingsKey,
} from "./keys.ts";
import { memberEvent, ROLE_RANK, type StoredMember } from "./members.ts";
import type { StoredRoom } from "./rooms.ts";
import type { Ban, Role } from "../shared/api_types.ts";

export type { Ban };

/** Someone acting in a room: who, and whether they administer the server. */
export interface Actor {
  user: User;
  isAdmin: boolean;
}

/**
 * Sets a member's role; only the owner (or an administrator) may. Giving
 * `owner` hands the room over: the former owner becomes a moderator.
 *
 * @throws {ApiError} `room_not_found`, `forbidden`, `not_member` (the target).
 */
export function setRole(
  feed: FeedWriter,
  actor: Actor,
  roomId: string,
  userId: string,
  role: Role,
): Promise<void> {
  return feed.run(domainOf.room(roomId), async (kv, now): Promise<Op<void>> => {
    const { room, actorMember, target } = await readRoom(kv, roomId, actor, userId);
    const ownerAct = actorMember?.role === "owner" || actor.isAdmin;
    if (!ownerAct || room.value.kind !== "group") {
      throw new ApiError(Errors.forbidden, undefined, { message: "Only the owner gives roles." });
    }
    if (!target.value) throw new ApiError(Errors.notMember, { userId });
    if (target.value.role === role) return noChange(undefined);
    if (target.value.role === "owner") {
      throw new ApiError(Errors.forbidden, undefined, {
        message: "The owner's role changes only by handing the room to someone else.",
      });
    }
    const targetUser = (await getManyUsers(kv, [userId]))[0];
    const formerOwner = role === "owner" ? room.value.ownerId : null;
    const updated: StoredRoom = role === "owner" ? { ...room.value, ownerId: userId } : room.value;
    const former = formerOwner ? (await getManyUsers(kv, [formerOwner]))[0] : null;
    const formerMember = formerOwner
      ? (await kv.get<StoredMember>(memberKey(roomId, formerOwner))).value
      : null;
    return {
      checks: [room, target],
      events: [
        memberEvent(updated, targetUser, "role", { role }),
        ...former ? [memberEvent(updated, former, "role", { role: "moderator" as const })] : [],
      ],
      apply(op) {
        op.set(memberKey(roomId, userId), { ...target.value!, role });
        if (role === "owner") {
          op.set(roomKey(roomId), updated);
          if (former && formerMember) {
            op.set(memberKey(roomId, former.id), { ...formerMember, role: "moderator" });
          }
        }
        recordAudit(kv, op, {
          action: "role",
          actor: actor.user,
          target: { userId, username: targetUser.username },
          roomId,
          role,
          reason: null,
        }, now);
      },
      value: undefined,
    };
  }, { alone: true });
}

/**
 * Removes a member (they may rejoin a public room), or bans them: removed if
 * they are in, and refused rejoining, invitations and posting until the ban
 * ends or is lifted.
 *
 * @throws {ApiError} `room_not_found`, `forbidden`, `not_member` (kick only).
 */
export function removeMember(
  feed: FeedWriter,
  actor: Actor,
  roomId: string,
  target: User,
  ban?: { reason: string | null; until: number | null },
): Promise<void> {
  return feed.run(domainOf.room(roomId), async (kv, now): Promise<Op<void>> => {
    const { room, actorMember, target: member } = await readRoom(kv, roomId, actor, target.id);
    assertOutranks(actor, actorMember, member.value);
    if (room.value.kind !== "group") throw new ApiError(Errors.forbidden);
    if (!member.value && !ban) throw new ApiError(Errors.notMember, { userId: target.id });
    const existingBan = await kv.get<Ban>(banKey(roomId, target.id));
    const updated: StoredRoom = member.value
      ? { ...room.value, memberCount: room.value.memberCount - 1 }
      : room.value;
    const reason = ban?.reason ?? null;
    const record: Ban | null = ban
      ? { user: target, by: actor.user, reason, createdAt: now, until: ban.until }
      : null;
    return {
      checks: [room, member, existingBan],
      events: member.value
        ? [memberEvent(updated, target, ban ? "banned" : "removed", { reason })]
        : [],
      apply(op) {
        if (member.value) {
          op.set(roomKey(roomId), updated);
          op.delete(memberKey(roomId, target.id)).delete(membershipKey(target.id, roomId))
            .delete(roomSettingsKey(target.id, roomId));
          if (!updated.memberCount) op.delete(publicRoomKey(roomId));
        }
        if (record) {
          op.set(banKey(roomId, target.id), record);
          removeInvitation(op, roomId, target.id);
        }
        recordAudit(kv, op, {
          action: ban ? "ban" : "kick",
          actor: actor.user,
          target: { userId: target.id, username: target.username },
          roomId,
          reason,
        }, now);
      },
      value: undefined,
    };
  }, { alone: true });
}

/**
 * Bans `username` from a room.
 *
 * @param minutes how long; for good without it.
 */
export async function banUser(
  feed: FeedWriter,
  actor: Actor,
  roomId: string,
  username: string,
  options: { reason?: string; minutes?: number },
  now: number,
): Promise<void> {
  const target = await findUserByName(feed.kv, username);
  if (!target) throw new ApiError(Errors.userNotFound, { username });
  const until = options.minutes ? now + options.minutes * 60_000 : null;
  await removeMember(feed, actor, roomId, target, { reason: options.reason ?? null, until });
}

/**
 * Lifts a ban.
 *
 * @throws {ApiError} `forbidden` for anyone but the owner, moderators, administrators.
 */
export function unbanUser(
  feed: FeedWriter,
  actor: Actor,
  roomId: string,
  userId: string,
): Promise<void> {
  return feed.run(domainOf.room(roomId), async (kv, now): Promise<Op<void>> => {
    const { actorMember } = await readRoom(kv, roomId, actor, userId);
    assertModerates(actor, actorMember);
    const ban = await kv.get<Ban>(banKey(roomId, userId));
    if (!ban.value) return noChange(undefined);
    const { user } = ban.value;
    return {
      checks: [ban],
      events: [],
      apply(op) {
        op.delete(banKey(roomId, userId));
        recordAudit(kv, op, {
          action: "unban",
          actor: actor.user,
          target: { userId, username: user.username },
          roomId,
          reason: null,
        }, now);
      },
      value: undefined,
    };
  }, { alone: true });
}

/** A room's bans still in force, for its owner, moderators and administrators. */
export async function listBans(
  kv: Deno.Kv,
  actor: Actor,
  roomId: string,
  now: number,
): Promise<Ban[]> {
  const { actorMember } = await readRoom(kv, roomId, actor, actor.user.id);
  assertModerates(actor, actorMember);
  const bans: Ban[] = [];
  for await (const e of kv.list<Ban>({ prefix: bansPrefix(roomId) })) {
    if (inForce(e.value, now)) bans.push(e.value);
  }
  return bans.sort((a, b) => b.createdAt - a.createdAt);
}

/** Whether a ban is still in force at `now`. */
export function inForce(ban: Ban | null, now: number): boolean {
  return !!ban && (ban.until === null || ban.until > now);
}

/**
 * Refuses a banned user.
 *
 * @throws {ApiError} `banned` (403), with until when.
 */
export async function assertNotBanned(
  kv: Deno.Kv,
  roomId: string,
  userId: string,
  now: number,
): Promise<void> {
  const ban = (await kv.get<Ban>(banKey(roomId, userId))).value;
  if (inForce(ban, now)) throw new ApiError(Errors.banned, { until: ban!.until });
}

/** Which of `userIds` are banned from a room at `now`. */
export async function bannedAmong(
  kv: Deno.Kv,
  roomId: string,
  userIds: string[],
  now: number,
): Promise<Set<string>> {
  const bans = await getManyChunked<Ban>(kv, userIds.map((id) => banKey(roomId, id)));
  return new Set(userIds.filter((_, i) => inForce(bans[i], now)));
}

/**
 * Requires that the actor may moderate the room: its owner or a moderator,
 * or an administrator of the server.
 *
 * @throws {ApiError} `forbidden`.
 */
export function assertModerates(actor: Actor, member: StoredMember | null): void {
  if (actor.isAdmin) return;
  if (!member || ROLE_RANK[member.role] < ROLE_RANK.moderator) {
    throw new ApiError(Errors.forbidden, undefined, {
      message: "Only the room's owner and moderators can do that.",
    });
  }
}

function assertOutranks(actor: Actor, member: StoredMember | null, target: StoredMember | null) {
  assertModerates(actor, member);
  if (!target) return;
  const rank = actor.isAdmin ? ROLE_RANK.owner + 1 : ROLE_RANK[member!.role];
  if (target.role === "owner" || ROLE_RANK[target.role] >= rank) {
    throw new ApiError(Errors.forbidden, undefined, {
      message: "You cannot act on the owner, or on someone of your own rank or higher.",
    });
  }
}

async function readRoom(kv: Deno.Kv, roomId: string, actor: Actor, targetId: string) {
  const [room, actorMember, target] = await kv.getMany<[StoredRoom, StoredMember, StoredMember]>([
    roomKey(roomId),
    memberKey(roomId, actor.user.id),
    memberKey(roomId, targetId),
  ]);
  if (!room.value || room.value.deleted) throw new ApiError(Errors.roomNotFound);
  return { room: room as Deno.KvEntry<StoredRoom>, actorMember: actorMember.value, target };
}

async function getManyUsers(kv: Deno.Kv, ids: string[]): Promise<User[]> {
  const users = await getUsers(kv, ids);
  if (users.some((u) => !u)) throw new ApiError(Errors.userNotFound);
  return users as User[];
}

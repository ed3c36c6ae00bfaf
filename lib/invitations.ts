/**
 * Invitations: adding someone to a room asks them first. The invitee gets an
 * `invite` event and sees the invitation in `GET /api/invites`; until they
 * accept it they are not a member and see nothing of the room. Accepting
 * joins the room (a private one too); declining removes the invitation.
 * Every change is in the room's conflict domain.
 *
 * @module
 */
import { findUserByName, type User } from "./accounts.ts";
import { assertNotBlocked } from "./blocks.ts";
import { ApiError, Errors } from "./errors.ts";
import { domainOf, type FeedWriter, noChange, type Op } from "./feed.ts";
import { getManyChunked } from "./get_many.ts";
import { inviteKey, memberKey, roomKey, userInviteKey, userInvitesPrefix } from "./keys.ts";
import { ROLE_RANK, type StoredMember } from "./members.ts";
import { assertNotBanned } from "./moderation.ts";
import type { StoredRoom } from "./rooms.ts";
import type { Invitation } from "../shared/api_types.ts";

export type { Invitation };

/**
 * Invites `username` into a room; its owner may. Inviting someone already
 * invited returns the same invitation.
 *
 * @throws {ApiError} `room_not_found`, `not_owner`, `user_not_found`,
 * `blocked` (the invitee blocked the inviter), `conflict` (already a member).
 */
export async function inviteUser(
  feed: FeedWriter,
  inviter: User,
  roomId: string,
  username: string,
): Promise<Invitation> {
  const invitee = await findUserByName(feed.kv, username);
  return await feed.run(domainOf.room(roomId), async (kv, now): Promise<Op<Invitation>> => {
    const [room, inviterMember] = await kv.getMany<[StoredRoom, StoredMember]>([
      roomKey(roomId),
      memberKey(roomId, inviter.id),
    ]);
    if (!room.value || room.value.deleted) throw new ApiError(Errors.roomNotFound);
    if (!inviterMember.value) throw new ApiError(Errors.notMember);
    if (room.value.kind !== "group" || ROLE_RANK[inviterMember.value.role] < ROLE_RANK.moderator) {
      throw new ApiError(Errors.notOwner, undefined, {
        message: "Only the room's owner and moderators can invite.",
      });
    }
    if (!invitee) throw new ApiError(Errors.userNotFound, { username });
    await assertNotBlocked(kv, invitee.id, inviter.id);
    await assertNotBanned(kv, roomId, invitee.id, now).catch(() => {
      throw new ApiError(Errors.banned, undefined, {
        message: `${invitee.username} is banned from this room.`,
      });
    });
    const [member, existing] = await kv.getMany<[StoredMember, Invitation]>([
      memberKey(roomId, invitee.id),
      inviteKey(roomId, invitee.id),
    ]);
    if (member.value) {
      throw new ApiError(Errors.conflict, undefined, {
        message: `${username} is a member already.`,
      });
    }
    if (existing.value) return noChange(existing.value);
    const invitation: Invitation = {
      roomId,
      roomName: room.value.name,
      private: room.value.private,
      by: inviter,
      createdAt: now,
    };
    return {
      checks: [room, existing],
      events: [{ type: "invite", userId: invitee.id, invitation, status: "pending" }],
      apply(op) {
        op.set(inviteKey(roomId, invitee.id), invitation);
        op.set(userInviteKey(invitee.id, roomId), true);
      },
      value: invitation,
    };
  });
}

/** A user's pending invitations, newest first. */
export async function listInvitations(kv: Deno.Kv, userId: string): Promise<Invitation[]> {
  const roomIds: string[] = [];
  for await (const e of kv.list({ prefix: userInvitesPrefix(userId) })) {
    roomIds.push(e.key[2] as string);
  }
  const found = await getManyChunked<Invitation>(kv, roomIds.map((r) => inviteKey(r, userId)));
  return found.filter((i): i is Invitation => i !== null).sort((a, b) => b.createdAt - a.createdAt);
}

/**
 * Declines an invitation: it goes, and the invitee's other clients hear so.
 *
 * @throws {ApiError} `no_invitation`.
 */
export function declineInvitation(feed: FeedWriter, user: User, roomId: string): Promise<void> {
  return feed.run(domainOf.room(roomId), async (kv): Promise<Op<void>> => {
    const invite = await kv.get<Invitation>(inviteKey(roomId, user.id));
    if (!invite.value) throw new ApiError(Errors.notInvited);
    return {
      checks: [invite],
      events: [{
        type: "invite",
        userId: user.id,
        invitation: invite.value,
        status: "declined",
      }],
      apply: (op) => void removeInvitation(op, roomId, user.id),
      value: undefined,
    };
  });
}

/** Adds the writes that remove an invitation. */
export function removeInvitation(
  op: { delete(key: Deno.KvKey): unknown },
  roomId: string,
  userId: string,
): void {
  op.delete(inviteKey(roomId, userId));
  op.delete(userInviteKey(userId, roomId));
}

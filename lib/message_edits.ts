/**
 * The life of a message after it is sent: its author edits it; its author,
 * the room's owner or moderators, or a server administrator delete it. A
 * deleted message keeps its seq as a tombstone (no text), so seq stays
 * gapless. Either change reaches every member as one `message_update` event
 * and never changes unread counts. A deletion by anyone but the author is on
 * the audit log.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import type { Envelope } from "../shared/api_types.ts";
import { activeDevicesAmong } from "./devices.ts";
import { discardWrites, getAttachments } from "./attachments.ts";
import { recordAudit } from "./audit.ts";
import type { ContentFilter } from "./content_filter.ts";
import { ApiError, Errors } from "./errors.ts";
import { domainOf, type FeedWriter, noChange, type Op } from "./feed.ts";
import { memberKey, mentionFeedKey, mentionKey, messageKey, roomHeadKey, roomKey } from "./keys.ts";
import { ROLE_RANK, type StoredMember } from "./members.ts";
import { forgetReactions } from "./reactions.ts";
import { mentionedMembers, type Message, type RoomHead } from "./messages.ts";
import type { StoredRoom } from "./rooms.ts";

/** What an edit replaces: the text, or in an encrypted conversation the envelope. */
export type MessageChange = { text: string; envelope?: undefined } | {
  text?: undefined;
  envelope: Envelope;
};

/**
 * Edits a message; only its author may, within the rules of a new message:
 * in an end-to-end encrypted conversation the change is a new envelope from
 * an active device of the author, elsewhere new text.
 *
 * @throws {ApiError} `message_not_found`, `not_member`, `forbidden` (not the
 * author, the message is deleted, or a notice), `content_blocked`,
 * `encryption_required`, `not_encrypted`, `invalid_input` (sender device).
 */
export function editMessage(
  feed: FeedWriter,
  filter: ContentFilter,
  author: User,
  roomId: string,
  seq: number,
  change: MessageChange,
): Promise<Message> {
  // The server cannot read an envelope, so the filter has nothing to look at.
  if (change.text !== undefined) filter.check(change.text);
  const text = change.text ?? "";
  return feed.run(domainOf.room(roomId), async (kv, now): Promise<Op<Message>> => {
    const { message, head, member, room } = await readForChange(kv, roomId, seq, author.id);
    if (!member.value) throw new ApiError(Errors.notMember);
    if (message.value.author.id !== author.id || message.value.deleted || message.value.notice) {
      throw new ApiError(Errors.forbidden, undefined, {
        message: "Only its author can edit a message, and not once it is deleted or a notice.",
      });
    }
    await assertEncryptionRules(kv, room.value, author, change.envelope);
    if (sameContent(message.value, change)) return noChange(message.value);
    const [found] = await mentionedMembers(kv, roomId, [text]);
    const mentions = found.filter((id) => id !== author.id);
    const { mentions: _, envelope: __, ...rest } = message.value;
    const edited: Message = {
      ...rest,
      text,
      ...(change.envelope ? { envelope: change.envelope } : {}),
      editedAt: now,
      ...(mentions.length ? { mentions } : {}),
    };
    const plan = updatePlan(roomId, edited, message, head);
    const before = new Set(message.value.mentions ?? []);
    return {
      ...plan,
      // A direct conversation's record says whether it is encrypted: a switch
      // racing the edit makes it plan again.
      checks: room.value?.kind === "direct" ? [...plan.checks, room] : plan.checks,
      apply(op) {
        plan.apply(op);
        // Names added by the edit are mentions now; names taken out are not.
        const { seq: at, createdAt } = edited;
        for (const id of mentions) {
          if (before.delete(id)) continue;
          op.set(mentionKey(id, roomId, at), createdAt);
          op.set(mentionFeedKey(id, createdAt, roomId, at), true);
        }
        for (const id of before) {
          op.delete(mentionKey(id, roomId, at));
          op.delete(mentionFeedKey(id, createdAt, roomId, at));
        }
      },
    };
  });
}

/**
 * Deletes a message, leaving a tombstone with its seq.
 *
 * @param isAdmin the actor is a server administrator.
 * @throws {ApiError} `message_not_found`, `forbidden`.
 */
export async function deleteMessage(
  feed: FeedWriter,
  actor: User,
  roomId: string,
  seq: number,
  isAdmin: boolean,
): Promise<void> {
  await feed.run(domainOf.room(roomId), async (kv, now): Promise<Op<void>> => {
    const { message, head, member } = await readForChange(kv, roomId, seq, actor.id);
    const own = message.value.author.id === actor.id && !!member.value;
    const moderates = (member.value && ROLE_RANK[member.value.role] >= ROLE_RANK.moderator) ||
      isAdmin;
    if (!own && !moderates) {
      throw new ApiError(Errors.forbidden, undefined, {
        message: "Only its author, the room's moderators or an administrator can delete it.",
      });
    }
    if (message.value.deleted) return noChange(undefined);
    // Switching encryption off is never silent: its notice stays for both sides.
    if (message.value.notice) {
      throw new ApiError(Errors.forbidden, undefined, {
        message: "A notice of the conversation's encryption cannot be deleted.",
      });
    }
    const { id, author, createdAt, attachments = [] } = message.value;
    const tombstone: Message = { id, roomId, seq, author, text: "", createdAt, deleted: true };
    const plan = updatePlan(roomId, tombstone, message, head);
    // A deleted message's files go with it.
    const files = await getAttachments(kv, attachments.map((a) => a.id));
    return {
      ...plan,
      apply(op) {
        plan.apply(op);
        discardWrites(op, attachments, files);
        // A deleted message mentions nobody any more.
        for (const userId of message.value.mentions ?? []) {
          op.delete(mentionKey(userId, roomId, seq));
          op.delete(mentionFeedKey(userId, createdAt, roomId, seq));
        }
        if (own) return;
        recordAudit(kv, op, {
          action: "delete_message",
          actor,
          target: { userId: author.id, username: author.username },
          roomId,
          seq,
          reason: null,
        }, now);
      },
      value: undefined,
    };
  }, { alone: true });
  await forgetReactions(feed.kv, roomId, seq);
}

async function readForChange(kv: Deno.Kv, roomId: string, seq: number, userId: string) {
  const [message, head, member, room] = await kv.getMany<
    [Message, RoomHead, StoredMember, StoredRoom]
  >([
    messageKey(roomId, seq),
    roomHeadKey(roomId),
    memberKey(roomId, userId),
    roomKey(roomId),
  ]);
  if (!message.value || !head.value) throw new ApiError(Errors.messageNotFound);
  return {
    message: message as Deno.KvEntry<Message>,
    head: head as Deno.KvEntry<RoomHead>,
    member,
    room,
  };
}

/**
 * An edit takes the form a new message would: an envelope from an active
 * device of its author in an encrypted conversation, text elsewhere.
 */
async function assertEncryptionRules(
  kv: Deno.Kv,
  room: StoredRoom | null,
  author: User,
  envelope: Envelope | undefined,
): Promise<void> {
  const encrypted = room?.encrypted ?? false;
  if (encrypted && !envelope) throw new ApiError(Errors.encryptionRequired);
  if (!encrypted && envelope) throw new ApiError(Errors.notEncrypted);
  if (!envelope) return;
  const deviceId = envelope.senderDevice;
  const active = await activeDevicesAmong(kv, [{ userId: author.id, deviceId }]);
  if (!active.size) {
    throw new ApiError(Errors.invalidInput, { senderDevice: deviceId }, {
      message: `senderDevice ${deviceId} is not an active device of yours.`,
    });
  }
}

/** Whether a change leaves the message as it is. */
function sameContent(message: Message, change: MessageChange): boolean {
  if (change.envelope) {
    return JSON.stringify(message.envelope) === JSON.stringify(change.envelope);
  }
  return !message.envelope && message.text === change.text;
}

/** Writes the message as it now is; the room's last message too, if it is that one. */
function updatePlan(
  roomId: string,
  updated: Message,
  message: Deno.KvEntry<Message>,
  head: Deno.KvEntry<RoomHead>,
): Op<Message> {
  const isLast = head.value.lastMessage?.seq === updated.seq;
  return {
    // The head only when it is written (see `react`).
    checks: isLast ? [message, head] : [message],
    events: [{ type: "message_update", roomId, message: updated }],
    apply(op) {
      op.set(messageKey(roomId, updated.seq), updated);
      if (isLast) op.set(roomHeadKey(roomId), { ...head.value, lastMessage: updated });
    },
    value: updated,
  };
}

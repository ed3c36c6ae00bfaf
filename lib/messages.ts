/**
 * Messages: sending (with per-room group commits and idempotent retries) and
 * reading history.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import type { Envelope, Message, ReplyQuote } from "../shared/api_types.ts";
import { MENTION, QUOTE_MAX } from "../shared/limits.ts";
import { ApiError, Errors } from "./errors.ts";
import type { FeedOp, FeedWriter, Plan } from "./feed.ts";
import { domainOf, keySize, planLimits } from "./feed.ts";
import {
  attachWrites,
  getAttachments,
  publicAttachment,
  type StoredAttachment,
} from "./attachments.ts";
import { rejoinPlan } from "./members.ts";
import { activeDevicesAmong } from "./devices.ts";
import { markOwnReactions } from "./reactions.ts";
import { bannedAmong } from "./moderation.ts";
import type { StoredRoom } from "./rooms.ts";
import { getManyChunked } from "./get_many.ts";
import { newId } from "./ids.ts";
import {
  blockKey,
  clientIdKey,
  memberKey,
  mentionFeedKey,
  mentionKey,
  messageKey,
  messagesPrefix,
  readMarkerKey,
  roomHeadKey,
  roomKey,
  usernameKey,
} from "./keys.ts";

/** A message, exactly as the API and the event stream carry it. */
export type { Message };

/** `["room_heads", roomId]`: the room's last seq and its latest message. */
export interface RoomHead {
  seq: number;
  lastMessage: Message | null;
  lastActivityAt: number;
}

/** What a send returns: the stored message, and whether it was a retry of an earlier send. */
export interface SendResult {
  message: Message;
  duplicate: boolean;
}

/** One message to send, as a client asked for it. */
export interface SendInput {
  author: User;
  text: string;
  clientId?: string;
  /** Ids of attachments the author uploaded to this room. */
  attachmentIds: string[];
  /** The seq of the message this one answers. */
  replyTo?: number;
  /** An end-to-end encrypted message: the envelope stands in for the text, which is "". */
  envelope?: Envelope;
}

interface SendItem extends SendInput {
  /** Switches a direct conversation's encryption, recorded as a notice message. */
  encrypt?: boolean;
  /** `null`: a switch to what already was, which stores nothing. */
  resolve(result: SendResult | null): void;
  reject(error: unknown): void;
}

/**
 * Sends messages. Concurrent sends to one room wait in a queue and go out
 * together in the feed writer's next commit, which gives each its seq, so a
 * room takes one commit per batch instead of one per message, and seq runs
 * 1, 2, 3, … with no gap however many senders race.
 *
 * @example
 * ```ts
 * const sender = new MessageSender(feedWriter);
 * const { message } = await sender.send(roomId, user, "hello", "client-1");
 * ```
 */
export class MessageSender {
  #feed: FeedWriter;
  #onStored: (messages: Message[]) => void;
  #queues = new Map<string, { items: SendItem[]; busy: boolean }>();

  /** @param onStored called with each batch's new messages right after they are committed. */
  constructor(feed: FeedWriter, onStored: (messages: Message[]) => void = () => {}) {
    this.#feed = feed;
    this.#onStored = onStored;
  }

  /**
   * Sends a message; resolves once it is committed.
   *
   * @throws {ApiError} `room_not_found`, or `not_member` when the author is not in the room.
   *
   * A `clientId` already used by the same author in the same room returns the
   * original message with `duplicate: true` and stores nothing.
   */
  send(
    roomId: string,
    author: User,
    text: string,
    clientId?: string,
    attachmentIds: string[] = [],
    replyTo?: number,
    envelope?: Envelope,
  ): Promise<SendResult> {
    const item = { author, text, clientId, attachmentIds, replyTo, envelope };
    return this.#enqueue(roomId, item) as Promise<SendResult>;
  }

  /**
   * Switches a direct conversation's end-to-end encryption on or off, in
   * order with its messages: the switch is a notice message (empty text,
   * `notice`) sent by `author`, and the room changes in the same commit.
   * Resolves `null`, storing nothing, when it already was so.
   *
   * @throws {ApiError} as `send`; `invalid_input` for a group room.
   */
  switchEncryption(roomId: string, author: User, encrypted: boolean): Promise<SendResult | null> {
    return this.#enqueue(roomId, { author, text: "", attachmentIds: [], encrypt: encrypted });
  }

  #enqueue(
    roomId: string,
    item: Omit<SendItem, "resolve" | "reject">,
  ): Promise<SendResult | null> {
    return new Promise((resolve, reject) => {
      let queue = this.#queues.get(roomId);
      if (!queue) this.#queues.set(roomId, queue = { items: [], busy: false });
      queue.items.push({ ...item, resolve, reject });
      if (!queue.busy) this.#submit(roomId);
    });
  }

  /** One batch in flight per room: the next one starts when it is done. */
  #submit(roomId: string): void {
    const queue = this.#queues.get(roomId)!;
    queue.busy = true;
    let batch: Batch | undefined;
    const next = () => {
      if (queue.items.length) this.#submit(roomId);
      else this.#queues.delete(roomId);
    };
    const op: FeedOp = {
      domain: domainOf.room(roomId),
      plan: (kv, now) => planSends(kv, roomId, batch ??= takeBatch(roomId, queue.items), now),
      done: (plan) => {
        const sent = plan as SendPlan;
        this.#onStored(sent.fresh);
        sent.settle();
        next();
      },
      fail: (error) => {
        for (const item of batch?.items ?? queue.items.splice(0)) item.reject(error);
        next();
      },
    };
    this.#feed.submit(op);
  }
}

/** The sends of one commit. */
interface Batch {
  items: SendItem[];
}

/** Takes as many queued sends as fit in one commit. */
function takeBatch(roomId: string, queue: SendItem[]): Batch {
  let mutations = 1, bytes = 0, keys = keySize(roomHeadKey(roomId)), n = 0;
  for (const item of queue) {
    // The message, its author's marker, its client id, two writes per file and per mention.
    const mentions = Math.min(50, [...item.text.matchAll(MENTION)].length);
    const m = 2 + (item.clientId ? 1 : 0) + 2 * item.attachmentIds.length + 2 * mentions;
    const b = messageBytes(item.text) + envelopeBytes(item.envelope);
    const k = itemKeyBytes(roomId, item);
    const full = mutations + m > planLimits.mutations || bytes + b > planLimits.bytes ||
      keys + k > planLimits.keyBytes;
    if (n > 0 && full) break;
    mutations += m;
    bytes += b;
    keys += k;
    n++;
  }
  return { items: queue.splice(0, n) };
}

/** The keys one send may set: its message, its client id, its author's read marker. */
function itemKeyBytes(roomId: string, item: SendItem): number {
  return keySize(messageKey(roomId, Number.MAX_SAFE_INTEGER)) +
    keySize(readMarkerKey(item.author.id, roomId)) +
    (item.clientId ? keySize(clientIdKey(roomId, item.author.id, item.clientId)) : 0);
}

/** A generous size of a stored message: V8 may store text as two bytes a character. */
function messageBytes(text: string): number {
  return 2 * text.length + 400;
}

/** A generous size of an envelope as stored. */
function envelopeBytes(envelope: Envelope | undefined): number {
  return envelope ? 2 * JSON.stringify(envelope).length : 0;
}

interface SendPlan extends Plan {
  /** The messages the plan stores. */
  fresh: Message[];
  /** Answers every send of the batch. */
  settle(): void;
}

async function planSends(
  kv: Deno.Kv,
  roomId: string,
  { items }: Batch,
  now: number,
): Promise<SendPlan> {
  // The commit checks the room head (seq) and the room record, which every
  // change of membership rewrites: a user who left a moment ago cannot slip a
  // message in, and two instances never hand out one seq twice.
  const authors = [...new Set(items.map((i) => i.author.id))];
  const [headEntry, roomEntry] = await kv.getMany<[RoomHead, StoredRoom]>([
    roomHeadKey(roomId),
    roomKey(roomId),
  ]);
  const head = headEntry.value, room = roomEntry.value;
  if (!head || !room || room.deleted) throw new ApiError(Errors.roomNotFound);
  // The reads are independent: one round trip's wait, not six.
  const [memberships, known, direct, attachments, replied, mentioned] = await Promise.all([
    getManyChunked<unknown>(kv, authors.map((id) => memberKey(roomId, id))),
    existingByClientId(kv, roomId, items),
    room.kind === "direct" ? directState(kv, room, authors) : null,
    getAttachments(kv, items.flatMap((i) => i.attachmentIds)),
    quotesFor(kv, roomId, items),
    mentionedMembers(kv, roomId, items.map((i) => i.text)),
  ]);
  const members = new Set(authors.filter((_, i) => memberships[i] !== null));
  const outsiders = authors.filter((a) => !members.has(a));
  const banned = outsiders.length ? await bannedAmong(kv, roomId, outsiders, now) : new Set();
  const files = new Map(attachments.flatMap((a) => a ? [[a.id, a] as const] : []));
  const attachedNow = new Map<number, StoredAttachment[]>();
  const takenInBatch = new Set<string>();
  const devices = await senderDevices(kv, items);

  const results: (SendResult | ApiError | null)[] = [];
  const fresh: Message[] = [];
  const inBatch = new Map<string, Message>();
  let seq = head.seq;
  // A switch takes effect for the sends after it in the same batch.
  let encrypted = room.encrypted ?? false, switched = false;
  for (const [index, item] of items.entries()) {
    if (!members.has(item.author.id)) {
      results.push(new ApiError(banned.has(item.author.id) ? Errors.banned : Errors.notMember));
      continue;
    }
    if (direct?.blockedBy.has(item.author.id)) {
      results.push(new ApiError(Errors.blocked));
      continue;
    }
    const tag = item.clientId && `${item.author.id}\n${item.clientId}`;
    const earlier = tag ? known.get(tag) ?? inBatch.get(tag) : undefined;
    if (earlier) {
      results.push({ message: earlier, duplicate: true });
      continue;
    }
    const refused = encryptionRefusal(item, room, encrypted, devices);
    if (refused || item.encrypt === encrypted) {
      results.push(refused);
      continue;
    }
    const attached = item.attachmentIds.map((id) => files.get(id));
    const unusable = item.attachmentIds.find((id, i) => {
      const a = attached[i];
      return !a || a.roomId !== roomId || a.uploaderId !== item.author.id ||
        a.messageSeq !== null || takenInBatch.has(id);
    });
    if (unusable) {
      results.push(
        new ApiError(Errors.invalidInput, { attachment: unusable }, {
          message: `Attachment ${unusable} is not one you uploaded to this room and have not ` +
            "sent yet.",
        }),
      );
      continue;
    }
    const quote = item.replyTo !== undefined ? replied.get(item.replyTo) : undefined;
    if (item.replyTo !== undefined && !quote) {
      results.push(
        new ApiError(Errors.invalidInput, { replyTo: item.replyTo }, {
          message: `There is no message ${item.replyTo} in this room to reply to.`,
        }),
      );
      continue;
    }
    for (const id of item.attachmentIds) takenInBatch.add(id);
    const mentions = mentioned[index].filter((id) => id !== item.author.id);
    const message: Message = {
      id: newId(),
      roomId,
      seq: ++seq,
      author: item.author,
      text: item.text,
      ...(item.envelope ? { envelope: item.envelope } : {}),
      ...(item.encrypt !== undefined
        ? { notice: item.encrypt ? "encryption_on" as const : "encryption_off" as const }
        : {}),
      createdAt: now,
      ...(item.clientId ? { clientId: item.clientId } : {}),
      ...(attached.length ? { attachments: attached.map((a) => publicAttachment(a!)) } : {}),
      ...(quote ? { replyTo: quote } : {}),
      ...(mentions.length ? { mentions } : {}),
    };
    if (item.encrypt !== undefined) [encrypted, switched] = [item.encrypt, true];
    if (attached.length) attachedNow.set(message.seq, attached as StoredAttachment[]);
    if (tag) inBatch.set(tag, message);
    fresh.push(message);
    results.push({ message, duplicate: false });
  }

  // Each author's own messages count as read: raise their marker to their last seq.
  const lastByAuthor = new Map(fresh.map((m) => [m.author.id, m.seq]));
  const last = fresh.at(-1);
  const current: StoredRoom = switched ? { ...room, encrypted } : room;
  // A direct conversation the other side had left comes back to them with the message.
  const back = last && direct?.away ? rejoinPlan(current, direct.away, now) : null;
  return {
    checks: [headEntry, roomEntry],
    events: [
      ...back?.events ?? [],
      ...last ? [{ type: "message" as const, roomId, from: fresh[0].seq, to: last.seq }] : [],
      // Both sides' views of the room change with a switch.
      ...switched ? [{ type: "room" as const, roomId, userIds: peerIds(room) }] : [],
    ],
    apply(op) {
      back?.apply(op);
      if (switched && !back) op.set(roomKey(roomId), current);
      for (const [s, list] of attachedNow) attachWrites(op, list, s);
      for (const m of fresh) {
        for (const userId of m.mentions ?? []) {
          op.set(mentionKey(userId, roomId, m.seq), m.createdAt);
          op.set(mentionFeedKey(userId, m.createdAt, roomId, m.seq), true);
        }
      }
      for (const m of fresh) {
        op.set(messageKey(roomId, m.seq), m);
        if (m.clientId) op.set(clientIdKey(roomId, m.author.id, m.clientId), m.seq);
      }
      for (const [authorId, s] of lastByAuthor) {
        op.max(readMarkerKey(authorId, roomId), BigInt(s));
      }
      if (last) {
        op.set(
          roomHeadKey(roomId),
          { seq, lastMessage: last, lastActivityAt: now } satisfies RoomHead,
        );
      }
    },
    fresh,
    settle() {
      items.forEach((item, i) => {
        const result = results[i];
        if (result instanceof ApiError) item.reject(result);
        else item.resolve(result);
      });
    },
  };
}

/**
 * Why an item may not be sent as it is, by the conversation's encryption, or
 * `null`: a switch only in a direct conversation; in an encrypted one only an
 * envelope from an active device of its author; elsewhere no envelope.
 */
function encryptionRefusal(
  item: SendItem,
  room: StoredRoom,
  encrypted: boolean,
  devices: Set<string>,
): ApiError | null {
  if (item.encrypt !== undefined) {
    return room.kind === "direct" ? null : new ApiError(Errors.invalidInput, undefined, {
      message: "Only a direct conversation can be end-to-end encrypted.",
    });
  }
  if (encrypted && !item.envelope) return new ApiError(Errors.encryptionRequired);
  if (!encrypted && item.envelope) return new ApiError(Errors.notEncrypted);
  const sender = item.envelope?.senderDevice;
  if (sender !== undefined && !devices.has(`${item.author.id}\n${sender}`)) {
    return new ApiError(Errors.invalidInput, { senderDevice: sender }, {
      message: `senderDevice ${sender} is not an active device of yours: publish it with ` +
        `PUT /api/me/devices/${sender} (a retired device cannot send).`,
    });
  }
  return null;
}

/** The active devices the batch's envelopes name as their senders, as `userId\ndeviceId`. */
function senderDevices(kv: Deno.Kv, items: SendItem[]): Promise<Set<string>> {
  const pairs = items.flatMap((i) =>
    i.envelope ? [{ userId: i.author.id, deviceId: i.envelope.senderDevice }] : []
  );
  return pairs.length ? activeDevicesAmong(kv, pairs) : Promise.resolve(new Set());
}

/** The ids of a direct conversation's two users. */
function peerIds(room: StoredRoom): string[] {
  return (room.peers ?? []).map((p) => p.id);
}

/**
 * Who may write in a direct conversation: the authors its other user has
 * blocked may not, and the other user, if they left it, is brought back.
 */
async function directState(kv: Deno.Kv, room: StoredRoom, authors: string[]) {
  const peers = room.peers ?? [];
  const other = (id: string) => peers.find((p) => p.id !== id);
  const [blocks, memberships] = await Promise.all([
    getManyChunked<unknown>(kv, authors.map((a) => blockKey(other(a)?.id ?? a, a))),
    getManyChunked<unknown>(kv, peers.map((p) => memberKey(room.id, p.id))),
  ]);
  return {
    blockedBy: new Set(authors.filter((_, i) => blocks[i] !== null)),
    away: peers.find((_, i) => memberships[i] === null) ?? null,
  };
}

/** The quotes of the messages the items reply to, by seq; none for a seq with no message. */
async function quotesFor(
  kv: Deno.Kv,
  roomId: string,
  items: SendItem[],
): Promise<Map<number, ReplyQuote>> {
  const seqs = [...new Set(items.flatMap((i) => i.replyTo !== undefined ? [i.replyTo] : []))];
  const found = await getManyChunked<Message>(kv, seqs.map((s) => messageKey(roomId, s)));
  return new Map(found.flatMap((m) => m ? [[m.seq, quoteOf(m)] as const] : []));
}

/** The short quote of a message: its author and the start of its text, or that it is deleted. */
export function quoteOf(m: Message): ReplyQuote {
  if (m.deleted) return { seq: m.seq, author: m.author, text: "", deleted: true };
  // The server cannot read an encrypted message, so it cannot quote it.
  if (m.envelope) return { seq: m.seq, author: m.author, text: "", encrypted: true };
  return { seq: m.seq, author: m.author, text: m.text.slice(0, QUOTE_MAX) };
}

/**
 * The members each text mentions with @username, by id, in the order of the
 * texts (non-members are plain text; at most 50 names a text).
 */
export async function mentionedMembers(
  kv: Deno.Kv,
  roomId: string,
  texts: string[],
): Promise<string[][]> {
  const names = texts.map((text) =>
    [
      ...new Set([...text.matchAll(MENTION)].map((m) => m[1].toLowerCase())),
    ].slice(0, 50)
  );
  const all = [...new Set(names.flat())];
  if (!all.length) return texts.map(() => []);
  const ids = await getManyChunked<string>(kv, all.map((n) => usernameKey(n)));
  const known = all.flatMap((n, i) => ids[i] ? [[n, ids[i]!] as const] : []);
  const members = await getManyChunked<unknown>(kv, known.map(([, id]) => memberKey(roomId, id)));
  const byName = new Map(known.filter((_, i) => members[i] !== null));
  return names.map((list) => list.flatMap((n) => byName.has(n) ? [byName.get(n)!] : []));
}

/** The stored messages of the items' client ids that were sent before, by author and client id. */
async function existingByClientId(
  kv: Deno.Kv,
  roomId: string,
  items: SendItem[],
): Promise<Map<string, Message>> {
  const withId = items.filter((i) => i.clientId);
  const seqs = await getManyChunked<number>(
    kv,
    withId.map((i) => clientIdKey(roomId, i.author.id, i.clientId!)),
  );
  const found = withId.flatMap((item, i) => seqs[i] === null ? [] : [{ item, seq: seqs[i]! }]);
  const messages = await getManyChunked<Message>(kv, found.map((f) => messageKey(roomId, f.seq)));
  const known = new Map<string, Message>();
  found.forEach((f, i) => {
    if (messages[i]) known.set(`${f.item.author.id}\n${f.item.clientId}`, messages[i]!);
  });
  return known;
}

/** A page of history. */
export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
}

/**
 * Reads a page of a room's history, ascending by seq.
 *
 * With no cursor it is the newest page; `before` pages backwards (`hasMore`:
 * older ones exist), `after` forwards (`hasMore`: newer ones exist).
 */
export async function listMessages(
  kv: Deno.Kv,
  roomId: string,
  options: { before?: number; after?: number; limit: number },
): Promise<HistoryPage> {
  const { before, after, limit } = options;
  const forward = after !== undefined;
  if (after !== undefined && before !== undefined && after + 1 >= before) {
    return { messages: [], hasMore: false };
  }
  const start = after !== undefined ? messageKey(roomId, after + 1) : undefined;
  const end = before !== undefined ? messageKey(roomId, before) : undefined;
  const selector: Deno.KvListSelector = start && end
    ? { start, end }
    : start
    ? { prefix: messagesPrefix(roomId), start }
    : end
    ? { prefix: messagesPrefix(roomId), end }
    : { prefix: messagesPrefix(roomId) };
  const messages: Message[] = [];
  for await (const e of kv.list<Message>(selector, { limit: limit + 1, reverse: !forward })) {
    messages.push(e.value);
  }
  const hasMore = messages.length > limit;
  if (hasMore) messages.pop();
  if (!forward) messages.reverse();
  return { messages, hasMore };
}

/**
 * A page of history as `userId` reads it: each quote of a replied-to message
 * as that message is now (edited, or deleted), and the reader's own
 * reactions marked.
 */
export async function readHistory(
  kv: Deno.Kv,
  userId: string,
  roomId: string,
  options: { before?: number; after?: number; limit: number },
): Promise<HistoryPage> {
  const page = await listMessages(kv, roomId, options);
  const quoted = [...new Set(page.messages.flatMap((m) => m.replyTo ? [m.replyTo.seq] : []))];
  const originals = await getManyChunked<Message>(kv, quoted.map((s) => messageKey(roomId, s)));
  const now = new Map(originals.flatMap((m) => m ? [[m.seq, quoteOf(m)] as const] : []));
  const fresh = page.messages.map((m) =>
    m.replyTo && now.has(m.replyTo.seq) ? { ...m, replyTo: now.get(m.replyTo.seq)! } : m
  );
  return { ...page, messages: await markOwnReactions(kv, userId, roomId, fresh) };
}

/** Reads the messages of a room with seq from `from` to `to`, in order. */
export async function readMessageRange(
  kv: Deno.Kv,
  roomId: string,
  from: number,
  to: number,
): Promise<Message[]> {
  const messages: Message[] = [];
  const selector = { start: messageKey(roomId, from), end: messageKey(roomId, to + 1) };
  for await (const e of kv.list<Message>(selector, { batchSize: 500 })) messages.push(e.value);
  return messages;
}

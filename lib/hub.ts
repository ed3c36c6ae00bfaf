/**
 * The hub: turns the feed into each connected client's event stream.
 *
 * One hub per process follows the feed in order (woken at once by this
 * process's commits, and by a short poll for commits of other processes over
 * the same KV), reads each committed message once, and writes it to the
 * streams of the room's members here. Nothing it delivers depends on which
 * process took the POST: everything comes from the feed in KV.
 *
 * A reconnecting client names the last event id it saw; the hub replays what
 * it missed from the feed, then switches it to live events with no gap and no
 * repeat, because live events wait in the client's buffer during the replay.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import {
  eventSpan,
  type FeedEvent,
  type FeedWriter,
  initFeed,
  readFeed,
  readFeedHead,
} from "./feed.ts";
import { type Message, readMessageRange } from "./messages.ts";
import type { Presence } from "./presence.ts";
import { memberRoomView, roomIdsOf } from "./rooms.ts";
import { encodeEvent, keepAliveChunk, openSseStream, type SseStream } from "./sse.ts";

/** Timings and limits of the hub. */
export interface HubOptions {
  /** How often to look for commits of other processes. */
  pollMs: number;
  /** How often to send a keep-alive comment. */
  keepAliveMs: number;
  /** How much may wait for one slow client before it is cut off. */
  maxBufferedBytes: number;
  /** The reconnect delay suggested to clients. */
  retryMs: number;
}

/** The defaults: poll every 100 ms, keep-alive every 20 s, 1 MiB per client. */
export const defaultHubOptions: HubOptions = {
  pollMs: 100,
  keepAliveMs: 20_000,
  maxBufferedBytes: 1024 * 1024,
  retryMs: 2_000,
};

interface Subscriber {
  user: User;
  /** The session the stream was opened with: it ends with it. */
  session: StreamSession;
  stream: SseStream;
  /** Live events held back while the replay runs; `null` once live. */
  held: Uint8Array[] | null;
  heldBytes: number;
}

/** The session a stream belongs to: logging out or expiring ends the stream too. */
export interface StreamSession {
  token: string;
  expiresAt: number;
}

/** Follows the feed and serves event streams. */
export class Hub {
  #kv: Deno.Kv;
  #clock: () => number;
  #presence: Presence;
  #options: HubOptions;
  #epoch = "";
  #pos = 0;
  #subs = new Map<string, Set<Subscriber>>();
  #userRooms = new Map<string, Set<string>>();
  #roomUsers = new Map<string, Set<string>>();
  #chain: Promise<void> = Promise.resolve();
  #recent = new Map<string, Message>();
  #outbox = new Map<Subscriber, Uint8Array[]>();
  #catchingUp = false;
  #timers: ReturnType<typeof setInterval>[] = [];
  #unlisten: () => void;
  #ready: Promise<void>;
  #closed = false;

  constructor(
    kv: Deno.Kv,
    feed: FeedWriter,
    presence: Presence,
    clock: () => number,
    options: HubOptions,
  ) {
    this.#kv = kv;
    this.#clock = clock;
    this.#presence = presence;
    this.#options = options;
    this.#unlisten = feed.onCommit(() => this.wake());
    this.#ready = this.#start();
    this.#ready.catch((e) => console.error("the hub could not start", e));
  }

  /** The last feed position this hub has delivered. */
  get position(): number {
    return this.#pos;
  }

  /** Resolves once the hub follows the feed. */
  get ready(): Promise<void> {
    return this.#ready;
  }

  /** How many streams are open here. */
  get streamCount(): number {
    let n = 0;
    for (const s of this.#subs.values()) n += s.size;
    return n;
  }

  async #start(): Promise<void> {
    const head = await initFeed(this.#kv);
    this.#epoch = head.epoch;
    this.#pos = head.pos;
    this.#timers.push(
      setInterval(() => this.wake(), this.#options.pollMs),
      setInterval(() => this.#keepAlive(), this.#options.keepAliveMs),
    );
  }

  /** Looks for new feed entries now. */
  wake(): void {
    if (this.#catchingUp || this.#closed) return;
    this.#catchingUp = true;
    this.#enqueue(async () => {
      this.#catchingUp = false;
      await this.#catchUp();
    });
  }

  /**
   * Opens `user`'s event stream. With `lastEventId` it first replays what the
   * client missed; an id it cannot resume from gets a `reset` event. The
   * stream ends when `session` expires or is ended with {@linkcode Hub.endSession}.
   */
  async subscribe(
    user: User,
    lastEventId: string | null,
    session: StreamSession,
  ): Promise<Response> {
    await this.#ready;
    const sub: Subscriber = {
      user,
      session,
      held: [],
      heldBytes: 0,
      stream: openSseStream({
        maxBufferedBytes: this.#options.maxBufferedBytes,
        onClose: () => this.#remove(sub),
      }),
    };
    sub.stream.write(new TextEncoder().encode(`retry: ${this.#options.retryMs}\n\n`));
    await this.#presence.connect(user);
    try {
      await new Promise<void>((registered, failed) =>
        this.#enqueue(async () => {
          await this.#add(sub).then(registered, failed);
          this.#resume(sub, lastEventId, this.#pos).catch((e) => {
            console.error("replay failed", e);
            sub.stream.close();
          });
        })
      );
    } catch (error) {
      // Not registered, so closing the stream will not count the disconnect.
      this.#presence.disconnect(user.id);
      sub.stream.close();
      throw error;
    }
    return sub.stream.response;
  }

  /** Ends the streams opened with `token` (its session was logged out). */
  endSession(token: string): void {
    this.#closeWhere((sub) => sub.session.token === token);
  }

  /** Closes every stream and stops following the feed. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unlisten();
    for (const t of this.#timers) clearInterval(t);
    await this.#ready.catch(() => {});
    await this.#chain;
    for (const subs of this.#subs.values()) for (const s of [...subs]) s.stream.close();
  }

  #enqueue(task: () => Promise<void>): void {
    this.#chain = this.#chain.then(task).catch((e) => console.error("hub task failed", e));
  }

  async #add(sub: Subscriber): Promise<void> {
    const id = sub.user.id;
    if (!this.#subs.has(id)) {
      const roomIds = await roomIdsOf(this.#kv, id);
      this.#subs.set(id, new Set());
      for (const roomId of roomIds) this.#index(id, roomId, true);
    }
    this.#subs.get(id)!.add(sub);
  }

  #remove(sub: Subscriber): void {
    const id = sub.user.id;
    const subs = this.#subs.get(id);
    if (!subs?.delete(sub)) return;
    this.#presence.disconnect(id);
    if (subs.size) return;
    this.#subs.delete(id);
    for (const roomId of this.#userRooms.get(id) ?? []) this.#index(id, roomId, false);
  }

  #index(userId: string, roomId: string, member: boolean): void {
    if (member && !this.#subs.has(userId)) return;
    const rooms = this.#userRooms.get(userId) ?? new Set();
    const users = this.#roomUsers.get(roomId) ?? new Set();
    if (member) {
      this.#userRooms.set(userId, rooms.add(roomId));
      this.#roomUsers.set(roomId, users.add(userId));
      return;
    }
    rooms.delete(roomId);
    users.delete(userId);
    if (!rooms.size) this.#userRooms.delete(userId);
    if (!users.size) this.#roomUsers.delete(roomId);
  }

  /** Sends the first event (ready, or reset), replays if asked, then lets live events through. */
  async #resume(sub: Subscriber, lastEventId: string | null, until: number): Promise<void> {
    const from = this.#parseId(lastEventId);
    const floor = async () => (await readFeedHead(this.#kv))?.floor ?? 0;
    const resumable = from !== null && from >= await floor() && from <= until;
    if (lastEventId === null) {
      sub.stream.write(encodeEvent("ready", this.#id(until), { position: until }));
    } else if (!resumable) {
      sub.stream.write(encodeEvent("reset", this.#id(until), { reason: "unknown or expired id" }));
    } else {
      await this.#replay(sub, from, until);
      // Trimming that overtook a slow replay took events with it: say so.
      if (from < await floor()) {
        sub.stream.write(
          encodeEvent("reset", this.#id(until), { reason: "expired during replay" }),
        );
      }
    }
    const held = sub.held ?? [];
    sub.held = null;
    for (const chunk of held) if (!sub.stream.write(chunk)) return;
  }

  /** Writes the events after `from` up to `until` that concern the subscriber, in order. */
  async #replay(sub: Subscriber, from: number, until: number): Promise<void> {
    // No upper bound on the read: `until` may fall inside an entry.
    for await (const { first, entry } of readFeed(this.#kv, from)) {
      if (first > until) return;
      let pos = first;
      for (const event of entry.events) {
        if (sub.stream.closed) return;
        const start = pos;
        pos += eventSpan(event);
        if (pos - 1 <= from || start > until) continue;
        for (const [p, name, data] of await this.#render(event, start, sub.user.id)) {
          if (p <= from || p > until) continue;
          await sub.stream.drained();
          if (!sub.stream.write(encodeEvent(name, this.#id(p), data))) return;
        }
      }
    }
  }

  async #catchUp(): Promise<void> {
    if (this.#closed) return;
    for await (const { first, entry } of readFeed(this.#kv, this.#pos)) {
      const messages = await this.#messagesOf(entry.events, first);
      let pos = first;
      for (const event of entry.events) {
        // #pos moves event by event, so an entry cut short by a failed read
        // resumes where it stopped and delivers nothing twice.
        if (pos + eventSpan(event) - 1 > this.#pos) await this.#dispatch(event, pos, messages);
        pos += eventSpan(event);
        this.#pos = Math.max(this.#pos, pos - 1);
      }
      this.#flush();
    }
  }

  /**
   * The messages an entry's message events stand for, by room, for the rooms
   * with members here: from this process's own recent sends when it has them,
   * otherwise read from KV, all rooms at once.
   */
  async #messagesOf(events: FeedEvent[], first: number): Promise<Map<string, Message[]>> {
    const byRoom = new Map<string, Message[]>();
    const reads: Promise<void>[] = [];
    let pos = first;
    for (const e of events) {
      const start = pos;
      pos += eventSpan(e);
      if (e.type !== "message" || pos - 1 <= this.#pos || !this.#roomUsers.has(e.roomId)) continue;
      const from = this.#firstUndelivered(e, start);
      const known = this.#takeRecent(e.roomId, from, e.to);
      if (known) byRoom.set(e.roomId, known);
      else {
        reads.push(
          readMessageRange(this.#kv, e.roomId, from, e.to).then((m) =>
            void byRoom.set(e.roomId, m)
          ),
        );
      }
    }
    await Promise.all(reads);
    return byRoom;
  }

  /**
   * Keeps messages this process just committed, so delivering them needs no
   * read. Other processes' messages are read from KV: nothing here is needed
   * for delivery, it only saves the read.
   */
  remember(messages: Message[]): void {
    for (const m of messages) {
      if (this.#roomUsers.has(m.roomId)) this.#recent.set(`${m.roomId}\n${m.seq}`, m);
    }
    // Bounded: if the hub falls far behind, the oldest are read from KV instead.
    for (const key of this.#recent.keys()) {
      if (this.#recent.size <= MAX_RECENT) break;
      this.#recent.delete(key);
    }
  }

  #takeRecent(roomId: string, from: number, to: number): Message[] | null {
    const found: Message[] = [];
    for (let seq = from; seq <= to; seq++) {
      const m = this.#recent.get(`${roomId}\n${seq}`);
      if (!m) return null;
      found.push(m);
    }
    for (let seq = from; seq <= to; seq++) this.#recent.delete(`${roomId}\n${seq}`);
    return found;
  }

  /** The seq of a message event's first message past the hub's position (`start`: its first position). */
  #firstUndelivered(e: { from: number }, start: number): number {
    return e.from + Math.max(0, this.#pos - start + 1);
  }

  /** Delivers one feed event to the streams it concerns. */
  async #dispatch(event: FeedEvent, pos: number, messages: Map<string, Message[]>): Promise<void> {
    switch (event.type) {
      case "message": {
        const users = this.#roomUsers.get(event.roomId);
        if (!users?.size) return;
        // A member may have joined earlier in this same entry, after the prefetch.
        const run = messages.get(event.roomId) ??
          await readMessageRange(
            this.#kv,
            event.roomId,
            this.#firstUndelivered(event, pos),
            event.to,
          );
        for (const m of run) {
          this.#send(users, encodeEvent("message", this.#id(pos + m.seq - event.from), m));
        }
        return;
      }
      case "member": {
        const chunk = encodeEvent("member", this.#id(pos), memberData(event));
        this.#send(new Set([...this.#roomUsers.get(event.roomId) ?? [], event.user.id]), chunk);
        this.#index(event.user.id, event.roomId, event.action === "joined");
        return;
      }
      case "room":
        for (const userId of event.userIds) {
          if (!this.#subs.has(userId)) continue;
          // Only a member sees the room: they may have left since.
          const room = await memberRoomView(this.#kv, event.roomId, userId);
          if (!room) continue;
          this.#index(userId, event.roomId, true);
          this.#send([userId], encodeEvent("room", this.#id(pos), { room }));
        }
        return;
      case "read":
        this.#send([event.userId], encodeEvent("read", this.#id(pos), readData(event)));
        return;
      case "typing": {
        const users = new Set(this.#roomUsers.get(event.roomId));
        users.delete(event.user.id);
        const data = { roomId: event.roomId, user: event.user };
        this.#send(users, encodeEvent("typing", this.#id(pos), data));
        return;
      }
      case "presence": {
        const users = new Set<string>();
        for (const roomId of await roomIdsOf(this.#kv, event.user.id)) {
          for (const u of this.#roomUsers.get(roomId) ?? []) users.add(u);
        }
        users.delete(event.user.id);
        this.#send(users, encodeEvent("presence", this.#id(pos), presenceData(event)));
        return;
      }
    }
  }

  /** The events a replay gives `userId` for one feed event: messages, rooms, members, reads. */
  async #render(
    event: FeedEvent,
    pos: number,
    userId: string,
  ): Promise<[number, string, unknown][]> {
    const inRoom = (roomId: string) => this.#userRooms.get(userId)?.has(roomId) ?? false;
    switch (event.type) {
      case "message":
        if (!inRoom(event.roomId)) return [];
        return (await readMessageRange(this.#kv, event.roomId, event.from, event.to))
          .map((m) => [pos + m.seq - event.from, "message", m]);
      case "member":
        return inRoom(event.roomId) || event.user.id === userId
          ? [[pos, "member", memberData(event)]]
          : [];
      case "room": {
        if (!event.userIds.includes(userId) || !inRoom(event.roomId)) return [];
        const room = await memberRoomView(this.#kv, event.roomId, userId);
        return room ? [[pos, "room", { room }]] : [];
      }
      case "read":
        return event.userId === userId ? [[pos, "read", readData(event)]] : [];
      default:
        return []; // typing and presence are of the moment: a replay skips them
    }
  }

  /** Queues a chunk for users' streams; {@linkcode Hub.#flush} writes each stream's queue at once. */
  #send(userIds: Iterable<string>, chunk: Uint8Array): void {
    for (const userId of userIds) {
      for (const sub of this.#subs.get(userId) ?? []) {
        if (sub.held) {
          sub.held.push(chunk);
          sub.heldBytes += chunk.byteLength;
          if (sub.heldBytes > this.#options.maxBufferedBytes) sub.stream.close();
          continue;
        }
        const queued = this.#outbox.get(sub);
        if (queued) queued.push(chunk);
        else this.#outbox.set(sub, [chunk]);
      }
    }
  }

  /** Writes every stream's queued events as one chunk: one write per stream per entry. */
  #flush(): void {
    for (const [sub, chunks] of this.#outbox) {
      sub.stream.write(chunks.length === 1 ? chunks[0] : concat(chunks));
    }
    this.#outbox.clear();
  }

  #closeWhere(predicate: (sub: Subscriber) => boolean): void {
    for (const subs of [...this.#subs.values()]) {
      for (const sub of [...subs]) if (predicate(sub)) sub.stream.close();
    }
  }

  #keepAlive(): void {
    const now = this.#clock();
    this.#closeWhere((sub) => sub.session.expiresAt <= now);
    for (const subs of this.#subs.values()) {
      for (const sub of subs) if (!sub.held) sub.stream.write(keepAliveChunk);
    }
  }

  #id(pos: number): string {
    return `${this.#epoch}:${pos}`;
  }

  #parseId(id: string | null): number | null {
    const match = id?.match(/^([\w-]+):(\d+)$/);
    return match && match[1] === this.#epoch ? Number(match[2]) : null;
  }
}

/** How many recently committed messages the hub keeps to deliver without a read. */
const MAX_RECENT = 20_000;

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

function memberData(e: Extract<FeedEvent, { type: "member" }>) {
  return { roomId: e.roomId, user: e.user, action: e.action };
}

function readData(e: Extract<FeedEvent, { type: "read" }>) {
  return { roomId: e.roomId, seq: e.seq };
}

function presenceData(e: Extract<FeedEvent, { type: "presence" }>) {
  return { userId: e.user.id, username: e.user.username, online: e.online, lastSeen: e.lastSeen };
}

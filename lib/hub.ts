/**
 * The hub: turns the event log into each connected client's event stream.
 *
 * One hub per app follows the log in commit order. It is woken at once by its
 * own writer's commits, by `kv.watch` on the doorbell keys that every commit
 * bumps (other isolates, workers and KV Connect clients), and, on a local KV
 * file that separate processes share (where watch does not cross processes),
 * by a poll that backs off while nothing happens. It reads each committed
 * message once and writes it to the streams of the room's members here.
 * Nothing it delivers depends on which instance took the POST.
 *
 * A reconnecting client names the last event id it saw; the hub replays what
 * it missed from the log, then switches it to live events with no gap and no
 * repeat, because live events wait in the client's buffer during the replay.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import { ApiError, Errors } from "./errors.ts";
import {
  comparePositions,
  entrySpan,
  eventSpan,
  type FeedEvent,
  type FeedWriter,
  LOG_START,
  logEnd,
  type LogPosition,
  readLog,
} from "./feed.ts";
import { newId } from "./ids.ts";
import { doorbellKey, DOORBELLS, logEpochKey, logFloorKey } from "./keys.ts";
import { retryLocked } from "./kv_retry.ts";
import { type Message, readMessageRange } from "./messages.ts";
import { metrics } from "./metrics.ts";
import type { Presence } from "./presence.ts";
import { memberRoomView, roomIdsOf } from "./rooms.ts";
import { encodeEvent, keepAliveChunk, openSseStream, type SseStream } from "./sse.ts";

/** Timings and limits of the hub. */
export interface HubOptions {
  /**
   * Poll for other processes' commits, backing off from `pollMs.min` to
   * `pollMs.max` while nothing happens; `null` where `kv.watch` reaches every
   * instance (memory, KV Connect, Deno Deploy).
   */
  pollMs: { min: number; max: number } | null;
  /** How often to send a keep-alive comment. */
  keepAliveMs: number;
  /** How much may wait for one slow client before it is cut off. */
  maxBufferedBytes: number;
  /** The reconnect delay suggested to clients. */
  retryMs: number;
  /** A resume that would read more log entries than this answers `reset` instead. */
  maxReplayEntries: number;
}

/** The defaults: poll 50 ms to 1 s, keep-alive every 20 s, 1 MiB per client. */
export const defaultHubOptions: HubOptions = {
  pollMs: { min: 50, max: 1_000 },
  keepAliveMs: 20_000,
  maxBufferedBytes: 1024 * 1024,
  retryMs: 2_000,
  maxReplayEntries: 20_000,
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

/** A stream waiting to be registered, with what its client asked to resume from. */
interface Joining {
  sub: Subscriber;
  lastEventId: string | null;
  registered(): void;
  failed(error: unknown): void;
}

/** The session a stream belongs to: logging out or expiring ends the stream too. */
export interface StreamSession {
  token: string;
  expiresAt: number;
}

/** Follows the log and serves event streams. */
export class Hub {
  #kv: Deno.Kv;
  #clock: () => number;
  #presence: Presence;
  #options: HubOptions;
  #epoch = "";
  #pos: LogPosition = LOG_START;
  #subs = new Map<string, Set<Subscriber>>();
  #userRooms = new Map<string, Set<string>>();
  #roomUsers = new Map<string, Set<string>>();
  #chain: Promise<void> = Promise.resolve();
  #recent = new Map<string, Message>();
  #outbox = new Map<Subscriber, Uint8Array[]>();
  #joining: Joining[] = [];
  #catchingUp = false;
  #keepAliveTimer?: ReturnType<typeof setInterval>;
  #pollTimer?: ReturnType<typeof setTimeout>;
  #pollDelay = 0;
  #watch?: ReadableStreamDefaultReader<unknown>;
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

  /** The last log position this hub has delivered. */
  get position(): LogPosition {
    return this.#pos;
  }

  /** Resolves once the hub follows the log. */
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
    this.#epoch = await logEpoch(this.#kv);
    this.#pos = await logEnd(this.#kv);
    if (this.#closed) return;
    this.#keepAliveTimer = setInterval(() => this.#keepAlive(), this.#options.keepAliveMs);
    this.#watchDoorbells();
    if (this.#options.pollMs) this.#schedulePoll(this.#options.pollMs.min);
  }

  /** Wakes the hub whenever a doorbell changes: another instance committed. */
  #watchDoorbells(): void {
    const keys = Array.from({ length: DOORBELLS }, (_, i) => doorbellKey(i));
    const reader = this.#kv.watch(keys).getReader();
    this.#watch = reader;
    (async () => {
      while (!(await reader.read()).done) this.wake();
    })().catch((e) => {
      if (!this.#closed) console.error("watching the doorbells failed", e);
    });
  }

  /** The fallback poll: soon after something happened, then less and less often. */
  #schedulePoll(delay: number): void {
    this.#pollDelay = delay;
    this.#pollTimer = setTimeout(() => {
      const before = this.#pos;
      this.#enqueue(async () => {
        await this.#catchUp();
        if (this.#closed || !this.#options.pollMs) return;
        const { min, max } = this.#options.pollMs;
        const moved = comparePositions(this.#pos, before) > 0;
        this.#schedulePoll(moved ? min : Math.min(max, this.#pollDelay * 2));
      });
    }, delay);
  }

  /** Looks for new log entries now. */
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
   * It answers without waiting for any commit: presence is written behind it.
   *
   * @throws {ApiError} `unavailable` once the hub is closing.
   */
  async subscribe(
    user: User,
    lastEventId: string | null,
    session: StreamSession,
  ): Promise<Response> {
    if (this.#closed) throw new ApiError(Errors.unavailable);
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
    this.#presence.connect(user);
    try {
      await new Promise<void>((registered, failed) => {
        // Streams opened together are registered together: one task, parallel reads.
        if (this.#joining.push({ sub, lastEventId, registered, failed }) === 1) {
          this.#enqueue(() => this.#register(this.#joining.splice(0)));
        }
      });
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

  /** Closes every stream cleanly (clients reconnect elsewhere) and stops following the log. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unlisten();
    clearInterval(this.#keepAliveTimer);
    clearTimeout(this.#pollTimer);
    await this.#watch?.cancel().catch(() => {});
    await this.#ready.catch(() => {});
    await this.#chain;
    for (const subs of [...this.#subs.values()]) for (const s of [...subs]) s.stream.close();
  }

  #enqueue(task: () => Promise<void>): void {
    this.#chain = this.#chain.then(task).catch((e) => console.error("hub task failed", e));
  }

  /** Registers streams, then starts each one's replay from where the hub is now. */
  async #register(batch: Joining[]): Promise<void> {
    try {
      // A client resuming from an id newer than this hub has seen (it was on a
      // faster instance) waits for the hub to catch up to it.
      const ahead = batch.some((j) => {
        const from = this.#parseId(j.lastEventId);
        return from && comparePositions(from, this.#pos) > 0;
      });
      if (ahead) await this.#catchUp();
      const fresh = [...new Set(batch.map((j) => j.sub.user.id))].filter((id) =>
        !this.#subs.has(id)
      );
      const rooms = await Promise.all(fresh.map((id) => roomIdsOf(this.#kv, id)));
      fresh.forEach((id, i) => {
        this.#subs.set(id, new Set());
        for (const roomId of rooms[i]) this.#index(id, roomId, true);
      });
    } catch (error) {
      for (const j of batch) j.failed(error);
      return;
    }
    for (const j of batch) {
      this.#subs.get(j.sub.user.id)!.add(j.sub);
      j.registered();
      this.#resume(j.sub, j.lastEventId, this.#pos).catch((e) => {
        console.error("replay failed", e);
        j.sub.stream.close();
      });
    }
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
  async #resume(sub: Subscriber, lastEventId: string | null, until: LogPosition): Promise<void> {
    const from = this.#parseId(lastEventId);
    const floor = async () => (await this.#kv.get<string>(logFloorKey())).value ?? "";
    const resumable = from !== null && from.vs > await floor() &&
      comparePositions(from, until) <= 0;
    const untilId = this.#id(until.vs, until.k);
    if (lastEventId === null) {
      sub.stream.write(encodeEvent("ready", untilId, { position: untilId }));
    } else if (!resumable) {
      sub.stream.write(encodeEvent("reset", untilId, { reason: "unknown or expired id" }));
    } else if (!await this.#replay(sub, from, until)) {
      sub.stream.write(encodeEvent("reset", untilId, { reason: "too far behind to replay" }));
    } else if (from.vs <= await floor()) {
      // Trimming that overtook a slow replay took events with it: say so.
      sub.stream.write(encodeEvent("reset", untilId, { reason: "expired during replay" }));
    }
    const held = sub.held ?? [];
    sub.held = null;
    for (const chunk of held) if (!sub.stream.write(chunk)) return;
  }

  /**
   * Writes the events after `from` up to `until` that concern the subscriber,
   * in order. Returns `false`, having written nothing more, when the log
   * between them is longer than a replay may read.
   */
  async #replay(sub: Subscriber, from: LogPosition, until: LogPosition): Promise<boolean> {
    let entries = 0;
    for await (const { vs, entry } of readLog(this.#kv, from)) {
      if (vs > until.vs) return true;
      if (++entries > this.#options.maxReplayEntries) return false;
      const skip = vs === from.vs ? from.k : 0;
      const last = vs === until.vs ? until.k : Infinity;
      let k = 0;
      for (const event of entry.events) {
        if (sub.stream.closed) return true;
        const first = k + 1;
        k += eventSpan(event);
        if (k <= skip || first > last) continue;
        for (const [p, name, data] of await this.#render(event, first, sub.user.id)) {
          if (p <= skip || p > last) continue;
          await sub.stream.drained();
          if (!sub.stream.write(encodeEvent(name, this.#id(vs, p), data))) return true;
          metrics.eventsDelivered++;
        }
      }
    }
    return true;
  }

  async #catchUp(): Promise<void> {
    if (this.#closed) return;
    for await (const { vs, entry } of readLog(this.#kv, this.#pos)) {
      const done = vs === this.#pos.vs ? this.#pos.k : 0;
      if (done >= entrySpan(entry)) continue;
      const messages = await this.#messagesOf(entry.events, done);
      let k = 0;
      for (const event of entry.events) {
        const first = k + 1;
        k += eventSpan(event);
        // The position moves event by event, so an entry cut short by a failed
        // read resumes where it stopped and delivers nothing twice.
        if (k > done) await this.#dispatch(event, vs, first, done, messages);
        this.#pos = { vs, k };
      }
      this.#flush();
    }
  }

  /**
   * The messages an entry's message events stand for, by room, for the rooms
   * with members here: from this process's own recent sends when it has them,
   * otherwise read from KV, all rooms at once.
   */
  async #messagesOf(events: FeedEvent[], done: number): Promise<Map<string, Message[]>> {
    const byRoom = new Map<string, Message[]>();
    const reads: Promise<void>[] = [];
    let k = 0;
    for (const e of events) {
      const first = k + 1;
      k += eventSpan(e);
      if (e.type !== "message" || k <= done || !this.#roomUsers.has(e.roomId)) continue;
      const from = firstUndelivered(e, first, done);
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

  /**
   * Delivers one event to the streams it concerns.
   *
   * @param first the event's first position in its entry.
   * @param done how many positions of the entry were delivered already.
   */
  async #dispatch(
    event: FeedEvent,
    vs: string,
    first: number,
    done: number,
    messages: Map<string, Message[]>,
  ): Promise<void> {
    switch (event.type) {
      case "message": {
        const users = this.#roomUsers.get(event.roomId);
        if (!users?.size) return;
        // A member may have joined earlier in this same entry, after the prefetch.
        const run = messages.get(event.roomId) ??
          await readMessageRange(
            this.#kv,
            event.roomId,
            firstUndelivered(event, first, done),
            event.to,
          );
        for (const m of run) {
          this.#send(users, encodeEvent("message", this.#id(vs, first + m.seq - event.from), m));
        }
        return;
      }
      case "member": {
        const chunk = encodeEvent("member", this.#id(vs, first), memberData(event));
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
          this.#send([userId], encodeEvent("room", this.#id(vs, first), { room }));
        }
        return;
      case "read":
        this.#send([event.userId], encodeEvent("read", this.#id(vs, first), readData(event)));
        return;
      case "typing": {
        const users = new Set(this.#roomUsers.get(event.roomId));
        users.delete(event.user.id);
        const data = { roomId: event.roomId, user: event.user };
        // Ephemeral events carry no id: a client's resume point stays on the last durable one.
        this.#send(users, encodeEvent("typing", null, data));
        return;
      }
      case "presence": {
        const users = new Set<string>();
        for (const roomId of await roomIdsOf(this.#kv, event.user.id)) {
          for (const u of this.#roomUsers.get(roomId) ?? []) users.add(u);
        }
        users.delete(event.user.id);
        this.#send(users, encodeEvent("presence", null, presenceData(event)));
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
        metrics.eventsDelivered++;
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

  /** An event id: the log's epoch, the entry's versionstamp, the position in the entry. */
  #id(vs: string, k: number): string {
    return `${this.#epoch}:${vs}:${k}`;
  }

  #parseId(id: string | null): LogPosition | null {
    const match = id?.match(/^([\w-]+):([0-9a-f]{20}):(\d{1,9})$/);
    return match && match[1] === this.#epoch ? { vs: match[2], k: Number(match[3]) } : null;
  }
}

/** How many recently committed messages the hub keeps to deliver without a read. */
const MAX_RECENT = 20_000;

/** The seq of a message event's first message past `done` positions of its entry. */
function firstUndelivered(e: { from: number }, first: number, done: number): number {
  return e.from + Math.max(0, done - first + 1);
}

/** This database's log epoch, created by the first instance that asks. */
async function logEpoch(kv: Deno.Kv): Promise<string> {
  const epoch = newId().slice(0, 8).replace(/[^\w]/g, "x");
  await retryLocked(() =>
    kv.atomic().check({ key: logEpochKey(), versionstamp: null }).set(logEpochKey(), epoch)
      .commit()
  );
  return (await retryLocked(() => kv.get<string>(logEpochKey()))).value!;
}

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

/**
 * The hub: serves each connected client's event stream from the log.
 *
 * It puts together the parts: the {@linkcode LogFollower} hands it each new
 * log entry once; it decides who sees each event with the one visibility
 * rule ({@linkcode sees}), renders the event once and queues it on the
 * {@linkcode StreamIndex}; a new stream is registered in turn with delivery
 * and then replays what it missed ({@linkcode resume}), while its live events
 * wait, so nothing is missed or repeated.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import { ApiError, Errors, rateLimited } from "./errors.ts";
import { formatEventId, parseEventId } from "./event_ids.ts";
import { listBlocks } from "./blocks.ts";
import { encodeStored, presencePayload, typingPayload } from "./event_payloads.ts";
import { sees } from "./event_visibility.ts";
import {
  comparePositions,
  eventSpan,
  type FeedEntry,
  type FeedEvent,
  type FeedWriter,
} from "./feed.ts";
import { LogFollower } from "./log_follower.ts";
import { type Message, readMessageRange } from "./messages.ts";
import type { Presence } from "./presence.ts";
import { RecentMessages } from "./recent_messages.ts";
import { resume } from "./resume.ts";
import { memberRoomView, roomIdsOf } from "./rooms.ts";
import { encodeEvent, openSseStream } from "./sse.ts";
import { StreamIndex, type StreamSession, type Subscriber } from "./stream_index.ts";

export type { StreamSession };

/** Timings and limits of the hub. */
export interface HubOptions {
  /**
   * Poll for other processes' commits, backing off from `pollMs.min` to
   * `pollMs.max` while nothing happens; `null` where `kv.watch` reaches every
   * instance (memory, KV Connect, Deno Deploy).
   */
  pollMs: { min: number; max: number } | null;
  /** How often to send a keep-alive comment (and look for stalled streams). */
  keepAliveMs: number;
  /** A stream whose client has taken nothing for this long, while events wait, is dropped. */
  stallMs: number;
  /** How much may wait for one slow client before it is cut off. */
  maxBufferedBytes: number;
  /** The reconnect delay suggested to clients. */
  retryMs: number;
  /** A resume that would read more log entries than this answers `reset` instead. */
  maxReplayEntries: number;
  /** How many streams one user may hold open here; the next gets 429. */
  maxStreamsPerUser: number;
}

/** The defaults: poll 50 ms to 1 s, keep-alive every 20 s, 1 MiB per client. */
export const defaultHubOptions: HubOptions = {
  pollMs: { min: 50, max: 1_000 },
  keepAliveMs: 20_000,
  stallMs: 30_000,
  maxBufferedBytes: 1024 * 1024,
  retryMs: 2_000,
  maxReplayEntries: 20_000,
  maxStreamsPerUser: 20,
};

/** A stream waiting to be registered, with what its client asked to resume from. */
interface Joining {
  sub: Subscriber;
  lastEventId: string | null;
  registered(): void;
  failed(error: unknown): void;
}

/** Follows the log and serves event streams. */
export class Hub {
  #kv: Deno.Kv;
  #clock: () => number;
  #presence: Presence;
  #options: HubOptions;
  #index: StreamIndex;
  #log: LogFollower;
  #recent = new RecentMessages();
  #joining: Joining[] = [];
  #keepAliveTimer: ReturnType<typeof setInterval>;
  #unlisten: () => void;
  #sessionsEnded: (ids: string[]) => void = () => {};
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
    this.#index = new StreamIndex(options.maxBufferedBytes);
    this.#log = new LogFollower(
      kv,
      options.pollMs,
      (vs, entry, done, delivered) => this.#deliver(vs, entry, done, delivered),
    );
    this.#unlisten = feed.onCommit(() => this.#log.wake());
    this.#keepAliveTimer = setInterval(() => this.#keepAlive(), options.keepAliveMs);
  }

  /** Resolves once the hub follows the log. */
  get ready(): Promise<void> {
    return this.#log.ready;
  }

  /** How many streams are open here. */
  get streamCount(): number {
    return this.#index.streamCount;
  }

  /**
   * Opens `user`'s event stream. With `lastEventId` it first replays what the
   * client missed; an id it cannot resume from gets a `reset` event. The
   * stream ends when `session` expires or is ended (on any instance).
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
    if (this.#index.streamsOf(user.id) >= this.#options.maxStreamsPerUser) {
      throw rateLimited(this.#options.retryMs, "Too many open event streams for this account.");
    }
    await this.#log.ready;
    const { stream, response } = openSseStream({
      maxBufferedBytes: this.#options.maxBufferedBytes,
      onClose: () => {
        if (this.#index.remove(sub)) this.#presence.disconnect(user.id);
      },
    });
    const sub: Subscriber = { user, session, held: [], heldBytes: 0, stream };
    stream.write(new TextEncoder().encode(`retry: ${this.#options.retryMs}\n\n`));
    this.#presence.connect(user);
    try {
      await new Promise<void>((registered, failed) => {
        // Streams opened together are registered together: one task, parallel reads.
        if (this.#joining.push({ sub, lastEventId, registered, failed }) === 1) {
          this.#log.enqueue(() => this.#register(this.#joining.splice(0)));
        }
      });
    } catch (error) {
      // Not registered, so closing the stream will not count the disconnect.
      this.#presence.disconnect(user.id);
      sub.stream.close();
      throw error;
    }
    return response;
  }

  /** Keeps messages this process just committed, so delivering them needs no read. */
  remember(messages: Message[]): void {
    this.#recent.add(messages.filter((m) => this.#index.usersIn(m.roomId).size));
  }

  /** Calls `listener` with the ids of sessions ended anywhere, as this hub learns of them. */
  onSessionsEnded(listener: (ids: string[]) => void): void {
    this.#sessionsEnded = listener;
  }

  /** Closes every stream cleanly (clients reconnect elsewhere) and stops following the log. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unlisten();
    clearInterval(this.#keepAliveTimer);
    await this.#log.close();
    this.#index.closeWhere(() => true);
  }

  /** Registers streams, then starts each one's replay from where delivery is now. */
  async #register(batch: Joining[]): Promise<void> {
    try {
      // A client resuming from an id newer than this instance has seen (it was
      // on a faster one) waits for the log to catch up to it.
      const ahead = batch.some((j) => {
        const from = parseEventId(this.#log.epoch, j.lastEventId);
        return from && comparePositions(from, this.#log.position) > 0;
      });
      if (ahead) await this.#log.catchUp();
      // A user's last other stream may close while their rooms are read, which
      // takes them out of the index again: read until every user is in.
      for (let ids = this.#notIndexed(batch); ids.length; ids = this.#notIndexed(batch)) {
        const [rooms, blocks] = await Promise.all([
          Promise.all(ids.map((id) => roomIdsOf(this.#kv, id))),
          Promise.all(ids.map((id) => listBlocks(this.#kv, id))),
        ]);
        ids.forEach((id, i) => this.#index.addUser(id, rooms[i], blocks[i].map((b) => b.user.id)));
      }
    } catch (error) {
      for (const j of batch) j.failed(error);
      return;
    }
    for (const j of batch) {
      // A client gone before it was registered: its close found nothing to remove.
      if (j.sub.stream.closed) {
        j.failed(new ApiError(Errors.unavailable));
        continue;
      }
      this.#index.add(j.sub);
      j.registered();
      resume({
        kv: this.#kv,
        epoch: this.#log.epoch,
        stream: j.sub.stream,
        viewer: this.#index.viewer(j.sub.user.id),
        lastEventId: j.lastEventId,
        until: this.#log.position,
        maxEntries: this.#options.maxReplayEntries,
      }).then(() => this.#index.release(j.sub), (e) => {
        console.error("replay failed", e);
        j.sub.stream.close();
      });
    }
  }

  /** The users of `batch` whose streams this index does not follow yet. */
  #notIndexed(batch: Joining[]): string[] {
    return [...new Set(batch.map((j) => j.sub.user.id))].filter((id) => !this.#index.has(id));
  }

  /** Delivers one log entry's events past `done` to the streams here that see them. */
  async #deliver(
    vs: string,
    entry: FeedEntry,
    done: number,
    delivered: (k: number) => void,
  ): Promise<void> {
    const [messages, presenceRooms] = await Promise.all([
      this.#messagesOf(entry.events, done),
      this.#presenceRoomsOf(entry.events, done),
    ]);
    let k = 0;
    for (const event of entry.events) {
      const first = k + 1;
      k += eventSpan(event);
      if (k > done) await this.#dispatch(event, vs, first, done, messages, presenceRooms);
      delivered(k);
    }
    this.#index.flush();
  }

  /**
   * The rooms of the users whose presence an entry changes, when anyone has a
   * stream here: from the index for users with a stream here, otherwise read,
   * all at once (a storm of connections commits many presence changes an entry).
   */
  async #presenceRoomsOf(events: FeedEvent[], done: number): Promise<Map<string, string[]>> {
    const rooms = new Map<string, string[]>();
    if (!this.#index.userCount) return rooms;
    const reads: Promise<void>[] = [];
    let k = 0;
    for (const e of events) {
      k += eventSpan(e);
      if (e.type !== "presence" || k <= done || rooms.has(e.user.id)) continue;
      const known = this.#index.roomsOf(e.user.id);
      rooms.set(e.user.id, known ?? []);
      if (!known) {
        reads.push(roomIdsOf(this.#kv, e.user.id).then((r) => void rooms.set(e.user.id, r)));
      }
    }
    await Promise.all(reads);
    return rooms;
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
      if (e.type !== "message" || k <= done || !this.#index.usersIn(e.roomId).size) continue;
      const from = firstUndelivered(e, first, done);
      const known = this.#recent.take(e.roomId, from, e.to);
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

  /** Renders one event once and queues it for every stream here whose user sees it. */
  async #dispatch(
    event: FeedEvent,
    vs: string,
    first: number,
    done: number,
    messages: Map<string, Message[]>,
    presenceRooms: Map<string, string[]>,
  ): Promise<void> {
    const id = (k: number) => formatEventId(this.#log.epoch, { vs, k });
    const to = (userIds: Iterable<string>, chunk: Uint8Array, subjectRooms?: string[]) => {
      const seeing = [...userIds].filter((u) => sees(event, this.#index.viewer(u), subjectRooms));
      if (seeing.length) this.#index.send(seeing, chunk);
    };
    switch (event.type) {
      case "message": {
        const users = this.#index.usersIn(event.roomId);
        if (!users.size) return;
        // A member may have joined earlier in this same entry, after the prefetch.
        const run = messages.get(event.roomId) ??
          await readMessageRange(
            this.#kv,
            event.roomId,
            firstUndelivered(event, first, done),
            event.to,
          );
        // Who sees the run depends on the event, not on each message: decided once.
        const seeing = [...users].filter((u) => sees(event, this.#index.viewer(u)));
        if (!seeing.length) return;
        for (const m of run) {
          this.#index.send(seeing, encodeEvent("message", id(first + m.seq - event.from), m));
        }
        return;
      }
      case "member": {
        const users = new Set([...this.#index.usersIn(event.roomId), event.user.id]);
        to(users, encodeStored(event, id(first))!);
        // Someone removed stops receiving the room at once, on every instance.
        if (event.action !== "role") {
          this.#index.setMember(event.user.id, event.roomId, event.action === "joined");
        }
        return;
      }
      case "reaction":
      case "message_update":
      case "devices":
        to(this.#index.usersIn(event.roomId), encodeStored(event, id(first))!);
        return;
      case "room_deleted": {
        const users = new Set([...this.#index.usersIn(event.roomId), ...event.userIds]);
        to(users, encodeStored(event, id(first))!);
        for (const u of users) this.#index.setMember(u, event.roomId, false);
        return;
      }
      case "room":
        for (const userId of event.userIds) {
          if (!this.#index.has(userId)) continue;
          // Only a member sees the room: they may have left since.
          const room = await memberRoomView(this.#kv, event.roomId, userId);
          if (!room) continue;
          this.#index.setMember(userId, event.roomId, true);
          to([userId], encodeEvent("room", id(first), { room }));
        }
        return;
      case "invite":
      case "read":
        to([event.userId], encodeStored(event, id(first))!);
        return;
      case "block":
        this.#index.setBlocked(event.userId, event.user.id, event.blocked);
        to([event.userId], encodeStored(event, id(first))!);
        return;
      case "sessions_ended": {
        const ended = new Set(event.sessionIds);
        this.#index.closeWhere((sub) => ended.has(sub.session.id));
        this.#sessionsEnded(event.sessionIds);
        return;
      }
      case "typing":
        // Ephemeral events carry no id: a client's resume point stays on the last durable one.
        to(this.#index.usersIn(event.roomId), encodeEvent("typing", null, typingPayload(event)));
        return;
      case "presence": {
        const rooms = presenceRooms.get(event.user.id);
        if (!rooms) return;
        const users = new Set(rooms.flatMap((r) => [...this.#index.usersIn(r)]));
        to(users, encodeEvent("presence", null, presencePayload(event)), rooms);
        return;
      }
    }
  }

  #keepAlive(): void {
    const now = this.#clock();
    this.#index.closeWhere((sub) => sub.session.expiresAt <= now);
    this.#index.keepAlive(this.#options.stallMs);
  }
}

/** The seq of a message event's first message past `done` positions of its entry. */
function firstUndelivered(e: { from: number }, first: number, done: number): number {
  return e.from + Math.max(0, done - first + 1);
}

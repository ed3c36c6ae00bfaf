/**
 * The index of the event streams open on this instance: each user's
 * streams, which rooms each of those users is in, and which of them are in
 * each room. It queues events per stream and writes each stream's queue as
 * one chunk, and holds back live events while a stream's replay runs.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import type { Viewer } from "./event_visibility.ts";
import { metrics } from "./metrics.ts";
import { concat, keepAliveChunk, type SseStream } from "./sse.ts";

/** The session a stream belongs to: ending it or its expiry ends the stream too. */
export interface StreamSession {
  id: string;
  expiresAt: number;
}

/** One open stream. */
export interface Subscriber {
  user: User;
  session: StreamSession;
  stream: SseStream;
  /** Live events held back while the replay runs; `null` once live. */
  held: Uint8Array[] | null;
  heldBytes: number;
}

/**
 * Streams by user, and users by room.
 *
 * @example
 * ```ts
 * const index = new StreamIndex(1024 * 1024);
 * index.addUser(user.id, roomIds);
 * index.add(sub);
 * index.send(index.usersIn(roomId), chunk);
 * index.flush();
 * ```
 */
export class StreamIndex {
  #subs = new Map<string, Set<Subscriber>>();
  #userRooms = new Map<string, Set<string>>();
  #roomUsers = new Map<string, Set<string>>();
  #blocked = new Map<string, Set<string>>();
  #outbox = new Map<Subscriber, Uint8Array[]>();
  #maxHeldBytes: number;

  /** @param maxHeldBytes how much may be held back for one replaying stream before it is cut off. */
  constructor(maxHeldBytes: number) {
    this.#maxHeldBytes = maxHeldBytes;
  }

  /** Whether `userId` has a stream here. */
  has(userId: string): boolean {
    return this.#subs.has(userId);
  }

  /** How many users have streams here. */
  get userCount(): number {
    return this.#subs.size;
  }

  /** How many streams are open here. */
  get streamCount(): number {
    let n = 0;
    for (const s of this.#subs.values()) n += s.size;
    return n;
  }

  /** `userId` as a viewer: the rooms they are in, as far as this index knows. */
  viewer(userId: string): Viewer {
    return {
      id: userId,
      inRoom: (roomId) => this.#userRooms.get(userId)?.has(roomId) ?? false,
      blocks: (other) => this.#blocked.get(userId)?.has(other) ?? false,
    };
  }

  /** The rooms of a user who has a stream here, as this index follows them; `undefined` for anyone else. */
  roomsOf(userId: string): string[] | undefined {
    if (!this.#subs.has(userId)) return undefined;
    return [...this.#userRooms.get(userId) ?? []];
  }

  /** How many streams `userId` has open here. */
  streamsOf(userId: string): number {
    return this.#subs.get(userId)?.size ?? 0;
  }

  /** Records that a user here blocked someone, or lifted a block. */
  setBlocked(userId: string, otherId: string, blocked: boolean): void {
    if (!this.#subs.has(userId)) return;
    const set = this.#blocked.get(userId) ?? new Set();
    if (blocked) set.add(otherId);
    else set.delete(otherId);
    if (set.size) this.#blocked.set(userId, set);
    else this.#blocked.delete(userId);
  }

  /** The users here who are in `roomId`. */
  usersIn(roomId: string): ReadonlySet<string> {
    return this.#roomUsers.get(roomId) ?? EMPTY;
  }

  /** Starts following a user who had no stream here: the rooms they are in, whom they block. */
  addUser(userId: string, roomIds: string[], blockedIds: string[]): void {
    if (this.#subs.has(userId)) return;
    this.#subs.set(userId, new Set());
    for (const roomId of roomIds) this.setMember(userId, roomId, true);
    if (blockedIds.length) this.#blocked.set(userId, new Set(blockedIds));
  }

  /** Adds a stream of a user already added with {@linkcode StreamIndex.addUser}. */
  add(sub: Subscriber): void {
    this.#subs.get(sub.user.id)!.add(sub);
  }

  /** Removes a stream; returns whether it was here. The user's last stream takes them out. */
  remove(sub: Subscriber): boolean {
    const id = sub.user.id;
    const subs = this.#subs.get(id);
    if (!subs?.delete(sub)) return false;
    this.#outbox.delete(sub);
    if (subs.size) return true;
    this.#subs.delete(id);
    this.#blocked.delete(id);
    for (const roomId of this.#userRooms.get(id) ?? []) this.setMember(id, roomId, false);
    return true;
  }

  /** Records that a user here joined or left a room. */
  setMember(userId: string, roomId: string, member: boolean): void {
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

  /** Queues a chunk for every stream of `userIds`; {@linkcode StreamIndex.flush} writes it. */
  send(userIds: Iterable<string>, chunk: Uint8Array): void {
    for (const userId of userIds) {
      for (const sub of this.#subs.get(userId) ?? []) {
        metrics.eventsDelivered++;
        if (sub.held) {
          sub.held.push(chunk);
          sub.heldBytes += chunk.byteLength;
          if (sub.heldBytes > this.#maxHeldBytes) sub.stream.close();
          continue;
        }
        const queued = this.#outbox.get(sub);
        if (queued) queued.push(chunk);
        else this.#outbox.set(sub, [chunk]);
      }
    }
  }

  /** Writes every stream's queued events as one chunk: one write per stream per log entry. */
  flush(): void {
    for (const [sub, chunks] of this.#outbox) {
      sub.stream.write(chunks.length === 1 ? chunks[0] : concat(chunks));
    }
    this.#outbox.clear();
  }

  /** Lets a stream's held-back events through, in order: its replay is done. */
  release(sub: Subscriber): void {
    const held = sub.held ?? [];
    sub.held = null;
    for (const chunk of held) if (!sub.stream.write(chunk)) return;
  }

  /** Closes every stream that `predicate` picks. */
  closeWhere(predicate: (sub: Subscriber) => boolean): void {
    for (const subs of [...this.#subs.values()]) {
      for (const sub of [...subs]) if (predicate(sub)) sub.stream.close();
    }
  }

  /** Writes a keep-alive comment to every live stream; drops those stalled for `stallMs`. */
  keepAlive(stallMs: number): void {
    const now = performance.now();
    for (const subs of [...this.#subs.values()]) {
      for (const sub of [...subs]) {
        if (sub.stream.dropIfStalled(now, stallMs)) continue;
        if (!sub.held) sub.stream.write(keepAliveChunk);
      }
    }
  }
}

const EMPTY: ReadonlySet<string> = new Set();

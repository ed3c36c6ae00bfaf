/**
 * Sends routed to the worker that owns their room. Workers of
 * `deno serve --parallel` share one KV file: two of them committing sends to
 * the same room conflict on its head and retry, and SQLite lets one write at a
 * time. So each room has one owner among the live workers (rendezvous hashing
 * over their ids), a send taken by another worker is handed to the owner over
 * a `BroadcastChannel` (which crosses the workers of one process), and the
 * owner's group commit takes it with the room's other sends. Everything else a
 * request does (HTTP, authentication, validation, limits, the answer) stays
 * on the worker that took it.
 *
 * Only for a local KV file: separate processes, KV Connect and Deno Deploy
 * have no channel between instances, and their sends commit where they land.
 *
 * @module
 */
import { ApiError, type ErrorKind, Errors } from "./errors.ts";
import { newId } from "./ids.ts";
import type { SendInput, SendResult } from "./messages.ts";

/** One send, as the worker that took it hands it to the room's owner. */
export interface SendRequest extends SendInput {
  roomId: string;
}

/** How often a worker says it is alive, and when a silent one is taken for gone. */
const HEARTBEAT_MS = 1_000;
const GONE_MS = 3_500;
/** A forwarded send not answered in this time fails with 503; the client retries with its clientId. */
const ANSWER_MS = 15_000;

type RosterMessage = { type: "hello" | "here" | "bye"; id: string };
type InboxMessage =
  | { type: "send"; reqId: string; from: string; request: SendRequest }
  | { type: "result"; reqId: string; result: SendResult }
  | { type: "error"; reqId: string; kind: ErrorKind; message: string; details?: unknown };

/**
 * Routes each send to its room's owner among the workers on one KV file.
 *
 * @example
 * ```ts
 * const routing = new SendRouting("parley:/data/parley.kv", (r) => sender.send(r));
 * const { message } = await routing.send({ roomId, author, text: "hi", attachmentIds: [] });
 * routing.close();
 * ```
 */
export class SendRouting {
  readonly id: string = newId();
  #local: (request: SendRequest) => Promise<SendResult>;
  #peers = new Map<string, number>();
  #roster: BroadcastChannel;
  #inbox: BroadcastChannel;
  #outboxes = new Map<string, BroadcastChannel>();
  #pending = new Map<string, { resolve: (r: SendResult) => void; reject: (e: Error) => void }>();
  #channel: string;
  #timer: ReturnType<typeof setInterval>;

  /**
   * @param channel names the KV file: workers on the same file find each other.
   * @param local commits a send on this worker.
   */
  constructor(channel: string, local: (request: SendRequest) => Promise<SendResult>) {
    this.#channel = channel;
    this.#local = local;
    this.#roster = new BroadcastChannel(`${channel}:roster`);
    this.#inbox = new BroadcastChannel(`${channel}:${this.id}`);
    this.#roster.onmessage = (e) => this.#onRoster(e.data);
    this.#inbox.onmessage = (e) => this.#onInbox(e.data);
    this.#say("hello");
    this.#timer = setInterval(() => this.#say("here"), HEARTBEAT_MS);
  }

  /** How many other workers this one currently sees. */
  get peerCount(): number {
    this.#forgetSilent();
    return this.#peers.size;
  }

  /** Sends on the room's owner: here, or forwarded to the worker that owns it. */
  send(request: SendRequest): Promise<SendResult> {
    const owner = this.#ownerOf(request.roomId);
    if (owner === this.id) return this.#local(request);
    return new Promise((resolve, reject) => {
      const reqId = newId();
      const timer = setTimeout(() => {
        this.#pending.delete(reqId);
        reject(new ApiError(Errors.unavailable));
      }, ANSWER_MS);
      this.#pending.set(reqId, {
        resolve: (r) => (clearTimeout(timer), resolve(r)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      this.#outbox(owner).postMessage(
        { type: "send", reqId, from: this.id, request } satisfies InboxMessage,
      );
    });
  }

  /** Leaves the roster; sends in flight elsewhere still answer. */
  close(): void {
    clearInterval(this.#timer);
    this.#say("bye");
    this.#roster.close();
    this.#inbox.close();
    for (const c of this.#outboxes.values()) c.close();
    for (const p of this.#pending.values()) p.reject(new ApiError(Errors.unavailable));
    this.#pending.clear();
  }

  /** The live worker with the highest score for the room: all workers agree without talking. */
  #ownerOf(roomId: string): string {
    this.#forgetSilent();
    let best = this.id, bestScore = score(roomId, this.id);
    for (const id of this.#peers.keys()) {
      const s = score(roomId, id);
      if (s > bestScore || (s === bestScore && id > best)) [best, bestScore] = [id, s];
    }
    return best;
  }

  #forgetSilent(): void {
    const now = performance.now();
    for (const [id, seen] of this.#peers) if (now - seen > GONE_MS) this.#forget(id);
  }

  /** A worker gone: no owner any more, and no channel kept open to it. */
  #forget(id: string): void {
    this.#peers.delete(id);
    this.#outboxes.get(id)?.close();
    this.#outboxes.delete(id);
  }

  #say(type: RosterMessage["type"]): void {
    this.#roster.postMessage({ type, id: this.id } satisfies RosterMessage);
  }

  #onRoster(m: RosterMessage): void {
    if (m.type === "bye") {
      this.#forget(m.id);
      return;
    }
    const known = this.#peers.has(m.id);
    this.#peers.set(m.id, performance.now());
    // A newcomer learns of this worker now, not at the next heartbeat.
    if (m.type === "hello" && !known) this.#say("here");
  }

  async #onInbox(m: InboxMessage): Promise<void> {
    if (m.type === "send") {
      const reply = this.#outbox(m.from);
      try {
        const result = await this.#local(m.request);
        reply.postMessage({ type: "result", reqId: m.reqId, result } satisfies InboxMessage);
      } catch (e) {
        const error = e instanceof ApiError ? e : new ApiError(Errors.internal);
        if (!(e instanceof ApiError)) console.error("forwarded send failed", e);
        reply.postMessage(
          {
            type: "error",
            reqId: m.reqId,
            kind: error.kind,
            message: error.message,
            details: error.details,
          } satisfies InboxMessage,
        );
      }
      return;
    }
    const pending = this.#pending.get(m.reqId);
    if (!pending) return;
    this.#pending.delete(m.reqId);
    if (m.type === "result") pending.resolve(m.result);
    else pending.reject(new ApiError(m.kind, m.details, { message: m.message }));
  }

  #outbox(id: string): BroadcastChannel {
    let channel = this.#outboxes.get(id);
    if (!channel) this.#outboxes.set(id, channel = new BroadcastChannel(`${this.#channel}:${id}`));
    return channel;
  }
}

/** FNV-1a of room and worker: a cheap, well-spread score for rendezvous hashing. */
function score(roomId: string, workerId: string): number {
  let h = 0x811c9dc5;
  const s = roomId + "\n" + workerId;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * A Server-Sent Events reader for `/api/events` that keeps itself connected:
 * it reconnects with exponential backoff, resumes with `Last-Event-ID`, and
 * treats a stream silent for longer than the server's keep-alive as dead.
 *
 * @module
 */
import { EVENT_NAMES } from "../shared/event_names.ts";
import type { ParleyEvent } from "../shared/events.ts";
import { SseParser } from "../shared/sse_reader.ts";
import { networkReason, parseRetryAfter } from "./api.ts";
import { withoutWhen } from "./format.ts";

/** One event from the stream, its data parsed from JSON but not yet typed. */
export interface StreamEvent {
  event: string;
  id: string | null;
  data: unknown;
}

/**
 * The event as the client core takes it, or `null` for a type this client
 * does not know (a newer server): such an event is skipped, not guessed at.
 */
export function toParleyEvent({ event, id, data }: StreamEvent): ParleyEvent | null {
  if (!(EVENT_NAMES as readonly string[]).includes(event)) return null;
  // The server encodes every event through the contract's schemas.
  return { type: event, id, data } as ParleyEvent;
}

/** What the stream tells its owner about the connection. */
export type StreamState =
  | { state: "open" }
  | { state: "down"; reason: string; retryInMs: number }
  | { state: "unauthorized" };

/** Options of {@linkcode EventStream}. */
export interface EventStreamOptions {
  /** The server's origin. */
  server: string;
  /** The bearer token. */
  token: string;
  /** Resume after this event id. */
  lastEventId?: string | null;
  /** Called for each event, in order. */
  onEvent: (event: StreamEvent) => void;
  /** Called when the connection opens, drops, or the token is refused. */
  onState?: (state: StreamState) => void;
  /** First wait before reconnecting; doubles up to `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Reconnect when nothing, not even a keep-alive, arrived for this long. */
  idleTimeoutMs?: number;
}

/**
 * A self-healing event stream.
 *
 * @example
 * ```ts
 * const stream = new EventStream({ server, token, onEvent: (e) => console.log(e.event) });
 * stream.start();
 * // later
 * await stream.close();
 * ```
 */
export class EventStream {
  /** The id of the last event received; sent as `Last-Event-ID` on reconnect. */
  lastEventId: string | null;
  #options: EventStreamOptions;
  #closed = false;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  #abort: AbortController | null = null;
  #sleep: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | null = null;
  #loop: Promise<void> | null = null;
  /** The least wait before the next attempt, when the server said (a 429's `Retry-After`). */
  #retryAfterMs = 0;

  constructor(options: EventStreamOptions) {
    this.#options = options;
    this.lastEventId = options.lastEventId ?? null;
  }

  /** Starts connecting; runs until {@linkcode close}. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops for good and closes the connection. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#abort?.abort();
    await this.#reader?.cancel().catch(() => {});
    if (this.#sleep) {
      clearTimeout(this.#sleep.timer);
      this.#sleep.resolve();
    }
    await this.#loop;
  }

  async #run(): Promise<void> {
    const min = this.#options.minBackoffMs ?? 250;
    const max = this.#options.maxBackoffMs ?? 5_000;
    let failures = 0;
    while (!this.#closed) {
      let reason: string;
      try {
        reason = await this.#connect(() => failures = 0);
      } catch (error) {
        if (error instanceof Unauthorized) {
          this.#options.onState?.({ state: "unauthorized" });
          return;
        }
        reason = networkReason(error);
      }
      if (this.#closed) return;
      // Jitter keeps many clients from hammering a server that just came back, all at once.
      const backoff = Math.round(Math.min(max, min * 2 ** failures) * (0.8 + Math.random() * 0.4));
      const wait = Math.max(backoff, this.#retryAfterMs);
      this.#retryAfterMs = 0;
      failures++;
      this.#options.onState?.({ state: "down", reason, retryInMs: wait });
      await new Promise<void>((resolve) => {
        this.#sleep = { timer: setTimeout(resolve, wait), resolve };
      });
      this.#sleep = null;
    }
  }

  /** One connection, until it ends; returns why it ended. */
  async #connect(opened: () => void): Promise<string> {
    const headers: Record<string, string> = {
      accept: "text/event-stream",
      authorization: `Bearer ${this.#options.token}`,
    };
    if (this.lastEventId) headers["last-event-id"] = this.lastEventId;
    this.#abort = new AbortController();
    const connectTimer = setTimeout(() => this.#abort?.abort(), 10_000);
    let res: Response;
    try {
      res = await fetch(`${this.#options.server}/api/events`, {
        headers,
        signal: this.#abort.signal,
      });
    } finally {
      clearTimeout(connectTimer);
    }
    if (res.status === 401) {
      await res.body?.cancel();
      throw new Unauthorized();
    }
    if (res.status === 429) {
      // Too many streams open for this account: the server says when to try again.
      const text = await res.text().catch(() => "");
      let details: unknown;
      let message = "too many open streams";
      try {
        const { error } = JSON.parse(text);
        details = error?.details;
        if (typeof error?.message === "string") message = withoutWhen(error.message);
      } catch {
        // not the server's error shape
      }
      const seconds = parseRetryAfter(res.headers.get("retry-after"), details) ?? 1;
      this.#retryAfterMs = Math.max(1, seconds) * 1_000;
      return lowerFirst(message);
    }
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel();
      return `the server answered ${res.status}`;
    }
    opened();
    this.#options.onState?.({ state: "open" });
    this.#reader = res.body.getReader();
    try {
      return await this.#read(this.#reader);
    } finally {
      // Cancelling the reader (not aborting the fetch) is what closes the socket.
      await this.#reader.cancel().catch(() => {});
      this.#reader = null;
    }
  }

  async #read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
    const parser = new SseParser({
      event: ({ event, id, data }) => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(data);
        } catch {
          return; // Parley only sends JSON; anything else is not for us
        }
        if (id !== null) this.lastEventId = id;
        this.#options.onEvent({ event, id, data: parsed });
      },
    });
    const idleMs = this.#options.idleTimeoutMs ?? 45_000;
    let idle = setTimeout(() => reader.cancel(), idleMs);
    try {
      for (;;) {
        const { value, done } = await reader.read();
        clearTimeout(idle);
        if (done) return this.#closed ? "closed" : "the server closed the stream";
        idle = setTimeout(() => reader.cancel(), idleMs);
        parser.push(value);
      }
    } finally {
      clearTimeout(idle);
    }
  }
}

class Unauthorized extends Error {}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

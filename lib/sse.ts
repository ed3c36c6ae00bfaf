/**
 * A lean Server-Sent Events writer on a plain `ReadableStream`, with a
 * bounded buffer: a client that stops reading is cut off instead of growing
 * the server's memory.
 *
 * @module
 */
import type { EventData, EventName } from "../shared/events.ts";

const encoder = new TextEncoder();

/**
 * Encodes one event. `event` and `id` may not contain line breaks, or a
 * client would read them as separate fields. An event with a `null` id
 * leaves the client's last event id as it was.
 *
 * @example
 * ```ts
 * encodeEvent("message", "ab12:7", { text: "hi" });
 * // "event: message\nid: ab12:7\ndata: {\"text\":\"hi\"}\n\n" as bytes
 * ```
 */
export function encodeEvent<N extends EventName>(
  event: N,
  id: string | null,
  data: EventData<N>,
): Uint8Array {
  if (/[\r\n]/.test(event + (id ?? ""))) {
    throw new TypeError("SSE event and id cannot contain line breaks");
  }
  // JSON.stringify escapes line breaks inside strings, so the data is one line.
  const idLine = id === null ? "" : `id: ${id}\n`;
  return encoder.encode(`event: ${event}\n${idLine}data: ${JSON.stringify(data)}\n\n`);
}

/** Joins encoded events into one chunk: one write to the socket instead of many. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}

/** A comment line: clients ignore it, proxies see traffic. */
export const keepAliveChunk: Uint8Array = encoder.encode(":\n\n");

/** The writing end of one client's event stream. */
export interface SseStream {
  /** Whether the stream has ended. */
  readonly closed: boolean;
  /**
   * Queues bytes. Returns `false` when the stream is closed, or when the
   * client fell so far behind that the buffer overflowed, which closes it.
   */
  write(chunk: Uint8Array): boolean;
  /** Resolves when the client has taken enough of the buffer to accept more. */
  drained(): Promise<void>;
  /**
   * Drops the stream if its client has taken nothing for `stallMs` while
   * events wait: the connection is closed, not left to hold the queue.
   * Returns whether it did.
   */
  dropIfStalled(now: number, stallMs: number): boolean;
  /** Ends the stream. */
  close(): void;
}

/**
 * Why a stream was dropped. Deno logs the error a response body ends with:
 * this one shows as one line, not a stack trace, for what is an everyday event.
 */
class DroppedStream extends Error {
  constructor(reason: string) {
    super(`parley: dropped an event stream: ${reason}`);
  }
  [Symbol.for("Deno.customInspect")](): string {
    return this.message;
  }
}

/**
 * Opens an event stream: its writing end, and the response to hand to
 * `Deno.serve`. The stream does not keep the response, which a framework may
 * copy into another one (Hono does, to add headers).
 *
 * @param options.maxBufferedBytes what may wait for a slow client before it is cut off.
 * @param options.onClose called once, however the stream ends.
 */
export function openSseStream(options: {
  maxBufferedBytes: number;
  onClose: () => void;
}): { stream: SseStream; response: Response } {
  const stream = new EventStream(options.maxBufferedBytes, options.onClose);
  const body = new ReadableStream<Uint8Array>(stream, {
    highWaterMark: options.maxBufferedBytes / 2,
    size: byteLength,
  });
  return { stream, response: new Response(body, { headers: STREAM_HEADERS }) };
}

const STREAM_HEADERS = {
  "content-type": "text/event-stream; charset=utf-8",
  "cache-control": "no-cache, no-transform",
  "x-accel-buffering": "no",
};

const byteLength = (chunk: Uint8Array) => chunk.byteLength;

/**
 * One stream's state in one object that is also the body's underlying
 * source: an idle stream is held for hours, thousands at a time, so it keeps
 * no closures of its own (methods live on the prototype).
 */
class EventStream implements SseStream, UnderlyingDefaultSource<Uint8Array> {
  #controller!: ReadableStreamDefaultController<Uint8Array>;
  #closed = false;
  #wake: (() => void) | undefined;
  /** When the client last took data (or the stream opened). */
  #lastTaken = performance.now();
  /** drained() waits below half the buffer; only past the whole of it is the client cut off. */
  #half: number;
  #onClose: () => void;

  constructor(maxBufferedBytes: number, onClose: () => void) {
    this.#half = maxBufferedBytes / 2;
    this.#onClose = onClose;
  }

  /** @internal The body's source: keeps the controller. */
  start(controller: ReadableStreamDefaultController<Uint8Array>): void {
    this.#controller = controller;
  }

  /** @internal The body's source: the client took data. */
  pull(): void {
    this.#lastTaken = performance.now();
    this.#wake?.();
  }

  /** @internal The body's source: the client went away. */
  cancel(): void {
    this.#finish();
  }

  get closed(): boolean {
    return this.#closed;
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closed) return false;
    this.#controller.enqueue(chunk);
    if ((this.#controller.desiredSize ?? 0) >= -this.#half) return true;
    this.#drop("the client stopped reading and its buffer is full");
    return false;
  }

  drained(): Promise<void> {
    if (this.#closed || (this.#controller.desiredSize ?? 0) > 0) return Promise.resolve();
    return new Promise((resolve) => this.#wake = resolve);
  }

  dropIfStalled(now: number, stallMs: number): boolean {
    const waiting = (this.#controller.desiredSize ?? 0) <= 0;
    if (this.#closed || !waiting || now - this.#lastTaken < stallMs) return false;
    this.#drop(`the client took nothing for ${Math.round(stallMs / 1000)} s`);
    return true;
  }

  close(): void {
    if (this.#closed) return;
    this.#controller.close();
    this.#finish();
  }

  #drop(reason: string): void {
    this.#controller.error(new DroppedStream(reason));
    this.#finish();
  }

  #finish(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake?.();
    this.#onClose();
  }
}

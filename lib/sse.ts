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

/** A comment line: clients ignore it, proxies see traffic. */
export const keepAliveChunk: Uint8Array = encoder.encode(":\n\n");

/** The writing end of one client's event stream. */
export interface SseStream {
  /** The response to hand to `Deno.serve`. */
  readonly response: Response;
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
 * Opens an event stream.
 *
 * @param options.maxBufferedBytes what may wait for a slow client before it is cut off.
 * @param options.onClose called once, however the stream ends.
 */
export function openSseStream(options: {
  maxBufferedBytes: number;
  onClose: () => void;
}): SseStream {
  // drained() waits below half the buffer; only past the whole of it is the client cut off.
  const half = options.maxBufferedBytes / 2;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let closed = false;
  let wake: (() => void) | undefined;
  /** When the client last took data (or the stream opened). */
  let lastTaken = performance.now();
  const drop = (reason: string) => {
    controller.error(new DroppedStream(reason));
    finish();
  };
  const finish = () => {
    if (closed) return;
    closed = true;
    wake?.();
    options.onClose();
  };
  const body = new ReadableStream<Uint8Array>({
    start: (c) => void (controller = c),
    pull: () => {
      lastTaken = performance.now();
      wake?.();
    },
    cancel: finish,
  }, { highWaterMark: half, size: (chunk) => chunk.byteLength });

  return {
    response: new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-cache, no-transform",
        "x-accel-buffering": "no",
      },
    }),
    get closed() {
      return closed;
    },
    write(chunk) {
      if (closed) return false;
      controller.enqueue(chunk);
      if ((controller.desiredSize ?? 0) >= -half) return true;
      drop("the client stopped reading and its buffer is full");
      return false;
    },
    drained() {
      if (closed || (controller.desiredSize ?? 0) > 0) return Promise.resolve();
      return new Promise((resolve) => wake = resolve);
    },
    dropIfStalled(now, stallMs) {
      const waiting = (controller.desiredSize ?? 0) <= 0;
      if (closed || !waiting || now - lastTaken < stallMs) return false;
      drop(`the client took nothing for ${Math.round(stallMs / 1000)} s`);
      return true;
    },
    close() {
      if (closed) return;
      controller.close();
      finish();
    },
  };
}

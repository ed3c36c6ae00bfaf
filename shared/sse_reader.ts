/**
 * The one reader of the `text/event-stream` format (WHATWG HTML §9.2) that
 * the terminal client, the tests and the benchmark share. It imports
 * nothing, so it runs anywhere.
 *
 * @module
 */

/** One event as the stream delivers it. */
export interface SseEvent {
  /** The `event` field; `message` when there was none. */
  event: string;
  /** The event's own `id` field, or `null` when it had none (the last id then still holds). */
  id: string | null;
  /** The `data` lines, joined with line breaks. */
  data: string;
}

/** What the parser calls. */
export interface SseHandlers {
  event(event: SseEvent): void;
  /** A comment line (`:` …), such as a keep-alive. */
  comment?(text: string): void;
  /** A `retry` field: the reconnect delay the server suggests. */
  retry?(ms: number): void;
}

/**
 * An incremental parser: feed it bytes or text as they arrive.
 *
 * @example
 * ```ts
 * const parser = new SseParser({ event: (e) => console.log(e.event, e.data) });
 * parser.push("event: ready\nid: 1\ndata: {}\n\n");
 * parser.lastEventId; // "1"
 * ```
 */
export class SseParser {
  /** The id of the last event that had one: what a reconnect sends as `Last-Event-ID`. */
  lastEventId: string | null = null;
  #handlers: SseHandlers;
  #decoder = new TextDecoder();
  #buffer = "";
  #event = "";
  #data: string[] = [];
  #id: string | null = null;

  constructor(handlers: SseHandlers) {
    this.#handlers = handlers;
  }

  /** Feeds a chunk; calls the handlers for everything it completes. */
  push(chunk: Uint8Array | string): void {
    const text = this.#buffer +
      (typeof chunk === "string" ? chunk : this.#decoder.decode(chunk, { stream: true }));
    let start = 0;
    // Parley ends lines with "\n"; "\r" is rare, so its position is looked up once.
    let cr = text.indexOf("\r");
    for (;;) {
      const lf = text.indexOf("\n", start);
      if (cr >= 0 && cr < start) cr = text.indexOf("\r", start);
      const end = cr >= 0 && (lf < 0 || cr < lf) ? cr : lf;
      if (end < 0) break;
      // A lone "\r" at the end may be the first half of "\r\n": wait for more.
      if (end === cr && end === text.length - 1) break;
      this.#line(text.slice(start, end));
      start = end + (end === cr && text[end + 1] === "\n" ? 2 : 1);
    }
    this.#buffer = start ? text.slice(start) : text;
  }

  #line(line: string): void {
    if (line === "") return this.#dispatch();
    if (line[0] === ":") return this.#handlers.comment?.(line.slice(1));
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value[0] === " ") value = value.slice(1);
    if (field === "event") this.#event = value;
    else if (field === "data") this.#data.push(value);
    else if (field === "id" && !value.includes("\0")) this.#id = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.#handlers.retry?.(Number(value));
  }

  #dispatch(): void {
    const event = this.#event || "message", data = this.#data, id = this.#id;
    this.#event = "";
    this.#data = [];
    this.#id = null;
    if (id !== null) this.lastEventId = id;
    if (!data.length) return;
    this.#handlers.event({ event, id, data: data.join("\n") });
  }
}

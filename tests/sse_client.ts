// deno-lint-ignore-file no-explicit-any
/**
 * A Server-Sent Events client for tests: real HTTP, real parsing of the
 * event stream format, `Last-Event-ID` on reconnect.
 *
 * @module
 */
import { checkEvent } from "../shared/events.ts";
import { SseParser } from "../shared/sse_reader.ts";

/** One parsed event. */
export interface SseEvent {
  event: string;
  id: string;
  data: any;
}

/** An open event stream that records what it receives. */
export class SseClient {
  readonly events: SseEvent[] = [];
  readonly comments: string[] = [];
  retry?: number;
  lastEventId: string | null;
  closed = false;
  /** Which instance (or worker) serves the stream: its `X-Parley-Instance`. */
  instance: string | null = null;
  /** Events that did not match their schema in `shared/events.ts`. */
  readonly violations: string[] = [];
  /** Why the stream broke off, if it did not end cleanly. */
  error: unknown = undefined;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #waiters = new Set<() => void>();
  #taken = new Set<SseEvent>();
  #done: Promise<void>;

  private constructor(reader: ReadableStreamDefaultReader<Uint8Array>, lastEventId: string | null) {
    this.#reader = reader;
    this.lastEventId = lastEventId;
    this.#done = this.#read();
  }

  /** Opens `GET {base}/api/events`, resuming after `lastEventId` when given. */
  static async connect(
    base: string,
    options: { token: string; lastEventId?: string | null; viaQuery?: boolean },
  ): Promise<SseClient> {
    const headers: Record<string, string> = { authorization: `Bearer ${options.token}` };
    let url = `${base}/api/events`;
    if (options.lastEventId && options.viaQuery) {
      url += `?lastEventId=${encodeURIComponent(options.lastEventId)}`;
    } else if (options.lastEventId) headers["last-event-id"] = options.lastEventId;
    // A stream that never answers fails the test instead of hanging the suite.
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(new Error("events: no answer in 10 s")), 10_000);
    const res = await fetch(url, { headers, signal: abort.signal }).finally(() =>
      clearTimeout(timer)
    );
    if (res.status !== 200) throw new Error(`events: ${res.status} ${await res.text()}`);
    if (!res.headers.get("content-type")?.startsWith("text/event-stream")) {
      throw new Error(`events: content-type ${res.headers.get("content-type")}`);
    }
    const client = new SseClient(res.body!.getReader(), options.lastEventId ?? null);
    client.instance = res.headers.get("x-parley-instance");
    return client;
  }

  /** Events of one type. */
  of(type: string): any[] {
    return this.events.filter((e) => e.event === type).map((e) => e.data);
  }

  /** Waits until `predicate` holds, or fails after `timeoutMs`. */
  async until(predicate: () => boolean, timeoutMs = 5000, what = "condition"): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (this.closed && !predicate()) throw new Error(`stream closed before ${what}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, Math.min(left, 250));
        function done() {
          clearTimeout(t);
          resolve();
        }
        this.#waiters.add(done);
      });
    }
  }

  /**
   * Waits for the first event of `type` matching `filter` that no earlier
   * `next()` call returned, and returns its data.
   */
  async next(type: string, filter: (data: any) => boolean = () => true, timeoutMs = 5000) {
    let found: SseEvent | undefined;
    await this.until(
      () => {
        found = this.events.find((e) => e.event === type && !this.#taken.has(e) && filter(e.data));
        return !!found;
      },
      timeoutMs,
      `event ${type}`,
    );
    this.#taken.add(found!);
    return found!.data;
  }

  /**
   * Closes the connection (cancelling the body closes the socket).
   *
   * @throws {Error} when an event received broke the event contract.
   */
  async close(): Promise<void> {
    if (!this.closed) await this.#reader.cancel().catch(() => {});
    await this.#done;
    if (this.violations.length) {
      throw new Error(`events broke the contract:\n${this.violations.join("\n")}`);
    }
  }

  async #read(): Promise<void> {
    const parser = new SseParser({
      event: ({ event, id, data }) => {
        const parsed = JSON.parse(data);
        // Every event the suite receives is checked against the contract.
        const problem = checkEvent(event, parsed);
        if (problem) this.violations.push(problem);
        this.events.push({ event, id: id ?? parser.lastEventId ?? "", data: parsed });
        if (parser.lastEventId !== null) this.lastEventId = parser.lastEventId;
        this.#notify();
      },
      comment: (text) => this.comments.push(text),
      retry: (ms) => this.retry = ms,
    });
    try {
      for (;;) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        parser.push(value);
      }
    } catch (error) {
      // The connection was cut: that is one way a stream ends.
      this.error = error;
    } finally {
      this.closed = true;
      this.#notify();
    }
  }

  #notify() {
    for (const w of this.#waiters) w();
    this.#waiters.clear();
  }
}

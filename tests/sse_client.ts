// deno-lint-ignore-file no-explicit-any
/**
 * A Server-Sent Events client for tests: real HTTP, real parsing of the
 * event stream format, `Last-Event-ID` on reconnect.
 *
 * @module
 */

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
    const res = await fetch(url, { headers });
    if (res.status !== 200) throw new Error(`events: ${res.status} ${await res.text()}`);
    if (!res.headers.get("content-type")?.startsWith("text/event-stream")) {
      throw new Error(`events: content-type ${res.headers.get("content-type")}`);
    }
    return new SseClient(res.body!.getReader(), options.lastEventId ?? null);
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

  /** Closes the connection (cancelling the body closes the socket). */
  async close(): Promise<void> {
    if (!this.closed) await this.#reader.cancel().catch(() => {});
    await this.#done;
  }

  async #read(): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    let event: Partial<SseEvent> & { dataLines: string[] } = { dataLines: [] };
    try {
      for (;;) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let nl: number;
        while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const line = buffer.slice(0, nl);
          buffer = buffer.slice(nl + (buffer.startsWith("\r\n", nl) ? 2 : 1));
          if (line === "") {
            if (event.dataLines.length) {
              const data = event.dataLines.join("\n");
              if (event.id !== undefined) this.lastEventId = event.id;
              this.events.push({
                event: event.event ?? "message",
                id: event.id ?? this.lastEventId ?? "",
                data: JSON.parse(data),
              });
            }
            event = { dataLines: [] };
            this.#notify();
            continue;
          }
          if (line.startsWith(":")) {
            this.comments.push(line.slice(1));
            continue;
          }
          const colon = line.indexOf(":");
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
          if (field === "event") event.event = val;
          else if (field === "data") event.dataLines.push(val);
          else if (field === "id") event.id = val;
          else if (field === "retry") this.retry = Number(val);
        }
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

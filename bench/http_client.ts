/**
 * A minimal HTTP/1.1 client on raw TCP for the load generator: keep-alive
 * request connections and Server-Sent Events readers. It is much cheaper per
 * request and per open stream than `fetch`, so the load generator, which
 * shares the machine's cores with the server, takes less of them.
 *
 * Only what Parley answers is understood: `content-length` or chunked bodies.
 *
 * The event stream format itself is read by the shared parser
 * (`shared/sse_reader.ts`), as in the tests and the terminal client.
 *
 * @module
 */
import { SseParser } from "../shared/sse_reader.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const CRLF2 = [13, 10, 13, 10];

/** A response: status and body text. */
export interface HttpResponse {
  status: number;
  body: string;
}

/**
 * The header naming the instance (or worker of `deno serve --parallel`) that
 * answered, which Parley and the floor both send.
 */
export const INSTANCE_HEADER = "x-parley-instance";

/** A request body sent while it is produced: its type, its exact length, then its pieces. */
export interface StreamedBody {
  contentType: string;
  length: number;
  chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array>;
}

/** Where the server listens. */
export interface Target {
  hostname: string;
  port: number;
}

/** A growable byte buffer filled from a connection. */
class ByteReader {
  #conn: Deno.Conn;
  #buf = new Uint8Array(64 * 1024);
  #start = 0;
  #end = 0;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  get available(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  consume(n: number): void {
    this.#start += n;
    if (this.#start === this.#end) this.#start = this.#end = 0;
  }

  /** Reads more bytes; returns false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.#end === this.#buf.length) {
      // Full: move what is unread to the front, or grow when it fills the buffer.
      const size = this.#end - this.#start;
      if (this.#start > 0) this.#buf.copyWithin(0, this.#start, this.#end);
      else {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
      this.#start = 0;
      this.#end = size;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) return false;
    this.#end += n;
    return true;
  }

  /** Reads response headers: status and lower-cased header map. */
  async head(): Promise<{ status: number; headers: Map<string, string> }> {
    while (true) {
      const at = indexOf(this.available, CRLF2);
      if (at >= 0) {
        const text = decoder.decode(this.available.subarray(0, at));
        this.consume(at + 4);
        const lines = text.split("\r\n");
        const status = Number(lines[0].split(" ")[1]);
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(":");
          headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
        }
        return { status, headers };
      }
      if (!await this.fill()) throw new Error("connection closed before response headers");
    }
  }

  /** Reads exactly `n` bytes. */
  async exactly(n: number): Promise<Uint8Array> {
    while (this.available.length < n) {
      if (!await this.fill()) throw new Error("connection closed in a response body");
    }
    const out = this.available.slice(0, n);
    this.consume(n);
    return out;
  }

  /** Hands the next `n` bytes to `sink` as they arrive, in pieces (views valid during the call). */
  async pipe(n: number, sink: (piece: Uint8Array) => void): Promise<void> {
    let left = n;
    while (left > 0) {
      if (!this.available.length && !await this.fill()) {
        throw new Error("connection closed in a response body");
      }
      const piece = this.available.subarray(0, Math.min(left, this.available.length));
      sink(piece);
      this.consume(piece.length);
      left -= piece.length;
    }
  }

  /** Reads up to and including CRLF; returns the line without it. */
  async line(): Promise<string> {
    while (true) {
      const at = indexOf(this.available, [13, 10]);
      if (at >= 0) {
        const text = decoder.decode(this.available.subarray(0, at));
        this.consume(at + 2);
        return text;
      }
      if (!await this.fill()) throw new Error("connection closed in a chunk header");
    }
  }
}

function indexOf(haystack: Uint8Array, needle: number[]): number {
  const first = needle[0];
  for (let i = haystack.indexOf(first); i >= 0; i = haystack.indexOf(first, i + 1)) {
    if (i + needle.length > haystack.length) return -1;
    let ok = true;
    for (let j = 1; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) {
        ok = false;
        break;
      }
    }
    if (ok) return i;
  }
  return -1;
}

/**
 * One keep-alive connection that sends one request at a time.
 *
 * @example
 * ```ts
 * const c = await HttpConnection.open({ hostname: "127.0.0.1", port: 8000 });
 * const { status, body } = await c.request("GET", "/api/health");
 * c.close();
 * ```
 */
export class HttpConnection {
  #conn: Deno.TcpConn;
  #reader: ByteReader;
  #host: string;

  private constructor(conn: Deno.TcpConn, host: string) {
    this.#conn = conn;
    this.#reader = new ByteReader(conn);
    this.#host = host;
  }

  /** Connects to `target`. */
  static async open(target: Target): Promise<HttpConnection> {
    const conn = await Deno.connect({ ...target, transport: "tcp" });
    conn.setNoDelay(true);
    return new HttpConnection(conn, `${target.hostname}:${target.port}`);
  }

  /** Sends a request and reads the whole response (headers lower-cased). */
  async request(
    method: string,
    path: string,
    options: { token?: string; json?: unknown } = {},
  ): Promise<HttpResponse & { headers: Map<string, string> }> {
    const body = options.json === undefined ? "" : JSON.stringify(options.json);
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.#host}\r\n`;
    if (options.token) head += `authorization: Bearer ${options.token}\r\n`;
    if (options.json !== undefined) {
      head += `content-type: application/json\r\ncontent-length: ${
        encoder.encode(body).length
      }\r\n`;
    }
    await writeAll(this.#conn, encoder.encode(`${head}\r\n${body}`));
    const { status, headers } = await this.#reader.head();
    let bytes: Uint8Array;
    if (headers.get("transfer-encoding")?.includes("chunked")) {
      const parts: Uint8Array[] = [];
      while (true) {
        const size = parseInt(await this.#reader.line(), 16);
        if (size === 0) {
          await this.#reader.line();
          break;
        }
        parts.push(await this.#reader.exactly(size));
        await this.#reader.line();
      }
      bytes = concat(parts);
    } else {
      bytes = await this.#reader.exactly(Number(headers.get("content-length") ?? 0));
    }
    return { status, headers, body: decoder.decode(bytes) };
  }

  /**
   * Sends a request whose body streams from `body.chunks` as they are produced
   * (announced with its exact `content-length`, so the server sees an ordinary
   * body), and hands a 2xx response's body to `onBody` piece by piece as it
   * arrives, never holding it whole. Any other response's body is returned as
   * text. `bytes` counts the body's bytes either way.
   *
   * The pieces given to `onBody` are views into a reused buffer: use them
   * before returning.
   *
   * @throws {Error} when the connection fails, or when the body produced is not
   * `body.length` bytes.
   */
  async exchange(
    method: string,
    path: string,
    options: {
      token?: string;
      body?: StreamedBody;
      onBody?: (bytes: Uint8Array) => void;
    } = {},
  ): Promise<HttpResponse & { headers: Map<string, string>; bytes: number }> {
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.#host}\r\n`;
    if (options.token) head += `authorization: Bearer ${options.token}\r\n`;
    const body = options.body;
    if (body) {
      head += `content-type: ${body.contentType}\r\ncontent-length: ${body.length}\r\n`;
    }
    await writeAll(this.#conn, encoder.encode(`${head}\r\n`));
    let writeError: unknown;
    if (body) {
      let sent = 0;
      try {
        for await (const chunk of body.chunks) {
          await writeAll(this.#conn, chunk);
          sent += chunk.length;
        }
      } catch (e) {
        // The server may have answered early (a 413, say) and closed: read its answer below.
        writeError = e;
      }
      if (writeError === undefined && sent !== body.length) {
        throw new Error(`the body was ${sent} bytes, not the ${body.length} announced`);
      }
    }
    let response;
    try {
      response = await this.#reader.head();
    } catch (e) {
      throw writeError ?? e;
    }
    const { status, headers } = response;
    const ok = status >= 200 && status < 300 && options.onBody;
    const text: Uint8Array[] = [];
    const sink = ok ? options.onBody! : (bytes: Uint8Array) => text.push(bytes.slice());
    let bytes = 0;
    const take = (piece: Uint8Array) => {
      bytes += piece.length;
      sink(piece);
    };
    if (headers.get("transfer-encoding")?.includes("chunked")) {
      while (true) {
        const size = parseInt(await this.#reader.line(), 16);
        if (size === 0) {
          await this.#reader.line();
          break;
        }
        await this.#reader.pipe(size, take);
        await this.#reader.line();
      }
    } else {
      await this.#reader.pipe(Number(headers.get("content-length") ?? 0), take);
    }
    return { status, headers, bytes, body: ok ? "" : decoder.decode(concat(text)) };
  }

  /** Closes the connection. */
  close(): void {
    try {
      this.#conn.close();
    } catch { /* already closed */ }
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/** Called for every event of a stream; `data` is the raw data line (JSON text). */
export type EventHandler = (event: string, id: string, data: string) => void;

/**
 * An open `GET /api/events` stream on its own socket. Events are parsed as
 * they arrive and handed to `onEvent`; comments are skipped.
 */
export class SseConnection {
  #conn: Deno.TcpConn;
  #done: Promise<void>;
  #closed = false;
  /** The id of the last event received. */
  lastEventId = "";
  /** Which instance (or worker) serves the stream: its `x-parley-instance`, if it sent one. */
  readonly instance: string | undefined;

  private constructor(
    conn: Deno.TcpConn,
    instance: string | undefined,
    done: (self: SseConnection) => Promise<void>,
  ) {
    this.#conn = conn;
    this.instance = instance;
    this.#done = done(this);
  }

  /**
   * Opens a stream and resolves once the response headers arrived;
   * `timing.connected` is called when the TCP connection is established.
   *
   * @throws {Error} when the server does not answer 200.
   */
  static async open(
    target: Target,
    token: string,
    onEvent: EventHandler,
    lastEventId?: string,
    timing?: { connected?: () => void },
  ): Promise<SseConnection> {
    const conn = await Deno.connect({ ...target, transport: "tcp" });
    timing?.connected?.(); // the TCP handshake is done: the server's listener accepted it
    conn.setNoDelay(true);
    let head = `GET /api/events HTTP/1.1\r\nhost: ${target.hostname}:${target.port}\r\n` +
      `authorization: Bearer ${token}\r\naccept: text/event-stream\r\n`;
    if (lastEventId) head += `last-event-id: ${lastEventId}\r\n`;
    await writeAll(conn, encoder.encode(head + "\r\n"));
    const reader = new ByteReader(conn);
    const { status, headers } = await reader.head();
    if (status !== 200) {
      conn.close();
      throw new Error(`GET /api/events answered ${status}`);
    }
    const chunked = headers.get("transfer-encoding")?.includes("chunked") ?? false;
    return new SseConnection(
      conn,
      headers.get(INSTANCE_HEADER),
      (self) => self.#read(reader, chunked, onEvent),
    );
  }

  /** Resolves when the stream has ended. */
  get done(): Promise<void> {
    return this.#done;
  }

  async #read(reader: ByteReader, chunked: boolean, onEvent: EventHandler): Promise<void> {
    const parser = new SseParser({
      event: ({ event, id, data }) => {
        if (id !== null) this.lastEventId = id;
        onEvent(event, id ?? "", data);
      },
    });
    const take = (bytes: Uint8Array) => parser.push(bytes);
    try {
      if (!chunked) {
        while (true) {
          if (reader.available.length) {
            take(reader.available);
            reader.consume(reader.available.length);
          }
          if (!await reader.fill()) return;
        }
      }
      // Chunked framing: "<hex size>\r\n<bytes>\r\n", ending with a zero size.
      while (true) {
        const size = parseInt(await reader.line(), 16);
        if (!size) return;
        let left = size;
        while (left > 0) {
          if (!reader.available.length && !await reader.fill()) return;
          const part = reader.available.subarray(0, Math.min(left, reader.available.length));
          take(part);
          reader.consume(part.length);
          left -= part.length;
        }
        await reader.line();
      }
    } catch (e) {
      if (!this.#closed) throw e;
    }
  }

  /** Closes the socket. */
  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#conn.close();
      } catch { /* already closed */ }
    }
    await this.#done.catch(() => {});
  }
}

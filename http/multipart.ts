/**
 * A streaming reader of `multipart/form-data` for one file field: it hands
 * the file's bytes on as they arrive, never holding more than a chunk and a
 * boundary's length, so an upload of any size takes bounded memory. (Hono's
 * `parseBody()` buffers whole files.)
 *
 * @module
 */

/** The file part of a form, its bytes still streaming. */
export interface FilePart {
  filename: string;
  contentType: string;
  /** The file's bytes, in order; read them to the end before anything else. */
  body: AsyncIterable<Uint8Array>;
  /**
   * Reads what follows the file (other fields, the closing boundary), up to
   * a little, so the connection can serve the client's next request.
   */
  drain(): Promise<void>;
}

/** A body that is not the multipart form it says it is. */
export class MultipartError extends Error {}

const CRLF = new Uint8Array([13, 10]);
const MAX_HEADER_BYTES = 16 * 1024;

/** The boundary of a `multipart/form-data` content type, or `null`. */
export function boundaryOf(contentType: string | null): string | null {
  const m = contentType?.match(/^multipart\/form-data\s*;(?:.*;)?\s*boundary=("?)([^";]{1,70})\1/i);
  return m ? m[2] : null;
}

/**
 * Finds the part of field `field` that carries a file and streams it. Parts
 * before it are skipped; anything after it is never read.
 *
 * @throws {MultipartError} when the body is malformed or has no such file.
 * @example
 * ```ts
 * const part = await readFilePart(req.body!, boundaryOf(req.headers.get("content-type"))!, "file");
 * for await (const chunk of part.body) store(chunk);
 * ```
 */
export async function readFilePart(
  body: ReadableStream<Uint8Array>,
  boundary: string,
  field: string,
): Promise<FilePart> {
  const reader = new BufferedReader(body.getReader());
  const dash = new TextEncoder().encode(`--${boundary}`);
  const delimiter = new TextEncoder().encode(`\r\n--${boundary}`);
  // The first boundary may follow a preamble.
  if (!await reader.skipPast(dash)) throw new MultipartError("no multipart boundary");
  for (;;) {
    const after = await reader.take(2);
    if (!after || (after[0] === 45 && after[1] === 45)) {
      throw new MultipartError(`no file in field "${field}"`);
    }
    if (after[0] !== 13 || after[1] !== 10) throw new MultipartError("malformed boundary line");
    const headers = await reader.readHeaders();
    const disposition = headers.get("content-disposition") ?? "";
    const name = param(disposition, "name");
    const filename = param(disposition, "filename*") ?? param(disposition, "filename");
    if (name === field && filename !== null) {
      return {
        filename: filename || "file",
        contentType: headers.get("content-type") ?? "application/octet-stream",
        body: reader.until(delimiter),
        drain: () => reader.drain(64 * 1024),
      };
    }
    for await (const _ of reader.until(delimiter)); // another field: skip it
  }
}

/** A parameter of a `Content-Disposition` value, decoded; `null` when absent. */
function param(value: string, name: string): string | null {
  const re = new RegExp(`;\\s*${name.replace("*", "\\*")}=("((?:[^"\\\\]|\\\\.)*)"|[^;]*)`, "i");
  const m = value.match(re);
  if (!m) return null;
  if (name.endsWith("*")) {
    const ext = m[1].match(/^[\w-]+'[^']*'(.*)$/);
    try {
      return ext ? decodeURIComponent(ext[1]) : null;
    } catch {
      return null;
    }
  }
  const raw = m[2] !== undefined ? m[2].replace(/\\(.)/g, "$1") : m[1].trim();
  // Browsers percent-encode these three in form-data names (the HTML standard).
  return raw.replace(/%22/g, '"').replace(/%0D/gi, "\r").replace(/%0A/gi, "\n");
}

/** A reader with a buffer: skip to a marker, read headers, stream up to a marker. */
class BufferedReader {
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #buf: Uint8Array<ArrayBufferLike> = new Uint8Array(0);
  #done = false;

  constructor(reader: ReadableStreamDefaultReader<Uint8Array>) {
    this.#reader = reader;
  }

  async #fill(): Promise<boolean> {
    if (this.#done) return false;
    const { value, done } = await this.#reader.read();
    if (done) {
      this.#done = true;
      return false;
    }
    this.#buf = this.#buf.length ? concat(this.#buf, value) : value;
    return true;
  }

  /** Drops everything up to and including `marker`; `false` if it never comes. */
  async skipPast(marker: Uint8Array): Promise<boolean> {
    for (;;) {
      const at = indexOf(this.#buf, marker);
      if (at >= 0) {
        this.#buf = this.#buf.subarray(at + marker.length);
        return true;
      }
      // Keep only what could be the start of the marker.
      this.#buf = this.#buf.subarray(Math.max(0, this.#buf.length - marker.length + 1));
      if (!await this.#fill()) return false;
    }
  }

  /** Reads to the end of the body, giving up past `max` bytes. */
  async drain(max: number): Promise<void> {
    let read = this.#buf.length;
    this.#buf = new Uint8Array(0);
    while (read <= max && await this.#fill()) {
      read += this.#buf.length;
      this.#buf = new Uint8Array(0);
    }
  }

  /** The next `n` bytes, or `null` at the end. */
  async take(n: number): Promise<Uint8Array | null> {
    while (this.#buf.length < n) if (!await this.#fill()) return null;
    const out = this.#buf.slice(0, n);
    this.#buf = this.#buf.subarray(n);
    return out;
  }

  /** A part's headers, up to the blank line. */
  async readHeaders(): Promise<Map<string, string>> {
    const end = new Uint8Array([13, 10, 13, 10]);
    // Headers may be empty: the blank line then comes at once.
    if (this.#buf.length < 2) await this.#fill();
    if (this.#buf[0] === CRLF[0] && this.#buf[1] === CRLF[1]) {
      this.#buf = this.#buf.subarray(2);
      return new Map();
    }
    for (;;) {
      const at = indexOf(this.#buf, end);
      if (at >= 0) {
        // UTF-8, as browsers and curl send file names: not the byte strings `Headers` takes.
        const text = new TextDecoder().decode(this.#buf.subarray(0, at));
        this.#buf = this.#buf.subarray(at + 4);
        const headers = new Map<string, string>();
        for (const line of text.split("\r\n")) {
          const colon = line.indexOf(":");
          if (colon > 0) {
            headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
          }
        }
        return headers;
      }
      if (this.#buf.length > MAX_HEADER_BYTES) throw new MultipartError("part headers too long");
      if (!await this.#fill()) throw new MultipartError("the body ended in part headers");
    }
  }

  /** Streams the bytes before `marker`, leaving the reader just past it. */
  async *until(marker: Uint8Array): AsyncGenerator<Uint8Array> {
    for (;;) {
      const at = indexOf(this.#buf, marker);
      if (at >= 0) {
        if (at > 0) yield this.#buf.slice(0, at);
        this.#buf = this.#buf.subarray(at + marker.length);
        return;
      }
      // Everything but a possible start of the marker can go now.
      const safe = this.#buf.length - marker.length + 1;
      if (safe > 0) {
        yield this.#buf.slice(0, safe);
        this.#buf = this.#buf.subarray(safe);
      }
      if (!await this.#fill()) throw new MultipartError("the body ended inside the file");
    }
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  const first = needle[0];
  for (let i = haystack.indexOf(first); i >= 0 && i <= haystack.length - needle.length;) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
    i = haystack.indexOf(first, i + 1);
  }
  return -1;
}

/**
 * Moving files over HTTP without holding them: a `multipart/form-data` body
 * built as a stream around a file's bytes, sent with an exact
 * `Content-Length`, and the names a download carries.
 *
 * Deno's `fetch` sends a stream body chunked and drops a `Content-Length`
 * set for it, so the server could not refuse a file too large before
 * storing most of it; uploads therefore go through `node:http`, which sends
 * the header as given.
 *
 * @module
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

const encoder = new TextEncoder();

/** A file to upload: what the server is told of it, and its bytes. */
export interface UploadSource {
  /** Its name as the server will show it. */
  name: string;
  /** Its size in bytes, exactly: the body's length is computed from it. */
  size: number;
  /** Its media type; the server reads images' own from their bytes. */
  contentType: string;
  /** Its bytes, `size` of them. */
  body: ReadableStream<Uint8Array>;
}

/**
 * The `multipart/form-data` body of one file in field `file`: a preamble,
 * the file's bytes as they are read (counted for `onProgress`), and an
 * epilogue, with its length computed in advance. The stream fails if the
 * file turns out longer or shorter than `source.size` (it changed while
 * being sent), rather than send a body its `Content-Length` misstates.
 *
 * @example
 * ```ts
 * const file = await Deno.open("photo.png");
 * const size = (await file.stat()).size;
 * const { contentType, length, body } = uploadBody(
 *   { name: "photo.png", size, contentType: "image/png", body: file.readable },
 *   (sent) => console.log(sent),
 * );
 * ```
 */
export function uploadBody(
  source: UploadSource,
  onProgress?: (sent: number) => void,
): { contentType: string; length: number; body: ReadableStream<Uint8Array> } {
  const boundary = `----parley-${crypto.randomUUID()}`;
  const preamble = encoder.encode(
    `--${boundary}\r\n` +
      `Content-Disposition: form-data; name="file"; ${fileNameParams(source.name)}\r\n` +
      `Content-Type: ${source.contentType.replace(/[\r\n]/g, "")}\r\n\r\n`,
  );
  const epilogue = encoder.encode(`\r\n--${boundary}--\r\n`);
  const bytes = source.body.pipeThrough(counted(source.size, onProgress)).getReader();
  let started = false;
  // Pulled as the connection takes it (no buffer ahead): only what was asked for leaves the file.
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (!started) {
        started = true;
        return controller.enqueue(preamble);
      }
      const { value, done } = await bytes.read();
      if (!done) return controller.enqueue(value);
      controller.enqueue(epilogue);
      controller.close();
    },
    cancel(reason) {
      // Stops reading the file, and so closes it, even when nothing was read yet.
      return bytes.cancel(reason);
    },
  }, { highWaterMark: 0 });
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length: preamble.length + source.size + epilogue.length,
    body,
  };
}

/** A file grew or shrank while it was being sent: what went is not what it said. */
export class FileChanged extends Error {}

/**
 * Counts the bytes that pass, telling `onProgress` the total so far, and
 * fails when they are more or fewer than `expected`.
 */
export function counted(
  expected: number,
  onProgress?: (total: number) => void,
): TransformStream<Uint8Array, Uint8Array> {
  let total = 0;
  const changed = () => new FileChanged("The file changed while it was being sent.");
  return new TransformStream({
    transform(chunk, controller) {
      total += chunk.length;
      if (total > expected) throw changed();
      onProgress?.(total);
      controller.enqueue(chunk);
    },
    flush() {
      if (total !== expected) throw changed();
    },
  });
}

/** What {@linkcode postStream} got back. */
export interface StreamAnswer {
  status: number;
  /** Its `Retry-After`, if any. */
  retryAfter: string | null;
  /** Its body, as text. */
  text: string;
}

/**
 * POSTs `body` with `Content-Length: length` and returns the answer. The
 * server may answer before it has read everything (a 413): then sending
 * stops and the file is closed.
 *
 * @param options.idleTimeoutMs fail when the connection is silent this long.
 * @throws {Error} when the connection fails, stalls, or `signal` aborts.
 */
export function postStream(
  url: URL,
  headers: Record<string, string>,
  body: ReadableStream<Uint8Array>,
  length: number,
  options: { signal?: AbortSignal; idleTimeoutMs?: number } = {},
): Promise<StreamAnswer> {
  const { promise, resolve, reject } = Promise.withResolvers<StreamAnswer>();
  const reader = body.getReader();
  const send = url.protocol === "https:" ? httpsRequest : httpRequest;
  let answered = false;
  let failed = false;
  const fail = async (error: unknown) => {
    if (failed) return;
    failed = true;
    req.destroy();
    await reader.cancel(error).catch(() => {});
    reject(error);
  };
  const req = send(url, {
    method: "POST",
    headers: { ...headers, "content-length": String(length) },
  }, (res) => {
    answered = true;
    // Whatever was not sent is not wanted any more: stop reading the file.
    const stopped = reader.cancel().catch(() => {});
    const chunks: Uint8Array[] = [];
    res.on("data", (chunk: Uint8Array) => chunks.push(chunk));
    res.on("error", fail);
    res.on("end", async () => {
      req.destroy();
      await stopped;
      const retryAfter = res.headers["retry-after"];
      resolve({
        status: res.statusCode ?? 0,
        retryAfter: typeof retryAfter === "string" ? retryAfter : null,
        text: new TextDecoder().decode(concat(chunks)),
      });
    });
  });
  req.on("error", (error) => {
    if (!answered) fail(error);
  });
  req.setTimeout(options.idleTimeoutMs ?? 30_000, () => {
    fail(new DOMException("no progress", "TimeoutError"));
  });
  const { signal } = options;
  const onAbort = () => fail(signal?.reason ?? new DOMException("aborted", "AbortError"));
  if (signal?.aborted) onAbort();
  signal?.addEventListener("abort", onAbort, { once: true });
  promise.finally(() => signal?.removeEventListener("abort", onAbort)).catch(() => {});
  (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done || answered || failed) break;
        if (!req.write(value)) {
          // Sent as fast as the connection takes it, no faster: the file is not read ahead.
          await new Promise<void>((wake) => {
            const go = () => {
              req.off("drain", go);
              req.off("close", go);
              wake();
            };
            req.on("drain", go);
            req.on("close", go);
          });
        }
      }
      if (!answered && !failed) req.end();
    } catch (error) {
      if (!answered) fail(error);
    }
  })();
  return promise;
}

/**
 * The file name a `Content-Disposition` header gives: its `filename*`
 * (RFC 6266, UTF-8) if it has one, else its `filename`; `null` for none.
 *
 * @example
 * ```ts
 * contentDispositionName(`attachment; filename="a.txt"; filename*=UTF-8''%C3%A9.txt`); // "é.txt"
 * ```
 */
export function contentDispositionName(header: string | null): string | null {
  if (!header) return null;
  const extended = header.match(/;\s*filename\*\s*=\s*([\w-]+)'[^']*'([^;]*)/i);
  if (extended) {
    try {
      return decodeURIComponent(extended[2].trim());
    } catch {
      // a malformed encoding: the plain parameter may do
    }
  }
  const plain = header.match(/;\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/i);
  if (!plain) return null;
  return plain[1] !== undefined ? plain[1].replace(/\\(.)/g, "$1") : plain[2].trim();
}

/**
 * A media type for a file name, by its extension; `application/octet-stream`
 * for anything not listed. The server reads images' types from their bytes.
 */
export function mediaTypeOf(name: string): string {
  const ext = name.match(/\.([a-z0-9]+)$/i)?.[1].toLowerCase() ?? "";
  return MEDIA_TYPES[ext] ?? "application/octet-stream";
}

const MEDIA_TYPES: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  svg: "image/svg+xml",
  pdf: "application/pdf",
  txt: "text/plain",
  md: "text/markdown",
  csv: "text/csv",
  json: "application/json",
  html: "text/html",
  zip: "application/zip",
  gz: "application/gzip",
  tar: "application/x-tar",
  mp3: "audio/mpeg",
  mp4: "video/mp4",
  webm: "video/webm",
};

/**
 * `filename="…"` in ASCII for readers that know no better, and
 * `filename*=UTF-8''…` with the name exactly (RFC 6266; the server prefers it).
 */
function fileNameParams(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => "%" + hex(c));
  return `filename="${ascii}"; filename*=UTF-8''${exact}`;
}

function hex(c: string): string {
  return c.charCodeAt(0).toString(16).toUpperCase();
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}

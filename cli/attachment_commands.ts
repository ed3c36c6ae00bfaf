/**
 * The terminal's `/upload` and `/download`: files streamed from and to
 * disk, never held whole, with their progress on the screen's status line.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { Room } from "../shared/api_types.ts";
import { COULD_NOT_DECRYPT, decryptFile, encryptFile, type FileKey } from "../shared/e2e.ts";
import { MESSAGE_MAX } from "../shared/limits.ts";
import { ApiFailure, type Download } from "./api.ts";
import type { ChatView } from "./chat_view.ts";
import { clean, cut, fileLabel, formatSize } from "./format.ts";
import type { Outbox } from "./outbox.ts";
import type { Screen } from "./screen.ts";
import { mediaTypeOf } from "./transfer.ts";

/** What an encrypted file is uploaded as. */
const OCTET = "application/octet-stream";

/** How long a download may go without a byte before it counts as failed. */
const DOWNLOAD_IDLE_MS = 30_000;

/** A transfer the user ended (Ctrl-C on a terminal). */
class Cancelled extends Error {}

/**
 * `/upload`: streams the file at `path` into `room`, then sends `text` with
 * it through the outbox (one client id, so a retry never posts it twice).
 * In an end-to-end encrypted conversation the file is read whole and
 * encrypted first (uploaded as `encrypted`, octet-stream); its key, real
 * name, type and size go in the message's encrypted payload.
 *
 * @throws {Error} one line: no such file, too large, over the quota, …
 * @throws {ApiFailure} a rate limit, for the caller to say.
 */
export async function uploadFile(
  view: ChatView,
  outbox: Outbox,
  room: Room,
  path: string,
  text: string,
): Promise<void> {
  if (text.length > MESSAGE_MAX) {
    throw new Error(
      `Not uploaded: ${text.length} characters; a message holds at most ${MESSAGE_MAX}.`,
    );
  }
  const local = expandHome(path);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(local, { read: true });
  } catch (error) {
    throw new Error(cannotOpen(path, error));
  }
  const abort = new AbortController();
  const stop = cancelOnInputEnd(view.screen, abort);
  try {
    const info = await file.stat();
    if (!info.isFile) throw new Error(`Not uploaded: ${path} is not a file.`);
    const name = baseName(local);
    const { size } = info;
    const encrypted = (view.state.rooms[room.id] ?? room).encrypted;
    const sealed = encrypted ? await encryptFile(await new Response(file.readable).bytes()) : null;
    const source = sealed
      ? {
        name: "encrypted",
        size: sealed.data.length,
        contentType: OCTET,
        body: stream(sealed.data),
      }
      : { name, size, contentType: mediaTypeOf(name), body: file.readable };
    const label = `↑ ${cut(fileLabel(name), 30)}`;
    const attachment = await transfer(
      view.screen,
      label,
      source.size,
      abort,
      (onProgress, signal) => view.api.upload(room.id, source, { onProgress, signal }),
    ).catch((error) => {
      throw uploadRefusal(error, name, source.size);
    });
    if (!sealed) {
      view.say(`* Uploaded ${fileLabel(attachment.name)} (${formatSize(attachment.size)})`);
      return outbox.send(room, text, { attachments: [attachment.id] });
    }
    const key: FileKey = {
      id: attachment.id,
      key: sealed.key,
      iv: sealed.iv,
      name,
      type: mediaTypeOf(name),
      size,
    };
    view.say(`* Uploaded ${fileLabel(name)} (${formatSize(size)}), encrypted`);
    outbox.send(room, text, { attachments: [attachment.id], files: [key] });
  } finally {
    stop();
    // Its stream closes it when read to the end or cancelled; not if never read.
    try {
      file.close();
    } catch {
      // closed already
    }
  }
}

/**
 * `/download`: streams a file to `path` (a file, or a folder to put it in;
 * by default the current folder, under the file's own name). An existing
 * file is never overwritten: " (1)", " (2)", … go before the extension.
 * The bytes are counted and their sha256 checked; a file cut short is
 * removed.
 *
 * @throws {Error} one line: no such file, cut short, cannot write, …
 */
export async function downloadFile(view: ChatView, id: string, path?: string): Promise<void> {
  const abort = new AbortController();
  const stop = cancelOnInputEnd(view.screen, abort);
  try {
    await download(view, id, path, abort);
  } finally {
    stop();
  }
}

async function download(
  view: ChatView,
  id: string,
  path: string | undefined,
  abort: AbortController,
): Promise<void> {
  let incoming: Download;
  try {
    incoming = await view.api.download(id, abort.signal);
  } catch (error) {
    if (error instanceof ApiFailure && error.status === 404) {
      throw new Error(`No such file: ${clean(id)} (or it is not in your rooms).`);
    }
    throw abort.signal.aborted ? new Error("Download cancelled.") : error;
  }
  const key = view.encryption?.fileKey(id);
  if (key) return await downloadEncrypted(view, incoming, key, path, abort);
  let target: { path: string; file: Deno.FsFile };
  try {
    target = await createFile(await targetOf(path, safeFileName(incoming.name ?? id)));
  } catch (error) {
    await incoming.body.cancel().catch(() => {});
    throw error;
  }
  const label = `↓ ${cut(fileLabel(baseName(target.path)), 30)}`;
  const { received, problem } = await receive(view, label, incoming, abort, target.file.writable);
  if (problem) {
    try {
      target.file.close();
    } catch {
      // closed by its stream already
    }
    await Deno.remove(target.path).catch(() => {});
    throw new Error(`${problem}; nothing was saved.`);
  }
  view.say(`* Saved ${clean(target.path)} (${formatSize(received)})`);
}

/**
 * A file of an encrypted conversation: its bytes are received whole, checked,
 * decrypted with the key its message gave, and only then written, under its
 * real name. Nothing is saved when it does not decrypt.
 */
async function downloadEncrypted(
  view: ChatView,
  incoming: Download,
  key: FileKey,
  path: string | undefined,
  abort: AbortController,
): Promise<void> {
  const chunks: Uint8Array<ArrayBuffer>[] = [];
  // Copied: a chunk's buffer is not guaranteed to be its own.
  const collect = new WritableStream<Uint8Array>({
    write: (chunk) => void chunks.push(new Uint8Array(chunk)),
  });
  const label = `↓ ${cut(fileLabel(key.name), 30)}`;
  const { problem } = await receive(view, label, incoming, abort, collect);
  if (problem) throw new Error(`${problem}; nothing was saved.`);
  const plain = await decryptFile(await new Blob(chunks).bytes(), key.key, key.iv);
  if (!plain) throw new Error(`${fileLabel(key.name)}: ${COULD_NOT_DECRYPT}; nothing was saved.`);
  const target = await createFile(await targetOf(path, safeFileName(key.name)));
  try {
    await stream(plain).pipeTo(target.file.writable);
  } catch (error) {
    await Deno.remove(target.path).catch(() => {});
    throw new Error(`Cannot write ${target.path}: ${describeIo(error)}`);
  }
  view.say(`* Saved ${clean(target.path)} (${formatSize(plain.length)}), decrypted`);
}

/**
 * Receives a download into `sink` with its progress shown, counting its
 * bytes and checking them against the size and sha256 the server gave.
 *
 * @returns how many bytes came, and what went wrong, if anything.
 */
async function receive(
  view: ChatView,
  label: string,
  incoming: Download,
  abort: AbortController,
  sink: WritableStream<Uint8Array>,
): Promise<{ received: number; problem: string | null }> {
  const hash = createHash("sha256");
  let received = 0;
  try {
    await transfer(view.screen, label, incoming.size, abort, async (onProgress, signal) => {
      const stalled = () => abort.abort(new DOMException("no bytes", "TimeoutError"));
      let idle = setTimeout(stalled, DOWNLOAD_IDLE_MS);
      const counting = new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          clearTimeout(idle);
          idle = setTimeout(stalled, DOWNLOAD_IDLE_MS);
          received += chunk.length;
          hash.update(chunk);
          onProgress(received);
          controller.enqueue(chunk);
        },
      });
      try {
        await incoming.body.pipeThrough(counting, { signal }).pipeTo(sink);
      } finally {
        clearTimeout(idle);
      }
    });
    if (incoming.size !== null && received !== incoming.size) {
      const cutShort = `${formatSize(received)} of ${formatSize(incoming.size)}`;
      return { received, problem: `The download was cut short (${cutShort})` };
    }
    if (incoming.sha256 && hash.digest("hex") !== incoming.sha256.toLowerCase()) {
      return { received, problem: "The downloaded bytes do not match the file's checksum" };
    }
    return { received, problem: null };
  } catch (error) {
    if (error instanceof Cancelled) return { received, problem: "Download cancelled" };
    if (abort.signal.aborted) return { received, problem: "The download stalled" };
    return { received, problem: `The download failed (${describeIo(error)})` };
  }
}

/** Bytes as a stream, in pieces, so progress moves as they go. */
function stream(bytes: Uint8Array): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.subarray(at, at += 64 * 1024));
    },
  });
}

/**
 * Runs one transfer with its progress on the status line, removed at the end.
 *
 * @param run does the transfer, telling `onProgress` the bytes so far.
 * @throws {Cancelled} when the user cancelled it.
 */
async function transfer<T>(
  screen: Screen,
  label: string,
  total: number | null,
  abort: AbortController,
  run: (onProgress: (done: number) => void, signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const progress = new Progress(screen, label, total);
  progress.update(0);
  try {
    return await run((done) => progress.update(done), abort.signal);
  } catch (error) {
    if (abort.signal.reason instanceof Cancelled) throw abort.signal.reason;
    throw error;
  } finally {
    progress.end();
  }
}

/**
 * On a terminal, ending input (Ctrl-C, Ctrl-D) aborts with {@linkcode Cancelled};
 * a pipe's end does not, so a script's `/upload` still completes. Returns a
 * function that stops listening.
 */
function cancelOnInputEnd(screen: Screen, abort: AbortController): () => void {
  if (!screen.interactive) return () => {};
  let listening = true;
  screen.ended.then(() => {
    if (listening) abort.abort(new Cancelled("cancelled"));
  });
  return () => listening = false;
}

/**
 * A transfer's progress on the screen's status line: percent and bytes,
 * redrawn at most ten times a second. A pipe shows nothing of it.
 */
export class Progress {
  #screen: Screen;
  #label: string;
  #total: number | null;
  #drawnAt = -Infinity;

  constructor(screen: Screen, label: string, total: number | null) {
    this.#screen = screen;
    this.#label = label;
    this.#total = total;
  }

  /** Shows `done` bytes of the total. */
  update(done: number): void {
    const now = performance.now();
    if (now - this.#drawnAt < 100 && done !== this.#total) return;
    this.#drawnAt = now;
    this.#screen.setStatus(progressLine(this.#label, done, this.#total));
  }

  /** Removes it from the screen. */
  end(): void {
    this.#screen.setStatus(null);
  }
}

/**
 * One line of progress: a bar, percent and bytes; bytes alone when the
 * total is not known.
 *
 * @example
 * ```ts
 * progressLine("↑ photo.png", 1_572_864, 3_145_728);
 * // "↑ photo.png [██████████░░░░░░░░░░]  50%  1.5 MB / 3.0 MB"
 * ```
 */
export function progressLine(label: string, done: number, total: number | null, width = 20) {
  if (total === null) return `${label}  ${formatSize(done)}`;
  const ratio = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.floor(ratio * width);
  const bar = "█".repeat(filled) + "░".repeat(width - filled);
  const percent = `${Math.floor(ratio * 100)}%`.padStart(4);
  return `${label} [${bar}] ${percent}  ${formatSize(done)} / ${formatSize(total)}`;
}

/**
 * The first word of `input` as a path, and what follows it: a path with
 * spaces is quoted ("…" or '…') or has them escaped with a backslash.
 * `null` when there is none (or a quote is left open).
 *
 * @example
 * ```ts
 * takePath('"my photo.png" look'); // { path: "my photo.png", rest: "look" }
 * takePath("my\\ photo.png");      // { path: "my photo.png", rest: "" }
 * ```
 */
export function takePath(input: string): { path: string; rest: string } | null {
  const s = input.trimStart();
  const quote = s[0] === '"' || s[0] === "'" ? s[0] : null;
  if (quote) {
    const end = s.indexOf(quote, 1);
    if (end < 2) return null;
    return { path: s.slice(1, end), rest: s.slice(end + 1).trimStart() };
  }
  let path = "";
  let at = 0;
  for (; at < s.length && !/\s/.test(s[at]); at++) {
    // A drag-and-drop path escapes its spaces.
    if (s[at] === "\\" && /\s/.test(s[at + 1] ?? "")) at++;
    path += s[at];
  }
  return path ? { path, rest: s.slice(at).trimStart() } : null;
}

/** A file name from the server made fit for the disk: no folders, no control characters. */
export function safeFileName(name: string): string {
  let safe = clean(baseName(name)).replace(/[\n\u200E\u200F\u202A-\u202E\u2066-\u2069]/g, "")
    .trim();
  if (Deno.build.os === "windows") safe = safe.replace(/[<>:"|?*]/g, "_");
  return safe === "." || safe === ".." || !safe ? "download" : safe;
}

/** The path a download goes to: a folder's, or the file asked for. */
async function targetOf(path: string | undefined, name: string): Promise<string> {
  if (!path) return join(Deno.cwd(), name);
  const local = expandHome(path);
  const info = await Deno.stat(local).catch(() => null);
  if (info?.isDirectory) return join(local, name);
  if (/[\\/]$/.test(local)) throw new Error(`No such folder: ${path}`);
  return local;
}

/**
 * Creates `path` for writing, or the first of `name (1).ext`, `name (2).ext`,
 * … that does not exist: an existing file is never overwritten.
 */
async function createFile(path: string): Promise<{ path: string; file: Deno.FsFile }> {
  const slash = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  const folder = path.slice(0, slash + 1);
  const name = path.slice(slash + 1);
  const dot = name.lastIndexOf(".");
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  for (let n = 0; n < 1000; n++) {
    const candidate = n ? `${folder}${stem} (${n})${ext}` : path;
    try {
      return {
        path: candidate,
        file: await Deno.open(candidate, { write: true, createNew: true }),
      };
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) continue;
      if (error instanceof Deno.errors.NotFound) {
        throw new Error(`No such folder: ${folder || "."}`);
      }
      throw new Error(`Cannot write ${candidate}: ${describeIo(error)}`);
    }
  }
  throw new Error(`Cannot write ${path}: too many files by that name.`);
}

/** What a failed upload means, in one line; a rate limit is left for the caller to say. */
function uploadRefusal(error: unknown, name: string, size: number): unknown {
  if (error instanceof Cancelled) return new Error("Upload cancelled.");
  if (!(error instanceof ApiFailure)) return error;
  const details = (error.details ?? {}) as { maxBytes?: unknown; quotaBytes?: unknown };
  if (error.code === "file_too_large") {
    const limit = typeof details.maxBytes === "number" ? ` up to ${mb(details.maxBytes)}` : "";
    return new Error(
      `Not uploaded: ${fileLabel(name)} is ${formatSize(size)}; the server takes files${limit}.`,
    );
  }
  if (error.code === "quota_exceeded") {
    const quota = typeof details.quotaBytes === "number" ? ` of ${mb(details.quotaBytes)}` : "";
    return new Error(
      `Not uploaded: ${fileLabel(name)} (${
        formatSize(size)
      }) would pass your storage quota${quota}.`,
    );
  }
  return error;
}

/** A limit in whole megabytes, as `MAX_UPLOAD_MB` sets it. */
function mb(bytes: number): string {
  const value = bytes / (1024 * 1024);
  return `${Number.isInteger(value) ? value : value.toFixed(1)} MB`;
}

function cannotOpen(path: string, error: unknown): string {
  if (error instanceof Deno.errors.NotFound) return `No such file: ${path}`;
  if (error instanceof Deno.errors.PermissionDenied) {
    return `Cannot read ${path}: permission denied.`;
  }
  return `Cannot read ${path}: ${describeIo(error)}`;
}

function describeIo(error: unknown): string {
  if (error instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (error instanceof Error) return error.message.split("\n")[0];
  return String(error);
}

/** `~` and `~/…` as the user's home. */
function expandHome(path: string): string {
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE");
  if (!home || !(path === "~" || path.startsWith("~/"))) return path;
  return home + path.slice(1);
}

function baseName(path: string): string {
  return path.split(/[\\/]/).filter(Boolean).pop() ?? "";
}

function join(folder: string, name: string): string {
  return /[\\/]$/.test(folder) ? folder + name : `${folder}/${name}`;
}

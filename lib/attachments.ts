/**
 * Attachments: files kept in Deno KV, so they work on an embedded file and
 * on Deno Deploy alike. An upload is streamed into chunks of at most 60 KiB
 * (KV values hold 64 KiB), a few chunks a commit (commits hold 800 KiB); the
 * manifest is committed last, so an upload cut off midway leaves nothing
 * visible, and the sweeper later deletes what it stored. A file is read back
 * chunk by chunk, so memory stays bounded whatever the size.
 *
 * An attachment not used by a message within a day is swept; a deleted
 * message's attachments are deleted with it.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { User } from "./accounts.ts";
import { ApiError, Errors } from "./errors.ts";
import { getManyChunked } from "./get_many.ts";
import { newId } from "./ids.ts";
import { imageSize } from "./image_size.ts";
import {
  attachmentChunkKey,
  attachmentChunksPrefix,
  attachmentKey,
  garbageKey,
  garbagePrefix,
  roomAttachmentKey,
  roomAttachmentsPrefix,
  unattachedKey,
  unattachedPrefix,
  uploadKey,
  uploadsPrefix,
  uploadUsageKey,
} from "./keys.ts";
import { retryLocked } from "./kv_retry.ts";
import type { Attachment } from "../shared/api_types.ts";

export type { Attachment };

/** A manifest as stored: the attachment, who uploaded it, how it is kept, what uses it. */
export interface StoredAttachment extends Attachment {
  uploaderId: string;
  chunks: number;
  /** The seq of the message that carries it, once one does. */
  messageSeq: number | null;
}

/** How an upload is bounded. */
export interface UploadLimits {
  /** The largest file, in bytes (`MAX_UPLOAD_MB`). */
  maxBytes: number;
  /** What one user's files may take in all, in bytes (`UPLOAD_QUOTA_MB`). */
  quotaBytes: number;
}

/** The bytes one chunk holds: under KV's 64 KiB per value. */
export const CHUNK_BYTES = 60 * 1024;
/** Chunks written per commit: under KV's 800 KiB per commit. */
const CHUNKS_PER_COMMIT = 10;
/** An upload not finished within this long is swept. */
const UPLOAD_TTL_MS = 60 * 60_000;
/** An attachment no message uses within this long is swept. */
export const UNATTACHED_TTL_MS = 24 * 60 * 60_000;

/**
 * Stores a file streamed from `body` for `uploader` in `roomId` (the caller
 * has checked membership), refusing it with 413 as soon as it passes the
 * size limit or the user's quota.
 *
 * @throws {ApiError} `file_too_large` or `quota_exceeded` (413).
 */
export async function storeUpload(
  kv: Deno.Kv,
  uploader: User,
  roomId: string,
  file: { name: string; contentType: string; body: AsyncIterable<Uint8Array> },
  limits: UploadLimits,
  now: number,
): Promise<Attachment> {
  const used = await usage(kv, uploader.id);
  if (used >= limits.quotaBytes) throw new ApiError(Errors.quotaExceeded, quotaDetails(limits));
  const id = newId();
  await retryLocked(() =>
    kv.set(uploadKey(id), { uploaderId: uploader.id, roomId, startedAt: now })
  );
  const hash = createHash("sha256");
  const head: Uint8Array[] = [];
  let headBytes = 0, size = 0, chunks = 0;
  let pending: Uint8Array[] = [];
  let piece = new Uint8Array(CHUNK_BYTES), filled = 0;
  const flush = async () => {
    if (!pending.length) return;
    const batch = pending;
    pending = [];
    await retryLocked(() => {
      const op = kv.atomic();
      batch.forEach((bytes, i) => op.set(attachmentChunkKey(id, chunks - batch.length + i), bytes));
      return op.commit();
    });
  };
  try {
    for await (const part of file.body) {
      size += part.length;
      if (size > limits.maxBytes) {
        throw new ApiError(Errors.fileTooLarge, { maxBytes: limits.maxBytes });
      }
      if (used + size > limits.quotaBytes) {
        throw new ApiError(Errors.quotaExceeded, quotaDetails(limits));
      }
      hash.update(part);
      if (headBytes < 64 * 1024) {
        head.push(part);
        headBytes += part.length;
      }
      for (let at = 0; at < part.length;) {
        const n = Math.min(CHUNK_BYTES - filled, part.length - at);
        piece.set(part.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === CHUNK_BYTES) {
          pending.push(piece);
          chunks++;
          piece = new Uint8Array(CHUNK_BYTES);
          filled = 0;
          if (pending.length === CHUNKS_PER_COMMIT) await flush();
        }
      }
    }
    if (filled) {
      pending.push(piece.slice(0, filled));
      chunks++;
    }
    await flush();
  } catch (error) {
    // Nothing is visible yet; what was stored goes now, or with the sweeper.
    await deleteChunks(kv, id).then(() => kv.delete(uploadKey(id))).catch(() => {});
    throw error;
  }
  const image = imageSize(concat(head));
  const attachment: StoredAttachment = {
    id,
    roomId,
    name: cleanName(file.name),
    size,
    contentType: image?.type ?? safeType(file.contentType),
    sha256: hash.digest("hex"),
    createdAt: now,
    ...(image ? { width: image.width, height: image.height } : {}),
    uploaderId: uploader.id,
    chunks,
    messageSeq: null,
  };
  await commitManifest(kv, attachment, limits);
  return publicAttachment(attachment);
}

/** Commits the manifest last, counting the bytes against the quota in the same commit. */
async function commitManifest(
  kv: Deno.Kv,
  attachment: StoredAttachment,
  limits: UploadLimits,
): Promise<void> {
  for (;;) {
    const entry = await kv.get<Deno.KvU64>(uploadUsageKey(attachment.uploaderId));
    const used = Number(entry.value?.value ?? 0n);
    if (used + attachment.size > limits.quotaBytes) {
      await deleteChunks(kv, attachment.id).then(() => kv.delete(uploadKey(attachment.id)));
      throw new ApiError(Errors.quotaExceeded, quotaDetails(limits));
    }
    const done = await retryLocked(() =>
      kv.atomic().check(entry)
        .set(uploadUsageKey(attachment.uploaderId), new Deno.KvU64(BigInt(used + attachment.size)))
        .set(attachmentKey(attachment.id), attachment)
        .set(unattachedKey(attachment.id), attachment.createdAt)
        .set(roomAttachmentKey(attachment.roomId, attachment.id), true)
        .delete(uploadKey(attachment.id))
        .commit()
    );
    if (done.ok) return;
  }
}

/** An attachment's manifest, for members of its room only (the caller checks). */
export async function findAttachment(kv: Deno.Kv, id: string): Promise<StoredAttachment> {
  const attachment = (await kv.get<StoredAttachment>(attachmentKey(id))).value;
  if (!attachment) throw new ApiError(Errors.attachmentNotFound);
  return attachment;
}

/**
 * The bytes `start`..`end` (inclusive) of an attachment, read one chunk at a
 * time as the client takes them: one KV read per 60 KiB.
 */
export function readBytes(
  kv: Deno.Kv,
  attachment: StoredAttachment,
  start = 0,
  end = attachment.size - 1,
): ReadableStream<Uint8Array> {
  let index = Math.floor(start / CHUNK_BYTES);
  let skip = start - index * CHUNK_BYTES;
  let left = end - start + 1;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (left <= 0 || index >= attachment.chunks) return controller.close();
      const chunk = (await kv.get<Uint8Array>(attachmentChunkKey(attachment.id, index++))).value;
      if (!chunk) {
        return controller.error(new Error(`a chunk of ${attachment.id} is missing`));
      }
      const piece = chunk.subarray(skip, Math.min(chunk.length, skip + left));
      skip = 0;
      left -= piece.length;
      controller.enqueue(piece);
    },
  });
}

/** Adds to a commit the writes that delete a room's files (their chunks go with the sweeper). */
export async function discardRoomFiles(kv: Deno.Kv, roomId: string): Promise<void> {
  let ids: string[] = [];
  const drop = async () => {
    const stored = await getAttachments(kv, ids);
    const batch = ids;
    ids = [];
    await retryLocked(() => {
      const op = kv.atomic();
      discardWrites(op, batch.map((id) => ({ id })), stored);
      for (const id of batch) op.delete(roomAttachmentKey(roomId, id));
      return op.commit();
    });
  };
  for await (const e of kv.list({ prefix: roomAttachmentsPrefix(roomId) })) {
    ids.push(e.key[2] as string);
    if (ids.length === 100) await drop();
  }
  if (ids.length) await drop();
}

/** The manifests of `ids`, in order; `null` where one does not exist. */
export function getAttachments(
  kv: Deno.Kv,
  ids: string[],
): Promise<(StoredAttachment | null)[]> {
  return getManyChunked<StoredAttachment>(kv, ids.map(attachmentKey));
}

/** What messages and events carry of an attachment. */
export function publicAttachment(a: StoredAttachment): Attachment {
  const { uploaderId: _u, chunks: _c, messageSeq: _m, ...shown } = a;
  return shown;
}

/** Adds to a commit the writes that mark attachments as carried by message `seq`. */
export function attachWrites(
  op: { set(key: Deno.KvKey, value: unknown): unknown; delete(key: Deno.KvKey): unknown },
  attachments: StoredAttachment[],
  seq: number,
): void {
  for (const a of attachments) {
    op.set(attachmentKey(a.id), { ...a, messageSeq: seq });
    op.delete(unattachedKey(a.id));
  }
}

/** Adds to a commit the writes that delete attachments (their chunks go with the sweeper). */
export function discardWrites(
  op: { set(key: Deno.KvKey, value: unknown): unknown; delete(key: Deno.KvKey): unknown },
  attachments: { id: string }[],
  stored: (StoredAttachment | null)[],
): void {
  attachments.forEach((a, i) => {
    const s = stored[i];
    op.delete(attachmentKey(a.id));
    op.delete(unattachedKey(a.id));
    if (!s) return;
    op.delete(roomAttachmentKey(s.roomId, a.id));
    op.set(garbageKey(a.id), { uploaderId: s.uploaderId, size: s.size });
  });
}

/**
 * The sweeper: deletes uploads that never finished, attachments no message
 * used within a day, and the chunks of deleted attachments, giving their
 * bytes back to their uploaders' quotas.
 *
 * @returns how many attachments and uploads it removed.
 */
export async function sweepAttachments(kv: Deno.Kv, now: number): Promise<number> {
  let removed = 0;
  for await (const e of kv.list<{ startedAt: number }>({ prefix: uploadsPrefix() })) {
    if (e.value.startedAt > now - UPLOAD_TTL_MS) continue;
    const id = e.key[1] as string;
    await deleteChunks(kv, id);
    await retryLocked(() => kv.delete(e.key));
    removed++;
  }
  for await (const e of kv.list<number>({ prefix: unattachedPrefix() })) {
    if (e.value > now - UNATTACHED_TTL_MS) continue;
    const id = e.key[1] as string;
    const stored = (await kv.get<StoredAttachment>(attachmentKey(id))).value;
    await retryLocked(() => {
      const op = kv.atomic();
      discardWrites(op, [{ id }], [stored]);
      return op.commit();
    });
  }
  for await (
    const e of kv.list<{ uploaderId: string; size: number }>({ prefix: garbagePrefix() })
  ) {
    const id = e.key[1] as string;
    await deleteChunks(kv, id);
    await giveBack(kv, e.value.uploaderId, e.value.size);
    await retryLocked(() => kv.delete(garbageKey(id)));
    removed++;
  }
  return removed;
}

/** The bytes a user's attachments take now. */
export async function usage(kv: Deno.Kv, userId: string): Promise<number> {
  return Number((await kv.get<Deno.KvU64>(uploadUsageKey(userId))).value?.value ?? 0n);
}

async function giveBack(kv: Deno.Kv, userId: string, size: number): Promise<void> {
  for (;;) {
    const entry = await kv.get<Deno.KvU64>(uploadUsageKey(userId));
    const left = Math.max(0, Number(entry.value?.value ?? 0n) - size);
    const done = await retryLocked(() =>
      kv.atomic().check(entry).set(uploadUsageKey(userId), new Deno.KvU64(BigInt(left))).commit()
    );
    if (done.ok) return;
  }
}

async function deleteChunks(kv: Deno.Kv, id: string): Promise<void> {
  let keys: Deno.KvKey[] = [];
  const drop = async () => {
    const batch = keys;
    keys = [];
    await retryLocked(() => {
      const op = kv.atomic();
      for (const k of batch) op.delete(k);
      return op.commit();
    });
  };
  for await (const e of kv.list({ prefix: attachmentChunksPrefix(id) })) {
    keys.push(e.key);
    if (keys.length === 500) await drop();
  }
  if (keys.length) await drop();
}

function quotaDetails(limits: UploadLimits) {
  return { quotaBytes: limits.quotaBytes };
}

/** A file name fit to show and to send back in a header: no paths, no control characters. */
function cleanName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? "";
  const clean = base.replace(/[\p{Cc}\u200E\u200F\u202A-\u202E\u2066-\u2069]/gu, "").trim();
  return clean.slice(0, 200) || "file";
}

/** A declared content type, kept only if it looks like one. */
function safeType(type: string): string {
  const t = type.split(";")[0].trim().toLowerCase();
  return /^[a-z0-9][\w.+-]*\/[\w.+-]+$/.test(t) ? t : "application/octet-stream";
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Uploads: each file attached in the composer is sent to
 * `POST /api/rooms/:id/attachments` at once, with `XMLHttpRequest` (fetch
 * has no upload progress), while the user writes; the message that carries
 * them waits in the outbox until every one is stored. Files waiting for a
 * message are kept per room. In an encrypted conversation a file is
 * encrypted first, and what is uploaded is only its ciphertext.
 *
 * @module
 */
import { type Signal, signal } from "@preact/signals";
import { encryptFile, type FileKey } from "../shared/e2e.ts";
import { ATTACHMENTS_MAX } from "../shared/limits.ts";
import { retryAfterOf, tooMany } from "./client_api.ts";
import type { StoreCore } from "./store_core.ts";
import type { Attachment } from "./types.ts";

/** Where an upload is: sending, stored, refused (or cut off), or given up by the user. */
export type UploadState = "uploading" | "done" | "failed" | "cancelled";

/** One file on its way to a room. */
export interface Upload {
  /** A local id, for lists. */
  readonly key: string;
  readonly roomId: string;
  readonly file: File;
  /** Bytes of the file sent so far. */
  readonly sent: Signal<number>;
  readonly state: Signal<UploadState>;
  /** Why it failed, for the user. */
  readonly error: Signal<string>;
  /** Whether sending it again may work (not for a file over the size limit). */
  retryable: boolean;
  /** The stored file, once `done`. */
  attachment: Attachment | null;
  /**
   * An encrypted file's key, iv and real name, type and size, for the
   * message's payload (its `id` is the attachment's, once stored).
   */
  fileKey: Omit<FileKey, "id"> | null;
  /** Settles when it ends: the attachment, or null when cancelled; rejects when it fails. */
  finished(): Promise<Attachment | null>;
  /** Stops it (aborting the request) or, once done, drops it. */
  cancel(): void;
  /** Sends it again after a failure. */
  retry(): void;
}

/** The image types the server shows inline; everything else is a download. */
export const IMAGE_TYPES: ReadonlySet<string> = new Set([
  "image/png",
  "image/jpeg",
  "image/gif",
  "image/webp",
]);

/** Where an attachment's bytes are served. */
export function attachmentUrl(id: string): string {
  return `/api/attachments/${encodeURIComponent(id)}`;
}

/** "340 B", "1.5 KB", "12.3 MB", "500 MB" (powers of 1024, as the limits are set). */
export function formatBytes(bytes: number): string {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const shown = unit === 0 ? String(value) : value.toFixed(1).replace(/\.0$/, "");
  return `${shown} ${units[unit]}`;
}

/** The API's error body, as far as an upload's error needs it. */
interface ErrorBody {
  code?: string;
  message?: string;
  details?: { maxBytes?: number; quotaBytes?: number; retryAfter?: unknown };
}

/** What the user is told when an upload is refused. */
export function uploadErrorText(
  name: string,
  status: number,
  error: ErrorBody | undefined,
  retryAfterHeader: string | null,
): string {
  if (status === 0) return `${name} was not sent: cannot reach the server.`;
  if (error?.code === "file_too_large" && error.details?.maxBytes) {
    return tooLarge(name, error.details.maxBytes);
  }
  if (error?.code === "quota_exceeded") {
    const quota = error.details?.quotaBytes;
    return `No room for ${name}: your files may take ${
      quota ? formatBytes(quota) : "only so much"
    } in all. Files go when their messages are deleted.`;
  }
  if (status === 429) {
    return `${name} was not sent. ` +
      tooMany("uploads", retryAfterOf(error?.details?.retryAfter, retryAfterHeader));
  }
  return `${name} was not sent: ${error?.message ?? `the server answered ${status}.`}`;
}

function tooLarge(name: string, maxBytes: number): string {
  return `${name} is too large: a file may be at most ${formatBytes(maxBytes)}.`;
}

let counter = 0;

/** The name and type an encrypted upload goes by: the real ones travel encrypted. */
const SEALED_NAME = "encrypted";
const SEALED_TYPE = "application/octet-stream";

/** The file encrypted with a new key, and that key with the file's real name, type and size. */
async function seal(file: File): Promise<{ body: File; fileKey: Omit<FileKey, "id"> }> {
  const { data, key, iv } = await encryptFile(new Uint8Array(await file.arrayBuffer()));
  return {
    body: new File([data], SEALED_NAME, { type: SEALED_TYPE }),
    fileKey: { key, iv, name: file.name, type: file.type || SEALED_TYPE, size: file.size },
  };
}

/**
 * Starts uploading `file` to `roomId`, encrypted first when `encrypt` is
 * set. A file over `maxBytes` fails at once, with the server's own words,
 * without being sent.
 */
export function startUpload(
  roomId: string,
  file: File,
  maxBytes?: number,
  encrypt = false,
): Upload {
  const sent = signal(0);
  const state = signal<UploadState>("uploading");
  const error = signal("");
  let request: XMLHttpRequest | null = null;
  let waiters: { resolve(a: Attachment | null): void; reject(e: Error): void }[] = [];

  const settle = (next: Exclude<UploadState, "uploading">, why = "") => {
    request = null;
    error.value = why;
    state.value = next;
    const list = waiters;
    waiters = [];
    for (const w of list) {
      if (next === "failed") w.reject(new Error(why));
      else w.resolve(next === "done" ? upload.attachment : null);
    }
  };

  let attempt = 0;
  const run = async () => {
    const mine = ++attempt;
    sent.value = 0;
    error.value = "";
    state.value = "uploading";
    if (maxBytes && file.size > maxBytes) {
      upload.retryable = false;
      return settle("failed", tooLarge(file.name, maxBytes));
    }
    let body: File = file;
    if (encrypt) {
      try {
        const sealed = await seal(file);
        body = sealed.body;
        upload.fileKey = sealed.fileKey;
      } catch (e) {
        if (mine === attempt && state.value === "uploading") {
          settle("failed", `${file.name} could not be encrypted: ${(e as Error).message}`);
        }
        return;
      }
      // Cancelled, or started again, while it was being encrypted.
      if (mine !== attempt || state.value !== "uploading") return;
    }
    const xhr = new XMLHttpRequest();
    request = xhr;
    xhr.open("POST", `/api/rooms/${encodeURIComponent(roomId)}/attachments`);
    xhr.upload.onprogress = (e) => {
      // The body is the file and a little multipart framing: show the file's share.
      if (e.lengthComputable && e.total) {
        sent.value = Math.min(file.size, Math.round(file.size * e.loaded / e.total));
      }
    };
    xhr.onload = () => {
      if (request !== xhr) return;
      let body: { attachment?: Attachment; error?: ErrorBody } | null = null;
      try {
        body = JSON.parse(xhr.responseText);
      } catch { /* not JSON: say what the status says */ }
      if (xhr.status === 201 && body?.attachment) {
        upload.attachment = body.attachment;
        sent.value = file.size;
        settle("done");
      } else {
        const retryAfter = xhr.getResponseHeader("retry-after");
        upload.retryable = xhr.status !== 413 || body?.error?.code === "quota_exceeded";
        settle("failed", uploadErrorText(file.name, xhr.status, body?.error, retryAfter));
      }
    };
    xhr.onerror = () => {
      if (request === xhr) settle("failed", uploadErrorText(file.name, 0, undefined, null));
    };
    const form = new FormData();
    form.append("file", body, body.name);
    xhr.send(form);
  };

  const upload: Upload = {
    key: `upload-${++counter}`,
    roomId,
    file,
    sent,
    state,
    error,
    retryable: true,
    attachment: null,
    fileKey: null,
    finished() {
      const now = state.value;
      if (now === "done") return Promise.resolve(upload.attachment);
      if (now === "cancelled") return Promise.resolve(null);
      if (now === "failed") return Promise.reject(new Error(error.value));
      return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
    },
    cancel() {
      if (state.value === "cancelled") return;
      const xhr = request;
      settle("cancelled");
      xhr?.abort();
    },
    retry() {
      if (state.value === "failed" && upload.retryable) run();
    },
  };
  run();
  return upload;
}

/**
 * Builds the files waiting in each room's composer: attaching starts their
 * upload; sending takes them into the message.
 */
export function createUploads(core: StoreCore, maxBytes?: number) {
  const trays = new Map<string, Signal<Upload[]>>();

  /** The files in a room's composer, uploading, stored or refused. */
  function staged(roomId: string): Signal<Upload[]> {
    let tray = trays.get(roomId);
    if (!tray) trays.set(roomId, tray = signal([]));
    return tray;
  }

  /** Attaches files to a room's next message and starts sending them. */
  function attach(roomId: string, files: Iterable<File>) {
    const tray = staged(roomId);
    const list = [...files];
    const room = ATTACHMENTS_MAX - tray.value.length;
    if (list.length > room) {
      core.notify("error", `A message carries at most ${ATTACHMENTS_MAX} files`, [
        room > 0
          ? `Only the first ${room} of these were attached.`
          : "Send these first, or remove some.",
      ]);
    }
    const encrypt = core.state.value.rooms[roomId]?.encrypted === true;
    const started = list.slice(0, Math.max(0, room)).map((f) =>
      startUpload(roomId, f, maxBytes, encrypt)
    );
    if (started.length) tray.value = [...tray.value, ...started];
  }

  /** Removes a file from the composer, stopping its upload. */
  function remove(upload: Upload) {
    upload.cancel();
    const tray = staged(upload.roomId);
    tray.value = tray.value.filter((u) => u !== upload);
  }

  /**
   * Takes the files a message is sent with: all but the refused ones, which
   * stay in the composer with their reason.
   */
  function take(roomId: string): Upload[] {
    const tray = staged(roomId);
    const taken = tray.value.filter((u) => u.state.value !== "failed");
    tray.value = tray.value.filter((u) => u.state.value === "failed");
    return taken;
  }

  return { staged, attach, remove, take };
}

/** The composer's files. */
export type Uploads = ReturnType<typeof createUploads>;

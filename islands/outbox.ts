/**
 * The outbox: messages being sent, shown at once and marked failed (with a
 * retry) when the server does not take them; each carries a client id, so a
 * retry never sends twice. In an encrypted conversation a message is sealed
 * once, and a retry sends that same envelope; a message sent while the
 * conversation was encrypted never goes unencrypted unless the user says so.
 * Also the throttled typing signal.
 *
 * @module
 */
import type { FileKey } from "../shared/e2e.ts";
import { api, ApiFailure, failureText } from "./client_api.ts";
import { DevicesChanged, type Encryption } from "./encryption.ts";
import type { Pending, StoreCore } from "./store_core.ts";
import type { Message, ReplyQuote } from "./types.ts";
import type { Upload } from "./uploads.ts";

const TYPING_THROTTLE_MS = 3_000;
/** Files uploaded for one kind of conversation cannot go to the other. */
const ENCRYPTION_CHANGED = "Encryption was switched on or off since these files were attached. " +
  "Remove them and attach them again.";

/**
 * Why a message sent encrypted was not posted: the conversation is no
 * longer encrypted. The user's retry sends it unencrypted.
 */
class EncryptionOff extends Error {}

/** Builds the sending actions; `receiveMessage` takes what the server stored. */
export function createOutbox(
  core: StoreCore,
  e2e: Encryption,
  receiveMessage: (m: Message) => void,
) {
  const { conversation } = core;
  let lastTypingSent = 0;

  /**
   * Sends a message, with the files being uploaded for it and the message it
   * answers: it shows at once and goes to the server when every file is stored.
   */
  function send(roomId: string, text: string, uploads: Upload[] = [], replyTo?: ReplyQuote) {
    const pending: Pending = {
      clientId: crypto.randomUUID(),
      roomId,
      text,
      createdAt: Date.now(),
      state: uploads.length ? "uploading" : "sending",
      encrypted: core.state.value.rooms[roomId]?.encrypted ?? false,
      ...(uploads.length ? { uploads } : {}),
      ...(replyTo ? { replyTo } : {}),
    };
    const conv = conversation(roomId);
    conv.pending.value = [...conv.pending.value, pending];
    post(pending);
  }

  async function post(p: Pending) {
    const conv = conversation(p.roomId);
    const patch = (change: Partial<Pending>) => {
      conv.pending.value = conv.pending.value.map((x) =>
        x.clientId === p.clientId ? { ...x, ...change } : x
      );
    };
    let ids: string[] = [];
    if (p.uploads?.length) {
      const ends = await Promise.allSettled(p.uploads.map((u) => u.finished()));
      // Discarded while its files were on their way.
      if (!conv.pending.value.some((x) => x.clientId === p.clientId)) return;
      const failed = p.uploads.filter((_, i) => ends[i].status === "rejected");
      const kept = p.uploads.filter((u) => u.state.value !== "cancelled");
      if (failed.length) {
        const which = failed.length === 1 ? "A file" : `${failed.length} files`;
        const error = `${which} could not be uploaded. Remove ${
          failed.length === 1 ? "it" : "them"
        } to send the rest, or retry.`;
        return patch({ state: "failed", uploads: kept, error });
      }
      // Every file cancelled and nothing written: nothing to send.
      if (!kept.length && !p.text) return discard(p);
      ids = kept.map((u) => u.attachment!.id);
      patch({ state: "sending", uploads: kept });
    }
    let sealed = false;
    try {
      const content = await contentOf(p);
      sealed = content.envelope !== undefined;
      // Sealed once: a retry sends the same envelope under the same client id.
      if (content.envelope && !p.envelope) patch({ envelope: content.envelope });
      const { message: m } = await api<{ message: Message }>(
        "POST",
        `/api/rooms/${p.roomId}/messages`,
        {
          ...content,
          clientId: p.clientId,
          ...(ids.length ? { attachments: ids } : {}),
          ...(p.replyTo ? { replyTo: p.replyTo.seq } : {}),
        },
      );
      receiveMessage(m);
    } catch (e) {
      const held = e instanceof DevicesChanged;
      const off = e instanceof EncryptionOff ||
        (e instanceof ApiFailure && e.code === "not_encrypted" && p.encrypted);
      patch({
        state: "failed",
        error: off ? offText(p.roomId) : failureText(e, "messages"),
        ...(held ? { held } : {}),
        ...(off ? { encryptionOff: true } : {}),
      });
      if (e instanceof ApiFailure && e.status === 400) refused(p, e.code, sealed);
    }
  }

  /** "bob turned encryption off — send again to send it unencrypted", from the latest notice. */
  function offText(roomId: string): string {
    const messages = core.state.value.conversations[roomId]?.messages ?? [];
    const notice = messages.findLast((m) => m.notice);
    const then = "— send again to send it unencrypted";
    // The server said no before its notice came: who did it is not known yet.
    if (notice?.notice !== "encryption_off") return `Encryption was turned off ${then}`;
    const who = notice.author.id === core.me.value?.id ? "You" : notice.author.username;
    return `${who} turned encryption off ${then}`;
  }

  /**
   * A definite no (400: nothing was stored, so sealing again is safe): an
   * envelope is made afresh by the retry, and a conversation whose
   * encryption changed unseen is put right, so that the retry can work.
   */
  function refused(p: Pending, code: string, sealed: boolean) {
    const conv = conversation(p.roomId);
    conv.pending.value = conv.pending.value.map((x) => {
      if (x.clientId !== p.clientId) return x;
      const { envelope: _, ...rest } = x;
      return rest;
    });
    if (code === "encryption_required" || code === "not_encrypted") {
      core.patchRoom(p.roomId, (r) => ({ ...r, encrypted: code === "encryption_required" }));
    } else if (sealed) e2e.refused();
  }

  /**
   * What a message says: its text, or in an encrypted conversation the
   * envelope of its text and its files' keys (made once).
   */
  async function contentOf(p: Pending) {
    const encrypted = core.state.value.rooms[p.roomId]?.encrypted ?? false;
    // Sent sealed, and the conversation was switched off since: not without the user's word.
    if (p.encrypted && !encrypted) throw new EncryptionOff();
    if (p.envelope) return { envelope: p.envelope };
    const uploads = (p.uploads ?? []).filter((u) => u.state.value !== "cancelled");
    const sealed = uploads.filter((u) => u.fileKey);
    if (!encrypted) {
      if (sealed.length) throw new Error(ENCRYPTION_CHANGED);
      return { text: p.text };
    }
    if (sealed.length !== uploads.length) throw new Error(ENCRYPTION_CHANGED);
    const files: FileKey[] = sealed.map((u) => ({ ...u.fileKey!, id: u.attachment!.id }));
    const envelope = await e2e.seal(p.roomId, {
      v: 1,
      text: p.text,
      ...(files.length ? { files } : {}),
    });
    return { envelope };
  }

  /** Sends again the messages held back until the user accepted the devices that changed. */
  function releaseHeld(roomId: string) {
    for (const p of conversation(roomId).pending.value) if (p.held) resend(p);
  }

  /**
   * The user's retry of a failed message. One not sent because encryption
   * was turned off since goes unencrypted now: the user was told and asked.
   */
  function retry(p: Pending) {
    if (!p.encryptionOff) return resend(p);
    const { encryptionOff: _, envelope: __, ...rest } = p;
    resend({ ...rest, encrypted: false });
  }

  /**
   * Sends a failed message again: only the files that did not get there are
   * uploaded again; one sent encrypted still goes sealed or not at all.
   */
  function resend(p: Pending) {
    const conv = conversation(p.roomId);
    for (const u of p.uploads ?? []) u.retry();
    const waiting = p.uploads?.some((u) => u.state.value === "uploading");
    const again = { ...p, state: waiting ? "uploading" as const : "sending" as const };
    delete again.error;
    delete again.held;
    delete again.encryptionOff;
    conv.pending.value = conv.pending.value.map((x) => x.clientId === p.clientId ? again : x);
    post(again);
  }

  /**
   * Takes a file out of a message not yet sent: one on its way stops (the
   * message goes without it); a refused one goes, and the message with the
   * rest of its files is sent again.
   */
  function removeUpload(p: Pending, upload: Upload) {
    const refused = upload.state.value === "failed";
    upload.cancel();
    if (p.state !== "failed") return;
    const conv = conversation(p.roomId);
    const left = (p.uploads ?? []).filter((u) => u !== upload);
    if (!left.length && !p.text) return discard(p);
    const next = { ...p, uploads: left };
    // Its files changed: a new envelope must say so (the old one was never taken).
    delete next.envelope;
    conv.pending.value = conv.pending.value.map((x) => x.clientId === p.clientId ? next : x);
    if (refused && !left.some((u) => u.state.value === "failed")) resend(next);
  }

  /** Drops a message not sent, stopping its uploads. */
  function discard(p: Pending) {
    const conv = conversation(p.roomId);
    for (const u of p.uploads ?? []) u.cancel();
    conv.pending.value = conv.pending.value.filter((x) => x.clientId !== p.clientId);
  }

  /** Tells the room this user is typing, at most once every three seconds. */
  function typed(roomId: string) {
    const now = Date.now();
    if (now - lastTypingSent < TYPING_THROTTLE_MS) return;
    lastTypingSent = now;
    api("POST", `/api/rooms/${roomId}/typing`).catch(() => {});
  }

  return { send, retry, releaseHeld, discard, removeUpload, typed };
}

/** The sending actions. */
export type Outbox = ReturnType<typeof createOutbox>;

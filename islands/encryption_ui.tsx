/**
 * What end-to-end encryption looks like in a conversation: the lock and the
 * verified mark, switching encryption on, the safety-number dialog, the
 * warnings when the other side's devices or the user's own change, the honest
 * note, notices of encryption switched on or off, and the decrypted files of
 * a message.
 *
 * @module
 */
import { useSignal } from "@preact/signals";
import type { ComponentChildren } from "preact";
import { useEffect } from "preact/hooks";
import type { FileKey, PublishedDevice } from "../shared/e2e.ts";
import { noticeText } from "../shared/e2e_notice.ts";
import { COULD_NOT_DECRYPT, type Whose } from "./encryption.ts";
import type { Store } from "./store.ts";
import type { Message, ReplyQuote, Room } from "./types.ts";
import { formatWhen, Icon, Modal, useStore } from "./ui.tsx";
import { formatBytes, IMAGE_TYPES } from "./uploads.ts";

/** A notice in the history: a centred line, not anyone's message; a lock only when switched on. */
export function NoticeLine({ message: m }: { message: Message }) {
  const store = useStore();
  return (
    <li class="notice-line" data-seq={m.seq} data-notice={m.notice}>
      <span>
        <Icon name={m.notice === "encryption_on" ? "lock" : "warning"} />
        {noticeText(m, { meId: store.me.value?.id })}{" "}
        <time dateTime={new Date(m.createdAt).toISOString()}>{formatWhen(m.createdAt)}</time>
      </span>
    </li>
  );
}

/** What stands for a message this device cannot read: that, and nothing of its contents. */
export function Undecryptable() {
  return (
    <p
      class="msg-text msg-undecryptable"
      title="This device has no key for this message, or it was changed on the way."
    >
      <Icon name="lock" />
      {COULD_NOT_DECRYPT}
    </p>
  );
}

/** A conversation's preview line for a message: decrypted, or what it is. */
export function previewOf(store: Store, m: Message): string {
  if (m.deleted) return "message deleted";
  if (m.notice) return noticeText(m, { meId: store.me.value?.id });
  const o = store.e2e.open(m);
  if (o.state === "failed") return COULD_NOT_DECRYPT;
  if (o.state === "pending") return "Encrypted message";
  const files = o.payload.files ?? m.attachments ?? [];
  return o.payload.text ||
    (files.length === 1 ? files[0].name : files.length ? `${files.length} files` : "");
}

/** What a quote of an encrypted message not loaded here shows (as the terminal client does). */
export const ENCRYPTED_QUOTE = "🔒 encrypted message";

/** The text a quote shows: an encrypted original's, decrypted here when it is loaded. */
export function quoteText(store: Store, quote: ReplyQuote, roomId: string): string {
  if (quote.deleted || quote.text) return quote.deleted ? "message deleted" : quote.text;
  const original = store.conversation(roomId).messages.value.find((m) => m.seq === quote.seq);
  if (original?.envelope) return store.e2e.textOf(original);
  return quote.encrypted ? ENCRYPTED_QUOTE : quote.text;
}

/** The lock of an encrypted conversation's header: opens the safety number. */
export function LockButton({ room }: { room: Room }) {
  const store = useStore();
  const verified = room.peer ? store.e2e.trust.value[room.peer.id]?.verified : false;
  return (
    <button
      type="button"
      class="button small lock-button"
      aria-label={`End-to-end encrypted${verified ? ", verified" : ""}: safety number`}
      title="End-to-end encrypted. Compare safety numbers."
      onClick={() => store.dialog.value = { kind: "safety", roomId: room.id }}
    >
      <Icon name="lock" />
      <span aria-hidden="true">Encrypted</span>
      {verified
        ? (
          <span class="tag tag-verified" aria-hidden="true">
            <Icon name="check" />verified
          </span>
        )
        : null}
    </button>
  );
}

/** Switches a direct conversation to end-to-end encryption. */
export function EncryptButton({ room }: { room: Room }) {
  const store = useStore();
  const busy = useSignal(false);
  return (
    <button
      type="button"
      class="button small"
      aria-label="Turn on end-to-end encryption"
      title="Turn on end-to-end encryption: only your devices and theirs can read what follows"
      disabled={busy.value}
      onClick={async () => {
        busy.value = true;
        try {
          await store.e2e.setEncrypted(room.id, true);
        } catch (e) {
          store.notify("error", "Could not turn on encryption", [(e as Error).message]);
        } finally {
          busy.value = false;
        }
      }}
    >
      <Icon name="lock" /> Encrypt
    </button>
  );
}

/**
 * Above the composer of an encrypted conversation: the warnings when the
 * other side's devices or the user's own changed (messages wait until OK),
 * the note of what encryption does not do, and why this browser cannot take
 * part, if so.
 */
export function EncryptionBar({ room }: { room: Room }) {
  const store = useStore();
  const peer = room.peer;
  const trust = store.e2e.trust.value;
  const changed = peer ? trust[peer.id]?.status === "changed" : false;
  const selfChanged = trust[store.me.value?.id ?? ""]?.status === "changed";
  const problem = store.e2e.problem.value;
  // Opening the conversation, or encryption just switched on: look at the devices.
  useEffect(() => {
    if (room.encrypted) store.e2e.check(room).catch(() => {});
  }, [room.id, room.encrypted]);
  if (!room.encrypted || !peer) return null;
  return (
    <div class="e2e-bar">
      {changed
        ? (
          <DevicesWarning room={room} whose="peer" action="Compare">
            <strong>{peer.username}'s devices changed — compare safety numbers.</strong>{" "}
            Someone may have added a device, or a device may not be theirs. Messages wait until you
            say OK.
          </DevicesWarning>
        )
        : null}
      {selfChanged
        ? (
          <DevicesWarning room={room} whose="self" action="Your devices">
            <strong>
              Your devices changed: a new device can read what you send from now on
            </strong>{" "}
            — if it isn't yours, retire it under Your devices and change your password. Messages
            wait until you say OK.
          </DevicesWarning>
        )
        : null}
      {problem ? <p class="e2e-problem" role="alert">{problem}</p> : null}
      <p class="e2e-note">
        <Icon name="lock" />
        Messages are end-to-end encrypted. Devices added later can't read earlier messages. The
        server still sees who talks to whom, and when.
      </p>
    </div>
  );
}

/** A "devices changed" warning: what changed, a look at the devices, and OK to send anyway. */
function DevicesWarning(
  { room, whose, action, children }: {
    room: Room;
    whose: Whose;
    action: string;
    children: ComponentChildren;
  },
) {
  const store = useStore();
  const busy = useSignal(false);
  return (
    <div class="e2e-warning" role="alert" data-whose={whose}>
      <Icon name="warning" />
      <p>{children}</p>
      <button
        type="button"
        class="button small"
        onClick={() => store.dialog.value = { kind: "safety", roomId: room.id }}
      >
        {action}
      </button>
      <button
        type="button"
        class="button small primary"
        disabled={busy.value}
        onClick={async () => {
          busy.value = true;
          try {
            await store.acceptDevices(room.id, whose);
          } catch (e) {
            store.notify("error", "Could not accept the new devices", [(e as Error).message]);
          } finally {
            busy.value = false;
          }
        }}
      >
        OK
      </button>
    </div>
  );
}

/** The safety number of a conversation, the devices it covers, and marking the other verified. */
export function SafetyDialog({ roomId }: { roomId: string }) {
  const store = useStore();
  const room = store.rooms.value.find((r) => r.id === roomId);
  const info = useSignal<
    { number: string; mine: PublishedDevice[]; theirs: PublishedDevice[]; self: string } | null
  >(null);
  const error = useSignal("");
  const busy = useSignal(false);
  const peer = room?.peer;
  const trust = peer ? store.e2e.trust.value[peer.id] : undefined;
  const selfStatus = store.e2e.trust.value[store.me.value?.id ?? ""]?.status;
  const load = () => {
    if (!room?.peer) return;
    store.e2e.safety(room).then((v) => {
      info.value = v;
      // What `/verify yes` may mark verified: the number the user was shown.
      store.e2e.shown(room, v.number);
    }, (e) => error.value = e.message);
  };
  useEffect(load, [roomId, trust?.status, selfStatus]);
  if (!room || !peer) return null;
  const run = async (f: () => Promise<unknown>) => {
    busy.value = true;
    error.value = "";
    try {
      await f();
    } catch (e) {
      error.value = (e as Error).message;
    } finally {
      busy.value = false;
    }
  };
  return (
    <Modal title="Safety number">
      <p>
        Compare this number with{" "}
        {peer.username}'s, over a call or in person. If both show the same digits, your messages
        reach only your devices and theirs.
      </p>
      {info.value
        ? (
          <p class="safety-number" aria-label="Safety number">
            {info.value.number}
          </p>
        )
        : <p class="muted">Working it out…</p>}
      <p class="safety-status" role="status">
        {trust?.verified
          ? (
            <>
              <Icon name="check" /> You verified {peer.username}.
            </>
          )
          : trust?.status === "changed"
          ? `${peer.username}'s devices changed since you last looked.`
          : `You have not verified ${peer.username}.`}
      </p>
      {info.value
        ? (
          <div class="safety-devices">
            <DeviceList
              title="Your devices"
              devices={info.value.mine}
              self={info.value.self}
              onRetire={(d) => {
                const question = `Retire “${d.name || d.id}”? It will not be able to read ` +
                  "new messages. Change your password too if it is not yours.";
                if (!confirm(question)) return;
                run(async () => {
                  await store.e2e.retire(d.id);
                  load();
                });
              }}
            />
            <DeviceList title={`${peer.username}'s devices`} devices={info.value.theirs} />
          </div>
        )
        : null}
      <p class="muted">
        A device added later cannot read earlier messages. There is no forward secrecy within a
        device's keys: whoever takes a device's private key can read what was sent to it.
      </p>
      {error.value ? <p class="error" role="alert">{error.value}</p> : null}
      <div class="form-actions">
        <button
          type="button"
          class="button danger"
          disabled={busy.value}
          onClick={() => {
            const question = `Turn off end-to-end encryption with ${peer.username}? ` +
              "Messages from now on can be read by the server. Both of you will see that you " +
              "turned it off.";
            if (!confirm(question)) return;
            run(async () => {
              await store.e2e.setEncrypted(room.id, false);
              store.dialog.value = null;
            });
          }}
        >
          Turn off encryption
        </button>
        <button
          type="button"
          class="button primary"
          disabled={busy.value || !info.value || (trust?.verified ?? false)}
          onClick={() =>
            run(async () => {
              if (await store.e2e.verifyShown(room)) return;
              // The devices changed while the dialog was open: show the new number.
              load();
              throw new Error("The safety number changed: compare the new one.");
            })}
        >
          Mark verified
        </button>
      </div>
    </Modal>
  );
}

function DeviceList(
  { title, devices, self, onRetire }: {
    title: string;
    devices: PublishedDevice[];
    self?: string;
    /** For the user's own devices: retires one (not this one). */
    onRetire?: (d: PublishedDevice) => void;
  },
) {
  const active = devices.filter((d) => d.retiredAt === null);
  return (
    <section>
      <h3 class="modal-sub">{title} · {active.length}</h3>
      <ul class="device-list">
        {active.map((d) => (
          <li key={d.id}>
            {d.name || "Unnamed device"}{" "}
            {d.id === self ? <span class="muted">(this one)</span> : null}
            <span class="muted">{` · since ${formatWhen(d.createdAt)}`}</span>
            {onRetire && d.id !== self
              ? (
                <>
                  {" "}
                  <button
                    type="button"
                    class="link-button"
                    aria-label={`Retire ${d.name || "unnamed device"}`}
                    onClick={() => onRetire(d)}
                  >
                    Retire
                  </button>
                </>
              )
              : null}
          </li>
        ))}
      </ul>
    </section>
  );
}

/** An encrypted message's files, decrypted here: images as previews, the others as downloads. */
export function EncryptedFiles({ message: m, files }: { message: Message; files: FileKey[] }) {
  // Only files the server attached to this message: a payload cannot point at others.
  const attached = new Set((m.attachments ?? []).map((a) => a.id));
  const shown = files.filter((f) => attached.has(f.id));
  const images = shown.filter((f) => IMAGE_TYPES.has(f.type));
  const others = shown.filter((f) => !IMAGE_TYPES.has(f.type));
  if (!shown.length) return null;
  return (
    <div class="attachments">
      {images.length
        ? (
          <div class="attachment-images">
            {images.map((f) => <EncryptedImage key={f.id} file={f} />)}
          </div>
        )
        : null}
      {others.map((f) => <EncryptedFileChip key={f.id} file={f} />)}
    </div>
  );
}

/**
 * A decrypted image, shown from a `blob:` URL (which the page's policy allows
 * for images) that lives as long as the preview; a click downloads the original.
 */
function EncryptedImage({ file }: { file: FileKey }) {
  const store = useStore();
  const shown = useSignal<{ href: string } | "failed" | null>(null);
  useEffect(() => {
    let href = "";
    let live = true;
    store.e2e.openFile(file).then((blob) => {
      if (!live) return;
      if (!blob) return shown.value = "failed";
      href = URL.createObjectURL(blob);
      shown.value = { href };
    }).catch(() => live && (shown.value = "failed"));
    return () => {
      live = false;
      if (href) URL.revokeObjectURL(href);
    };
  }, [file.id]);
  const s = shown.value;
  if (s === "failed") return <FileFailed file={file} />;
  if (!s) return <span class="attachment-image loading">Decrypting {file.name}…</span>;
  return (
    <a
      class="attachment-image"
      href={s.href}
      download={file.name}
      title={`${file.name} · ${formatBytes(file.size)}. Downloads the original.`}
      data-attachment-id={file.id}
    >
      <img src={s.href} alt={file.name} class="decrypted-image" />
    </a>
  );
}

/** Any other decrypted file: fetched and decrypted when the user asks for it. */
function EncryptedFileChip({ file }: { file: FileKey }) {
  const store = useStore();
  const failed = useSignal(false);
  const busy = useSignal(false);
  if (failed.value) return <FileFailed file={file} />;
  return (
    <button
      type="button"
      class="file-chip"
      data-attachment-id={file.id}
      disabled={busy.value}
      onClick={async () => {
        busy.value = true;
        const blob = await store.e2e.openFile(file).catch(() => null);
        busy.value = false;
        if (!blob) return failed.value = true;
        const href = URL.createObjectURL(blob);
        const link = document.createElement("a");
        link.href = href;
        link.download = file.name;
        link.click();
        setTimeout(() => URL.revokeObjectURL(href), 60_000);
      }}
    >
      <Icon name="file" />
      <span class="file-text">
        <span class="sr-only">Download</span> <span class="file-name">{file.name}</span>{" "}
        <span class="file-size">{formatBytes(file.size)}</span>
      </span>
      <Icon name="download" />
    </button>
  );
}

function FileFailed({ file }: { file: FileKey }) {
  return (
    <span class="file-chip msg-undecryptable" data-attachment-id={file.id}>
      <Icon name="lock" />
      <span class="file-text">{file.name}: {COULD_NOT_DECRYPT}</span>
    </span>
  );
}

/**
 * End-to-end encryption in the web app (docs/encryption.md): this
 * browser's device, the device directory, sealing a message for every
 * active device of both participants, opening the envelopes of history and
 * live events (each once, remembered by the page), encrypted files, the
 * safety number, and the "their devices changed" and "your devices changed"
 * warnings. The logic is the terminal client's too (`shared/e2e_session.ts`);
 * what is here is the page's state (signals), its keys (IndexedDB) and words.
 *
 * @module
 */
import { signal } from "@preact/signals";
import {
  COULD_NOT_DECRYPT,
  decryptFile,
  type DeviceKeys,
  type Envelope,
  type FileKey,
  type Payload,
  type PublishedDevice,
} from "../shared/e2e.ts";
import { DevicesChanged, E2eSession, type Trust } from "../shared/e2e_session.ts";
import { api } from "./client_api.ts";
import { knownDevicesStore, localDeviceKeys, publishDeviceKeys } from "./device_keys.ts";
import type { StoreCore } from "./store_core.ts";
import type { Message, Room } from "./types.ts";
import { attachmentUrl } from "./uploads.ts";

/** What a message this device cannot read shows, and nothing of its contents. */
export { COULD_NOT_DECRYPT };

/** A message not sent because the other side's devices, or the user's own, changed: it waits for an OK. */
export { DevicesChanged };

/**
 * What this browser thinks of a user's devices: the other participant's, or
 * (under the user's own id) the user's own other devices.
 */
export type { Trust };

/** What the page knows of a message's envelope: not opened yet, its payload, or no luck. */
export type Opened =
  | { state: "pending" }
  | { state: "done"; payload: Payload }
  | { state: "failed" };

/** Whose devices a warning is about: the other participant's, or the user's own. */
export type Whose = "peer" | "self";

/** How long before an envelope that failed for want of the network is tried again. */
const RETRY_MS = 3_000;

/** Builds the encryption part of the store. */
export function createEncryption(core: StoreCore) {
  const { me, state, upsertRoom } = core;
  /** The payload of every envelope opened so far; `null` for those that could not be. */
  const opened = signal<Record<string, Payload | null>>({});
  /** What this browser thinks of each user's devices, by user id (the user's own too). */
  const trust = signal<Record<string, Trust>>({});
  /** Why this browser cannot take part in encryption, if it cannot. */
  const problem = signal<string | null>(null);
  const started = new Set<string>();
  /** Decrypted files, by id and key. */
  const files = new Map<string, Promise<Blob | null>>();
  let keysReady: Promise<DeviceKeys> | null = null;
  let localReady: Promise<DeviceKeys> | null = null;
  let current: E2eSession | null = null;

  /** The signed-in user's session: the directory, the device sets accepted, sealing and opening. */
  function session(): E2eSession {
    const user = me.value;
    if (!user) throw new Error("Not signed in.");
    return current ??= new E2eSession({
      me: user,
      fetchDevices: async (username) =>
        (await api<{ devices: PublishedDevice[] }>(
          "GET",
          `/api/users/${encodeURIComponent(username)}/devices`,
        )).devices,
      known: knownDevicesStore(user.id),
      keys,
      openingKeys: localKeys,
      onTrust: (userId, t) => {
        trust.value = { ...trust.value, [userId]: { status: t.status, verified: t.verified } };
      },
      wording: {
        noDevice: (name) =>
          `${name} has no device that can read encrypted messages yet. ` +
          "They can once they open Parley again.",
        devicesChanged: ({ peer, name }) =>
          peer
            ? `Not sent: ${name}'s devices changed. Compare safety numbers, or press OK above ` +
              "to send anyway."
            : "Not sent: your devices changed. If the new one is yours, press OK above to send " +
              "anyway.",
      },
    });
  }

  /** This device's keys as stored here, created on first use: enough to decrypt. */
  function localKeys(): Promise<DeviceKeys> {
    localReady ??= (async () => {
      const user = me.value;
      if (!user) throw new Error("Not signed in.");
      return await localDeviceKeys(user.id);
    })().catch((e) => {
      localReady = null;
      throw e;
    });
    return localReady;
  }

  /** This device's keys, created on first use and published: what sealing needs. */
  function keys(): Promise<DeviceKeys> {
    keysReady ??= (async () => {
      const user = me.value!;
      const local = await localKeys();
      const published = await publishDeviceKeys(user, local);
      if (published.id !== local.id) {
        localReady = Promise.resolve(published);
        session().directory.invalidate(user.username);
      }
      problem.value = null;
      return published;
    })().catch((e) => {
      keysReady = null;
      problem.value = (e as Error).message;
      throw e;
    });
    return keysReady;
  }

  /**
   * Creates and publishes this device's keys in the background, so others can
   * write to it, and notes the user's other devices (first sight, or a change).
   */
  function start() {
    keys().then(() => session().checkSelf()).catch(() => {});
  }

  /**
   * The server refused an envelope: this device may have been retired
   * elsewhere. The next seal looks at the directory again first.
   */
  function refused() {
    keysReady = null;
    const user = me.value;
    if (user) session().directory.invalidate(user.username);
  }

  /**
   * Compares the other participant's devices, and the user's own, with those
   * last accepted, fresh from the server; a change shows the warning.
   */
  async function check(room: Room): Promise<void> {
    const peer = room.peer;
    if (!peer || !room.encrypted) return;
    const s = session();
    s.directory.invalidate(peer.username);
    await Promise.all([
      s.checkPeer(peer),
      // This device not being published yet shows elsewhere (`problem`).
      s.checkSelf().catch(() => {}),
    ]);
  }

  /** Accepts the current devices, the other participant's or the user's own, after a warning. */
  async function accept(room: Room, whose: Whose = "peer"): Promise<void> {
    if (whose === "self") return await session().acceptSelf();
    if (room.peer) await session().acceptPeer(room.peer);
  }

  /**
   * After the stream reconnected (resumed, or reset): a `devices` event may
   * have been lost past the replay window, so the device lists of the given
   * encrypted conversations (and the user's own) are read again.
   */
  async function recheck(rooms: Room[]): Promise<void> {
    session().directory.invalidate();
    const encrypted = rooms.filter((r) => r.encrypted && r.peer);
    if (!encrypted.length) return;
    await Promise.all(encrypted.map((r) => check(r).catch(() => {})));
  }

  /** Retires one of the user's other devices (one that is not theirs, say). */
  async function retire(deviceId: string): Promise<void> {
    const user = me.value!;
    const s = session();
    if (deviceId === (await keys()).id) throw new Error("This is the device you are using.");
    const before = await s.checkSelf();
    await api("DELETE", `/api/me/devices/${encodeURIComponent(deviceId)}`);
    s.directory.invalidate(user.username);
    // Taking away a device the user had accepted adds nothing to warn about.
    if (before.status !== "changed") return await s.acceptSelf();
    await s.checkSelf();
  }

  /** The conversation's safety number and the devices it covers (this device among the user's). */
  async function safety(room: Room) {
    return await session().safety(room.peer!);
  }

  /** Remembers that the user was shown this safety number for the conversation. */
  function shown(room: Room, number: string) {
    if (room.peer && me.value) session().shown(room.peer, number);
  }

  /**
   * Marks the other participant verified, if the safety number the user was
   * last shown in this page is the one their devices and the user's give
   * now, read fresh from the server.
   *
   * @returns `false`, having marked nothing, when no number was shown or the
   * devices changed since: the number must be shown (again) first.
   */
  async function verifyShown(room: Room): Promise<boolean> {
    if (!room.peer) return false;
    return (await session().verifyShown(room.peer)).status === "verified";
  }

  /**
   * Encrypts a payload for every active device of both participants.
   *
   * @throws {DevicesChanged} when the other side's devices, or the user's
   * own, changed since last accepted: the message waits until the user says
   * OK.
   */
  async function seal(roomId: string, payload: Payload): Promise<Envelope> {
    const room = state.value.rooms[roomId];
    const peer = room?.peer;
    if (!room || !peer) throw new Error("Only direct conversations are encrypted.");
    return await session().seal(roomId, peer, payload);
  }

  /** A new envelope for an edit of `m`: the new text, with the files it carried. */
  function sealEdit(m: Message, text: string): Promise<Envelope> {
    const o = open(m);
    if (o.state !== "done") {
      throw new Error("This message cannot be read here, so it cannot be edited.");
    }
    const files = o.payload.files;
    return seal(m.roomId, { v: 1, text, ...(files?.length ? { files } : {}) });
  }

  function keyOf(m: Message, envelope: Envelope): string {
    return `${m.roomId}:${m.seq}:${envelope.signature}`;
  }

  /**
   * What a message's envelope says, as far as known now; the first call
   * starts opening it, and the answer arrives through `opened`.
   */
  function open(m: Message): Opened {
    const envelope = m.envelope;
    if (!envelope) return { state: "done", payload: { v: 1, text: m.text } };
    const key = keyOf(m, envelope);
    const done = opened.value[key];
    if (done !== undefined) return done ? { state: "done", payload: done } : { state: "failed" };
    if (!started.has(key)) {
      started.add(key);
      decrypt(m, envelope, key);
    }
    return { state: "pending" };
  }

  async function decrypt(m: Message, envelope: Envelope, key: string) {
    let payload: Payload | null;
    try {
      payload = await session().open({ roomId: m.roomId, author: m.author, envelope });
    } catch {
      // The network or the key store failed, not the envelope: try again later.
      setTimeout(() => {
        started.delete(key);
        opened.value = { ...opened.value };
      }, RETRY_MS);
      return;
    }
    opened.value = { ...opened.value, [key]: payload };
  }

  /** A message's text for a preview or a quote: decrypted when it could be. */
  function textOf(m: Message): string {
    const o = open(m);
    return o.state === "done" ? o.payload.text : o.state === "failed" ? COULD_NOT_DECRYPT : "…";
  }

  /** Fetches an encrypted file and decrypts it, once per page; `null` if it could not be. */
  function openFile(file: FileKey): Promise<Blob | null> {
    const key = `${file.id}:${file.key}:${file.iv}`;
    let blob = files.get(key);
    if (!blob) {
      blob = fetchFile(file);
      files.set(key, blob);
      // A network failure is not the file's: the next look tries again.
      blob.catch(() => files.delete(key));
    }
    return blob;
  }

  async function fetchFile(file: FileKey): Promise<Blob | null> {
    const res = await fetch(attachmentUrl(file.id), { credentials: "same-origin" });
    if (res.status >= 500) throw new Error(`The server answered ${res.status}.`);
    if (!res.ok) return null;
    const bytes = await decryptFile(new Uint8Array(await res.arrayBuffer()), file.key, file.iv);
    return bytes ? new Blob([bytes], { type: file.type || "application/octet-stream" }) : null;
  }

  /** Switches encryption on or off for a direct conversation; both sides see a notice. */
  async function setEncrypted(roomId: string, encrypted: boolean): Promise<void> {
    if (encrypted) await keys();
    const res = await api<{ room?: Room }>("PUT", `/api/rooms/${roomId}/encryption`, {
      encrypted,
    });
    const room = res?.room ?? state.value.rooms[roomId];
    if (!room) return;
    upsertRoom({ ...room, encrypted });
    if (encrypted) await check({ ...room, encrypted }).catch(() => {});
  }

  /**
   * A `devices` event: someone's devices changed; read them again, and warn
   * if they are the peer's or the user's own.
   */
  function onDevices(data: { roomId: string; userId: string }) {
    const room = state.value.rooms[data.roomId];
    const user = me.value;
    if (!user) return;
    if (data.userId === user.id) {
      session().directory.invalidate(user.username);
      session().checkSelf().catch(() => {});
      return;
    }
    if (!room?.peer || room.peer.id !== data.userId) return;
    session().directory.invalidate(room.peer.username);
    check(room).catch(() => {});
  }

  return {
    opened,
    trust,
    problem,
    start,
    keys,
    refused,
    check,
    accept,
    recheck,
    retire,
    safety,
    shown,
    verifyShown,
    seal,
    sealEdit,
    open,
    textOf,
    /** A user's devices, retired too, as the directory has them. */
    devicesOf: (username: string) => session().directory.devices(username),
    openFile,
    setEncrypted,
    onDevices,
  };
}

/** The encryption part of the store. */
export type Encryption = ReturnType<typeof createEncryption>;

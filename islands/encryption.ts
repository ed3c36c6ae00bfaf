/**
 * End-to-end encryption in the web app (docs/encryption.md): this
 * browser's device, the device directory, sealing a message for every
 * active device of both participants, opening the envelopes of history and
 * live events (each once, remembered by the page), encrypted files, the
 * safety number and the "their devices changed" warning.
 *
 * @module
 */
import { signal } from "@preact/signals";
import {
  COULD_NOT_DECRYPT,
  decryptFile,
  decryptMessage,
  type DeviceKeys,
  encryptMessage,
  type Envelope,
  type FileKey,
  type Payload,
  type PublishedDevice,
  safetyNumber,
} from "../shared/e2e.ts";
import {
  acceptDevices,
  checkDevices,
  DeviceDirectory,
  type KnownDevicesStore,
  markVerified,
} from "../shared/e2e_directory.ts";
import { api } from "./client_api.ts";
import { knownDevicesStore, localDeviceKeys, publishDeviceKeys } from "./device_keys.ts";
import type { StoreCore } from "./store_core.ts";
import type { Message, Room } from "./types.ts";
import { attachmentUrl } from "./uploads.ts";

export { COULD_NOT_DECRYPT };

/** What the page knows of a message's envelope: not opened yet, its payload, or no luck. */
export type Opened =
  | { state: "pending" }
  | { state: "done"; payload: Payload }
  | { state: "failed" };

/** What this browser thinks of the other participant's devices. */
export interface Trust {
  /** `changed`: their devices are not the ones last accepted; warn before sending. */
  status: "new" | "same" | "changed";
  verified: boolean;
}

/** A message not sent because the other side's devices changed: it waits for an OK. */
export class DevicesChanged extends Error {}

/** How long before an envelope that failed for want of the network is tried again. */
const RETRY_MS = 3_000;

/** Builds the encryption part of the store. */
export function createEncryption(core: StoreCore) {
  const { me, state, upsertRoom } = core;
  const directory = new DeviceDirectory(async (username) =>
    (await api<{ devices: PublishedDevice[] }>(
      "GET",
      `/api/users/${encodeURIComponent(username)}/devices`,
    )).devices
  );
  /** The payload of every envelope opened so far; `null` for those that could not be. */
  const opened = signal<Record<string, Payload | null>>({});
  /** What this browser thinks of each other user's devices, by user id. */
  const trust = signal<Record<string, Trust>>({});
  /** Why this browser cannot take part in encryption, if it cannot. */
  const problem = signal<string | null>(null);
  const started = new Set<string>();
  /** Decrypted files, by id and key. */
  const files = new Map<string, Promise<Blob | null>>();
  let keysReady: Promise<DeviceKeys> | null = null;
  let localReady: Promise<DeviceKeys> | null = null;
  let known: KnownDevicesStore | null = null;

  function knownStore(): KnownDevicesStore {
    return known ??= knownDevicesStore(me.value!.id);
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
        directory.invalidate(user.username);
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

  /** Creates and publishes this device's keys in the background, so others can write to it. */
  function start() {
    keys().catch(() => {});
  }

  /**
   * The server refused an envelope: this device may have been retired
   * elsewhere. The next seal looks at the directory again first.
   */
  function refused() {
    keysReady = null;
    const user = me.value;
    if (user) directory.invalidate(user.username);
  }

  function setTrust(userId: string, t: Trust) {
    trust.value = { ...trust.value, [userId]: t };
  }

  /**
   * Compares the other participant's devices with those last accepted, fresh
   * from the server; a change shows the warning.
   */
  async function check(room: Room): Promise<void> {
    const peer = room.peer;
    if (!peer || !room.encrypted) return;
    directory.invalidate(peer.username);
    const devices = await directory.devices(peer.username);
    // No device yet: nothing to trust, and their first one is not a change.
    if (!devices.some((d) => d.retiredAt === null)) return;
    setTrust(peer.id, await checkDevices(knownStore(), peer.id, devices));
  }

  /** Accepts the other participant's current devices after a warning. */
  async function accept(room: Room): Promise<void> {
    const peer = room.peer;
    if (!peer) return;
    const devices = await directory.devices(peer.username);
    await acceptDevices(knownStore(), peer.id, devices);
    setTrust(peer.id, { status: "same", verified: false });
  }

  /** Both users' devices, as the safety number covers them. */
  async function participants(room: Room) {
    const user = me.value!;
    const peer = room.peer!;
    const [mine, theirs] = await Promise.all([
      directory.devices(user.username),
      directory.devices(peer.username),
    ]);
    return { mine, theirs };
  }

  /** The conversation's safety number and the devices it covers. */
  async function safety(room: Room) {
    const { mine, theirs } = await participants(room);
    const number = await safetyNumber(
      { userId: me.value!.id, devices: mine },
      { userId: room.peer!.id, devices: theirs },
    );
    const self = (await keys()).id;
    return { number, mine, theirs, self };
  }

  /** Marks the other participant verified, for the devices whose safety number was compared. */
  async function verify(room: Room, theirs: PublishedDevice[]): Promise<void> {
    await markVerified(knownStore(), room.peer!.id, theirs);
    setTrust(room.peer!.id, { status: "same", verified: true });
  }

  /**
   * Encrypts a payload for every active device of both participants.
   *
   * @throws {DevicesChanged} when the other side's devices changed since
   * last accepted: the message waits until the user says OK.
   */
  async function seal(roomId: string, payload: Payload): Promise<Envelope> {
    const room = state.value.rooms[roomId];
    const peer = room?.peer;
    if (!room || !peer) throw new Error("Only direct conversations are encrypted.");
    const [sender, { mine, theirs }] = await Promise.all([keys(), participants(room)]);
    if (!theirs.some((d) => d.retiredAt === null)) {
      throw new Error(
        `${peer.username} has no device that can read encrypted messages yet. ` +
          "They can once they open Parley again.",
      );
    }
    const t = await checkDevices(knownStore(), peer.id, theirs);
    setTrust(peer.id, t);
    if (t.status === "changed") {
      throw new DevicesChanged(
        `Not sent: ${peer.username}'s devices changed. Compare safety numbers, or press OK ` +
          "above to send anyway.",
      );
    }
    return await encryptMessage({ roomId, sender, recipients: [...mine, ...theirs], payload });
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
    const author = m.author.username;
    let payload: Payload | null;
    try {
      const mine = await localKeys();
      const attempt = async () =>
        decryptMessage({
          roomId: m.roomId,
          envelope,
          me: mine,
          senderDevices: await directory.devices(author),
        });
      payload = await attempt();
      // A device newer than the cached list: read the list again, once.
      if (
        !payload && !(await directory.devices(author)).some((d) => d.id === envelope.senderDevice)
      ) {
        directory.invalidate(author);
        payload = await attempt();
      }
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

  /** A `devices` event: someone's devices changed; read them again, and warn if it is the peer. */
  function onDevices(data: { roomId: string; userId: string }) {
    const room = state.value.rooms[data.roomId];
    const user = me.value;
    if (user && data.userId === user.id) directory.invalidate(user.username);
    if (!room?.peer || room.peer.id !== data.userId) return;
    directory.invalidate(room.peer.username);
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
    safety,
    verify,
    seal,
    sealEdit,
    open,
    textOf,
    /** A user's devices, retired too, as the directory has them. */
    devicesOf: (username: string) => directory.devices(username),
    openFile,
    setEncrypted,
    onDevices,
  };
}

/** The encryption part of the store. */
export type Encryption = ReturnType<typeof createEncryption>;

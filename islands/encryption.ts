/**
 * End-to-end encryption in the web app (docs/encryption.md): this
 * browser's device, the device directory, sealing a message for every
 * active device of both participants, opening the envelopes of history and
 * live events (each once, remembered by the page), encrypted files, the
 * safety number, and the "their devices changed" and "your devices changed"
 * warnings.
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

/** What a message this device cannot read shows, and nothing of its contents. */
export { COULD_NOT_DECRYPT };

/** What the page knows of a message's envelope: not opened yet, its payload, or no luck. */
export type Opened =
  | { state: "pending" }
  | { state: "done"; payload: Payload }
  | { state: "failed" };

/**
 * What this browser thinks of a user's devices: the other participant's, or
 * (under the user's own id) the user's own other devices.
 */
export interface Trust {
  /** `changed`: the devices are not the ones last accepted; warn before sending. */
  status: "new" | "same" | "changed";
  verified: boolean;
}

/** A message not sent because the other side's devices, or the user's own, changed: it waits for an OK. */
export class DevicesChanged extends Error {}

/** Whose devices a warning is about: the other participant's, or the user's own. */
export type Whose = "peer" | "self";

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
  /** What this browser thinks of each user's devices, by user id (the user's own too). */
  const trust = signal<Record<string, Trust>>({});
  /**
   * The safety number last shown to the user in this page, by the other
   * user's id: `/verify yes` marks verified only a number that was seen.
   */
  const shownNumbers = new Map<string, string>();
  /** Why this browser cannot take part in encryption, if it cannot. */
  const problem = signal<string | null>(null);
  const started = new Set<string>();
  /** Decrypted files, by id and key. */
  const files = new Map<string, Promise<Blob | null>>();
  let keysReady: Promise<DeviceKeys> | null = null;
  let localReady: Promise<DeviceKeys> | null = null;
  let known: KnownDevicesStore | null = null;
  let selfQueue: Promise<unknown> = Promise.resolve();

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

  /**
   * Creates and publishes this device's keys in the background, so others can
   * write to it, and notes the user's other devices (first sight, or a change).
   */
  function start() {
    keys().then(() => checkSelf()).catch(() => {});
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
   * Compares the other participant's devices, and the user's own, with those
   * last accepted, fresh from the server; a change shows the warning.
   */
  async function check(room: Room): Promise<void> {
    const peer = room.peer;
    if (!peer || !room.encrypted) return;
    directory.invalidate(peer.username);
    const [devices] = await Promise.all([
      directory.devices(peer.username),
      // This device not being published yet shows elsewhere (`problem`).
      checkSelf().catch(() => {}),
    ]);
    // No device yet: nothing to trust, and their first one is not a change.
    if (!devices.some((d) => d.retiredAt === null)) return;
    setTrust(peer.id, await checkDevices(knownStore(), peer.id, devices));
  }

  /**
   * The user's own devices but this one, fresh from the server, with this
   * device's keys. This device is left out of what is compared: the user
   * knows about it, and it gets new keys when retired elsewhere.
   */
  async function ownDevices(): Promise<
    { self: DeviceKeys; mine: PublishedDevice[]; others: PublishedDevice[] }
  > {
    const user = me.value!;
    const self = await keys();
    let mine = await directory.devices(user.username);
    // A list read before this device was published: read it again.
    if (!mine.some((d) => d.id === self.id && d.retiredAt === null)) {
      directory.invalidate(user.username);
      mine = await directory.devices(user.username);
    }
    return { self, mine, others: mine.filter((d) => d.id !== self.id) };
  }

  /**
   * Runs the checks and accepts of the user's own devices one after the
   * other, so a check that read the old set never overwrites a later accept.
   */
  function serially<T>(f: () => Promise<T>): Promise<T> {
    const next = selfQueue.then(f, f);
    selfQueue = next.catch(() => {});
    return next;
  }

  /**
   * Compares the user's own other devices (`others`, or as the directory has
   * them) with those last accepted; a change shows the warning.
   */
  function checkSelf(others?: PublishedDevice[]): Promise<Trust> {
    return serially(async () => {
      const current = others ?? (await ownDevices()).others;
      const t = await checkDevices(knownStore(), me.value!.id, current);
      setTrust(me.value!.id, t);
      return t;
    });
  }

  function acceptSelf(): Promise<void> {
    return serially(async () => {
      const { others } = await ownDevices();
      await acceptDevices(knownStore(), me.value!.id, others);
      setTrust(me.value!.id, { status: "same", verified: false });
    });
  }

  /** Accepts the current devices, the other participant's or the user's own, after a warning. */
  async function accept(room: Room, whose: Whose = "peer"): Promise<void> {
    if (whose === "self") return await acceptSelf();
    const peer = room.peer;
    if (!peer) return;
    const devices = await directory.devices(peer.username);
    await acceptDevices(knownStore(), peer.id, devices);
    setTrust(peer.id, { status: "same", verified: false });
  }

  /**
   * After the stream reconnected (resumed, or reset): a `devices` event may
   * have been lost past the replay window, so the device lists of the given
   * encrypted conversations (and the user's own) are read again.
   */
  async function recheck(rooms: Room[]): Promise<void> {
    directory.invalidate();
    const encrypted = rooms.filter((r) => r.encrypted && r.peer);
    if (!encrypted.length) return;
    await Promise.all(encrypted.map((r) => check(r).catch(() => {})));
  }

  /** Retires one of the user's other devices (one that is not theirs, say). */
  async function retire(deviceId: string): Promise<void> {
    const user = me.value!;
    if (deviceId === (await keys()).id) throw new Error("This is the device you are using.");
    const before = await checkSelf();
    await api("DELETE", `/api/me/devices/${encodeURIComponent(deviceId)}`);
    directory.invalidate(user.username);
    // Taking away a device the user had accepted adds nothing to warn about.
    if (before.status !== "changed") return await acceptSelf();
    await checkSelf();
  }

  /** Both users' devices, as the safety number covers them (this device among the user's). */
  async function participants(room: Room) {
    const [{ mine }, theirs] = await Promise.all([
      ownDevices(),
      directory.devices(room.peer!.username),
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

  /** Remembers that the user was shown this safety number for the conversation. */
  function shown(room: Room, number: string) {
    if (room.peer) shownNumbers.set(room.peer.id, number);
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
    const peer = room.peer;
    if (!peer || !shownNumbers.has(peer.id)) return false;
    directory.invalidate(peer.username);
    directory.invalidate(me.value!.username);
    const { number, theirs } = await safety(room);
    if (shownNumbers.get(peer.id) !== number) return false;
    await markVerified(knownStore(), peer.id, theirs);
    setTrust(peer.id, { status: "same", verified: true });
    return true;
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
    const sender = await keys();
    const { mine, theirs } = await participants(room);
    if (!theirs.some((d) => d.retiredAt === null)) {
      throw new Error(
        `${peer.username} has no device that can read encrypted messages yet. ` +
          "They can once they open Parley again.",
      );
    }
    // The very devices it is sealed for are the ones compared.
    const [t, own] = await Promise.all([
      checkDevices(knownStore(), peer.id, theirs),
      checkSelf(mine.filter((d) => d.id !== sender.id)),
    ]);
    setTrust(peer.id, t);
    if (t.status === "changed") {
      throw new DevicesChanged(
        `Not sent: ${peer.username}'s devices changed. Compare safety numbers, or press OK ` +
          "above to send anyway.",
      );
    }
    if (own.status === "changed") {
      throw new DevicesChanged(
        "Not sent: your devices changed. If the new one is yours, press OK above to send anyway.",
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

  /**
   * A `devices` event: someone's devices changed; read them again, and warn
   * if they are the peer's or the user's own.
   */
  function onDevices(data: { roomId: string; userId: string }) {
    const room = state.value.rooms[data.roomId];
    const user = me.value;
    if (user && data.userId === user.id) {
      directory.invalidate(user.username);
      checkSelf().catch(() => {});
      return;
    }
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
    devicesOf: (username: string) => directory.devices(username),
    openFile,
    setEncrypted,
    onDevices,
  };
}

/** The encryption part of the store. */
export type Encryption = ReturnType<typeof createEncryption>;

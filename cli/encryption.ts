/**
 * End-to-end encryption in the terminal client (docs/encryption.md): this
 * device's keys, the device directory, and what the terminal does with
 * them: seal what the user sends to an encrypted conversation, reveal what
 * arrives, and tell the user when the other side's devices change. The
 * cryptography itself is the shared module the web app uses too
 * (`shared/e2e.ts`).
 *
 * @module
 */
import type { Message, Room, User } from "../shared/api_types.ts";
import {
  COULD_NOT_DECRYPT,
  createDeviceKeys,
  decryptMessage,
  type DeviceKeys,
  deviceSetFingerprint,
  encryptMessage,
  type Envelope,
  exportDeviceKeys,
  type FileKey,
  importDeviceKeys,
  type Payload,
  publicJwks,
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
import { QUOTE_MAX } from "../shared/limits.ts";
import { type Api, ApiFailure } from "./api.ts";
import { clean } from "./format.ts";
import type { KeyFile } from "./key_file.ts";

/** A message as the terminal shows it: an envelope it could not open is marked. */
export type RevealedMessage = Message & {
  /** The envelope could not be decrypted here: `text` is {@linkcode COULD_NOT_DECRYPT}. */
  undecryptable?: true;
};

/** A send held back because the other side's devices changed since the user last saw a warning. */
export class DevicesChanged extends Error {
  /** The warning to show. */
  readonly warning: string;

  constructor(warning: string) {
    super("their devices changed; send it again to send it to their new devices");
    this.name = "DevicesChanged";
    this.warning = warning;
  }
}

/** What `/verify` shows. */
export interface SafetyCheck {
  /** 12 groups of 5 digits. */
  number: string;
  /** Whether the user marked this device set verified. */
  verified: boolean;
}

/** How this client names its device in the other side's `/devices`. */
const DEVICE_NAME = `parley-cli (${Deno.build.os})`;

/**
 * This device's end-to-end encryption.
 *
 * @example
 * ```ts
 * const e2e = await Encryption.open({ api, me, file: new KeyFile(dir) });
 * await e2e.publish();
 * const envelope = await e2e.seal(room, { v: 1, text: "hi" });
 * const shown = await e2e.reveal(message); // text decrypted, or "could not decrypt"
 * ```
 */
export class Encryption {
  /** Everyone's published devices, cached until a `devices` event. */
  readonly directory: DeviceDirectory;
  #api: Api;
  #me: User;
  #file: KeyFile;
  #keys: DeviceKeys;
  #known: KnownDevicesStore;
  /** What each envelope decrypted to, by message id and signature (an edit brings a new one). */
  #payloads = new Map<string, Payload | null>();
  /** Decrypted text by `roomId/seq`, for the quotes of replies. */
  #texts = new Map<string, string>();
  /** The keys of encrypted files, by attachment id. */
  #files = new Map<string, FileKey>();
  /** Per other user, the device set a warning was shown for. */
  #warned = new Map<string, string>();
  /** Per other user, both device sets as `/verify` last showed their safety number. */
  #shown = new Map<string, string>();
  /** Sender devices looked up again once after not being found (`author/device`). */
  #refetched = new Set<string>();

  private constructor(api: Api, me: User, file: KeyFile, keys: DeviceKeys) {
    this.#api = api;
    this.#me = me;
    this.#file = file;
    this.#keys = keys;
    this.#known = file.knownDevices(api.server, me.id);
    this.directory = new DeviceDirectory(async (username) =>
      (await api.request<{ devices: PublishedDevice[] }>(
        "GET",
        `/api/users/${encodeURIComponent(username)}/devices`,
      )).devices
    );
  }

  /** This device's keys from the keys file, created (and saved, owner-only) the first time. */
  static async open(o: { api: Api; me: User; file: KeyFile }): Promise<Encryption> {
    const stored = await o.file.device(o.api.server, o.me.id);
    const keys = stored
      ? await importDeviceKeys(stored)
      : await Encryption.#newKeys(o.api, o.me, o.file);
    return new Encryption(o.api, o.me, o.file, keys);
  }

  static async #newKeys(api: Api, me: User, file: KeyFile): Promise<DeviceKeys> {
    const keys = await createDeviceKeys({ extractable: true });
    await file.saveDevice(api.server, me.id, me.username, await exportDeviceKeys(keys));
    return keys;
  }

  /** This device's id. */
  get deviceId(): string {
    return this.#keys.id;
  }

  /**
   * Publishes this device's public keys (again: the same keys are a no-op)
   * and notes the user's own device set. A server that refuses them for this
   * id (retired, or other keys under it) gets a new device.
   */
  async publish(): Promise<void> {
    try {
      await this.#put();
    } catch (error) {
      // Too many devices already (`details.max`) is not this id's fault: a new one would fare no better.
      const full = (error as ApiFailure).details as { max?: unknown } | undefined;
      if (!(error instanceof ApiFailure && error.status === 409) || full?.max !== undefined) {
        throw error;
      }
      this.#keys = await Encryption.#newKeys(this.#api, this.#me, this.#file);
      await this.#put();
    }
    // The user's own device set as it now is, so a device added later is noticed.
    this.directory.invalidate(this.#me.username);
    const mine = await this.directory.devices(this.#me.username);
    const { status } = await checkDevices(this.#known, this.#me.id, mine);
    if (status === "changed") await acceptDevices(this.#known, this.#me.id, mine);
  }

  async #put(): Promise<void> {
    const body = { ...await publicJwks(this.#keys), name: DEVICE_NAME };
    await this.#api.request("PUT", `/api/me/devices/${encodeURIComponent(this.#keys.id)}`, {
      body,
    });
  }

  /**
   * Encrypts a message for `room` (a direct conversation), for every active
   * device of both participants.
   *
   * @throws {DevicesChanged} when the other side's devices changed and no
   *   warning was shown yet: the message is not sent, the warning is; the
   *   next send accepts the new devices.
   * @throws {Error} when the other side has no device to read it.
   */
  async seal(room: Room, payload: Payload): Promise<Envelope> {
    const peer = peerOf(room);
    let [mine, theirs] = await Promise.all([
      this.directory.devices(this.#me.username),
      this.directory.devices(peer.username),
    ]);
    const warning = await this.#newWarning(room, peer, theirs);
    if (warning) throw new DevicesChanged(warning);
    if ((await checkDevices(this.#known, peer.id, theirs)).status === "changed") {
      // Warned already: this send is the user going ahead.
      await acceptDevices(this.#known, peer.id, theirs);
    }
    if (!theirs.some(active)) {
      throw new Error(
        `${clean(peer.username, { oneLine: true })} has no device that can read encrypted ` +
          "messages yet (they sign in with a client that has end-to-end encryption, then it can).",
      );
    }
    if (!mine.some((d) => d.id === this.#keys.id && active(d))) {
      // Retired elsewhere, or never published: the server would refuse the envelope.
      await this.publish();
      mine = await this.directory.devices(this.#me.username);
    }
    return await encryptMessage({
      roomId: room.id,
      sender: this.#keys,
      recipients: [...mine, ...theirs],
      payload,
    });
  }

  /**
   * The message as the terminal shows it: an envelope's text and files
   * decrypted, or {@linkcode COULD_NOT_DECRYPT}; a quote of an encrypted
   * message gets its decrypted text too. Anything else is returned as it is.
   */
  async reveal(m: Message): Promise<RevealedMessage> {
    const replyTo = await this.#quote(m);
    const shown = await this.#revealText(m);
    return replyTo === m.replyTo ? shown : { ...shown, replyTo };
  }

  /** {@linkcode reveal} for each, in order. */
  revealAll(messages: Message[]): Promise<RevealedMessage[]> {
    return Promise.all(messages.map((m) => this.reveal(m)));
  }

  /** A message's own text and files, decrypted: no quote looked up. */
  async #revealText(m: Message): Promise<RevealedMessage> {
    if (!m.envelope || m.deleted) return m;
    const payload = await this.#open(m, m.envelope);
    if (!payload) return { ...m, text: COULD_NOT_DECRYPT, undecryptable: true };
    this.#texts.set(`${m.roomId}/${m.seq}`, payload.text);
    // Only for the message's own files: a payload cannot claim a key for someone else's.
    const attachments = m.attachments?.map((a) => {
      const file = payload.files?.find((f) => f.id === a.id);
      if (!file) return a;
      this.#files.set(a.id, file);
      return { ...a, name: file.name, size: file.size, contentType: file.type };
    });
    return { ...m, text: payload.text, ...(attachments ? { attachments } : {}) };
  }

  /** The key of an encrypted file whose message was shown, by attachment id. */
  fileKey(attachmentId: string): FileKey | undefined {
    return this.#files.get(attachmentId);
  }

  /**
   * A `devices` event: `userId`'s devices changed. Returns what to tell the
   * user: for the other side, a warning (once per new device set) that the
   * next message accepts; for the user's own, a note.
   */
  async devicesChanged(room: Room, userId: string): Promise<string[]> {
    if (userId === this.#me.id) {
      this.directory.invalidate(this.#me.username);
      const mine = await this.directory.devices(this.#me.username);
      const { status } = await checkDevices(this.#known, userId, mine);
      if (status !== "changed") return [];
      await acceptDevices(this.#known, userId, mine);
      const count = mine.filter(active).length;
      return [
        `* Your devices changed: ${count} can read your encrypted conversations now ` +
        "(/devices lists them).",
      ];
    }
    const peer = room.peer;
    if (!peer || peer.id !== userId) return [];
    this.directory.invalidate(peer.username);
    return await this.#checkPeer(room, peer);
  }

  /**
   * On entering an encrypted conversation: whether the other side is
   * verified, and a warning when their devices changed since last accepted.
   */
  async entered(room: Room): Promise<string[]> {
    const peer = room.peer;
    if (!peer) return [];
    const warning = await this.#checkPeer(room, peer);
    if (warning.length) return warning;
    const known = await this.#known.get(peer.id);
    const name = clean(peer.username, { oneLine: true });
    return [
      known?.verified
        ? `* 🔒 End-to-end encrypted; you verified ${name}.`
        : `* 🔒 End-to-end encrypted. ${name} is not verified: /verify compares safety numbers.`,
    ];
  }

  async #checkPeer(room: Room, peer: User): Promise<string[]> {
    const warning = await this.#newWarning(room, peer, await this.directory.devices(peer.username));
    return warning ? [warning] : [];
  }

  /**
   * The warning to show when the other side's devices differ from the set
   * last accepted and no warning was shown for this set yet; else `null`.
   * The first set seen is accepted silently (trust on first use).
   */
  async #newWarning(room: Room, peer: User, theirs: PublishedDevice[]): Promise<string | null> {
    const before = await this.#known.get(peer.id);
    const { status } = await checkDevices(this.#known, peer.id, theirs);
    if (status !== "changed") return null;
    const fingerprint = await deviceSetFingerprint(theirs);
    // Checked and set with no wait between: an event and a send racing warn once.
    if (this.#warned.get(peer.id) === fingerprint) return null;
    this.#warned.set(peer.id, fingerprint);
    return changedWarning(peer, room, before?.verified ?? false);
  }

  /** The safety number of a direct conversation, read from fresh device lists. */
  async safety(room: Room): Promise<SafetyCheck> {
    const peer = peerOf(room);
    this.directory.invalidate(this.#me.username);
    this.directory.invalidate(peer.username);
    const [mine, theirs] = await Promise.all([
      this.directory.devices(this.#me.username),
      this.directory.devices(peer.username),
    ]);
    const number = await safetyNumber(
      { userId: this.#me.id, devices: mine },
      { userId: peer.id, devices: theirs },
    );
    const { verified } = await checkDevices(this.#known, peer.id, theirs);
    this.#shown.set(peer.id, await bothSets(mine, theirs));
    return { number, verified };
  }

  /**
   * Marks the other side verified, for the devices whose safety number
   * `/verify` showed last.
   *
   * @throws {Error} when `/verify` showed none, or the devices changed since.
   */
  async verify(room: Room): Promise<void> {
    const peer = peerOf(room);
    const shown = this.#shown.get(peer.id);
    if (!shown) throw new Error("Compare the safety number first: /verify shows it.");
    this.directory.invalidate(this.#me.username);
    this.directory.invalidate(peer.username);
    const [mine, theirs] = await Promise.all([
      this.directory.devices(this.#me.username),
      this.directory.devices(peer.username),
    ]);
    if (await bothSets(mine, theirs) !== shown) {
      this.#shown.delete(peer.id);
      throw new Error("The devices changed since the safety number was shown: /verify again.");
    }
    await markVerified(this.#known, peer.id, theirs);
    this.#warned.delete(peer.id);
  }

  /** A user's devices, fresh from the server (retired ones too). */
  async devicesOf(username: string): Promise<PublishedDevice[]> {
    this.directory.invalidate(username);
    return await this.directory.devices(username);
  }

  /** Decrypts an envelope once; a failure to reach the directory is not remembered. */
  async #open(m: Message, envelope: Envelope): Promise<Payload | null> {
    const key = `${m.id}/${envelope.signature}`;
    if (this.#payloads.has(key)) return this.#payloads.get(key)!;
    let senders: PublishedDevice[];
    try {
      senders = await this.directory.devices(m.author.username);
      const lookedAgain = `${m.author.id}/${envelope.senderDevice}`;
      if (
        !senders.some((d) => d.id === envelope.senderDevice) && !this.#refetched.has(lookedAgain)
      ) {
        // A device added since the list was read.
        this.#refetched.add(lookedAgain);
        this.directory.invalidate(m.author.username);
        senders = await this.directory.devices(m.author.username);
      }
    } catch {
      return null;
    }
    const payload = await decryptMessage({
      roomId: m.roomId,
      envelope,
      me: this.#keys,
      senderDevices: senders.filter((d) => d.userId === m.author.id),
    });
    this.#payloads.set(key, payload);
    return payload;
  }

  /** The quote of an encrypted message, with its decrypted text when it can be had. */
  async #quote(m: Message): Promise<Message["replyTo"]> {
    const q = m.replyTo;
    if (!q?.encrypted || q.deleted || q.text) return q;
    let text = this.#texts.get(`${m.roomId}/${q.seq}`);
    if (text === undefined) {
      const quoted = await this.#api.request<{ messages: Message[] }>(
        "GET",
        `/api/rooms/${encodeURIComponent(m.roomId)}/messages?after=${q.seq - 1}&limit=1`,
      ).then(({ messages }) => messages.find((x) => x.seq === q.seq), () => undefined);
      const shown = quoted ? await this.#revealText(quoted) : null;
      text = shown && !shown.undecryptable ? shown.text : COULD_NOT_DECRYPT;
    }
    return { ...q, text: text.slice(0, QUOTE_MAX) };
  }
}

/** The warning shown when the other side's devices changed. */
function changedWarning(peer: User, room: Room, wasVerified: boolean): string {
  const name = clean(peer.username, { oneLine: true });
  const unverified = wasVerified ? ` ${name} is no longer verified.` : "";
  return `! ${name}'s devices changed in @${clean(room.name, { oneLine: true })} 🔒: a device ` +
    `was added or removed.${unverified} Your next message will be readable on their devices ` +
    `as they are now; if you did not expect this, compare safety numbers first (/verify).`;
}

function peerOf(room: Room): User {
  if (room.kind !== "direct" || !room.peer) {
    throw new Error("That works in a direct conversation only.");
  }
  return room.peer;
}

function active(d: PublishedDevice): boolean {
  return d.retiredAt === null;
}

async function bothSets(mine: PublishedDevice[], theirs: PublishedDevice[]): Promise<string> {
  return `${await deviceSetFingerprint(mine)}|${await deviceSetFingerprint(theirs)}`;
}

/**
 * End-to-end encryption in the terminal client (docs/encryption.md): this
 * device's keys, the device directory, and what the terminal does with
 * them: seal what the user sends to an encrypted conversation, reveal what
 * arrives, and tell the user when the other side's devices or their own
 * change (nothing is sent to a changed set until the user accepts it). The
 * cryptography (`shared/e2e.ts`) and the logic around it
 * (`shared/e2e_session.ts`) are the modules the web app uses too; what is
 * here is the keys file, publishing this device, and the terminal's words.
 *
 * @module
 */
import type { Message, Room, User } from "../shared/api_types.ts";
import {
  COULD_NOT_DECRYPT,
  createDeviceKeys,
  type DeviceKeys,
  deviceSetFingerprint,
  type Envelope,
  exportDeviceKeys,
  type FileKey,
  importDeviceKeys,
  type Payload,
  publicJwks,
  type PublishedDevice,
} from "../shared/e2e.ts";
import type { DeviceDirectory, KnownDevicesStore } from "../shared/e2e_directory.ts";
import { type DeviceCheck, DevicesChanged, E2eSession } from "../shared/e2e_session.ts";
import { QUOTE_MAX } from "../shared/limits.ts";
import { type Api, ApiFailure } from "./api.ts";
import { clean, roomLabel } from "./format.ts";
import type { KeyFile } from "./key_file.ts";

/** A message as the terminal shows it: an envelope it could not open is marked. */
export type RevealedMessage = Message & {
  /** The envelope can never be decrypted here: `text` is {@linkcode COULD_NOT_DECRYPT}. */
  undecryptable?: true;
  /**
   * The envelope could not be opened yet, for want of the server (the sender's
   * devices could not be read): `text` is {@linkcode NOT_DECRYPTED_YET}, and
   * {@linkcode Encryption.retryPending} tries again.
   */
  pending?: true;
};

/** What a message shows while its envelope waits for the server to be reachable again. */
export const NOT_DECRYPTED_YET =
  "🔒 not decrypted yet: the server could not be reached; shown again once it answers";

/**
 * A send refused because a device set (the other side's, or the user's own)
 * changed since the user last accepted it: its `warnings` are the lines not
 * shown yet, and it waits for `/ok` ({@linkcode DevicesChanged.accept}) or a
 * comparison of safety numbers.
 */
export { DevicesChanged };

/** What `/verify` shows. */
export interface SafetyCheck {
  /** 12 groups of 5 digits. */
  number: string;
  /** Whether the user marked this device set verified. */
  verified: boolean;
}

/** How this client names its device in the other side's `/devices`. */
const DEVICE_NAME = `parley-cli (${Deno.build.os})`;

/** What entering an encrypted conversation says of the limits (docs/encryption.md, Honest limits). */
const LIMITS_LINE =
  "* Devices added later cannot read earlier messages; the server still sees who talks to whom, and when.";

/**
 * This device's end-to-end encryption.
 *
 * @example
 * ```ts
 * const e2e = await Encryption.open({ api, me, file: new KeyFile(dir) });
 * for (const warning of await e2e.publish()) print(warning);
 * const envelope = await e2e.seal(room, { v: 1, text: "hi" });
 * const shown = await e2e.reveal(message); // text decrypted, or "could not decrypt"
 * ```
 */
export class Encryption {
  #api: Api;
  #me: User;
  #file: KeyFile;
  #keys: DeviceKeys;
  #known: KnownDevicesStore;
  #session: E2eSession;
  /** What each envelope decrypted to, by message id and signature (an edit brings a new one). */
  #payloads = new Map<string, Payload | null>();
  /** Decrypted text by `roomId/seq`, for the quotes of replies. */
  #texts = new Map<string, string>();
  /** The keys of encrypted files, by attachment id. */
  #files = new Map<string, FileKey>();
  /** Per user (the other side, or the user's own id), the device set a warning was shown for. */
  #warned = new Map<string, string>();
  /** Messages shown {@linkcode NOT_DECRYPTED_YET}, by `roomId/seq`, to try again. */
  #pending = new Map<string, Message>();

  private constructor(api: Api, me: User, file: KeyFile, keys: DeviceKeys) {
    this.#api = api;
    this.#me = me;
    this.#file = file;
    this.#keys = keys;
    this.#known = file.knownDevices(api.server, me.id);
    this.#session = new E2eSession({
      me,
      fetchDevices: async (username) =>
        (await api.request<{ devices: PublishedDevice[] }>(
          "GET",
          `/api/users/${encodeURIComponent(username)}/devices`,
        )).devices,
      known: this.#known,
      keys: () => Promise.resolve(this.#keys),
      // Retired elsewhere, or never published: the server would refuse the envelope.
      republish: () => this.#register(),
      // A refusal (the author is gone) is for good; no answer, a 5xx or a 429 is for now.
      failsForGood: (error) =>
        error instanceof ApiFailure && error.status < 500 && !error.rateLimited,
      countThisDevice: true,
      name: oneLine,
      wording: {
        noDevice: (name) =>
          `${name} has no device that can read encrypted messages yet (they sign in with a ` +
          "client that has end-to-end encryption, then it can).",
      },
    });
  }

  /**
   * This device's keys from the keys file, created (and saved, owner-only)
   * the first time.
   *
   * @throws {Error} naming the file when it cannot be read as this client
   *   writes it: it may hold other accounts' keys, so it is left alone.
   */
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

  /** Everyone's published devices, cached until a `devices` event. */
  get directory(): DeviceDirectory {
    return this.#session.directory;
  }

  /** This device's id. */
  get deviceId(): string {
    return this.#keys.id;
  }

  /**
   * Publishes this device's public keys (again: the same keys are a no-op)
   * and compares the user's own device set with the one last accepted: the
   * first set is accepted silently, a different one is warned of, and the
   * next encrypted message waits for `/ok`, as for the other side's.
   *
   * @returns the warning to show, if the user's devices changed while away.
   */
  async publish(): Promise<string[]> {
    await this.#register();
    this.directory.invalidate(this.#me.username);
    const check = await this.#session.checkSelf(await this.directory.devices(this.#me.username));
    return this.#warnings(await this.#warning(check));
  }

  /** Puts this device's keys; a server that refuses them for this id (retired, or other keys under it) gets a new device. */
  async #register(): Promise<void> {
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
   * @throws {DevicesChanged} when either side's devices changed since last
   *   accepted: nothing is encrypted until the change is accepted
   *   ({@linkcode DevicesChanged.accept}, the user's `/ok`) or verified.
   * @throws {Error} when the other side has no device to read it.
   */
  async seal(room: Room, payload: Payload): Promise<Envelope> {
    return await this.#session.seal(room.id, peerOf(room), payload, {
      warn: (check) => this.#warning(check, room),
    });
  }

  /**
   * `/ok` with no message waiting: accepts the device change of `room` (the
   * user's own devices, the other side's) that was warned of. A change not
   * warned of yet is warned of instead, for the next `/ok` to accept.
   *
   * @returns what to tell the user.
   */
  async confirm(room: Room): Promise<string[]> {
    const changes = await this.#session.changes(
      peerOf(room),
      (check) => this.#warning(check, room),
    );
    if (!changes) return [`* No device change in ${roomLabel(room)} waits for /ok.`];
    if (changes.warnings.length) return changes.warnings;
    await changes.accept();
    return [
      `* Accepted: new messages in ${roomLabel(room)} go to ${changes.whose} as they are now.`,
    ];
  }

  /**
   * The message as the terminal shows it: an envelope's text and files
   * decrypted, or {@linkcode COULD_NOT_DECRYPT}, or while the server cannot
   * be reached {@linkcode NOT_DECRYPTED_YET}; a quote of an encrypted message
   * gets its decrypted text too. Anything else is returned as it is.
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

  /**
   * Tries again the messages shown {@linkcode NOT_DECRYPTED_YET}.
   *
   * @returns those settled now (decrypted, or for good "could not decrypt").
   */
  async retryPending(): Promise<RevealedMessage[]> {
    const shown = await this.revealAll([...this.#pending.values()]);
    return shown.filter((m) => !m.pending);
  }

  /** Whether messages shown {@linkcode NOT_DECRYPTED_YET} wait for {@linkcode retryPending}. */
  get waiting(): boolean {
    return this.#pending.size > 0;
  }

  /** A message's own text and files, decrypted: no quote looked up. */
  async #revealText(m: Message): Promise<RevealedMessage> {
    if (!m.envelope || m.deleted) return m;
    const at = `${m.roomId}/${m.seq}`;
    let payload: Payload | null;
    try {
      payload = await this.#open(m, m.envelope);
    } catch {
      // The server, not the envelope, failed: "could not decrypt" would be wrong, and for good.
      this.#pending.set(at, m);
      return { ...m, text: NOT_DECRYPTED_YET, pending: true };
    }
    this.#pending.delete(at);
    if (!payload) return { ...m, text: COULD_NOT_DECRYPT, undecryptable: true };
    this.#texts.set(at, payload.text);
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
   * A `devices` event: `userId`'s devices changed. Returns the warning to
   * show, once per new device set, for the other side's devices and for the
   * user's own alike; the next message waits for `/ok`.
   */
  async devicesChanged(room: Room, userId: string): Promise<string[]> {
    const user = userId === this.#me.id ? this.#me : room.peer?.id === userId ? room.peer : null;
    if (!user) return [];
    this.directory.invalidate(user.username);
    const devices = await this.directory.devices(user.username);
    const check = user === this.#me
      ? await this.#session.checkSelf(devices)
      : await this.#session.checkPeer(user, devices);
    return this.#warnings(await this.#warning(check, room));
  }

  /**
   * On entering an encrypted conversation: whether the other side is
   * verified, or a warning when their devices changed since last accepted,
   * and what encryption does not hide.
   */
  async entered(room: Room): Promise<string[]> {
    const peer = room.peer;
    if (!peer) return [];
    const warning = await this.#warning(await this.#session.checkPeer(peer), room);
    if (warning) return [warning, LIMITS_LINE];
    const known = await this.#known.get(peer.id);
    const name = oneLine(peer.username);
    return [
      known?.verified
        ? `* 🔒 End-to-end encrypted; you verified ${name}.`
        : `* 🔒 End-to-end encrypted. ${name} is not verified: /verify compares safety numbers.`,
      LIMITS_LINE,
    ];
  }

  /**
   * The warning to show for a check that found `check.userId`'s devices (the
   * other side's, or the user's own) changed, when none was shown for this
   * set yet.
   */
  async #warning(check: DeviceCheck | null, room?: Room): Promise<string | null> {
    if (check?.status !== "changed") return null;
    const fingerprint = await deviceSetFingerprint(check.devices);
    // Checked and set with no wait between: an event and a send racing warn once.
    if (this.#warned.get(check.userId) === fingerprint) return null;
    this.#warned.set(check.userId, fingerprint);
    return check.userId === this.#me.id || !room?.peer
      ? ownChangedWarning(check.devices)
      : changedWarning(room.peer, room, check.wasVerified);
  }

  #warnings(warning: string | null): string[] {
    return warning ? [warning] : [];
  }

  /** The safety number of a direct conversation, read from fresh device lists. */
  async safety(room: Room): Promise<SafetyCheck> {
    const peer = peerOf(room);
    const { number, theirs } = await this.#session.safety(peer, { fresh: true });
    const check = await this.#session.checkPeer(peer, theirs);
    this.#session.shown(peer, number);
    return { number, verified: check?.verified ?? false };
  }

  /**
   * Marks the other side verified, for the devices whose safety number
   * `/verify` showed last; the user's own devices, which the number covers
   * too, are accepted as they were shown.
   *
   * @throws {Error} when `/verify` showed none, or the devices changed since.
   */
  async verify(room: Room): Promise<void> {
    const peer = peerOf(room);
    const result = await this.#session.verifyShown(peer);
    if (result.status === "not_shown") {
      throw new Error("Compare the safety number first: /verify shows it.");
    }
    if (result.status === "changed") {
      throw new Error("The devices changed since the safety number was shown: /verify again.");
    }
    await this.#session.acceptSelf(result.mine);
    this.#warned.delete(peer.id);
    this.#warned.delete(this.#me.id);
  }

  /** A user's devices, fresh from the server (retired ones too). */
  async devicesOf(username: string): Promise<PublishedDevice[]> {
    this.directory.invalidate(username);
    return await this.directory.devices(username);
  }

  /**
   * Decrypts an envelope once.
   *
   * @throws when the sender's devices could not be read for want of the
   *   server (nothing is remembered: the next call tries again).
   */
  async #open(m: Message, envelope: Envelope): Promise<Payload | null> {
    const key = `${m.id}/${envelope.signature}`;
    if (this.#payloads.has(key)) return this.#payloads.get(key)!;
    const payload = await this.#session.open({ roomId: m.roomId, author: m.author, envelope });
    this.#payloads.set(key, payload);
    return payload;
  }

  /**
   * The quote of an encrypted message, with its decrypted text when it can
   * be had; while the server cannot be reached it stays "encrypted message".
   */
  async #quote(m: Message): Promise<Message["replyTo"]> {
    const q = m.replyTo;
    if (!q?.encrypted || q.deleted || q.text) return q;
    let text = this.#texts.get(`${m.roomId}/${q.seq}`);
    if (text === undefined) {
      let payload: Payload | null = null;
      try {
        const { messages } = await this.#api.request<{ messages: Message[] }>(
          "GET",
          `/api/rooms/${encodeURIComponent(m.roomId)}/messages?after=${q.seq - 1}&limit=1`,
        );
        const quoted = messages.find((x) => x.seq === q.seq);
        if (quoted?.envelope && !quoted.deleted) {
          payload = await this.#open(quoted, quoted.envelope);
        }
      } catch {
        return q;
      }
      text = payload?.text ?? COULD_NOT_DECRYPT;
    }
    return { ...q, text: text.slice(0, QUOTE_MAX) };
  }
}

/** The warning shown when the user's own devices changed. */
function ownChangedWarning(mine: PublishedDevice[]): string {
  const count = mine.filter(active).length;
  return `! Your devices changed: a device was added to or removed from your account ` +
    `(${count} active now; /devices lists them). Your next encrypted message waits for /ok, then ` +
    "goes to your devices as they are now; if you did not expect this, compare safety numbers " +
    "first (/verify).";
}

/** The warning shown when the other side's devices changed. */
function changedWarning(peer: User, room: Room, wasVerified: boolean): string {
  const name = clean(peer.username, { oneLine: true });
  const unverified = wasVerified ? ` ${name} is no longer verified.` : "";
  return `! ${name}'s devices changed in @${clean(room.name, { oneLine: true })} 🔒: a device ` +
    `was added or removed.${unverified} Your next message there waits for /ok, then goes to ` +
    "their devices as they are now; if you did not expect this, compare safety numbers first " +
    "(/verify).";
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

/** A name as the terminal prints it on one line. */
function oneLine(name: string): string {
  return clean(name, { oneLine: true });
}

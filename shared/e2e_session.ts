/**
 * What both clients do with end-to-end encryption around the cryptography of
 * `shared/e2e.ts` and the directory of `shared/e2e_directory.ts`
 * (docs/encryption.md): sealing a message for every active device of both
 * participants once neither device set changed unseen, opening an envelope
 * (looking the sender's devices up again once when its device is new),
 * tracking the user's own devices, and the safety number with its rule that
 * only a number shown for the current devices may be marked verified.
 *
 * What differs between the web app and the terminal client (where keys are
 * kept, how the API is called, how things are worded and shown) comes in as
 * {@linkcode E2eSessionOptions}.
 *
 * @module
 */
import {
  decryptMessage,
  type DeviceKeys,
  encryptMessage,
  type Envelope,
  type Payload,
  type PublishedDevice,
  safetyNumber,
} from "./e2e.ts";
import {
  acceptDevices,
  checkDevices,
  DeviceDirectory,
  type KnownDevicesStore,
  markVerified,
} from "./e2e_directory.ts";

/** A user as the session needs one: the id their device sets are remembered under, and the name their devices are read by. */
export interface Person {
  id: string;
  username: string;
}

/** How a user's devices stand against the set last accepted for them. */
export interface Trust {
  /** `new`: first seen (and accepted); `changed`: not the set last accepted, so sending waits. */
  status: "new" | "same" | "changed";
  /** Whether the user marked this set verified (after comparing safety numbers). */
  verified: boolean;
}

/** One comparison of a user's devices with the set last accepted for them. */
export interface DeviceCheck extends Trust {
  /** Whose devices: the other participant's id, or the user's own. */
  userId: string;
  /** The set compared: what accepting this check accepts. */
  devices: PublishedDevice[];
  /** Whether the set accepted before was verified: a change has just undone that. */
  wasVerified: boolean;
}

/** What {@linkcode E2eSession.safety} gives: the number, and the devices it covers. */
export interface Safety {
  /** 12 groups of 5 digits. */
  number: string;
  /** The user's own devices, this one among them (retired too). */
  mine: PublishedDevice[];
  /** The other participant's devices (retired too). */
  theirs: PublishedDevice[];
  /** This device's id. */
  self: string;
}

/** What {@linkcode E2eSession.verifyShown} did. */
export type VerifyResult =
  | ({ status: "verified" } & Safety)
  /** No safety number was shown for this conversation: nothing marked. */
  | { status: "not_shown" }
  /** The devices changed since the number was shown: nothing marked; show the new one first. */
  | { status: "changed" };

/** How a client words the refusals of {@linkcode E2eSession.seal}. */
export interface SealWording {
  /** The other participant (`name`, as the client prints it) has no device to seal for. */
  noDevice(name: string): string;
  /** The message of a {@linkcode DevicesChanged}: by default "bob's devices changed". */
  devicesChanged(changed: { self: boolean; peer: boolean; whose: string; name: string }): string;
}

/** What an {@linkcode E2eSession} is made of: what differs between the clients. */
export interface E2eSessionOptions {
  /** The signed-in user. */
  me: Person;
  /** Reads `GET /api/users/:username/devices` (retired devices included). */
  fetchDevices: (username: string) => Promise<PublishedDevice[]>;
  /** Where the device set last accepted per user is kept, the user's own under their id. */
  known: KnownDevicesStore;
  /**
   * This device's keys, published: what sealing uses. Asked each time, as
   * they change when the device is replaced (retired elsewhere).
   */
  keys: () => Promise<DeviceKeys>;
  /** This device's keys as kept here, for opening envelopes without publishing first; `keys` by default. */
  openingKeys?: () => Promise<DeviceKeys>;
  /**
   * Publishes this device (again) when the user's device list lacks it
   * (retired elsewhere); without it the list is only read again, for one
   * read before the device was published.
   */
  republish?: () => Promise<void>;
  /**
   * Whether a failure to read a sender's devices is for good (the user is
   * gone, say), so the envelope is "could not decrypt"; by default every
   * failure is for now and {@linkcode E2eSession.open} throws it.
   */
  failsForGood?: (error: unknown) => boolean;
  /**
   * Whether the user's own device set, as compared and accepted, counts this
   * device: the terminal client has always counted it (its keys file holds
   * sets made so); by default only the user's other devices are compared
   * (the user knows this one).
   */
  countThisDevice?: boolean;
  /** Told each time the session learns or sets how a user's devices stand. */
  onTrust?: (userId: string, trust: Trust) => void;
  /** A username as the client prints it in what the session words (the terminal strips control characters). */
  name?: (username: string) => string;
  /** The client's words for what {@linkcode E2eSession.seal} refuses. */
  wording?: Partial<SealWording>;
}

/**
 * A send refused because a device set (the other participant's, or the
 * user's own) changed since the user last accepted it: it waits for the user
 * to accept the change ({@linkcode DevicesChanged.accept}) or to compare
 * safety numbers first.
 */
export class DevicesChanged extends Error {
  /** The checks that found a change, the user's own set first. */
  readonly changes: DeviceCheck[];
  /** Whether the user's own devices changed. */
  readonly self: boolean;
  /** Whether the other participant's devices changed. */
  readonly peer: boolean;
  /** Whose devices changed: "bob's devices", "your devices" or "your devices and bob's". */
  readonly whose: string;
  /** What the client had to say of these changes that it has not shown yet. */
  readonly warnings: string[];
  /** Accepts the device sets this refusal was about, as they were when it was made. */
  readonly accept: () => Promise<void>;

  /** `message` defaults to "bob's devices changed". */
  constructor(o: {
    changes: DeviceCheck[];
    self: boolean;
    peer: boolean;
    whose: string;
    warnings?: string[];
    accept: () => Promise<void>;
    message?: string;
  }) {
    super(o.message ?? `${o.whose} changed`);
    this.name = "DevicesChanged";
    this.changes = o.changes;
    this.self = o.self;
    this.peer = o.peer;
    this.whose = o.whose;
    this.warnings = o.warnings ?? [];
    this.accept = o.accept;
  }
}

/** What each check that found a change makes the client say, if anything; per call, as it may need the conversation. */
export type Warn = (check: DeviceCheck) => Promise<string | null> | string | null;

const DEFAULT_WORDING: SealWording = {
  noDevice: (name) => `${name} has no device that can read encrypted messages yet.`,
  devicesChanged: ({ whose }) => `${whose} changed`,
};

/**
 * One signed-in device's end-to-end encryption: the directory of devices,
 * the device sets accepted, sealing, opening and the safety number. Both
 * clients build one, with their own key store and API calls.
 *
 * @example
 * ```ts
 * const session = new E2eSession({
 *   me,
 *   fetchDevices: async (username) => (await api.get(`/api/users/${username}/devices`)).devices,
 *   known: knownDevicesStore(me.id),
 *   keys: () => Promise.resolve(deviceKeys),
 * });
 * const envelope = await session.seal(room.id, room.peer, { v: 1, text: "hi" });
 * const payload = await session.open({ roomId, author: m.author, envelope: m.envelope });
 * ```
 */
export class E2eSession {
  /** Everyone's published devices, cached until a `devices` event (the client invalidates). */
  readonly directory: DeviceDirectory;
  #o: E2eSessionOptions;
  #wording: SealWording;
  /** Per other user, the safety number last shown for the conversation with them. */
  #shown = new Map<string, string>();
  /** Sender devices already looked up again once after not being found (`userId/deviceId`). */
  #refetched = new Set<string>();
  /** Checks and accepts of the user's own devices, one after the other. */
  #ownTurn: Promise<unknown> = Promise.resolve();

  /** @param options what differs between the clients. */
  constructor(options: E2eSessionOptions) {
    this.#o = options;
    this.#wording = { ...DEFAULT_WORDING, ...options.wording };
    this.directory = new DeviceDirectory(options.fetchDevices);
  }

  /**
   * This device's keys and the user's devices (retired too), this one listed
   * as active: when the list lacks it, the device is published again (with
   * `republish`) and the list read again.
   */
  async #ownDevices(): Promise<{ self: DeviceKeys; mine: PublishedDevice[] }> {
    const { me, republish } = this.#o;
    let self = await this.#o.keys();
    let mine = await this.directory.devices(me.username);
    if (!mine.some((d) => d.id === self.id && active(d))) {
      // Retired elsewhere, or a list read before it was published: the server would refuse.
      await republish?.();
      this.directory.invalidate(me.username);
      self = await this.#o.keys();
      mine = await this.directory.devices(me.username);
    }
    return { self, mine };
  }

  /**
   * Compares the other participant's devices (`devices`, or as the directory
   * has them) with the set last accepted; the first set seen is accepted
   * (trust on first use).
   *
   * @returns `null` when they have no active device: nothing to trust, and
   *   their first one is then no change.
   */
  async checkPeer(peer: Person, devices?: PublishedDevice[]): Promise<DeviceCheck | null> {
    const list = devices ?? await this.directory.devices(peer.username);
    if (!list.some(active)) return null;
    return await this.#check(peer.id, list);
  }

  /**
   * Compares the user's own devices (`mine`, as listed, or read fresh with
   * this device made sure of) with the set last accepted. Own checks and
   * accepts run one after the other, so a check that read the old set never
   * overwrites a later accept.
   */
  checkSelf(mine?: PublishedDevice[]): Promise<DeviceCheck> {
    return this.#inOwnTurn(async () => this.#check(this.#o.me.id, await this.#ownSet(mine)));
  }

  /** Accepts the other participant's devices (`devices`, or as the directory has them) after a warning. */
  async acceptPeer(peer: Person, devices?: PublishedDevice[]): Promise<void> {
    await this.#accept(peer.id, devices ?? await this.directory.devices(peer.username));
  }

  /** Accepts the user's own devices (`mine`, as listed, or read as for {@linkcode checkSelf}) after a warning. */
  acceptSelf(mine?: PublishedDevice[]): Promise<void> {
    return this.#inOwnTurn(async () => this.#accept(this.#o.me.id, await this.#ownSet(mine)));
  }

  /**
   * The device sets of a conversation with `peer` that changed since last
   * accepted (the user's own, theirs), as a refusal to send, or `null`.
   *
   * @param warn what to tell the user of each change (collected as
   *   {@linkcode DevicesChanged.warnings}).
   */
  async changes(peer: Person, warn?: Warn): Promise<DevicesChanged | null> {
    const { self, mine, theirs } = await this.#participants(peer);
    return await this.#changes(peer, self, mine, theirs, warn);
  }

  /**
   * Encrypts `payload` for every active device of both participants (the
   * user's other devices and this one too).
   *
   * @throws {Error} when the other participant has no active device.
   * @throws {DevicesChanged} when either side's devices changed since last
   *   accepted: nothing is encrypted until the change is accepted or verified.
   */
  async seal(
    roomId: string,
    peer: Person,
    payload: Payload,
    options: { warn?: Warn } = {},
  ): Promise<Envelope> {
    const { self, mine, theirs } = await this.#participants(peer);
    if (!theirs.some(active)) {
      throw new Error(this.#wording.noDevice(this.#name(peer.username)));
    }
    // The very devices it is sealed for are the ones compared.
    const changed = await this.#changes(peer, self, mine, theirs, options.warn);
    if (changed) throw changed;
    return await encryptMessage({
      roomId,
      sender: self,
      recipients: [...mine, ...theirs],
      payload,
    });
  }

  /**
   * Decrypts an envelope that `author` sent. A sender device not in the
   * directory's list makes it read the list again, once per device.
   *
   * @returns the payload, or `null` when this device can never read it
   *   (not a recipient, tampered, an unknown sender device…).
   * @throws when the sender's devices could not be read for now (the
   *   network, not the data): the message is "not decrypted yet".
   */
  async open(
    o: { roomId: string; author: Person; envelope: Envelope },
  ): Promise<Payload | null> {
    let senders: PublishedDevice[];
    try {
      senders = await this.#senderDevices(o.author, o.envelope.senderDevice);
    } catch (error) {
      if (this.#o.failsForGood?.(error)) return null;
      throw error;
    }
    return await decryptMessage({
      roomId: o.roomId,
      envelope: o.envelope,
      me: await (this.#o.openingKeys ?? this.#o.keys)(),
      senderDevices: senders.filter((d) => d.userId === o.author.id),
    });
  }

  /**
   * The safety number of the conversation with `peer` and the devices it
   * covers; `fresh` reads both device lists from the server first.
   */
  async safety(peer: Person, options: { fresh?: boolean } = {}): Promise<Safety> {
    if (options.fresh) {
      this.directory.invalidate(this.#o.me.username);
      this.directory.invalidate(peer.username);
    }
    const [{ self, mine }, theirs] = await Promise.all([
      this.#ownDevices(),
      this.directory.devices(peer.username),
    ]);
    const number = await safetyNumber(
      { userId: this.#o.me.id, devices: mine },
      { userId: peer.id, devices: theirs },
    );
    return { number, mine, theirs, self: self.id };
  }

  /** Remembers that the user was shown `number` as the safety number of the conversation with `peer`. */
  shown(peer: Person, number: string): void {
    this.#shown.set(peer.id, number);
  }

  /**
   * Marks `peer` verified, if the safety number last shown for the
   * conversation is the one both device lists give now, read fresh.
   * A number that no longer matches is forgotten: the new one must be shown.
   */
  async verifyShown(peer: Person): Promise<VerifyResult> {
    const shown = this.#shown.get(peer.id);
    if (shown === undefined) return { status: "not_shown" };
    const safety = await this.safety(peer, { fresh: true });
    if (safety.number !== shown) {
      this.#shown.delete(peer.id);
      return { status: "changed" };
    }
    await markVerified(this.#o.known, peer.id, safety.theirs);
    this.#o.onTrust?.(peer.id, { status: "same", verified: true });
    return { status: "verified", ...safety };
  }

  /** This device's keys, the user's devices and the other participant's. */
  async #participants(peer: Person) {
    const [{ self, mine }, theirs] = await Promise.all([
      this.#ownDevices(),
      this.directory.devices(peer.username),
    ]);
    return { self, mine, theirs };
  }

  async #changes(
    peer: Person,
    self: DeviceKeys,
    mine: PublishedDevice[],
    theirs: PublishedDevice[],
    warn?: Warn,
  ): Promise<DevicesChanged | null> {
    const own = await this.#inOwnTurn(() =>
      this.#check(this.#o.me.id, this.#countable(mine, self.id))
    );
    const their = await this.checkPeer(peer, theirs);
    const changes = [own, their].filter((c): c is DeviceCheck => c?.status === "changed");
    if (!changes.length) return null;
    const warnings: string[] = [];
    for (const change of changes) {
      const warning = await warn?.(change);
      if (warning) warnings.push(warning);
    }
    const name = this.#name(peer.username);
    const changed = { self: own.status === "changed", peer: their?.status === "changed" };
    const whose = changed.self && changed.peer
      ? `your devices and ${name}'s`
      : changed.self
      ? "your devices"
      : `${name}'s devices`;
    return new DevicesChanged({
      changes,
      ...changed,
      whose,
      warnings,
      message: this.#wording.devicesChanged({ ...changed, whose, name }),
      accept: async () => {
        for (const change of changes) {
          if (change.userId !== this.#o.me.id) await this.#accept(change.userId, change.devices);
          else await this.#inOwnTurn(() => this.#accept(change.userId, change.devices));
        }
      },
    });
  }

  async #check(userId: string, devices: PublishedDevice[]): Promise<DeviceCheck> {
    const before = await this.#o.known.get(userId);
    const trust = await checkDevices(this.#o.known, userId, devices);
    this.#o.onTrust?.(userId, trust);
    return { ...trust, userId, devices, wasVerified: before?.verified ?? false };
  }

  async #accept(userId: string, devices: PublishedDevice[]): Promise<void> {
    await acceptDevices(this.#o.known, userId, devices);
    this.#o.onTrust?.(userId, { status: "same", verified: false });
  }

  /** The user's own set as compared: `mine` (or the list read now) less this device, unless it counts. */
  async #ownSet(mine?: PublishedDevice[]): Promise<PublishedDevice[]> {
    if (mine && this.#o.countThisDevice) return mine;
    const own = mine ? { self: await this.#o.keys(), mine } : await this.#ownDevices();
    return this.#countable(own.mine, own.self.id);
  }

  #countable(mine: PublishedDevice[], selfId: string): PublishedDevice[] {
    return this.#o.countThisDevice ? mine : mine.filter((d) => d.id !== selfId);
  }

  #inOwnTurn<T>(f: () => Promise<T>): Promise<T> {
    const next = this.#ownTurn.then(f, f);
    this.#ownTurn = next.catch(() => {});
    return next;
  }

  /**
   * The sender's devices, read again once when `deviceId` is not among them
   * (a device newer than the cached list). Lookups racing for the same
   * device share that one new read.
   */
  async #senderDevices(author: Person, deviceId: string): Promise<PublishedDevice[]> {
    const listed = await this.directory.devices(author.username);
    if (listed.some((d) => d.id === deviceId)) return listed;
    const key = `${author.id}/${deviceId}`;
    if (!this.#refetched.has(key)) {
      this.#refetched.add(key);
      this.directory.invalidate(author.username);
    }
    try {
      return await this.directory.devices(author.username);
    } catch (error) {
      // Not read: the next try may look again.
      this.#refetched.delete(key);
      throw error;
    }
  }

  #name(username: string): string {
    return this.#o.name?.(username) ?? username;
  }
}

function active(d: PublishedDevice): boolean {
  return d.retiredAt === null;
}

/**
 * The device directory both clients keep: other users' published devices,
 * fetched once and cached until a `devices` event says they changed, and the
 * device set each client last accepted per user, which is how "their devices
 * changed" warnings and the verified mark work (docs/encryption.md,
 * Verification).
 *
 * @module
 */
import { deviceSetFingerprint, type PublishedDevice } from "./e2e.ts";

/** What a client remembers about one other user's devices. */
export interface KnownDevices {
  /** {@linkcode deviceSetFingerprint} of the set last accepted. */
  fingerprint: string;
  /** Whether the safety number was compared for that set. */
  verified: boolean;
}

/** Where a client remembers, per other user, the device set it last accepted and whether it verified it. */
export interface KnownDevicesStore {
  get(userId: string): Promise<KnownDevices | null>;
  set(userId: string, known: KnownDevices): Promise<void>;
}

/**
 * Other users' devices, fetched once per username and cached until
 * {@linkcode DeviceDirectory.invalidate}. Concurrent lookups share one fetch;
 * a failed fetch is not cached.
 *
 * @example
 * ```ts
 * const directory = new DeviceDirectory(async (username) =>
 *   (await api.get(`/api/users/${username}/devices`)).devices
 * );
 * const theirs = await directory.devices("bob");
 * // on a `devices` event for bob:
 * directory.invalidate("bob");
 * ```
 */
export class DeviceDirectory {
  #fetchDevices: (username: string) => Promise<PublishedDevice[]>;
  #cache = new Map<string, Promise<PublishedDevice[]>>();

  /** @param fetchDevices reads `GET /api/users/:username/devices` (retired devices included). */
  constructor(fetchDevices: (username: string) => Promise<PublishedDevice[]>) {
    this.#fetchDevices = fetchDevices;
  }

  /** Devices of `username` (retired included), cached until invalidate(). */
  devices(username: string): Promise<PublishedDevice[]> {
    const cached = this.#cache.get(username);
    if (cached) return cached;
    const pending = this.#fetchDevices(username);
    this.#cache.set(username, pending);
    pending.catch(() => {
      // Only forget this very fetch: an invalidate() may already have started a newer one.
      if (this.#cache.get(username) === pending) this.#cache.delete(username);
    });
    return pending;
  }

  /** Forgets one user's devices, or everyone's. */
  invalidate(username?: string): void {
    if (username === undefined) this.#cache.clear();
    else this.#cache.delete(username);
  }
}

/**
 * Compares the user's current active devices with what was last accepted.
 * First sight is recorded silently (trust on first use) and returns "new"; a
 * different set returns "changed" and un-verifies, and keeps returning it
 * until {@linkcode acceptDevices} or {@linkcode markVerified}; the same set
 * returns "same".
 *
 * @example
 * ```ts
 * const { status, verified } = await checkDevices(store, bob.id, await directory.devices("bob"));
 * if (status === "changed") warn("bob's devices changed; compare safety numbers again");
 * ```
 */
export async function checkDevices(
  store: KnownDevicesStore,
  userId: string,
  devices: PublishedDevice[],
): Promise<{ status: "new" | "same" | "changed"; verified: boolean }> {
  const fingerprint = await deviceSetFingerprint(devices);
  const known = await store.get(userId);
  if (!known) {
    await store.set(userId, { fingerprint, verified: false });
    return { status: "new", verified: false };
  }
  if (known.fingerprint === fingerprint) return { status: "same", verified: known.verified };
  // The old fingerprint stays, so the warning holds until the user accepts the new set.
  if (known.verified) await store.set(userId, { fingerprint: known.fingerprint, verified: false });
  return { status: "changed", verified: false };
}

/** Accepts the current set after a warning (verified stays false). */
export async function acceptDevices(
  store: KnownDevicesStore,
  userId: string,
  devices: PublishedDevice[],
): Promise<void> {
  await store.set(userId, { fingerprint: await deviceSetFingerprint(devices), verified: false });
}

/** Marks the current set verified (after comparing safety numbers). */
export async function markVerified(
  store: KnownDevicesStore,
  userId: string,
  devices: PublishedDevice[],
): Promise<void> {
  await store.set(userId, { fingerprint: await deviceSetFingerprint(devices), verified: true });
}

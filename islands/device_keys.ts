/**
 * This browser's encryption keys: one device per signed-in user, created on
 * first use with non-extractable private keys, kept in IndexedDB (a
 * `CryptoKey` survives there as itself, so the private half is never
 * exported), and published to the server. Also where this browser remembers
 * the device sets it last accepted for other users (`KnownDevicesStore`).
 *
 * @module
 */
import {
  createDeviceKeys,
  type DeviceKeys,
  publicJwks,
  type PublishedDevice,
} from "../shared/e2e.ts";
import type { KnownDevices, KnownDevicesStore } from "../shared/e2e_directory.ts";
import { api } from "./client_api.ts";
import { deviceName } from "./ui.tsx";

const DB_NAME = "parley-e2e";
const DB_VERSION = 1;
/** This browser's device of each user, by user id. */
const DEVICES = "devices";
/** The device sets accepted for other users, by `[my user id, their user id]`. */
const KNOWN = "known";

let opening: Promise<IDBDatabase> | null = null;

/** The database, opened (and created) once per page. */
function database(): Promise<IDBDatabase> {
  opening ??= new Promise<IDBDatabase>((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, DB_VERSION);
    request.onupgradeneeded = () => {
      const db = request.result;
      if (!db.objectStoreNames.contains(DEVICES)) db.createObjectStore(DEVICES);
      if (!db.objectStoreNames.contains(KNOWN)) db.createObjectStore(KNOWN);
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error("IndexedDB did not open"));
  }).catch((e) => {
    opening = null;
    throw new Error(`This browser cannot keep encryption keys: ${(e as Error).message}`);
  });
  return opening;
}

async function read<T>(store: string, key: IDBValidKey): Promise<T | undefined> {
  const db = await database();
  return new Promise((resolve, reject) => {
    const request = db.transaction(store, "readonly").objectStore(store).get(key);
    request.onsuccess = () => resolve(request.result as T | undefined);
    request.onerror = () => reject(request.error);
  });
}

async function write(store: string, key: IDBValidKey, value: unknown): Promise<void> {
  const db = await database();
  return new Promise((resolve, reject) => {
    const tx = db.transaction(store, "readwrite");
    tx.objectStore(store).put(value, key);
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB write aborted"));
  });
}

/** Runs `f` holding a lock of this browser, so two tabs never create two devices at once. */
function exclusively<T>(name: string, f: () => Promise<T>): Promise<T> {
  return navigator.locks ? navigator.locks.request(name, f) : f();
}

/**
 * This browser's device keys for `userId`: the stored ones, or new ones
 * (created, then stored) the first time.
 */
export function localDeviceKeys(userId: string): Promise<DeviceKeys> {
  return exclusively(`parley-e2e-keys:${userId}`, async () => {
    const stored = await read<DeviceKeys>(DEVICES, userId);
    if (stored?.id && stored.ecdh?.privateKey && stored.signing?.privateKey) return stored;
    return await replaceDeviceKeys(userId);
  });
}

/** New keys for `userId` in place of the stored ones (a retired device is never revived). */
async function replaceDeviceKeys(userId: string): Promise<DeviceKeys> {
  const keys = await createDeviceKeys();
  await write(DEVICES, userId, keys);
  return keys;
}

/**
 * Makes sure the server lists this device as an active device of the user:
 * publishes its public keys when it is missing (a first run, or a server
 * that forgot it). A device that was retired (from another client) is not
 * brought back: this browser makes a new one.
 *
 * @returns the keys to use, which are new when the old device was retired.
 */
export function publishDeviceKeys(
  user: { id: string; username: string },
  keys: DeviceKeys,
): Promise<DeviceKeys> {
  return exclusively(`parley-e2e-keys:${user.id}`, async () => {
    const current = await read<DeviceKeys>(DEVICES, user.id) ?? keys;
    const { devices } = await api<{ devices: PublishedDevice[] }>(
      "GET",
      `/api/users/${encodeURIComponent(user.username)}/devices`,
    );
    const listed = devices.find((d) => d.id === current.id);
    if (listed && listed.retiredAt === null) return current;
    const next = listed ? await replaceDeviceKeys(user.id) : current;
    await api("PUT", `/api/me/devices/${encodeURIComponent(next.id)}`, {
      ...await publicJwks(next),
      name: deviceName(navigator.userAgent),
    });
    return next;
  });
}

/**
 * The device sets this browser accepted for other users, as `user` (so two
 * people sharing a browser keep their own).
 */
export function knownDevicesStore(userId: string): KnownDevicesStore {
  return {
    get: async (other) => await read<KnownDevices>(KNOWN, [userId, other]) ?? null,
    set: (other, known) => write(KNOWN, [userId, other], known),
  };
}

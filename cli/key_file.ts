/**
 * The terminal client's end-to-end encryption keys: one JSON file beside the
 * saved sessions (`keys.json`), owner-only like them. For each server and
 * account it holds this device's private keys (JWK) and, for each other
 * user, the device set last accepted and whether it was verified.
 *
 * The keys outlive `/logout`: signing in again is the same device, which
 * still reads what was sent to it.
 *
 * @module
 */
import type { StoredDeviceKeys } from "../shared/e2e.ts";
import type { KnownDevices, KnownDevicesStore } from "../shared/e2e_directory.ts";
import { readPrivateJson, writePrivateJson } from "./config_file.ts";

/** What the file keeps for one account on one server. */
interface AccountKeys {
  username: string;
  device: StoredDeviceKeys;
  known: Record<string, KnownDevices>;
}

type KeysByServer = Record<string, Record<string, AccountKeys>>;

/**
 * The keys file.
 *
 * @example
 * ```ts
 * const file = new KeyFile(configDir(Deno.env.toObject()));
 * const stored = await file.device(server, me.id);
 * const known = file.knownDevices(server, me.id);
 * ```
 */
export class KeyFile {
  /** The directory holding the file. */
  readonly dir: string;
  /** The file's path. */
  readonly path: string;
  /** Read-modify-write turns: two changes in a row must not lose one. */
  #turn: Promise<unknown> = Promise.resolve();

  constructor(dir: string) {
    this.dir = dir;
    this.path = `${dir}/keys.json`;
  }

  /** This device's keys for an account on `server`, if it has any yet. */
  async device(server: string, userId: string): Promise<StoredDeviceKeys | null> {
    const account = (await this.#read())[keyOf(server)]?.[userId];
    return isStoredKeys(account?.device) ? account.device : null;
  }

  /** Keeps this device's keys for an account on `server`. */
  saveDevice(server: string, userId: string, username: string, device: StoredDeviceKeys) {
    return this.#change(server, userId, (account) => ({
      username,
      device,
      known: account?.known ?? {},
    }));
  }

  /** The device sets this account accepted, as the shared directory code keeps them. */
  knownDevices(server: string, userId: string): KnownDevicesStore {
    return {
      get: async (other) => {
        const known = (await this.#read())[keyOf(server)]?.[userId]?.known?.[other];
        return known && typeof known.fingerprint === "string" ? known : null;
      },
      set: (other, known) =>
        this.#change(server, userId, (account) => {
          if (!account) throw new Error("This device has no keys yet.");
          return { ...account, known: { ...account.known, [other]: known } };
        }),
    };
  }

  #change(
    server: string,
    userId: string,
    f: (account: AccountKeys | undefined) => AccountKeys,
  ): Promise<void> {
    const next = this.#turn.then(async () => {
      const all = await this.#read();
      const accounts = all[keyOf(server)] ?? {};
      all[keyOf(server)] = { ...accounts, [userId]: f(accounts[userId]) };
      await writePrivateJson(this.dir, this.path, all);
    });
    this.#turn = next.catch(() => {});
    return next;
  }

  /**
   * The whole file. A broken one is an error, never `{}`: writing over it
   * would lose the private keys of every other account it holds.
   */
  async #read(): Promise<KeysByServer> {
    return await readPrivateJson(this.path, { strict: true }) as KeysByServer;
  }
}

function isStoredKeys(value: unknown): value is StoredDeviceKeys {
  const v = value as StoredDeviceKeys | undefined;
  return typeof v?.id === "string" && typeof v.ecdh?.d === "string" &&
    typeof v.signing?.d === "string";
}

/** Servers are told apart by origin, as the sessions file does. */
function keyOf(server: string): string {
  return new URL(server).origin;
}

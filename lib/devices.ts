/**
 * Devices: the public keys each client device publishes for end-to-end
 * encryption (`docs/encryption.md`). The server keeps public keys only. A
 * device's keys never change, so different keys under a known id are
 * refused: a changed key is always a new device the other side sees. A
 * retired device stays listed, so the messages it signed still verify, but
 * is given no keys for new messages and may not send.
 *
 * A change runs in the user's conflict domain and checks the device's key
 * and the user's count of active devices, so instances racing each other
 * never pass `DEVICES_MAX`. When a user's active devices change, the members
 * of each of their encrypted direct conversations get a `devices` event.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import { findUserByName } from "./accounts.ts";
import { ApiError, Errors } from "./errors.ts";
import { domainOf, type FeedEvent, type FeedWriter, noChange, type Op } from "./feed.ts";
import { getManyChunked } from "./get_many.ts";
import { deviceCountKey, deviceKey, devicesPrefix, roomKey } from "./keys.ts";
import { roomIdsOf, type StoredRoom } from "./rooms.ts";
import { DEVICES_MAX } from "../shared/limits.ts";
import type { PublicJwk, PublishedDevice } from "../shared/e2e.ts";

/** `["devices", userId, deviceId]`: a device as stored is exactly what the directory lists. */
export type StoredDevice = PublishedDevice;

/** What a client publishes for one of its devices. */
export interface DeviceInput {
  publicKey: PublicJwk;
  signingKey: PublicJwk;
  name?: string;
}

/**
 * How many `devices` events one commit carries at most: a user in very many
 * encrypted conversations gets the rest in further commits, so no log entry
 * outgrows a KV value.
 */
const EVENTS_PER_COMMIT = 300;

/** One of a user's devices, retired or not; `null` if there is none with that id. */
export async function getDevice(
  kv: Deno.Kv,
  userId: string,
  deviceId: string,
): Promise<StoredDevice | null> {
  return (await kv.get<StoredDevice>(deviceKey(userId, deviceId))).value;
}

/** Whether `input` carries exactly the keys `device` was published with. */
export function sameKeys(device: StoredDevice, input: DeviceInput): boolean {
  const same = (a: PublicJwk, b: PublicJwk) => a.x === b.x && a.y === b.y;
  return same(device.publicKey, input.publicKey) && same(device.signingKey, input.signingKey);
}

/**
 * Publishes a device of `user`. The same keys again change nothing.
 *
 * @throws {ApiError} `invalid_input` for a key whose point is not on P-256;
 * `conflict` (409) for other keys under a known id, a retired id, or a user
 * who already has `DEVICES_MAX` active devices.
 */
export async function publishDevice(
  feed: FeedWriter,
  user: User,
  deviceId: string,
  input: DeviceInput,
): Promise<StoredDevice> {
  assertOnCurve("publicKey", input.publicKey);
  assertOnCurve("signingKey", input.signingKey);
  const { device, later } = await feed.run(
    domainOf.user(user.id),
    async (kv, now): Promise<Op<{ device: StoredDevice; later: FeedEvent[] }>> => {
      const [found, count] = await kv.getMany<[StoredDevice, number]>([
        deviceKey(user.id, deviceId),
        deviceCountKey(user.id),
      ]);
      if (found.value) return noChange({ device: unchanged(found.value, input), later: [] });
      const active = count.value ?? 0;
      if (active >= DEVICES_MAX) {
        throw new ApiError(Errors.conflict, { max: DEVICES_MAX }, {
          message: `You have ${DEVICES_MAX} active devices, the most allowed: retire one first.`,
        });
      }
      const device: StoredDevice = {
        id: deviceId,
        userId: user.id,
        name: input.name ?? "",
        publicKey: publicPart(input.publicKey),
        signingKey: publicPart(input.signingKey),
        createdAt: now,
        retiredAt: null,
      };
      const events = await devicesEvents(kv, user.id);
      return {
        checks: [found, count],
        events: events.slice(0, EVENTS_PER_COMMIT),
        apply(op) {
          op.set(deviceKey(user.id, deviceId), device);
          op.set(deviceCountKey(user.id), active + 1);
        },
        value: { device, later: events.slice(EVENTS_PER_COMMIT) },
      };
    },
  );
  await announce(feed, later);
  return device;
}

/**
 * Retires one of `user`'s devices; retiring it again changes nothing.
 *
 * @throws {ApiError} `not_found` when the user has no device with that id.
 */
export async function retireDevice(feed: FeedWriter, user: User, deviceId: string): Promise<void> {
  const later = await feed.run(
    domainOf.user(user.id),
    async (kv, now): Promise<Op<FeedEvent[]>> => {
      const [found, count] = await kv.getMany<[StoredDevice, number]>([
        deviceKey(user.id, deviceId),
        deviceCountKey(user.id),
      ]);
      if (!found.value) {
        throw new ApiError(Errors.notFound, { deviceId }, { message: "No such device of yours." });
      }
      if (found.value.retiredAt !== null) return noChange([]);
      const retired: StoredDevice = { ...found.value, retiredAt: now };
      const events = await devicesEvents(kv, user.id);
      return {
        checks: [found, count],
        events: events.slice(0, EVENTS_PER_COMMIT),
        apply(op) {
          op.set(deviceKey(user.id, deviceId), retired);
          op.set(deviceCountKey(user.id), Math.max(0, (count.value ?? 1) - 1));
        },
        value: events.slice(EVENTS_PER_COMMIT),
      };
    },
  );
  await announce(feed, later);
}

/**
 * The devices of the user named `username`, retired ones too, oldest first.
 *
 * @throws {ApiError} `user_not_found`.
 */
export async function listDevices(kv: Deno.Kv, username: string): Promise<StoredDevice[]> {
  const user = await findUserByName(kv, username);
  if (!user) throw new ApiError(Errors.userNotFound, { username });
  const devices: StoredDevice[] = [];
  for await (const e of kv.list<StoredDevice>({ prefix: devicesPrefix(user.id) })) {
    devices.push(e.value);
  }
  return devices.sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1));
}

/**
 * Which of the (user, device) pairs name an active device, as
 * `userId\ndeviceId` strings.
 */
export async function activeDevicesAmong(
  kv: Deno.Kv,
  pairs: { userId: string; deviceId: string }[],
): Promise<Set<string>> {
  const found = await getManyChunked<StoredDevice>(
    kv,
    pairs.map((p) => deviceKey(p.userId, p.deviceId)),
  );
  return new Set(
    found.flatMap((d) => d && d.retiredAt === null ? [`${d.userId}\n${d.id}`] : []),
  );
}

/** A known device published again: the same keys change nothing, anything else is refused. */
function unchanged(device: StoredDevice, input: DeviceInput): StoredDevice {
  if (device.retiredAt !== null) {
    throw new ApiError(Errors.conflict, { deviceId: device.id }, {
      message: "This device was retired; a retired device's id is not used again.",
    });
  }
  if (!sameKeys(device, input)) {
    throw new ApiError(Errors.conflict, { deviceId: device.id }, {
      message: "This device was published with other keys; a device's keys never change: " +
        "publish new keys under a new device id.",
    });
  }
  return device;
}

/** The members of each of the user's encrypted direct conversations are told. */
async function devicesEvents(kv: Deno.Kv, userId: string): Promise<FeedEvent[]> {
  const ids = await roomIdsOf(kv, userId);
  const rooms = await getManyChunked<StoredRoom>(kv, ids.map(roomKey));
  return rooms.flatMap((r) =>
    r && r.kind === "direct" && r.encrypted && !r.deleted
      ? [{ type: "devices" as const, roomId: r.id, userId }]
      : []
  );
}

/** Appends the events that did not fit the change's own commit, in commits of their own. */
async function announce(feed: FeedWriter, events: FeedEvent[]): Promise<void> {
  for (let i = 0; i < events.length; i += EVENTS_PER_COMMIT) {
    const chunk = events.slice(i, i + EVENTS_PER_COMMIT);
    await feed.run(null, () => Promise.resolve({ ...noChange(undefined), events: chunk }));
  }
}

/** Only the public members of a JWK: anything else a client sent is not kept. */
function publicPart(jwk: PublicJwk): PublicJwk {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
}

/** The prime and the constant `b` of P-256 (`y² = x³ − 3x + b` mod p), from FIPS 186-4. */
const P256 = {
  p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
  b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
};

/**
 * Refuses a JWK whose point is not on P-256. Web Crypto in Deno imports such
 * a key without complaint and fails only when it is used, so each client
 * would fail on it later, one by one; an off-curve point is also how
 * invalid-curve attacks on ECDH begin.
 */
function assertOnCurve(field: string, jwk: PublicJwk): void {
  const { p, b } = P256;
  const x = coordinate(jwk.x), y = coordinate(jwk.y);
  const onCurve = x < p && y < p && (y * y - (x * x * x - 3n * x + b)) % p === 0n;
  if (!onCurve) {
    throw new ApiError(Errors.invalidInput, { field }, {
      message: `${field} is not a point on P-256.`,
    });
  }
}

/** A base64url coordinate (32 bytes, checked by the schema) as a number. */
function coordinate(base64url: string): bigint {
  const bytes = atob(base64url.replace(/-/g, "+").replace(/_/g, "/"));
  let n = 0n;
  for (const c of bytes) n = (n << 8n) | BigInt(c.charCodeAt(0));
  return n;
}

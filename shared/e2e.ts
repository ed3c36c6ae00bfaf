/**
 * End-to-end encryption of direct conversations, as docs/encryption.md
 * describes it: ECDH P-256 + HKDF-SHA-256 wraps a random AES-256-GCM message
 * key for every active device, and ECDSA P-256 signs the envelope. It uses
 * only the Web Crypto API, so the web app and the terminal client run the
 * same code.
 *
 * @module
 */

/** A message as the server stores and relays it in an encrypted conversation (base64 = standard base64). */
export interface Envelope {
  /** The encrypted payload. */
  ciphertext: string;
  /** The payload's 12-byte AES-GCM iv. */
  iv: string;
  /** Per recipient device id: `iv(12) ‖ AES-GCM(messageKey)` under that device's wrapping key. */
  keys: Record<string, string>;
  /** The id of the device that sent it. */
  senderDevice: string;
  /** ECDSA P-256 / SHA-256 signature, raw r‖s (64 bytes). */
  signature: string;
}

/** A public EC P-256 JWK as published (no `d`). */
export interface PublicJwk {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
}

/** A device as GET /api/users/:username/devices lists it. */
export interface PublishedDevice {
  id: string;
  userId: string;
  name: string;
  /** The ECDH key that message keys are wrapped for. */
  publicKey: PublicJwk;
  /** The ECDSA key that verifies the device's messages. */
  signingKey: PublicJwk;
  createdAt: number;
  retiredAt: number | null;
}

/** This device's own keys. In the browser the private keys are non-extractable CryptoKeys. */
export interface DeviceKeys {
  id: string;
  ecdh: CryptoKeyPair;
  signing: CryptoKeyPair;
}

/** DeviceKeys as JSON (private JWKs, with `d`) for the terminal client's config file. */
export interface StoredDeviceKeys {
  id: string;
  ecdh: JsonWebKey;
  signing: JsonWebKey;
}

/** A file encrypted before upload, as described inside a payload. */
export interface FileKey {
  /** The attachment id the encrypted upload got. */
  id: string;
  /** The file's raw AES-256-GCM key, base64. */
  key: string;
  /** The file's 12-byte iv, base64. */
  iv: string;
  /** The real name, type and size (the upload itself says `encrypted`, octet-stream). */
  name: string;
  type: string;
  size: number;
}

/** What an envelope decrypts to. */
export interface Payload {
  v: 1;
  text: string;
  files?: FileKey[];
}

/** The text both clients show for a message they cannot decrypt. */
export const COULD_NOT_DECRYPT = "could not decrypt";

const VERSION = "parley-e2e-v1";
const IV_BYTES = 12;
const KEY_BYTES = 32;
const GCM_TAG_BYTES = 16;
const SIGNATURE_BYTES = 64;
const SAFETY_GROUPS = 12;
const ECDH: EcKeyImportParams = { name: "ECDH", namedCurve: "P-256" };
const ECDSA: EcKeyImportParams = { name: "ECDSA", namedCurve: "P-256" };
const ECDSA_SHA256: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
const encoder = new TextEncoder();

/**
 * A new random device id: 22 URL-safe characters (128 random bits).
 *
 * @example
 * ```ts
 * newDeviceId(); // "mX0b3QhJ2k9aZr_4T1cV-w"
 * ```
 */
export function newDeviceId(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(16)))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Creates a device's two key pairs. Private keys are non-extractable unless
 * `extractable` is set (the terminal client sets it to save them as JWK);
 * public keys are always exportable.
 *
 * @example
 * ```ts
 * const keys = await createDeviceKeys();
 * await api.put(`/api/me/devices/${keys.id}`, await publicJwks(keys));
 * ```
 */
export async function createDeviceKeys(
  options: { extractable?: boolean; id?: string } = {},
): Promise<DeviceKeys> {
  const extractable = options.extractable ?? false;
  const [ecdh, signing] = await Promise.all([
    crypto.subtle.generateKey(ECDH, extractable, ["deriveBits"]),
    crypto.subtle.generateKey(ECDSA, extractable, ["sign", "verify"]),
  ]);
  return { id: options.id ?? newDeviceId(), ecdh, signing };
}

/** The two public keys of a device, as `PUT /api/me/devices/:deviceId` takes them. */
export async function publicJwks(
  keys: DeviceKeys,
): Promise<{ publicKey: PublicJwk; signingKey: PublicJwk }> {
  const [ecdh, signing] = await Promise.all([
    crypto.subtle.exportKey("jwk", keys.ecdh.publicKey),
    crypto.subtle.exportKey("jwk", keys.signing.publicKey),
  ]);
  return { publicKey: publicPart(ecdh), signingKey: publicPart(signing) };
}

/**
 * The device's keys as JSON, private parts included; throws if the keys were
 * created non-extractable.
 *
 * @example
 * ```ts
 * const keys = await createDeviceKeys({ extractable: true });
 * await Deno.writeTextFile(path, JSON.stringify(await exportDeviceKeys(keys)), { mode: 0o600 });
 * ```
 */
export async function exportDeviceKeys(keys: DeviceKeys): Promise<StoredDeviceKeys> {
  const [ecdh, signing] = await Promise.all([
    crypto.subtle.exportKey("jwk", keys.ecdh.privateKey),
    crypto.subtle.exportKey("jwk", keys.signing.privateKey),
  ]);
  return { id: keys.id, ecdh, signing };
}

/**
 * Reads keys saved by {@linkcode exportDeviceKeys}. The private keys come back
 * non-extractable unless `extractable` is set.
 *
 * @example
 * ```ts
 * const keys = await importDeviceKeys(JSON.parse(await Deno.readTextFile(path)));
 * ```
 */
export async function importDeviceKeys(
  stored: StoredDeviceKeys,
  options: { extractable?: boolean } = {},
): Promise<DeviceKeys> {
  const extractable = options.extractable ?? false;
  const pair = async (jwk: JsonWebKey, alg: EcKeyImportParams, usages: KeyUsage[]) => {
    const { kty, crv, x, y, d } = jwk; // key_ops and ext would clash with our own choices
    if (!d) throw new Error("stored device key has no private part");
    const [privateKey, publicKey] = await Promise.all([
      crypto.subtle.importKey("jwk", { kty, crv, x, y, d }, alg, extractable, usages),
      crypto.subtle.importKey(
        "jwk",
        { kty, crv, x, y },
        alg,
        true,
        usages.includes("sign") ? ["verify"] : [],
      ),
    ]);
    return { privateKey, publicKey };
  };
  const [ecdh, signing] = await Promise.all([
    pair(stored.ecdh, ECDH, ["deriveBits"]),
    pair(stored.signing, ECDSA, ["sign"]),
  ]);
  return { id: stored.id, ecdh, signing };
}

/**
 * Encrypts `payload` for every active (`retiredAt: null`) device in
 * `recipients`: both participants' devices, the sender's own included. The
 * sender device is always given a key, listed or not. A recipient whose
 * public key is not a valid P-256 point is skipped (no private key can match
 * it, so nobody could read its copy).
 *
 * @example
 * ```ts
 * const envelope = await encryptMessage({
 *   roomId, sender: keys, recipients: [...myDevices, ...theirDevices], payload: { v: 1, text: "hi" },
 * });
 * await api.post(`/api/rooms/${roomId}/messages`, { envelope });
 * ```
 */
export async function encryptMessage(o: {
  roomId: string;
  sender: DeviceKeys;
  recipients: PublishedDevice[];
  payload: Payload;
}): Promise<Envelope> {
  const { roomId, sender } = o;
  const messageKey = crypto.getRandomValues(new Uint8Array(KEY_BYTES));
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const aesKey = await crypto.subtle.importKey("raw", messageKey, "AES-GCM", false, ["encrypt"]);
  const plaintext = encoder.encode(JSON.stringify(normalizePayload(o.payload)));
  const ciphertext = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: encoder.encode(`${VERSION}|${roomId}|${sender.id}`) },
    aesKey,
    plaintext,
  );

  const wrapped = new Map<string, string>();
  const wrapFor = async (deviceId: string, theirs: CryptoKey) => {
    const wrapKey = await wrappingKey(sender.ecdh.privateKey, theirs, roomId, sender.id, deviceId);
    const wrapIv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const sealed = await crypto.subtle.encrypt(
      { name: "AES-GCM", iv: wrapIv },
      wrapKey,
      messageKey,
    );
    wrapped.set(deviceId, toBase64(concat(wrapIv, new Uint8Array(sealed))));
  };
  const others = new Map<string, PublicJwk>();
  for (const device of o.recipients) {
    if (device.retiredAt !== null || device.id === sender.id || others.has(device.id)) continue;
    others.set(device.id, device.publicKey);
  }
  await Promise.all([
    wrapFor(sender.id, sender.ecdh.publicKey),
    ...[...others].map(async ([deviceId, jwk]) => {
      // Browsers refuse an off-curve point on import, Deno only on derivation: either way
      // no private key matches it, so skipping it costs no one a readable copy.
      try {
        const theirs = await importPublic(jwk, ECDH);
        if (theirs) await wrapFor(deviceId, theirs);
      } catch {
        // skipped, as above
      }
    }),
  ]);
  const keys = Object.fromEntries([...wrapped].sort((x, y) => compare(x[0], y[0])));

  const envelope = {
    ciphertext: toBase64(new Uint8Array(ciphertext)),
    iv: toBase64(iv),
    keys,
    senderDevice: sender.id,
  };
  const signature = await crypto.subtle.sign(
    ECDSA_SHA256,
    sender.signing.privateKey,
    signatureInput(roomId, envelope),
  );
  return { ...envelope, signature: toBase64(new Uint8Array(signature)) };
}

/**
 * Verifies and decrypts an envelope. `senderDevices` are the devices (retired
 * too) of the message's author. Returns `null` for "could not decrypt": no
 * entry for this device, an unknown sender device, a bad signature, tampered
 * data, a payload that is not one. Never throws.
 *
 * @example
 * ```ts
 * const payload = await decryptMessage({ roomId, envelope: message.envelope, me: keys, senderDevices });
 * show(payload?.text ?? COULD_NOT_DECRYPT);
 * ```
 */
export async function decryptMessage(o: {
  roomId: string;
  envelope: Envelope;
  me: DeviceKeys;
  senderDevices: PublishedDevice[];
}): Promise<Payload | null> {
  try {
    const { roomId, envelope, me } = o;
    if (!isEnvelope(envelope) || typeof roomId !== "string") return null;
    const sender = o.senderDevices.find((d) => d.id === envelope.senderDevice);
    const wrapped = Object.hasOwn(envelope.keys, me.id) ? fromBase64(envelope.keys[me.id]) : null;
    if (!sender || !wrapped || wrapped.length !== IV_BYTES + KEY_BYTES + GCM_TAG_BYTES) return null;

    const signature = fromBase64(envelope.signature);
    const verifyKey = await importPublic(sender.signingKey, ECDSA);
    if (!signature || signature.length !== SIGNATURE_BYTES || !verifyKey) return null;
    const input = signatureInput(roomId, envelope);
    if (!await crypto.subtle.verify(ECDSA_SHA256, verifyKey, signature, input)) return null;

    const theirs = await importPublic(sender.publicKey, ECDH);
    const iv = fromBase64(envelope.iv);
    const ciphertext = fromBase64(envelope.ciphertext);
    if (!theirs || !iv || iv.length !== IV_BYTES || !ciphertext) return null;
    const unwrapKey = await wrappingKey(me.ecdh.privateKey, theirs, roomId, sender.id, me.id);
    const messageKey = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: wrapped.subarray(0, IV_BYTES) },
      unwrapKey,
      wrapped.subarray(IV_BYTES),
    );
    const aesKey = await crypto.subtle.importKey("raw", messageKey, "AES-GCM", false, ["decrypt"]);
    const plaintext = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv, additionalData: encoder.encode(`${VERSION}|${roomId}|${sender.id}`) },
      aesKey,
      ciphertext,
    );
    return parsePayload(new TextDecoder("utf-8", { fatal: true }).decode(plaintext));
  } catch {
    return null;
  }
}

/**
 * The safety number of a conversation: 12 groups of 5 digits, the same
 * whatever the argument order. It covers each user's id and, for each of
 * their active devices, the RFC 7638 thumbprints of its ECDH and signing keys
 * (device entries sorted, users ordered by id), hashed with SHA-256.
 *
 * @example
 * ```ts
 * await safetyNumber({ userId: me.id, devices: mine }, { userId: them.id, devices: theirs });
 * // "48213 00917 …" (12 groups)
 * ```
 */
export async function safetyNumber(
  a: { userId: string; devices: PublishedDevice[] },
  b: { userId: string; devices: PublishedDevice[] },
): Promise<string> {
  const entry = async (u: { userId: string; devices: PublishedDevice[] }) =>
    [u.userId, await deviceThumbprints(u.devices)] as const;
  const users = await Promise.all([entry(a), entry(b)]);
  users.sort((x, y) => compare(x[0], y[0]) || compare(JSON.stringify(x), JSON.stringify(y)));
  const root = await sha256(encoder.encode(JSON.stringify(["parley-safety-v1", ...users])));
  // 60 bytes are needed (5 per group) and SHA-256 gives 32: chain one more round.
  const bytes = concat(root, await sha256(concat(root, new Uint8Array([1]))));
  const groups: string[] = [];
  for (let i = 0; i < SAFETY_GROUPS; i++) {
    // 40 bits mod 100000: a bias of about 1e-7, far below anything a person could see.
    let n = 0;
    for (const byte of bytes.subarray(i * 5, i * 5 + 5)) n = n * 256 + byte;
    groups.push(String(n % 100_000).padStart(5, "0"));
  }
  return groups.join(" ");
}

/**
 * A short stable digest (32 hex digits) of a user's active devices: their ids
 * and key thumbprints, in any order. It changes when a device is added,
 * retired or replaced.
 *
 * @example
 * ```ts
 * if (await deviceSetFingerprint(devices) !== known.fingerprint) warn();
 * ```
 */
export async function deviceSetFingerprint(devices: PublishedDevice[]): Promise<string> {
  const entries = await Promise.all(
    devices.filter((d) => d.retiredAt === null).map(async (
      d,
    ) => [d.id, ...await deviceKeyThumbprints(d)]),
  );
  entries.sort((x, y) => compare(JSON.stringify(x), JSON.stringify(y)));
  const digest = await sha256(encoder.encode(JSON.stringify(["parley-devices-v1", entries])));
  return [...digest.subarray(0, 16)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The RFC 7638 thumbprint (SHA-256, base64url) of a public EC JWK: a short
 * name for one key that does not depend on how the JWK was written.
 */
export async function jwkThumbprint(jwk: PublicJwk): Promise<string> {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return toBase64(await sha256(encoder.encode(canonical)))
    .replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/**
 * Encrypts a file before upload with a fresh AES-256-GCM key; the key and
 * iv then travel in the message's payload as a {@linkcode FileKey}.
 *
 * @example
 * ```ts
 * const { data, key, iv } = await encryptFile(bytes);
 * const id = await upload(new Blob([data], { type: "application/octet-stream" }), "encrypted");
 * files.push({ id, key, iv, name: file.name, type: file.type, size: file.size });
 * ```
 */
export async function encryptFile(
  bytes: Uint8Array,
): Promise<{ data: Uint8Array<ArrayBuffer>; key: string; iv: string }> {
  const raw = crypto.getRandomValues(new Uint8Array(KEY_BYTES));
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt"]);
  const data = await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, ownBuffer(bytes));
  return { data: new Uint8Array(data), key: toBase64(raw), iv: toBase64(iv) };
}

/** Decrypts a downloaded file; `null` if the key, the iv or the data are wrong. Never throws. */
export async function decryptFile(
  data: Uint8Array,
  key: string,
  iv: string,
): Promise<Uint8Array<ArrayBuffer> | null> {
  try {
    const raw = fromBase64(key), ivBytes = fromBase64(iv);
    if (!raw || raw.length !== KEY_BYTES || !ivBytes || ivBytes.length !== IV_BYTES) return null;
    const aesKey = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: ivBytes },
      aesKey,
      ownBuffer(data),
    );
    return new Uint8Array(plain);
  } catch {
    return null;
  }
}

/** The bytes the sender signs: docs/encryption.md, step 3. */
function signatureInput(
  roomId: string,
  e: Pick<Envelope, "ciphertext" | "iv" | "keys" | "senderDevice">,
): Uint8Array<ArrayBuffer> {
  const keys = Object.entries(e.keys).sort((x, y) => compare(x[0], y[0]));
  return encoder.encode(
    JSON.stringify([VERSION, roomId, e.senderDevice, e.iv, e.ciphertext, keys]),
  );
}

/** ECDH → HKDF-SHA-256 (empty salt, info naming room and both devices) → AES-256-GCM. */
async function wrappingKey(
  mine: CryptoKey,
  theirs: CryptoKey,
  roomId: string,
  senderDevice: string,
  recipientDevice: string,
): Promise<CryptoKey> {
  const shared = await crypto.subtle.deriveBits({ name: "ECDH", public: theirs }, mine, 256);
  const hkdf = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
  const info = encoder.encode(`${VERSION}|${roomId}|${senderDevice}|${recipientDevice}`);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(0), info },
    hkdf,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

/** Imports a published public key; `null` when it is not a P-256 point. */
async function importPublic(jwk: PublicJwk, alg: EcKeyImportParams): Promise<CryptoKey | null> {
  try {
    const { kty, crv, x, y } = jwk;
    const usages: KeyUsage[] = alg.name === "ECDSA" ? ["verify"] : [];
    return await crypto.subtle.importKey("jwk", { kty, crv, x, y }, alg, true, usages);
  } catch {
    return null;
  }
}

function publicPart(jwk: JsonWebKey): PublicJwk {
  return { kty: "EC", crv: "P-256", x: jwk.x!, y: jwk.y! };
}

/** A user's active devices as [ecdh, signing] thumbprint pairs, sorted. */
async function deviceThumbprints(devices: PublishedDevice[]): Promise<string[][]> {
  const active = devices.filter((d) => d.retiredAt === null);
  const pairs = await Promise.all(active.map(deviceKeyThumbprints));
  return pairs.sort((x, y) => compare(x.join(), y.join()));
}

function deviceKeyThumbprints(d: PublishedDevice): Promise<string[]> {
  return Promise.all([jwkThumbprint(d.publicKey), jwkThumbprint(d.signingKey)]);
}

function normalizePayload(p: Payload): Payload {
  return p.files === undefined ? { v: 1, text: p.text } : { v: 1, text: p.text, files: p.files };
}

function parsePayload(json: string): Payload | null {
  const p = JSON.parse(json);
  if (!isRecord(p) || p.v !== 1 || typeof p.text !== "string") return null;
  if (p.files === undefined) return { v: 1, text: p.text };
  if (!Array.isArray(p.files) || !p.files.every(isFileKey)) return null;
  const files = p.files.map(({ id, key, iv, name, type, size }: FileKey) => ({
    id,
    key,
    iv,
    name,
    type,
    size,
  }));
  return { v: 1, text: p.text, files };
}

function isFileKey(f: unknown): f is FileKey {
  return isRecord(f) &&
    ["id", "key", "iv", "name", "type"].every((k) => typeof f[k] === "string") &&
    typeof f.size === "number" && Number.isSafeInteger(f.size) && f.size >= 0;
}

function isEnvelope(e: unknown): e is Envelope {
  return isRecord(e) &&
    ["ciphertext", "iv", "senderDevice", "signature"].every((k) => typeof e[k] === "string") &&
    isRecord(e.keys) && Object.values(e.keys).every((v) => typeof v === "string");
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Code-unit order, the same in every runtime (unlike localeCompare). */
function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function sha256(bytes: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Web Crypto takes only ArrayBuffer-backed views; copy the rare shared one. */
function ownBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? bytes as Uint8Array<ArrayBuffer>
    : new Uint8Array(bytes);
}

/** Standard base64 with padding. */
function toBase64(bytes: Uint8Array): string {
  let binary = "";
  // In chunks: spreading a whole file into fromCharCode overflows the stack.
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** Standard base64 to bytes; `null` for anything else (atob alone would skip spaces). */
function fromBase64(text: unknown): Uint8Array<ArrayBuffer> | null {
  if (typeof text !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    return null;
  }
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

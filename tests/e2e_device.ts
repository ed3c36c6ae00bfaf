/**
 * A client device for the server's end-to-end encryption tests: real Web
 * Crypto keys, and envelopes sealed and opened as `docs/encryption.md`
 * describes, written out here so the server's tests depend on no client.
 *
 * @module
 */
import type { Envelope } from "../shared/api_types.ts";
import { call } from "./helpers.ts";

/** A public JWK as the server takes it. */
export interface PublicJwk {
  kty: "EC";
  crv: "P-256";
  x: string;
  y: string;
}

/** A device as another device knows it: its id and public keys. */
export interface PeerDevice {
  id: string;
  publicKey: PublicJwk;
  signingKey: PublicJwk;
}

const ECDH = { name: "ECDH", namedCurve: "P-256" } as const;
const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;
const VERSION = "parley-e2e-v1";
const utf8 = new TextEncoder();

/** Standard base64 of bytes. */
export function toBase64(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

function fromBase64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}

/** A random device id of 22 url-safe characters. */
export function newDeviceId(): string {
  return toBase64(crypto.getRandomValues(new Uint8Array(16)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** One device: its key pairs, and what it publishes. */
export class TestDevice implements PeerDevice {
  readonly id: string;
  readonly publicKey: PublicJwk;
  readonly signingKey: PublicJwk;
  #ecdh: CryptoKeyPair;
  #signing: CryptoKeyPair;

  private constructor(
    id: string,
    ecdh: CryptoKeyPair,
    signing: CryptoKeyPair,
    jwks: [PublicJwk, PublicJwk],
  ) {
    this.id = id;
    this.#ecdh = ecdh;
    this.#signing = signing;
    [this.publicKey, this.signingKey] = jwks;
  }

  /** Makes a device with fresh keys. */
  static async create(id = newDeviceId()): Promise<TestDevice> {
    const ecdh = await crypto.subtle.generateKey(ECDH, false, ["deriveBits"]);
    const signing = await crypto.subtle.generateKey(ECDSA, false, ["sign", "verify"]);
    const pub = async (key: CryptoKey): Promise<PublicJwk> => {
      const { kty, crv, x, y } = await crypto.subtle.exportKey("jwk", key);
      return { kty: kty as "EC", crv: crv as "P-256", x: x!, y: y! };
    };
    return new TestDevice(id, ecdh, signing, [
      await pub(ecdh.publicKey),
      await pub(signing.publicKey),
    ]);
  }

  /** Publishes this device for the user of `token`; returns the response. */
  publish(base: string, token: string, name = "test device") {
    return call(base, `/api/me/devices/${this.id}`, {
      method: "PUT",
      token,
      body: { publicKey: this.publicKey, signingKey: this.signingKey, name },
    });
  }

  /** Encrypts `text` for `recipients` (this device among them) and signs the result. */
  async seal(roomId: string, text: string, recipients: PeerDevice[]): Promise<Envelope> {
    const messageKey = await crypto.subtle.generateKey({ name: "AES-GCM", length: 256 }, true, [
      "encrypt",
      "decrypt",
    ]);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const payload = utf8.encode(JSON.stringify({ v: 1, text, files: [] }));
    const ciphertext = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: utf8.encode(`${VERSION}|${roomId}|${this.id}`) },
        messageKey,
        payload,
      ),
    );
    const raw = new Uint8Array(await crypto.subtle.exportKey("raw", messageKey));
    const keys: Record<string, string> = {};
    for (const r of recipients) {
      const wrapping = await this.#wrappingKey(roomId, this.id, r.id, r.publicKey);
      const wrapIv = crypto.getRandomValues(new Uint8Array(12));
      const wrapped = new Uint8Array(
        await crypto.subtle.encrypt({ name: "AES-GCM", iv: wrapIv }, wrapping, raw),
      );
      keys[r.id] = toBase64(new Uint8Array([...wrapIv, ...wrapped]));
    }
    const envelope = {
      ciphertext: toBase64(ciphertext),
      iv: toBase64(iv),
      keys,
      senderDevice: this.id,
      signature: "",
    };
    const signature = await crypto.subtle.sign(
      { name: "ECDSA", hash: "SHA-256" },
      this.#signing.privateKey,
      signedBytes(roomId, envelope),
    );
    return { ...envelope, signature: toBase64(new Uint8Array(signature)) };
  }

  /** Verifies and decrypts an envelope sent by `sender`; `null` when anything is wrong. */
  async open(roomId: string, envelope: Envelope, sender: PeerDevice): Promise<string | null> {
    try {
      const verifier = await crypto.subtle.importKey("jwk", sender.signingKey, ECDSA, false, [
        "verify",
      ]);
      const ok = await crypto.subtle.verify(
        { name: "ECDSA", hash: "SHA-256" },
        verifier,
        fromBase64(envelope.signature),
        signedBytes(roomId, envelope),
      );
      const mine = envelope.keys[this.id];
      if (!ok || !mine || envelope.senderDevice !== sender.id) return null;
      const wrapped = fromBase64(mine);
      const unwrapping = await this.#wrappingKey(roomId, sender.id, this.id, sender.publicKey);
      const raw = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: wrapped.slice(0, 12) },
        unwrapping,
        wrapped.slice(12),
      );
      const messageKey = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["decrypt"]);
      const payload = await crypto.subtle.decrypt(
        {
          name: "AES-GCM",
          iv: fromBase64(envelope.iv),
          additionalData: utf8.encode(`${VERSION}|${roomId}|${sender.id}`),
        },
        messageKey,
        fromBase64(envelope.ciphertext),
      );
      return JSON.parse(new TextDecoder().decode(payload)).text;
    } catch {
      return null;
    }
  }

  /** ECDH with the other device's public key, then HKDF-SHA-256 to an AES-256-GCM key. */
  async #wrappingKey(roomId: string, from: string, to: string, other: PublicJwk) {
    const theirs = await crypto.subtle.importKey("jwk", other, ECDH, false, []);
    const shared = await crypto.subtle.deriveBits(
      { name: "ECDH", public: theirs },
      this.#ecdh.privateKey,
      256,
    );
    const hkdf = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveKey"]);
    return crypto.subtle.deriveKey(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: new Uint8Array(),
        info: utf8.encode(`${VERSION}|${roomId}|${from}|${to}`),
      },
      hkdf,
      { name: "AES-GCM", length: 256 },
      false,
      ["encrypt", "decrypt"],
    );
  }
}

/** The bytes a sender signs: the envelope's parts and its keys sorted by device id. */
function signedBytes(roomId: string, e: Omit<Envelope, "signature">): Uint8Array<ArrayBuffer> {
  const keys = Object.entries(e.keys).sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return utf8.encode(JSON.stringify([VERSION, roomId, e.senderDevice, e.iv, e.ciphertext, keys]));
}

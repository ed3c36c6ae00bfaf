import assert from "node:assert/strict";
import {
  COULD_NOT_DECRYPT,
  createDeviceKeys,
  decryptFile,
  decryptMessage,
  type DeviceKeys,
  deviceSetFingerprint,
  encryptFile,
  encryptMessage,
  type Envelope,
  exportDeviceKeys,
  importDeviceKeys,
  jwkThumbprint,
  newDeviceId,
  publicJwks,
  type PublishedDevice,
  safetyNumber,
} from "../../shared/e2e.ts";

const ROOM = "room_alice_bob";
const enc = new TextEncoder();

async function publish(
  keys: DeviceKeys,
  userId: string,
  retiredAt: number | null = null,
): Promise<PublishedDevice> {
  return { id: keys.id, userId, name: keys.id, ...await publicJwks(keys), createdAt: 1, retiredAt };
}

/** Alice with two devices, Bob with one active and one retired, and Carol outside. */
async function cast() {
  const [a1, a2, b1, b0, c1] = await Promise.all(
    ["alice-1", "alice-2", "bob-1", "bob-0", "carol-1"].map((id) => createDeviceKeys({ id })),
  );
  const alice = [await publish(a1, "u_alice"), await publish(a2, "u_alice")];
  const bob = [await publish(b1, "u_bob"), await publish(b0, "u_bob", 5)];
  const carol = [await publish(c1, "u_carol")];
  return { a1, a2, b1, b0, c1, alice, bob, carol, all: [...alice, ...bob] };
}

function b64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}
function unb64(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
}
/** The same base64 field with one bit of its decoded bytes flipped. */
function flip(text: string, at = 0): string {
  const bytes = unb64(text);
  bytes[at] ^= 1;
  return b64(bytes);
}

Deno.test("encryptMessage() is read by the recipient, the sender's other device and the sender itself", async () => {
  const c = await cast();
  const payload = { v: 1 as const, text: "héllo Bob 👋" };
  const envelope = await encryptMessage({ roomId: ROOM, sender: c.a1, recipients: c.all, payload });
  assert.deepEqual(Object.keys(envelope.keys).sort(), ["alice-1", "alice-2", "bob-1"]);
  assert.equal(envelope.senderDevice, "alice-1");
  assert.equal(unb64(envelope.iv).length, 12);
  assert.equal(unb64(envelope.signature).length, 64);
  assert.ok(!envelope.ciphertext.includes(b64(enc.encode("héllo"))), "the text is not in clear");
  for (const me of [c.b1, c.a2, c.a1]) {
    const got = await decryptMessage({ roomId: ROOM, envelope, me, senderDevices: c.alice });
    assert.deepEqual(got, payload, `device ${me.id}`);
  }
});

Deno.test("decryptMessage() returns null on a device that was not a recipient", async () => {
  const c = await cast();
  const envelope = await encryptMessage({
    roomId: ROOM,
    sender: c.a1,
    recipients: c.all,
    payload: { v: 1, text: "not for Carol" },
  });
  assert.equal(
    await decryptMessage({ roomId: ROOM, envelope, me: c.c1, senderDevices: c.alice }),
    null,
  );
  // Even pretending to be a recipient by id, Carol's key cannot unwrap Bob's entry.
  const fakeBob = { ...c.c1, id: "bob-1" };
  assert.equal(
    await decryptMessage({ roomId: ROOM, envelope, me: fakeBob, senderDevices: c.alice }),
    null,
  );
});

Deno.test("encryptMessage() gives a retired recipient device no key", async () => {
  const c = await cast();
  const envelope = await encryptMessage({
    roomId: ROOM,
    sender: c.a1,
    recipients: c.all,
    payload: { v: 1, text: "hi" },
  });
  assert.equal(envelope.keys["bob-0"], undefined);
  assert.equal(
    await decryptMessage({ roomId: ROOM, envelope, me: c.b0, senderDevices: c.alice }),
    null,
  );
});

Deno.test("encryptMessage() always wraps for the sender and skips an unusable recipient key", async () => {
  const c = await cast();
  const broken: PublishedDevice = {
    ...c.bob[0],
    id: "bob-broken",
    publicKey: { ...c.bob[0].publicKey, x: c.bob[0].publicKey.y }, // not a point on the curve
  };
  const envelope = await encryptMessage({
    roomId: ROOM,
    sender: c.a1,
    recipients: [c.bob[0], broken],
    payload: { v: 1, text: "hi" },
  });
  assert.deepEqual(Object.keys(envelope.keys).sort(), ["alice-1", "bob-1"]);
  const mine = await decryptMessage({ roomId: ROOM, envelope, me: c.a1, senderDevices: c.alice });
  assert.equal(mine?.text, "hi");
});

Deno.test("decryptMessage() refuses tampered, swapped or replayed envelopes", async () => {
  const c = await cast();
  const envelope = await encryptMessage({
    roomId: ROOM,
    sender: c.a1,
    recipients: c.all,
    payload: { v: 1, text: "pay 10" },
  });
  const open = (e: Envelope, roomId = ROOM, senderDevices = c.alice) =>
    decryptMessage({ roomId, envelope: e, me: c.b1, senderDevices });
  assert.equal((await open(envelope))?.text, "pay 10", "the untouched envelope opens");

  const cases: Record<string, Envelope> = {
    "tampered ciphertext": { ...envelope, ciphertext: flip(envelope.ciphertext, 3) },
    "tampered iv": { ...envelope, iv: flip(envelope.iv) },
    "tampered wrapped key": {
      ...envelope,
      keys: { ...envelope.keys, "bob-1": flip(envelope.keys["bob-1"], 20) },
    },
    "another device's wrapped key": {
      ...envelope,
      keys: { ...envelope.keys, "bob-1": envelope.keys["alice-2"] },
    },
    "tampered signature": { ...envelope, signature: flip(envelope.signature, 40) },
    "swapped senderDevice": { ...envelope, senderDevice: "alice-2" },
    "a key entry removed": {
      ...envelope,
      keys: { "bob-1": envelope.keys["bob-1"], "alice-1": envelope.keys["alice-1"] },
    },
  };
  for (const [name, tampered] of Object.entries(cases)) {
    assert.equal(await open(tampered), null, name);
  }
  assert.equal(await open(envelope, "room_other"), null, "replayed into another room");
  assert.equal(await open(envelope, ROOM, [c.alice[1]]), null, "unknown sender device");
  assert.equal(await open(envelope, ROOM, c.bob), null, "sender device of another user");
});

Deno.test("decryptMessage() accepts a message from a sender device retired since", async () => {
  const c = await cast();
  const envelope = await encryptMessage({
    roomId: ROOM,
    sender: c.b0,
    recipients: c.all,
    payload: { v: 1, text: "old" },
  });
  const got = await decryptMessage({ roomId: ROOM, envelope, me: c.a1, senderDevices: c.bob });
  assert.equal(got?.text, "old");
});

Deno.test("decryptMessage() returns null for garbage without throwing", async () => {
  const c = await cast();
  const good = await encryptMessage({
    roomId: ROOM,
    sender: c.a1,
    recipients: c.all,
    payload: { v: 1, text: "x" },
  });
  const garbage: unknown[] = [
    null,
    undefined,
    42,
    "envelope",
    [],
    {},
    { ...good, ciphertext: "!!!not base64!!!" },
    { ...good, iv: "%%%" },
    { ...good, iv: b64(new Uint8Array(16)) },
    { ...good, signature: "a b c d" },
    { ...good, signature: b64(new Uint8Array(64)) },
    { ...good, signature: good.signature.slice(0, -4) },
    { ...good, keys: { "bob-1": "****" } },
    { ...good, keys: { "bob-1": 7 } },
    { ...good, keys: null },
    { ...good, keys: "bob-1" },
    { ...good, senderDevice: 12 },
    { ...good, ciphertext: undefined },
    { ...good, keys: { ...good.keys, "bob-1": b64(new Uint8Array(60)) } },
  ];
  for (const envelope of garbage) {
    const got = await decryptMessage({
      roomId: ROOM,
      envelope: envelope as Envelope,
      me: c.b1,
      senderDevices: c.alice,
    });
    assert.equal(got, null, JSON.stringify(envelope));
  }
  const broken = [{ ...c.alice[0], signingKey: { kty: "EC", crv: "P-256", x: "?", y: "?" } }];
  assert.equal(
    await decryptMessage({
      roomId: ROOM,
      envelope: good,
      me: c.b1,
      senderDevices: broken as PublishedDevice[],
    }),
    null,
  );
  assert.equal(
    await decryptMessage({
      roomId: ROOM,
      envelope: good,
      me: c.b1,
      senderDevices: null as unknown as PublishedDevice[],
    }),
    null,
  );
  assert.equal(COULD_NOT_DECRYPT, "could not decrypt");
});

/** Builds an envelope around any plaintext by following docs/encryption.md step by step. */
async function sealByTheDoc(
  roomId: string,
  sender: DeviceKeys,
  recipient: PublishedDevice,
  plaintext: Uint8Array<ArrayBuffer>,
): Promise<Envelope> {
  const rawKey = crypto.getRandomValues(new Uint8Array(32));
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const messageKey = await crypto.subtle.importKey("raw", rawKey, "AES-GCM", false, ["encrypt"]);
  const aad = enc.encode(`parley-e2e-v1|${roomId}|${sender.id}`);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData: aad },
      messageKey,
      plaintext,
    ),
  );
  const theirs = await crypto.subtle.importKey(
    "jwk",
    recipient.publicKey,
    { name: "ECDH", namedCurve: "P-256" },
    true,
    [],
  );
  const shared = await crypto.subtle.deriveBits(
    { name: "ECDH", public: theirs },
    sender.ecdh.privateKey,
    256,
  );
  const hkdf = await crypto.subtle.importKey("raw", shared, "HKDF", false, ["deriveBits"]);
  const info = enc.encode(`parley-e2e-v1|${roomId}|${sender.id}|${recipient.id}`);
  const wrapBits = await crypto.subtle.deriveBits(
    { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info },
    hkdf,
    256,
  );
  const wrapKey = await crypto.subtle.importKey("raw", wrapBits, "AES-GCM", false, ["encrypt"]);
  const wrapIv = crypto.getRandomValues(new Uint8Array(12));
  const wrapped = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv: wrapIv }, wrapKey, rawKey),
  );
  const keys = { [recipient.id]: b64(new Uint8Array([...wrapIv, ...wrapped])) };
  const body = { ciphertext: b64(ciphertext), iv: b64(iv), keys, senderDevice: sender.id };
  const input = JSON.stringify([
    "parley-e2e-v1",
    roomId,
    sender.id,
    body.iv,
    body.ciphertext,
    Object.entries(keys).sort(),
  ]);
  const signature = await crypto.subtle.sign(
    { name: "ECDSA", hash: "SHA-256" },
    sender.signing.privateKey,
    enc.encode(input),
  );
  return { ...body, signature: b64(new Uint8Array(signature)) };
}

Deno.test("decryptMessage() opens an envelope built independently from docs/encryption.md", async () => {
  const c = await cast();
  const payload = {
    v: 1,
    text: "by the doc",
    files: [{ id: "f1", key: "k", iv: "i", name: "a.png", type: "image/png", size: 3 }],
  };
  const envelope = await sealByTheDoc(ROOM, c.a1, c.bob[0], enc.encode(JSON.stringify(payload)));
  assert.deepEqual(
    await decryptMessage({ roomId: ROOM, envelope, me: c.b1, senderDevices: c.alice }),
    payload,
  );
});

Deno.test("encryptMessage() signs exactly the input docs/encryption.md names", async () => {
  const c = await cast();
  const e = await encryptMessage({
    roomId: ROOM,
    sender: c.a1,
    recipients: c.all,
    payload: { v: 1, text: "x" },
  });
  const pairs = Object.entries(e.keys).sort(([x], [y]) => x < y ? -1 : 1);
  const input = JSON.stringify(["parley-e2e-v1", ROOM, e.senderDevice, e.iv, e.ciphertext, pairs]);
  const ok = await crypto.subtle.verify(
    { name: "ECDSA", hash: "SHA-256" },
    c.a1.signing.publicKey,
    unb64(e.signature),
    enc.encode(input),
  );
  assert.equal(ok, true);
  assert.equal(unb64(e.keys["bob-1"]).length, 12 + 32 + 16, "iv ‖ AES-GCM(32-byte key)");
});

Deno.test("decryptMessage() refuses a well-signed envelope whose payload is not a payload", async () => {
  const c = await cast();
  const bad = [
    '{"v":2,"text":"x"}',
    '{"v":1}',
    "not json",
    '{"v":1,"text":"x","files":[{"id":1}]}',
  ];
  for (const text of [...bad, "\uFFFF"]) {
    const envelope = await sealByTheDoc(ROOM, c.a1, c.bob[0], enc.encode(text));
    assert.equal(
      await decryptMessage({ roomId: ROOM, envelope, me: c.b1, senderDevices: c.alice }),
      null,
      text,
    );
  }
  const invalidUtf8 = await sealByTheDoc(ROOM, c.a1, c.bob[0], new Uint8Array([0x22, 0xff, 0x22]));
  assert.equal(
    await decryptMessage({ roomId: ROOM, envelope: invalidUtf8, me: c.b1, senderDevices: c.alice }),
    null,
  );
  // A ciphertext sealed for another room and then signed for this one still fails: the
  // AES-GCM additional data and the HKDF info bind the room, not only the signature.
  const other = await sealByTheDoc("room_other", c.a1, c.bob[0], enc.encode('{"v":1,"text":"x"}'));
  const pairs = Object.entries(other.keys);
  const input = JSON.stringify([
    "parley-e2e-v1",
    ROOM,
    "alice-1",
    other.iv,
    other.ciphertext,
    pairs,
  ]);
  const resigned = {
    ...other,
    signature: b64(
      new Uint8Array(
        await crypto.subtle.sign(
          { name: "ECDSA", hash: "SHA-256" },
          c.a1.signing.privateKey,
          enc.encode(input),
        ),
      ),
    ),
  };
  assert.equal(
    await decryptMessage({ roomId: ROOM, envelope: resigned, me: c.b1, senderDevices: c.alice }),
    null,
  );
});

Deno.test("exportDeviceKeys() and importDeviceKeys() round-trip keys that still decrypt", async () => {
  const c = await cast();
  const original = await createDeviceKeys({ extractable: true, id: "term-1" });
  const device = await publish(original, "u_bob");
  const stored = JSON.parse(JSON.stringify(await exportDeviceKeys(original)));
  assert.equal(stored.id, "term-1");
  assert.ok(stored.ecdh.d && stored.signing.d, "private parts are saved");
  const restored = await importDeviceKeys(stored);
  assert.deepEqual(await publicJwks(restored), await publicJwks(original));

  const toTerm = await encryptMessage({
    roomId: ROOM,
    sender: c.a1,
    recipients: [...c.alice, device],
    payload: { v: 1, text: "to the terminal" },
  });
  const got = await decryptMessage({
    roomId: ROOM,
    envelope: toTerm,
    me: restored,
    senderDevices: c.alice,
  });
  assert.equal(got?.text, "to the terminal");

  const fromTerm = await encryptMessage({
    roomId: ROOM,
    sender: restored,
    recipients: [...c.alice, device],
    payload: { v: 1, text: "from the terminal" },
  });
  const back = await decryptMessage({
    roomId: ROOM,
    envelope: fromTerm,
    me: c.a2,
    senderDevices: [device],
  });
  assert.equal(back?.text, "from the terminal");

  await assert.rejects(exportDeviceKeys(restored), "imported keys are non-extractable by default");
  const again = await importDeviceKeys(stored, { extractable: true });
  assert.deepEqual(await exportDeviceKeys(again), await exportDeviceKeys(original));
});

Deno.test("createDeviceKeys() makes non-extractable private keys by default", async () => {
  const keys = await createDeviceKeys();
  assert.equal(keys.ecdh.privateKey.extractable, false);
  assert.equal(keys.signing.privateKey.extractable, false);
  await assert.rejects(exportDeviceKeys(keys));
  await assert.rejects(crypto.subtle.exportKey("jwk", keys.ecdh.privateKey));
  await assert.rejects(crypto.subtle.exportKey("pkcs8", keys.signing.privateKey));
  const { publicKey, signingKey } = await publicJwks(keys);
  for (const jwk of [publicKey, signingKey]) {
    assert.deepEqual(Object.keys(jwk).sort(), ["crv", "kty", "x", "y"], "no d is published");
    assert.equal(jwk.kty, "EC");
    assert.equal(jwk.crv, "P-256");
  }
  assert.notEqual(publicKey.x, signingKey.x, "two different key pairs");
});

Deno.test("newDeviceId() gives 22 URL-safe random characters", () => {
  const ids = new Set(Array.from({ length: 100 }, newDeviceId));
  assert.equal(ids.size, 100);
  for (const id of ids) assert.match(id, /^[A-Za-z0-9_-]{22}$/);
});

Deno.test("safetyNumber() is the same both ways and changes when a device is added", async () => {
  const c = await cast();
  const alice = { userId: "u_alice", devices: c.alice };
  const bob = { userId: "u_bob", devices: c.bob };
  const ab = await safetyNumber(alice, bob);
  assert.match(ab, /^\d{5}( \d{5}){11}$/);
  assert.equal(await safetyNumber(bob, alice), ab);
  assert.equal(
    await safetyNumber({ ...alice, devices: [...c.alice].reverse() }, bob),
    ab,
    "device order does not matter",
  );
  assert.equal(
    await safetyNumber(alice, { ...bob, devices: c.bob.filter((d) => d.retiredAt === null) }),
    ab,
    "retired devices do not count",
  );

  const added = await publish(await createDeviceKeys({ id: "bob-2" }), "u_bob");
  const withNew = await safetyNumber(alice, { ...bob, devices: [...c.bob, added] });
  assert.notEqual(withNew, ab);
  assert.equal(await safetyNumber({ ...bob, devices: [...c.bob, added] }, alice), withNew);
  assert.notEqual(await safetyNumber(alice, { userId: "u_mallory", devices: c.bob }), ab);
  assert.notEqual(await safetyNumber(alice, { userId: "u_bob", devices: c.carol }), ab);
});

Deno.test("deviceSetFingerprint() ignores order and retired devices, and sees additions", async () => {
  const c = await cast();
  const fp = await deviceSetFingerprint(c.alice);
  assert.match(fp, /^[0-9a-f]{32}$/);
  assert.equal(await deviceSetFingerprint([...c.alice].reverse()), fp);
  assert.equal(
    await deviceSetFingerprint([...c.alice, { ...c.carol[0], retiredAt: 9 }]),
    fp,
  );
  assert.notEqual(await deviceSetFingerprint([...c.alice, c.carol[0]]), fp);
  assert.notEqual(await deviceSetFingerprint(c.alice.slice(0, 1)), fp);
  const replaced = { ...c.alice[1], publicKey: c.carol[0].publicKey };
  assert.notEqual(await deviceSetFingerprint([c.alice[0], replaced]), fp, "same id, new key");
});

Deno.test("jwkThumbprint() follows RFC 7638", async () => {
  // RFC 7638 §3.1 uses an RSA key; this EC vector is computed by hand from the same rule.
  const jwk = { kty: "EC" as const, crv: "P-256" as const, x: "abc", y: "def" };
  const canonical = '{"crv":"P-256","kty":"EC","x":"abc","y":"def"}';
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(canonical)));
  const expected = b64(digest).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
  assert.equal(await jwkThumbprint(jwk), expected);
  assert.equal(await jwkThumbprint({ y: "def", x: "abc", crv: "P-256", kty: "EC" }), expected);
});

Deno.test("encryptFile() round-trips and decryptFile() refuses tampering", async () => {
  const bytes = Uint8Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 251);
  const { data, key, iv } = await encryptFile(bytes);
  assert.equal(data.length, bytes.length + 16);
  assert.deepEqual(await decryptFile(data, key, iv), bytes);

  const tampered = data.slice();
  tampered[1000] ^= 1;
  assert.equal(await decryptFile(tampered, key, iv), null, "tampered data");
  assert.equal(await decryptFile(data, flip(key), iv), null, "wrong key");
  assert.equal(await decryptFile(data, key, flip(iv)), null, "wrong iv");
  assert.equal(await decryptFile(data.subarray(0, 10), key, iv), null, "truncated");
  assert.equal(await decryptFile(data, "garbage!", iv), null, "garbage key");
  assert.equal(await decryptFile(data, key, b64(new Uint8Array(16))), null, "16-byte iv");
  const other = await encryptFile(bytes);
  assert.notEqual(other.key, key, "a fresh key per file");
  assert.deepEqual(await decryptFile(new Uint8Array(0), key, iv), null);
  const empty = await encryptFile(new Uint8Array(0));
  assert.deepEqual(await decryptFile(empty.data, empty.key, empty.iv), new Uint8Array(0));
});

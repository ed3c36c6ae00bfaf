import assert from "node:assert/strict";
import {
  createDeviceKeys,
  type DeviceKeys,
  deviceSetFingerprint,
  publicJwks,
  type PublishedDevice,
} from "../../shared/e2e.ts";
import type { KnownDevices, KnownDevicesStore } from "../../shared/e2e_directory.ts";
import {
  DevicesChanged,
  E2eSession,
  type E2eSessionOptions,
  type Trust,
} from "../../shared/e2e_session.ts";

const ROOM = "room_alice_bob";
const ALICE = { id: "u_alice", username: "alice" };
const BOB = { id: "u_bob", username: "bob" };
const hi = { v: 1 as const, text: "hi" };

/** A store over a Map, as the terminal client's keys file or the browser's IndexedDB would be. */
function memoryStore(): KnownDevicesStore & { map: Map<string, KnownDevices> } {
  const map = new Map<string, KnownDevices>();
  return {
    map,
    get: (userId) => Promise.resolve(map.get(userId) ?? null),
    set: (userId, known) => Promise.resolve(void map.set(userId, { ...known })),
  };
}

/**
 * The server's device lists, as `GET /api/users/:username/devices` answers
 * them: what each session is given to fetch with, counting the reads.
 */
class Server {
  lists: Record<string, PublishedDevice[]> = { alice: [], bob: [] };
  reads: string[] = [];
  /** Set to make the next reads fail, as a lost connection would. */
  failing: Error | null = null;

  fetch = (username: string): Promise<PublishedDevice[]> => {
    this.reads.push(username);
    if (this.failing) return Promise.reject(this.failing);
    return Promise.resolve(structuredClone(this.lists[username] ?? []));
  };

  /** A new device of `user`'s, published. */
  async add(user: { id: string; username: string }, id: string): Promise<DeviceKeys> {
    const keys = await createDeviceKeys({ id });
    this.lists[user.username].push({
      id,
      userId: user.id,
      name: id,
      ...await publicJwks(keys),
      createdAt: Date.now(),
      retiredAt: null,
    });
    return keys;
  }

  retire(username: string, id: string) {
    this.lists[username].find((d) => d.id === id)!.retiredAt = Date.now();
  }
}

/** A session of `me` on the device `keys`, with what it told of trust. */
function session(
  server: Server,
  me: { id: string; username: string },
  keys: DeviceKeys,
  options: Partial<E2eSessionOptions> = {},
) {
  const trust: Record<string, Trust> = {};
  const known = memoryStore();
  const s = new E2eSession({
    me,
    fetchDevices: server.fetch,
    known,
    keys: () => Promise.resolve(keys),
    onTrust: (userId, t) => trust[userId] = t,
    ...options,
  });
  return { s, trust, known };
}

/** Alice on one device and Bob on one, both published. */
async function pair() {
  const server = new Server();
  const a1 = await server.add(ALICE, "alice-1");
  const b1 = await server.add(BOB, "bob-1");
  return { server, a1, b1, alice: session(server, ALICE, a1), bob: session(server, BOB, b1) };
}

Deno.test("E2eSession.seal() encrypts for every active device of both users, and each opens it", async () => {
  const { server, a1, b1, alice, bob } = await pair();
  const a2 = await server.add(ALICE, "alice-2");
  const b0 = await server.add(BOB, "bob-0");
  server.retire("bob", "bob-0");
  const envelope = await alice.s.seal(ROOM, BOB, hi);
  assert.deepEqual(Object.keys(envelope.keys).sort(), ["alice-1", "alice-2", "bob-1"]);
  assert.equal(envelope.senderDevice, a1.id);
  for (const keys of [a1, a2, b1]) {
    const reader = session(server, keys === b1 ? BOB : ALICE, keys).s;
    assert.deepEqual(await reader.open({ roomId: ROOM, author: ALICE, envelope }), hi);
  }
  // A retired device was given no key.
  const retired = session(server, BOB, b0).s;
  assert.equal(await retired.open({ roomId: ROOM, author: ALICE, envelope }), null);
  assert.equal(await bob.s.open({ roomId: "another_room", author: ALICE, envelope }), null);
});

Deno.test("E2eSession.seal() refuses a peer with no active device, and takes no first sight of them", async () => {
  const server = new Server();
  const a1 = await server.add(ALICE, "alice-1");
  const alice = session(server, ALICE, a1, {
    name: (n) => n.toUpperCase(),
    wording: { noDevice: (name) => `${name} cannot read this yet.` },
  });
  await assert.rejects(() => alice.s.seal(ROOM, BOB, hi), {
    message: "BOB cannot read this yet.",
  });
  assert.equal(await alice.s.checkPeer(BOB), null);
  assert.equal(alice.known.map.has(BOB.id), false);
  // Their first device is first sight, not a change.
  await server.add(BOB, "bob-1");
  alice.s.directory.invalidate("bob");
  const envelope = await alice.s.seal(ROOM, BOB, hi);
  assert.ok("bob-1" in envelope.keys);
  assert.deepEqual(alice.trust[BOB.id], { status: "new", verified: false });
});

Deno.test("E2eSession.seal() holds a message after the peer's devices change until accept()", async () => {
  const { server, alice } = await pair();
  await alice.s.seal(ROOM, BOB, hi);
  await server.add(BOB, "bob-2");
  alice.s.directory.invalidate("bob");
  const warned: string[] = [];
  const warn = (c: { userId: string; status: string }) => {
    warned.push(`${c.userId}:${c.status}`);
    return "! bob's devices changed";
  };
  const held = await alice.s.seal(ROOM, BOB, hi, { warn }).then(() => null, (e) => e);
  assert.ok(held instanceof DevicesChanged);
  assert.equal(held.message, "bob's devices changed");
  assert.equal(held.whose, "bob's devices");
  assert.deepEqual([held.self, held.peer], [false, true]);
  assert.deepEqual(held.warnings, ["! bob's devices changed"]);
  assert.deepEqual(warned, ["u_bob:changed"]);
  assert.deepEqual(alice.trust[BOB.id], { status: "changed", verified: false });
  // Still held, sending again is no accept.
  await assert.rejects(() => alice.s.seal(ROOM, BOB, hi), DevicesChanged);
  await held.accept();
  assert.deepEqual(alice.trust[BOB.id], { status: "same", verified: false });
  const envelope = await alice.s.seal(ROOM, BOB, hi);
  assert.deepEqual(Object.keys(envelope.keys).sort(), ["alice-1", "bob-1", "bob-2"]);
});

Deno.test("E2eSession.seal() holds a message after the user's own devices change; this device does not count", async () => {
  const { server, alice } = await pair();
  await alice.s.seal(ROOM, BOB, hi);
  // The first own set seen was the other devices: none.
  assert.equal(alice.known.map.get(ALICE.id)?.fingerprint, await deviceSetFingerprint([]));
  await server.add(ALICE, "alice-2");
  await server.add(BOB, "bob-2");
  alice.s.directory.invalidate();
  const held = await alice.s.seal(ROOM, BOB, hi).then(() => null, (e) => e);
  assert.ok(held instanceof DevicesChanged);
  assert.equal(held.whose, "your devices and bob's");
  assert.deepEqual(held.changes.map((c) => c.userId), [ALICE.id, BOB.id]);
  assert.deepEqual(held.changes[0].devices.map((d) => d.id), ["alice-2"]);
  await held.accept();
  assert.deepEqual(Object.keys((await alice.s.seal(ROOM, BOB, hi)).keys).sort(), [
    "alice-1",
    "alice-2",
    "bob-1",
    "bob-2",
  ]);
});

Deno.test("E2eSession with countThisDevice compares the user's own set with this device in it", async () => {
  const server = new Server();
  const a1 = await server.add(ALICE, "alice-1");
  await server.add(BOB, "bob-1");
  const alice = session(server, ALICE, a1, { countThisDevice: true });
  const first = await alice.s.checkSelf();
  assert.equal(first.status, "new");
  assert.deepEqual(first.devices.map((d) => d.id), ["alice-1"]);
  await server.add(ALICE, "alice-2");
  alice.s.directory.invalidate("alice");
  const held = await alice.s.seal(ROOM, BOB, hi).then(() => null, (e) => e);
  assert.ok(held instanceof DevicesChanged);
  assert.equal(held.whose, "your devices");
  assert.deepEqual(held.changes[0].devices.map((d) => d.id).sort(), ["alice-1", "alice-2"]);
});

Deno.test("E2eSession.seal() words its refusal as the client says", async () => {
  const { server, a1 } = await pair();
  const alice = session(server, ALICE, a1, {
    wording: {
      devicesChanged: ({ peer, name }) => peer ? `Not sent: ${name}'s.` : "Not sent: yours.",
    },
  });
  await alice.s.seal(ROOM, BOB, hi);
  await server.add(BOB, "bob-2");
  alice.s.directory.invalidate("bob");
  await assert.rejects(() => alice.s.seal(ROOM, BOB, hi), {
    name: "DevicesChanged",
    message: "Not sent: bob's.",
  });
});

Deno.test("E2eSession.checkPeer() un-verifies a verified peer whose devices change, and says it was", async () => {
  const { server, alice } = await pair();
  const { number } = await alice.s.safety(BOB);
  alice.s.shown(BOB, number);
  assert.equal((await alice.s.verifyShown(BOB)).status, "verified");
  await server.add(BOB, "bob-2");
  alice.s.directory.invalidate("bob");
  const check = await alice.s.checkPeer(BOB);
  assert.deepEqual(
    { status: check?.status, verified: check?.verified, wasVerified: check?.wasVerified },
    { status: "changed", verified: false, wasVerified: true },
  );
});

Deno.test("E2eSession.seal() publishes this device again when the user's list lacks it", async () => {
  const server = new Server();
  await server.add(BOB, "bob-1");
  const a0 = await createDeviceKeys({ id: "alice-0" });
  let keys = a0;
  const republished: string[] = [];
  const alice = session(server, ALICE, a0, {
    keys: () => Promise.resolve(keys),
    // A retired id is not used again: a new device.
    republish: async () => {
      keys = await server.add(ALICE, "alice-1");
      republished.push(keys.id);
    },
  });
  const envelope = await alice.s.seal(ROOM, BOB, hi);
  assert.deepEqual(republished, ["alice-1"]);
  assert.equal(envelope.senderDevice, "alice-1");
  assert.deepEqual(Object.keys(envelope.keys).sort(), ["alice-1", "bob-1"]);
});

Deno.test("E2eSession.open() reads the sender's devices again once for a device it does not know", async () => {
  const { server, alice, bob } = await pair();
  await bob.s.open({ roomId: ROOM, author: ALICE, envelope: await alice.s.seal(ROOM, BOB, hi) });
  // Alice's new device writes twice; bob's list is the one read before it existed.
  const a2 = await server.add(ALICE, "alice-2");
  const second = session(server, ALICE, a2).s;
  const envelopes = [await second.seal(ROOM, BOB, hi), await second.seal(ROOM, BOB, hi)];
  server.reads = [];
  const opened = await Promise.all(
    envelopes.map((envelope) => bob.s.open({ roomId: ROOM, author: ALICE, envelope })),
  );
  assert.deepEqual(opened, [hi, hi]);
  assert.deepEqual(server.reads, ["alice"]);
  // A device nobody published is looked for once, then it is "could not decrypt" at once.
  const forged = { ...envelopes[0], senderDevice: "alice-9" };
  server.reads = [];
  assert.equal(await bob.s.open({ roomId: ROOM, author: ALICE, envelope: forged }), null);
  assert.equal(await bob.s.open({ roomId: ROOM, author: ALICE, envelope: forged }), null);
  assert.deepEqual(server.reads, ["alice"]);
});

Deno.test("E2eSession.open() tells a network failure (throws) from an envelope it can never read (null)", async () => {
  const { server, alice, b1 } = await pair();
  const envelope = await alice.s.seal(ROOM, BOB, hi);
  const lost = new Error("no answer");
  const fresh = () => session(server, BOB, b1).s;
  server.failing = lost;
  await assert.rejects(() => fresh().open({ roomId: ROOM, author: ALICE, envelope }), lost);
  const strict = session(server, BOB, b1, { failsForGood: (e) => e === lost }).s;
  assert.equal(await strict.open({ roomId: ROOM, author: ALICE, envelope }), null);
  // Back: the same envelope reads, and a tampered one does not.
  server.failing = null;
  const bob = fresh();
  assert.deepEqual(await bob.open({ roomId: ROOM, author: ALICE, envelope }), hi);
  const c = envelope.ciphertext;
  const tampered = {
    ...envelope,
    ciphertext: c.slice(0, 5) + (c[5] === "A" ? "B" : "A") + c.slice(6),
  };
  assert.equal(await bob.open({ roomId: ROOM, author: ALICE, envelope: tampered }), null);
  // Signed by a device of someone else's: not the author's, so not read.
  assert.equal(await bob.open({ roomId: ROOM, author: BOB, envelope }), null);
});

Deno.test("E2eSession.safety() is the same number on both sides, covering every device", async () => {
  const { server, alice, bob } = await pair();
  const [a, b] = [await alice.s.safety(BOB), await bob.s.safety(ALICE)];
  assert.match(a.number, /^(\d{5} ){11}\d{5}$/);
  assert.equal(a.number, b.number);
  assert.equal(a.self, "alice-1");
  await server.add(BOB, "bob-2");
  const again = await alice.s.safety(BOB, { fresh: true });
  assert.notEqual(again.number, a.number);
  assert.deepEqual(again.theirs.map((d) => d.id), ["bob-1", "bob-2"]);
});

Deno.test("E2eSession.verifyShown() marks verified only a number shown for the current devices", async () => {
  const { server, alice } = await pair();
  assert.deepEqual(await alice.s.verifyShown(BOB), { status: "not_shown" });
  assert.equal(alice.known.map.get(BOB.id)?.verified, undefined);
  alice.s.shown(BOB, (await alice.s.safety(BOB)).number);
  // A device added after the number was shown: nothing marked, the number is forgotten.
  await server.add(BOB, "bob-2");
  assert.deepEqual(await alice.s.verifyShown(BOB), { status: "changed" });
  assert.deepEqual(await alice.s.verifyShown(BOB), { status: "not_shown" });
  assert.notEqual(alice.known.map.get(BOB.id)?.verified, true);
  // The new number, shown, is marked.
  alice.s.shown(BOB, (await alice.s.safety(BOB, { fresh: true })).number);
  const done = await alice.s.verifyShown(BOB);
  assert.equal(done.status, "verified");
  assert.deepEqual(alice.trust[BOB.id], { status: "same", verified: true });
  assert.equal((await alice.s.checkPeer(BOB))?.verified, true);
});

Deno.test("E2eSession.checkSelf() and acceptSelf() run in turn: a check never undoes a later accept", async () => {
  const { server, alice } = await pair();
  // The list as read before alice's new device: what a slow check still holds.
  await alice.s.directory.devices("alice");
  await server.add(ALICE, "alice-2");
  const [first] = await Promise.all([
    alice.s.checkSelf(),
    alice.s.acceptSelf(structuredClone(server.lists.alice)),
  ]);
  assert.equal(first.status, "new");
  alice.s.directory.invalidate("alice");
  assert.equal((await alice.s.checkSelf()).status, "same");
  assert.deepEqual(alice.trust[ALICE.id], { status: "same", verified: false });
});

import assert from "node:assert/strict";
import { createDeviceKeys, publicJwks, type PublishedDevice } from "../../shared/e2e.ts";
import {
  acceptDevices,
  checkDevices,
  DeviceDirectory,
  type KnownDevices,
  type KnownDevicesStore,
  markVerified,
} from "../../shared/e2e_directory.ts";

async function device(id: string, userId = "u_bob", retiredAt: number | null = null) {
  const keys = await createDeviceKeys({ id });
  return { id, userId, name: id, ...await publicJwks(keys), createdAt: 1, retiredAt };
}

/** A store over a Map, as the terminal client's config file or the browser's IndexedDB would be. */
function memoryStore(): KnownDevicesStore & { map: Map<string, KnownDevices> } {
  const map = new Map<string, KnownDevices>();
  return {
    map,
    get: (userId) => Promise.resolve(map.get(userId) ?? null),
    set: (userId, known) => Promise.resolve(void map.set(userId, { ...known })),
  };
}

Deno.test("DeviceDirectory.devices() fetches once per user until invalidate()", async () => {
  const calls: string[] = [];
  const lists: Record<string, PublishedDevice[]> = {
    bob: [await device("bob-1")],
    carol: [await device("carol-1", "u_carol")],
  };
  const directory = new DeviceDirectory((username) => {
    calls.push(username);
    return Promise.resolve([...lists[username]]);
  });

  const [first, concurrent] = await Promise.all([
    directory.devices("bob"),
    directory.devices("bob"),
  ]);
  assert.deepEqual(first, lists.bob);
  assert.equal(concurrent, first, "concurrent lookups share one fetch");
  assert.equal(await directory.devices("bob"), first);
  await directory.devices("carol");
  assert.deepEqual(calls, ["bob", "carol"]);

  lists.bob.push(await device("bob-2"));
  assert.equal((await directory.devices("bob")).length, 1, "still cached");
  directory.invalidate("bob");
  assert.equal((await directory.devices("bob")).length, 2, "re-read after invalidate");
  await directory.devices("carol");
  assert.deepEqual(calls, ["bob", "carol", "bob"], "carol stayed cached");

  directory.invalidate();
  await Promise.all([directory.devices("bob"), directory.devices("carol")]);
  assert.deepEqual(calls, ["bob", "carol", "bob", "bob", "carol"]);
});

Deno.test("DeviceDirectory.devices() does not cache a failed fetch", async () => {
  let calls = 0;
  const directory = new DeviceDirectory(() => {
    calls++;
    return calls === 1 ? Promise.reject(new Error("offline")) : Promise.resolve([]);
  });
  await assert.rejects(directory.devices("bob"), /offline/);
  assert.deepEqual(await directory.devices("bob"), []);
  assert.deepEqual(await directory.devices("bob"), []);
  assert.equal(calls, 2);
});

Deno.test("checkDevices() trusts the first set, then tells same from changed", async () => {
  const store = memoryStore();
  const one = [await device("bob-1"), await device("bob-old", "u_bob", 3)];
  const two = [...one, await device("bob-2")];

  assert.deepEqual(await checkDevices(store, "u_bob", one), { status: "new", verified: false });
  assert.ok(store.map.has("u_bob"), "first sight is recorded");
  assert.deepEqual(await checkDevices(store, "u_bob", one), { status: "same", verified: false });
  assert.deepEqual(
    await checkDevices(store, "u_bob", one.slice(0, 1)),
    { status: "same", verified: false },
    "retired devices do not count",
  );
  assert.deepEqual(await checkDevices(store, "u_carol", one), { status: "new", verified: false });

  assert.deepEqual(await checkDevices(store, "u_bob", two), { status: "changed", verified: false });
  assert.deepEqual(
    await checkDevices(store, "u_bob", two),
    { status: "changed", verified: false },
    "the warning holds until accepted",
  );
  await acceptDevices(store, "u_bob", two);
  assert.deepEqual(await checkDevices(store, "u_bob", two), { status: "same", verified: false });
  assert.deepEqual(await checkDevices(store, "u_bob", one), { status: "changed", verified: false });
});

Deno.test("checkDevices() un-verifies a verified user whose devices change", async () => {
  const store = memoryStore();
  const one = [await device("bob-1")];
  const two = [...one, await device("bob-2")];

  await checkDevices(store, "u_bob", one);
  await markVerified(store, "u_bob", one);
  assert.deepEqual(await checkDevices(store, "u_bob", one), { status: "same", verified: true });

  assert.deepEqual(await checkDevices(store, "u_bob", two), { status: "changed", verified: false });
  assert.equal(store.map.get("u_bob")?.verified, false, "stored as unverified");
  assert.deepEqual(
    await checkDevices(store, "u_bob", one),
    { status: "same", verified: false },
    "going back does not restore the verified mark",
  );

  await acceptDevices(store, "u_bob", two);
  assert.deepEqual(await checkDevices(store, "u_bob", two), { status: "same", verified: false });
  await markVerified(store, "u_bob", two);
  assert.deepEqual(await checkDevices(store, "u_bob", two), { status: "same", verified: true });
});

// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { call, registerUser, serve, testApp } from "../helpers.ts";
import { SseClient } from "../sse_client.ts";
import { newDeviceId, TestDevice } from "../e2e_device.ts";
import { defaultLimits, parseLimit } from "../../lib/rate_limits.ts";
import { DEVICES_MAX } from "../../shared/limits.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The devices the directory lists for `username`, as `viewer` reads them. */
async function devicesOf(base: string, viewer: { token: string }, username: string) {
  const res = await call(base, `/api/users/${username}/devices`, { token: viewer.token });
  assert.equal(res.status, 200);
  return res.body.devices as any[];
}

Deno.test("[e2e] PUT /api/me/devices publishes, GET lists, DELETE retires", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const device = await TestDevice.create();
  const published = await device.publish(server.url, a.token, "laptop");
  assert.equal(published.status, 200);
  assert.match(published.headers.get("content-type")!, /application\/json/);
  assert.deepEqual(published.body.device, {
    id: device.id,
    userId: a.id,
    name: "laptop",
    publicKey: device.publicKey,
    signingKey: device.signingKey,
    createdAt: t.clock(),
    retiredAt: null,
  });
  assert.deepEqual(await devicesOf(server.url, b, a.username), [published.body.device]);

  t.clock.advance(1_000);
  const again = await device.publish(server.url, a.token, "another name");
  assert.equal(again.status, 200, "the same keys again are a no-op");
  assert.deepEqual(again.body.device, published.body.device);

  const other = await TestDevice.create(device.id);
  const changed = await other.publish(server.url, a.token);
  assert.equal(changed.status, 409, "a device's keys never change");
  assert.equal(changed.body.error.code, "conflict");
  assert.deepEqual(await devicesOf(server.url, b, a.username), [published.body.device]);

  const retired = await call(server.url, `/api/me/devices/${device.id}`, {
    method: "DELETE",
    token: a.token,
  });
  assert.equal(retired.status, 204);
  const listed = await devicesOf(server.url, b, a.username);
  assert.deepEqual(listed, [{ ...published.body.device, retiredAt: t.clock() }]);
  assert.equal(
    (await call(server.url, `/api/me/devices/${device.id}`, { method: "DELETE", token: a.token }))
      .status,
    204,
    "retiring it again changes nothing",
  );
  assert.deepEqual(await devicesOf(server.url, a, a.username), listed);
  assert.equal((await device.publish(server.url, a.token)).status, 409, "a retired id stays so");
});

Deno.test("PUT /api/me/devices refuses private keys and anything not a P-256 public key", async () => {
  await using t = await testApp();
  const a = await registerUser(t.app);
  const device = await TestDevice.create();
  const good = { publicKey: device.publicKey, signingKey: device.signingKey };
  const { privateKey } = await crypto.subtle.generateKey(
    { name: "ECDH", namedCurve: "P-256" },
    true,
    ["deriveBits"],
  );
  const withD = await crypto.subtle.exportKey("jwk", privateKey);
  const offCurve = { ...device.publicKey, y: device.publicKey.x };
  const cases: [string, unknown][] = [
    ["a private JWK (d)", { ...good, publicKey: withD }],
    ["a d on the signing key", { ...good, signingKey: { ...device.signingKey, d: withD.d } }],
    ["RSA", { ...good, publicKey: { ...device.publicKey, kty: "RSA" } }],
    ["P-384", { ...good, signingKey: { ...device.signingKey, crv: "P-384" } }],
    ["a short x", { ...good, publicKey: { ...device.publicKey, x: "AAAA" } }],
    ["a point off the curve", { ...good, publicKey: offCurve }],
    ["no signing key", { publicKey: device.publicKey }],
    ["a long name", { ...good, name: "n".repeat(65) }],
    ["a name with a control character", { ...good, name: "a\u0007b" }],
  ];
  for (const [what, body] of cases) {
    const res = await call(t.app, `/api/me/devices/${device.id}`, {
      method: "PUT",
      token: a.token,
      body,
    });
    assert.equal(res.status, 400, what);
    assert.equal(res.body.error.code, "invalid_input", what);
  }
  const dRes = await call(t.app, `/api/me/devices/${device.id}`, {
    method: "PUT",
    token: a.token,
    body: { ...good, publicKey: withD },
  });
  assert.match(JSON.stringify(dRes.body.error.details), /private key/);
  for (const id of ["short", "x".repeat(65), "has space!"]) {
    const res = await call(t.app, `/api/me/devices/${encodeURIComponent(id)}`, {
      method: "PUT",
      token: a.token,
      body: good,
    });
    assert.equal(res.status, 400, id);
  }
  const stored = await call(t.app, `/api/users/${a.username}/devices`, { token: a.token });
  assert.deepEqual(stored.body.devices, [], "nothing was stored");
  // Any members other than the public ones are not kept.
  const extra = await call(t.app, `/api/me/devices/${device.id}`, {
    method: "PUT",
    token: a.token,
    body: { ...good, publicKey: { ...device.publicKey, ext: true, key_ops: [] } },
  });
  assert.equal(extra.status, 200);
  assert.deepEqual(extra.body.device.publicKey, device.publicKey);
});

Deno.test("devices are closed to strangers: 401 signed out, and nobody retires my device", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const device = await TestDevice.create();
  assert.equal((await device.publish(server.url, a.token)).status, 200);

  const signedOut = [
    await call(server.url, `/api/me/devices/${device.id}`, {
      method: "PUT",
      body: { publicKey: device.publicKey, signingKey: device.signingKey },
    }),
    await call(server.url, `/api/me/devices/${device.id}`, { method: "DELETE" }),
    await call(server.url, `/api/users/${a.username}/devices`),
  ];
  for (const res of signedOut) {
    assert.equal(res.status, 401);
    assert.equal(res.body.error.code, "unauthorized");
  }
  const theirs = await call(server.url, `/api/me/devices/${device.id}`, {
    method: "DELETE",
    token: b.token,
  });
  assert.equal(theirs.status, 404, "B has no device of that id: /me is B's own");
  assert.equal((await devicesOf(server.url, a, a.username))[0].retiredAt, null);
  // B publishing A's id makes a device of B's, not a change of A's.
  assert.equal((await device.publish(server.url, b.token)).status, 200);
  assert.equal((await devicesOf(server.url, a, a.username)).length, 1);
  assert.equal((await devicesOf(server.url, a, b.username))[0].userId, b.id);
  const unknown = await call(server.url, "/api/users/nobody_here/devices", { token: a.token });
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, "user_not_found");
});

Deno.test("a user has at most DEVICES_MAX active devices; retiring one makes room", async () => {
  await using t = await testApp();
  const a = await registerUser(t.app);
  const put = (id: string) =>
    call(t.app, `/api/me/devices/${id}`, {
      method: "PUT",
      token: a.token,
      body: { publicKey: device.publicKey, signingKey: device.signingKey },
    });
  // The server checks the keys, not that they differ between devices.
  const device = await TestDevice.create();
  const ids = Array.from({ length: DEVICES_MAX }, () => newDeviceId());
  const results = await Promise.all(ids.map(put));
  assert.ok(results.every((r) => r.status === 200));
  const over = await put(newDeviceId());
  assert.equal(over.status, 409);
  assert.deepEqual(over.body.error.details, { max: DEVICES_MAX });
  assert.equal(
    (await call(t.app, `/api/me/devices/${ids[3]}`, { method: "DELETE", token: a.token })).status,
    204,
  );
  assert.equal((await put(newDeviceId())).status, 200);
  assert.equal((await put(newDeviceId())).status, 409);
  const listed = await call(t.app, `/api/users/${a.username}/devices`, { token: a.token });
  assert.equal(listed.body.devices.length, DEVICES_MAX + 1, "the retired one is still listed");
});

Deno.test("publishing and retiring devices is rate-limited; the same keys again are free", async () => {
  await using t = await testApp({
    rateLimitsOn: true,
    limits: { ...defaultLimits, devices: parseLimit("1/h:2") },
  });
  const a = await registerUser(t.app);
  const [d1, d2, d3] = await Promise.all([1, 2, 3].map(() => TestDevice.create()));
  const publish = (d: TestDevice) =>
    call(t.app, `/api/me/devices/${d.id}`, {
      method: "PUT",
      token: a.token,
      body: { publicKey: d.publicKey, signingKey: d.signingKey },
    });
  assert.equal((await publish(d1)).status, 200);
  assert.equal((await publish(d2)).status, 200);
  for (let i = 0; i < 5; i++) assert.equal((await publish(d1)).status, 200);
  const limited = await publish(d3);
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error.code, "rate_limited");
  assert.ok(Number(limited.headers.get("retry-after")) > 0);
  const retire = await call(t.app, `/api/me/devices/${d1.id}`, {
    method: "DELETE",
    token: a.token,
  });
  assert.equal(retire.status, 429);
  const listed = await call(t.app, `/api/users/${a.username}/devices`, { token: a.token });
  // Both published in one millisecond list in id order: compare as a set.
  const byId = (a: unknown[], b: unknown[]) => String(a[0]) < String(b[0]) ? -1 : 1;
  assert.deepEqual(
    listed.body.devices.map((d: any) => [d.id, d.retiredAt]).sort(byId),
    [[d1.id, null], [d2.id, null]].sort(byId),
  );
});

Deno.test("[e2e] a devices event reaches the members of the user's encrypted conversations, and resumes", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => registerUser(server.url)));
  const secret = await call(server.url, `/api/direct/${b.username}`, {
    token: a.token,
    body: { encrypted: true },
  });
  const plain = await call(server.url, `/api/direct/${c.username}`, {
    token: a.token,
    method: "POST",
  });
  assert.equal(secret.body.room.encrypted, true);
  assert.equal(plain.body.room.encrypted, false);
  const [sa, sb, sc] = await Promise.all([a, b, c].map((u) => SseClient.connect(server.url, u)));
  try {
    for (const s of [sa, sb, sc]) await s.next("ready");
    const device = await TestDevice.create();
    assert.equal((await device.publish(server.url, a.token)).status, 200);
    const expected = { roomId: secret.body.room.id, userId: a.id };
    assert.deepEqual(await sb.next("devices"), expected, "the other participant is told");
    assert.deepEqual(await sa.next("devices"), expected, "and the user's own other clients");
    // The same keys again change no device: no event.
    assert.equal((await device.publish(server.url, a.token)).status, 200);
    const resumeFrom = sb.lastEventId!;
    await sb.close();
    assert.equal(
      (await call(server.url, `/api/me/devices/${device.id}`, {
        method: "DELETE",
        token: a.token,
      })).status,
      204,
    );
    await sa.next("devices");
    const resumed = await SseClient.connect(server.url, {
      token: b.token,
      lastEventId: resumeFrom,
    });
    try {
      assert.deepEqual(await resumed.next("devices"), expected, "resume replays it");
      await sleep(100);
      assert.equal(resumed.of("devices").length, 1, "once");
    } finally {
      await resumed.close();
    }
    await sleep(100);
    assert.deepEqual(sc.of("devices"), [], "a conversation that is not encrypted hears nothing");
    assert.equal(sa.of("devices").length, 2);
  } finally {
    await Promise.all([sa, sb, sc].map((s) => s.close()));
  }
});

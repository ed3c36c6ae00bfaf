// deno-lint-ignore-file no-explicit-any
/**
 * Abuse defence through the real HTTP path: rate limits, the login throttle,
 * client addresses behind proxies, the same-origin rule, input hygiene,
 * stream limits and stalled streams.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config.ts";
import { parseLimit } from "../../lib/rate_limits.ts";
import { call, post, registerUser, roomWith, serve, tempKvPath, testApp } from "../helpers.ts";
import { SseClient } from "../sse_client.ts";

const on = { rateLimitsOn: true };

function assertLimited(res: { status: number; headers: Headers; body: any }) {
  assert.equal(res.status, 429);
  assert.equal(res.body.error.code, "rate_limited");
  const retryAfter = Number(res.headers.get("retry-after"));
  assert.ok(retryAfter >= 1, `Retry-After: ${retryAfter}`);
  assert.equal(res.body.error.details.retryAfter, retryAfter);
  assert.match(res.body.error.message, /Try again in \d+ s\.$/);
}

Deno.test("parseLimit() reads count/unit[:burst] and refuses the rest", () => {
  assert.deepEqual(parseLimit("5/s:20"), { burst: 20, intervalMs: 200 });
  assert.deepEqual(parseLimit("30/min:1"), { burst: 1, intervalMs: 2_000 });
  assert.deepEqual(parseLimit("5/h"), { burst: 5, intervalMs: 720_000 });
  for (const bad of ["5", "0/s", "5/week", "x/s:2", "5/s:"]) assert.throws(() => parseLimit(bad));
});

Deno.test("loadConfig() reads RATE_LIMITS, each limit, stream and hash caps, trusted proxies", () => {
  const config = loadConfig({
    RATE_LIMITS: "off",
    RATE_MESSAGES: "2/s:4",
    MAX_STREAMS_PER_USER: "3",
    HASH_CONCURRENCY: "1",
    TRUSTED_PROXIES: "10.0.0.0/8, ::1",
  });
  assert.equal(config.rateLimitsOn, false);
  assert.deepEqual(config.limits.messages, { burst: 4, intervalMs: 500 });
  assert.deepEqual(config.limits.rooms, parseLimit("10/h:5"), "the rest keep their defaults");
  assert.equal(config.maxStreamsPerUser, 3);
  assert.equal(config.hashConcurrency, 1);
  assert.deepEqual(config.trustedProxies, ["10.0.0.0/8", "::1"]);
  assert.equal(loadConfig({}).rateLimitsOn, true, "limits are on by default");
  assert.throws(() => loadConfig({ RATE_MESSAGES: "lots" }), /RATE_MESSAGES/);
  assert.throws(() => loadConfig({ RATE_LIMITS: "maybe" }), /RATE_LIMITS/);
});

Deno.test("messages past the limit get 429 and store nothing; RATE_LIMITS=off lifts it", async () => {
  for (const limited of [true, false]) {
    await using t = await testApp({
      rateLimitsOn: limited,
      limits: { ...loadConfig({}).limits, messages: parseLimit("1/min:3") },
    });
    const a = await registerUser(t.app);
    const id = await roomWith(t.app, a, []);
    for (let i = 0; i < 3; i++) assert.equal((await post(t.app, a.token, id, `m${i}`)).status, 201);
    const fourth = await post(t.app, a.token, id, "one too many");
    if (limited) assertLimited(fourth);
    else assert.equal(fourth.status, 201);
    const history = await call(t.app, `/api/rooms/${id}/messages`, { token: a.token });
    assert.equal(history.body.messages.length, limited ? 3 : 4);
  }
});

Deno.test("room creation, direct conversations and invitations are limited per user, in KV", async () => {
  const limits = {
    ...loadConfig({}).limits,
    rooms: parseLimit("1/h:2"),
    directs: parseLimit("1/h:1"),
    invites: parseLimit("1/h:1"),
  };
  // Two instances over one KV file: the buckets in KV are shared by both.
  await using file = await tempKvPath();
  await using t = await testApp({ ...on, limits }, { path: file.path });
  await using other = await testApp({ ...on, limits }, { path: file.path, clock: t.clock });
  const [a, b, c, d] = await Promise.all([1, 2, 3, 4].map(() => registerUser(t.app)));
  const create = (app: typeof t.app, name: string) =>
    call(app, "/api/rooms", { token: a.token, body: { name } });
  assert.equal((await create(t.app, "one")).status, 201);
  assert.equal((await create(other.app, "two")).status, 201);
  assertLimited(await create(other.app, "three"));
  assertLimited(await create(t.app, "three"));
  const mine = await call(t.app, "/api/rooms", { token: a.token });
  assert.deepEqual(mine.body.rooms.map((r: any) => r.name).sort(), ["one", "two"]);

  const dm = (u: { username: string }) =>
    call(t.app, `/api/direct/${u.username}`, { token: b.token, method: "POST" });
  assert.equal((await dm(c)).status, 201);
  assertLimited(await dm(d));
  assert.deepEqual((await call(t.app, "/api/rooms", { token: d.token })).body.rooms, []);

  const room = mine.body.rooms[0].id;
  const invite = (u: { username: string }) =>
    call(t.app, `/api/rooms/${room}/members`, { token: a.token, body: { username: u.username } });
  assert.equal((await invite(b)).status, 201);
  assertLimited(await invite(c));
  assert.deepEqual((await call(t.app, "/api/invites", { token: c.token })).body.invitations, []);
  t.clock.advance(3_600_000);
  assert.equal((await create(t.app, "later")).status, 201, "the bucket refills");
});

Deno.test("typing past the limit is dropped quietly", async () => {
  await using t = await testApp({
    ...on,
    limits: { ...loadConfig({}).limits, typing: parseLimit("1/min:1") },
  });
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const id = await roomWith(server.url, a, [b]);
  const s = await SseClient.connect(server.url, b);
  try {
    await s.next("ready");
    for (let i = 0; i < 3; i++) {
      const res = await call(server.url, `/api/rooms/${id}/typing`, {
        token: a.token,
        method: "POST",
      });
      assert.equal(res.status, 204, "the sender is not told off");
    }
    await s.next("typing");
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(s.of("typing").length, 1, "the excess signals went nowhere");
  } finally {
    await s.close();
  }
});

Deno.test("registrations are limited per client address", async () => {
  await using t = await testApp({
    ...on,
    limits: { ...loadConfig({}).limits, registrations: parseLimit("1/h:2") },
  });
  await using server = serve(t.app.fetch);
  await registerUser(server.url);
  await registerUser(server.url);
  const third = await call(server.url, "/api/auth/register", {
    body: { username: "third_one", password: "password-123" },
  });
  assertLimited(third);
  const login = await call(server.url, "/api/auth/login", {
    body: { username: "third_one", password: "password-123" },
  });
  assert.equal(login.status, 401, "the refused registration created nothing");
});

Deno.test("a user's streams past the cap get 429", async () => {
  await using t = await testApp({ ...on, maxStreamsPerUser: 2 });
  await using server = serve(t.app.fetch);
  const a = await registerUser(server.url);
  const streams = [await SseClient.connect(server.url, a), await SseClient.connect(server.url, a)];
  try {
    const res = await fetch(`${server.url}/api/events`, {
      headers: { authorization: `Bearer ${a.token}` },
    });
    const body = await res.json();
    assertLimited({ status: res.status, headers: res.headers, body });
    await streams[0].close();
    await new Promise((r) => setTimeout(r, 100));
    streams[0] = await SseClient.connect(server.url, a);
    await streams[0].next("ready");
  } finally {
    await Promise.all(streams.map((s) => s.close()));
  }
});

Deno.test("20 concurrent wrong passwords for one account check at most 5", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const victim = await registerUser(server.url);
  const tries = await Promise.all(
    Array.from({ length: 20 }, () =>
      call(server.url, "/api/auth/login", {
        body: { username: victim.username, password: "wrong-password" },
      })),
  );
  const checked = tries.filter((r) => r.status === 401).length;
  const refused = tries.filter((r) => r.status === 429);
  assert.ok(checked <= 5, `${checked} were checked`);
  assert.equal(checked + refused.length, 20);
  for (const r of refused) assertLimited(r);
});

Deno.test("someone else's failures from other addresses never stop a user's correct password", async () => {
  await using t = await testApp({ trustedProxies: ["127.0.0.1"] });
  await using server = serve(t.app.fetch);
  const carol = await registerUser(server.url);
  const from = (address: string, password: string) =>
    call(server.url, "/api/auth/login", {
      headers: { "x-forwarded-for": address },
      body: { username: carol.username, password },
    });
  for (let i = 0; i < 10; i++) await from("203.0.113.9", "wrong-password");
  assert.equal((await from("203.0.113.9", "password-123")).status, 429, "the guesser is stopped");
  assert.equal((await from("198.51.100.7", "password-123")).status, 200, "carol is not");
  // Many usernames from one address: that address is stopped, for new names too.
  for (let i = 0; i < 30; i++) {
    await call(server.url, "/api/auth/login", {
      headers: { "x-forwarded-for": "192.0.2.44" },
      body: { username: `guess${i}`, password: "wrong-password" },
    });
  }
  assertLimited(
    await call(server.url, "/api/auth/login", {
      headers: { "x-forwarded-for": "192.0.2.44" },
      body: { username: carol.username, password: "password-123" },
    }),
  );
});

Deno.test("X-Forwarded-For and X-Forwarded-Proto are believed only from a trusted proxy", async () => {
  for (const trusted of [false, true]) {
    await using t = await testApp({ trustedProxies: trusted ? ["127.0.0.0/8"] : [] });
    await using server = serve(t.app.fetch);
    const res = await call(server.url, "/api/auth/register", {
      headers: { "x-forwarded-for": "198.51.100.20, 127.0.0.1", "x-forwarded-proto": "https" },
      body: { username: `proxied_${trusted}`, password: "password-123" },
    });
    assert.equal(res.status, 201);
    const sessions = await call(server.url, "/api/me/sessions", { token: res.body.token });
    assert.equal(sessions.body.sessions[0].address, trusted ? "198.51.100.20" : "127.0.0.1");
    const cookie = res.headers.get("set-cookie") ?? "";
    assert.equal(/;\s*Secure/i.test(cookie), trusted, "https only as the trusted proxy says");
  }
});

Deno.test("the same-origin check compares scheme, host and port", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const host = new URL(server.url).host;
  const logout = async (origin: string) => {
    const user = await registerUser(server.url);
    return call(server.url, "/api/auth/logout", {
      method: "POST",
      headers: { cookie: `parley_session=${user.token}`, origin },
    });
  };
  assert.equal((await logout(`https://${host}`)).status, 403, "another scheme");
  assert.equal((await logout(`http://${host.split(":")[0]}:1`)).status, 403, "another port");
  assert.equal((await logout(`http://${host}`)).status, 204);
});

Deno.test("room names refuse control characters and direction overrides, messages need a visible character", async () => {
  await using t = await testApp();
  const a = await registerUser(t.app);
  for (const name of ["a\u0000b", "two\nlines", "esc\u001b[2J", "abc\u202Eevil", "\u200b\u200b"]) {
    const res = await call(t.app, "/api/rooms", { token: a.token, body: { name } });
    assert.equal(res.status, 400, JSON.stringify(name));
    assert.equal(res.body.error.code, "invalid_input");
  }
  assert.deepEqual((await call(t.app, "/api/rooms", { token: a.token })).body.rooms, []);
  const id = await roomWith(t.app, a, [], { name: "ok room" });
  for (const text of ["\u200b\u200b\u200b", "\u3164", " \u2060 "]) {
    const res = await post(t.app, a.token, id, text);
    assert.equal(res.status, 400, JSON.stringify(text));
    assert.match(res.body.error.details[0].message, /visible character/);
  }
  assert.equal((await post(t.app, a.token, id, "\u200bhi")).status, 201);
  const history = await call(t.app, `/api/rooms/${id}/messages`, { token: a.token });
  assert.equal(history.body.messages.length, 1);
});

Deno.test("a stream whose client takes nothing is dropped and its connection closed", async () => {
  await using t = await testApp({
    streamStallMs: 300,
    keepAliveMs: 100,
    streamBufferBytes: 64 * 1024,
  });
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const id = await roomWith(server.url, a, [b]);
  const { port } = new URL(server.url);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
  await conn.write(
    new TextEncoder().encode(
      `GET /api/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${b.token}\r\n\r\n`,
    ),
  );
  try {
    const deadline = Date.now() + 30_000;
    while (t.app.services.hub.streamCount === 0) await new Promise((r) => setTimeout(r, 20));
    // Fill the socket's buffers and then the queue while nobody reads.
    const big = "x".repeat(3_900);
    while (t.app.services.hub.streamCount > 0) {
      assert.ok(Date.now() < deadline, "the stalled stream is dropped");
      await Promise.all(Array.from({ length: 40 }, () => post(server.url, a.token, id, big)));
    }
    // The server closed its end: reading what was sent reaches the end of the stream.
    const buf = new Uint8Array(256 * 1024);
    for (;;) {
      assert.ok(Date.now() < deadline, "the connection ends");
      if (await conn.read(buf) === null) break;
    }
  } finally {
    conn.close();
  }
});

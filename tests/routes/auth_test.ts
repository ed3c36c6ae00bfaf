import assert from "node:assert/strict";
import { userKey } from "../../lib/keys.ts";
import { call, registerUser, serve, testApp } from "../helpers.ts";

const password = "password-123";

Deno.test("[e2e] register → login → me → logout round trip over a real socket", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);

  const reg = await call(server.url, "/api/auth/register", {
    body: { username: "alice", password },
  });
  assert.equal(reg.status, 201);
  assert.match(reg.headers.get("content-type")!, /application\/json/);
  assert.equal(reg.body.user.username, "alice");
  assert.ok(reg.body.token.length >= 43, "a token carries at least 256 bits");

  const login = await call(server.url, "/api/auth/login", {
    body: { username: "ALICE", password },
  });
  assert.equal(login.status, 200);
  assert.deepEqual(login.body.user, reg.body.user);
  const cookie = login.headers.get("set-cookie")!;
  assert.match(cookie, /parley_session=/);
  assert.match(cookie, /HttpOnly/);
  assert.match(cookie, /SameSite=Lax/);
  assert.doesNotMatch(cookie, /Secure/, "plain http on loopback gets no Secure flag");

  const me = await call(server.url, "/api/me", { token: login.body.token });
  assert.equal(me.status, 200);
  assert.deepEqual(me.body.user, reg.body.user);

  const logout = await call(server.url, "/api/auth/logout", {
    method: "POST",
    token: login.body.token,
  });
  assert.equal(logout.status, 204);
  assert.equal((await call(server.url, "/api/me", { token: login.body.token })).status, 401);
  assert.equal((await call(server.url, "/api/me", { token: reg.body.token })).status, 200);
});

Deno.test("POST /api/auth/logout revokes the cookie too", async () => {
  await using t = await testApp();
  const reg = await registerUser(t.app);
  const cookie = { cookie: `parley_session=${reg.token}`, origin: "http://localhost" };
  assert.equal((await call(t.app, "/api/me", { headers: cookie })).status, 200);
  const out = await call(t.app, "/api/auth/logout", { method: "POST", headers: cookie });
  assert.equal(out.status, 204);
  assert.match(out.headers.get("set-cookie")!, /parley_session=;/);
  const after = await call(t.app, "/api/me", { headers: cookie });
  assert.equal(after.status, 401);
  assert.equal(after.body.error.code, "unauthorized");
});

Deno.test("a session expires after its lifetime", async () => {
  await using t = await testApp({ sessionTtlMs: 60_000 });
  const user = await registerUser(t.app);
  t.clock.advance(59_000);
  assert.equal((await call(t.app, "/api/me", { token: user.token })).status, 200);
  t.clock.advance(1_000);
  const res = await call(t.app, "/api/me", { token: user.token });
  assert.equal(res.status, 401);
  assert.equal(res.body.error.code, "unauthorized");
});

Deno.test("an unknown or missing token gets 401", async () => {
  await using t = await testApp();
  assert.equal((await call(t.app, "/api/me")).status, 401);
  assert.equal((await call(t.app, "/api/me", { token: "x".repeat(43) })).status, 401);
});

Deno.test("POST /api/auth/register refuses a taken username whatever its case", async () => {
  await using t = await testApp();
  await call(t.app, "/api/auth/register", { body: { username: "alice", password } });
  for (const username of ["alice", "Alice", "ALICE"]) {
    const res = await call(t.app, "/api/auth/register", { body: { username, password } });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, "username_taken");
  }
});

Deno.test("POST /api/auth/register lets only one of two racing registrations win", async () => {
  await using t = await testApp();
  const results = await Promise.all(
    ["bob", "BOB", "Bob"].map((username) =>
      call(t.app, "/api/auth/register", { body: { username, password } })
    ),
  );
  assert.deepEqual(results.map((r) => r.status).sort(), [201, 409, 409]);
});

Deno.test("POST /api/auth/register stores no clear password", async () => {
  await using t = await testApp();
  const user = await registerUser(t.app, "carol");
  const stored = (await t.kv.get<Record<string, unknown>>(userKey(user.id))).value!;
  const raw = JSON.stringify(stored);
  assert.ok(!raw.includes(password), "the password is not in the stored user");
  assert.match(String(stored.passwordHash), /^scrypt\$32768\$8\$1\$/);
});

Deno.test("POST /api/auth/register rejects bad input in the error shape and stores nothing", async () => {
  await using t = await testApp();
  const cases: [unknown, number, string][] = [
    ["{not json", 400, "malformed_json"],
    [{ username: 42, password }, 400, "invalid_input"],
    [{ username: "ab", password }, 400, "invalid_input"],
    [{ username: "a".repeat(33), password }, 400, "invalid_input"],
    [{ username: "no spaces", password }, 400, "invalid_input"],
    [{ username: "dave", password: "short" }, 400, "invalid_input"],
    [{ username: "dave", password: "p".repeat(129) }, 400, "invalid_input"],
    [{ username: "dave" }, 400, "invalid_input"],
    [[], 400, "invalid_input"],
    [{ username: "dave", password: "p".repeat(40_000) }, 413, "body_too_large"],
  ];
  for (const [body, status, code] of cases) {
    const res = await call(t.app, "/api/auth/register", { body });
    assert.equal(res.status, status, JSON.stringify(body).slice(0, 60));
    assert.equal(res.body.error.code, code);
    assert.equal(typeof res.body.error.message, "string");
  }
  await using server = serve(t.app.fetch);
  const wrongType = await call(server.url, "/api/auth/register", {
    body: JSON.stringify({ username: "dave", password }),
    headers: { "content-type": "text/plain" },
  });
  assert.equal(wrongType.status, 415);
  assert.equal(wrongType.body.error.code, "unsupported_media_type");
  const login = await call(t.app, "/api/auth/login", { body: { username: "dave", password } });
  assert.equal(login.status, 401, "no account was created by any bad request");
});

Deno.test("an oversized body without a declared length gets 413 over a real socket", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const chunk = new TextEncoder().encode("x".repeat(8192));
  const body = new ReadableStream({
    start(c) {
      for (let i = 0; i < 8; i++) c.enqueue(chunk);
      c.close();
    },
  });
  const res = await fetch(server.url + "/api/auth/register", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body,
  });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.code, "body_too_large");
});

Deno.test("POST /api/auth/login gives the same 401 for a wrong password and an unknown user", async () => {
  await using t = await testApp();
  await registerUser(t.app, "erin");
  const wrong = await call(t.app, "/api/auth/login", {
    body: { username: "erin", password: "wrong-password" },
  });
  const unknown = await call(t.app, "/api/auth/login", {
    body: { username: "nobody", password: "wrong-password" },
  });
  assert.equal(wrong.status, 401);
  assert.deepEqual(wrong.body, unknown.body);
  assert.equal(unknown.status, 401);
});

Deno.test("a cookie-authenticated POST from a foreign origin is refused", async () => {
  await using t = await testApp({ publicOrigin: "https://chat.example.com" });
  await using server = serve(t.app.fetch);
  const user = await registerUser(server.url);
  const host = new URL(server.url).host;
  const post = (headers: Record<string, string>) =>
    call(server.url, "/api/auth/logout", {
      method: "POST",
      headers: { cookie: `parley_session=${user.token}`, ...headers },
    });
  const foreign = await post({ origin: "https://evil.example" });
  assert.equal(foreign.status, 403);
  assert.equal(foreign.body.error.code, "cross_origin");
  assert.equal((await post({ "sec-fetch-site": "cross-site" })).status, 403);
  assert.equal((await post({})).status, 403, "no evidence of the origin is refused too");
  assert.equal((await call(server.url, "/api/me", { token: user.token })).status, 200);
  assert.equal((await post({ origin: "https://chat.example.com" })).status, 204);

  const again = await registerUser(server.url);
  const same = await call(server.url, "/api/auth/logout", {
    method: "POST",
    headers: { cookie: `parley_session=${again.token}`, origin: `http://${host}` },
  });
  assert.equal(same.status, 204);
});

Deno.test("a bearer-token POST needs no origin check", async () => {
  await using t = await testApp();
  const user = await registerUser(t.app);
  const res = await call(t.app, "/api/auth/logout", {
    method: "POST",
    token: user.token,
    headers: { origin: "https://elsewhere.example" },
  });
  assert.equal(res.status, 204);
});

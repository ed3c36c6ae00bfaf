// deno-lint-ignore-file no-explicit-any
/**
 * `/api/me`: blocking, presence privacy, sessions and the password, through
 * real HTTP and real streams (two instances where a session ends elsewhere).
 */
import assert from "node:assert/strict";
import {
  call,
  manualClock,
  post,
  registerUser,
  roomWith,
  serve,
  tempKvPath,
  testApp,
} from "../helpers.ts";
import { SseClient } from "../sse_client.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("blocking stops direct messages, invitations, typing and presence from the blocked user", async () => {
  await using t = await testApp({ presenceGraceMs: 50 });
  await using server = serve(t.app.fetch);
  const [me, pest, friend] = await Promise.all([1, 2, 3].map(() => registerUser(server.url)));
  const room = await roomWith(server.url, me, [pest, friend]);
  const dm = await call(server.url, `/api/direct/${me.username}`, {
    token: pest.token,
    method: "POST",
  });
  const mine = await SseClient.connect(server.url, me);
  try {
    await mine.next("ready");
    const blocked = await call(server.url, "/api/me/blocks", {
      token: me.token,
      body: { username: pest.username },
    });
    assert.equal(blocked.status, 201);
    assert.equal(blocked.body.block.user.id, pest.id);
    assert.deepEqual(await mine.next("block"), { user: blocked.body.block.user, blocked: true });
    const list = await call(server.url, "/api/me/blocks", { token: me.token });
    assert.deepEqual(list.body.blocks, [blocked.body.block]);

    const again = await call(server.url, `/api/direct/${me.username}`, {
      token: pest.token,
      method: "POST",
    });
    assert.equal(again.status, 403);
    assert.equal(again.body.error.code, "blocked");
    const write = await post(server.url, pest.token, dm.body.room.id, "you cannot hide");
    assert.equal(write.status, 403);
    assert.equal(write.body.error.code, "blocked");
    const own = await roomWith(server.url, pest, [], { name: "pest's room" });
    const invite = await call(server.url, `/api/rooms/${own}/members`, {
      token: pest.token,
      body: { username: me.username },
    });
    assert.equal(invite.body.error.code, "blocked");

    // Typing and presence of the blocked user do not reach the blocker; others' still do.
    for (const u of [pest, friend]) {
      await call(server.url, `/api/rooms/${room}/typing`, { token: u.token, method: "POST" });
    }
    const pestStream = await SseClient.connect(server.url, pest);
    const friendStream = await SseClient.connect(server.url, friend);
    await mine.next("presence", (p) => p.userId === friend.id);
    await sleep(300);
    assert.deepEqual(mine.of("typing").map((e) => e.user.id), [friend.id]);
    assert.ok(!mine.of("presence").some((p) => p.userId === pest.id), "no presence of pest");
    await pestStream.close();
    await friendStream.close();
    // Group messages still arrive: blocking is about reaching you, not about rooms.
    await post(server.url, pest.token, room, "in the room");
    assert.equal((await mine.next("message")).text, "in the room");

    const lifted = await call(server.url, `/api/me/blocks/${pest.id}`, {
      token: me.token,
      method: "DELETE",
    });
    assert.equal(lifted.status, 204);
    assert.equal((await mine.next("block", (e) => !e.blocked)).user.id, pest.id);
    assert.equal((await post(server.url, pest.token, dm.body.room.id, "sorry")).status, 201);
    await call(server.url, `/api/rooms/${room}/typing`, { token: pest.token, method: "POST" });
    assert.equal((await mine.next("typing", (e) => e.user.id === pest.id)).roomId, room);
  } finally {
    await mine.close();
  }
});

Deno.test("blocking yourself or nobody is refused", async () => {
  await using t = await testApp();
  const me = await registerUser(t.app);
  const self = await call(t.app, "/api/me/blocks", {
    token: me.token,
    body: { username: me.username },
  });
  assert.equal(self.status, 400);
  const nobody = await call(t.app, "/api/me/blocks", {
    token: me.token,
    body: { username: "no_such_user" },
  });
  assert.equal(nobody.status, 404);
  assert.deepEqual((await call(t.app, "/api/me/blocks", { token: me.token })).body.blocks, []);
});

Deno.test("presence shown to contacts only is hidden from everyone else", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [shy, contact, stranger] = await Promise.all([1, 2, 3].map(() => registerUser(server.url)));
  await roomWith(server.url, shy, [contact]);
  const set = await call(server.url, "/api/me", {
    token: shy.token,
    method: "PATCH",
    body: { presenceVisibility: "contacts" },
  });
  assert.equal(set.status, 200);
  assert.equal(set.body.presenceVisibility, "contacts");
  const bad = await call(server.url, "/api/me", {
    token: shy.token,
    method: "PATCH",
    body: { presenceVisibility: "nobody" },
  });
  assert.equal(bad.status, 400);
  const s = await SseClient.connect(server.url, shy);
  try {
    await s.next("ready");
    await sleep(200);
    const seenBy = async (u: { token: string }) =>
      (await call(server.url, "/api/users?online=true", { token: u.token })).body.users
        .some((x: any) => x.id === shy.id);
    assert.equal(await seenBy(contact), true);
    assert.equal(await seenBy(stranger), false);
    const all = await call(server.url, "/api/users", { token: stranger.token });
    assert.deepEqual(all.body.users.find((x: any) => x.id === shy.id), {
      id: shy.id,
      username: shy.username,
      online: false,
      lastSeen: null,
    });
    assert.equal(
      (await call(server.url, "/api/me", { token: shy.token })).body.presenceVisibility,
      "contacts",
    );
  } finally {
    await s.close();
  }
});

Deno.test("GET /api/me/sessions lists sessions with device and address, this one marked", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const me = await registerUser(server.url);
  t.clock.advance(1_000);
  const other = await call(server.url, "/api/auth/login", {
    headers: { "user-agent": "Parley test phone" },
    body: { username: me.username, password: "password-123" },
  });
  const res = await call(server.url, "/api/me/sessions", { token: me.token });
  assert.equal(res.status, 200);
  const sessions = res.body.sessions;
  assert.equal(sessions.length, 2);
  assert.deepEqual(sessions.map((s: any) => s.current).sort(), [false, true]);
  const phone = sessions.find((s: any) => !s.current);
  assert.equal(phone.device, "Parley test phone");
  assert.equal(phone.address, "127.0.0.1");
  assert.equal(phone.createdAt, t.clock());
  const fromPhone = await call(server.url, "/api/me/sessions", { token: other.body.token });
  assert.equal(fromPhone.body.sessions.find((s: any) => s.current).id, phone.id);
});

Deno.test("ending a session ends its token and its streams, on another instance too", async () => {
  await using file = await tempKvPath();
  const clock = manualClock(Date.now());
  await using one = await testApp({}, { path: file.path, clock });
  await using two = await testApp({}, { path: file.path, clock });
  await using s1 = serve(one.app.fetch);
  await using s2 = serve(two.app.fetch);
  const me = await registerUser(s1.url);
  const phone = await call(s1.url, "/api/auth/login", {
    body: { username: me.username, password: "password-123" },
  });
  const stream = await SseClient.connect(s2.url, { token: phone.body.token });
  const kept = await SseClient.connect(s2.url, me);
  try {
    await stream.next("ready");
    const list = (await call(s1.url, "/api/me/sessions", { token: me.token })).body.sessions;
    const target = list.find((s: any) => !s.current).id;
    const ended = await call(s1.url, `/api/me/sessions/${target}`, {
      token: me.token,
      method: "DELETE",
    });
    assert.equal(ended.status, 204);
    await stream.until(() => stream.closed, 5_000, "the ended session's stream to end");
    assert.equal(kept.closed, false, "the other session's stream stays");
    for (const url of [s1.url, s2.url]) {
      assert.equal((await call(url, "/api/me", { token: phone.body.token })).status, 401);
    }
    const unknown = await call(s1.url, `/api/me/sessions/${target}`, {
      token: me.token,
      method: "DELETE",
    });
    assert.equal(unknown.status, 404);
  } finally {
    await stream.close();
    await kept.close();
  }
});

Deno.test("POST /api/me/logout-all ends every session", async () => {
  await using t = await testApp();
  const me = await registerUser(t.app);
  const other = await call(t.app, "/api/auth/login", {
    body: { username: me.username, password: "password-123" },
  });
  assert.equal(
    (await call(t.app, "/api/me/logout-all", { token: me.token, method: "POST" })).status,
    204,
  );
  for (const token of [me.token, other.body.token]) {
    assert.equal((await call(t.app, "/api/me", { token })).status, 401);
  }
});

Deno.test("POST /api/me/password needs the current password and ends every other session", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const me = await registerUser(server.url);
  const other = await call(server.url, "/api/auth/login", {
    body: { username: me.username, password: "password-123" },
  });
  const stream = await SseClient.connect(server.url, { token: other.body.token });
  try {
    await stream.next("ready");
    const wrong = await call(server.url, "/api/me/password", {
      token: me.token,
      body: { current: "not-it-at-all", new: "new-password-456" },
    });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.code, "bad_credentials");
    const short = await call(server.url, "/api/me/password", {
      token: me.token,
      body: { current: "password-123", new: "short" },
    });
    assert.equal(short.status, 400);
    assert.equal((await call(server.url, "/api/me", { token: other.body.token })).status, 200);

    const changed = await call(server.url, "/api/me/password", {
      token: me.token,
      body: { current: "password-123", new: "new-password-456" },
    });
    assert.equal(changed.status, 204);
    await stream.until(() => stream.closed, 5_000, "the other session's stream to end");
    assert.equal((await call(server.url, "/api/me", { token: other.body.token })).status, 401);
    assert.equal((await call(server.url, "/api/me", { token: me.token })).status, 200);
    const login = (password: string) =>
      call(server.url, "/api/auth/login", { body: { username: me.username, password } });
    assert.equal((await login("password-123")).status, 401);
    assert.equal((await login("new-password-456")).status, 200);
  } finally {
    await stream.close();
  }
});

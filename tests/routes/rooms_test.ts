// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { call, post, registerUser, roomWith, testApp } from "../helpers.ts";

Deno.test("[e2e] POST /api/rooms creates a group room owned by its creator", async () => {
  await using t = await testApp();
  const alice = await registerUser(t.app);
  const res = await call(t.app, "/api/rooms", { token: alice.token, body: { name: " general " } });
  assert.equal(res.status, 201);
  const room = res.body.room;
  assert.equal(room.name, "general");
  assert.equal(room.kind, "group");
  assert.equal(room.capacity, 100);
  assert.equal(room.private, false);
  assert.equal(room.memberCount, 1);
  assert.equal(room.ownerId, alice.id);
  const members = await call(t.app, `/api/rooms/${room.id}/members`, { token: alice.token });
  assert.deepEqual(members.body.members.map((m: any) => [m.username, m.role]), [
    [alice.username, "owner"],
  ]);
});

Deno.test("POST /api/rooms rejects bad input and creates nothing", async () => {
  await using t = await testApp();
  const alice = await registerUser(t.app);
  for (
    const body of [
      {},
      { name: "   " },
      { name: "x".repeat(81) },
      { name: "a", capacity: 1 },
      {
        name: "a",
        capacity: 1001,
      },
      { name: "a", capacity: 2.5 },
      { name: "a", private: "yes" },
    ]
  ) {
    const res = await call(t.app, "/api/rooms", { token: alice.token, body });
    assert.equal(res.status, 400, JSON.stringify(body));
    assert.equal(res.body.error.code, "invalid_input");
  }
  assert.deepEqual((await call(t.app, "/api/rooms", { token: alice.token })).body.rooms, []);
  assert.equal((await call(t.app, "/api/rooms", { body: { name: "x" } })).status, 401);
});

Deno.test("POST /api/rooms/:id/join answers 404, 409 and 403, and joining twice is harmless", async () => {
  await using t = await testApp();
  const [owner, a, b, c] = await Promise.all([1, 2, 3, 4].map(() => registerUser(t.app)));
  const join = (u: { token: string }, id: string) =>
    call(t.app, `/api/rooms/${id}/join`, { token: u.token, method: "POST" });

  const unknown = await join(a, "no-such-room");
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.error.code, "room_not_found");

  const small = await roomWith(t.app, owner, [], { name: "small", capacity: 2 });
  assert.equal((await join(a, small)).status, 200);
  const again = await join(a, small);
  assert.equal(again.status, 200);
  assert.equal(again.body.room.memberCount, 2, "a second join adds nobody");
  const full = await join(b, small);
  assert.equal(full.status, 409);
  assert.equal(full.body.error.code, "room_full");

  const secret = await roomWith(t.app, owner, [], { name: "secret", private: true });
  const refused = await join(c, secret);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error.code, "private_room");
  const members = await call(t.app, `/api/rooms/${secret}/members`, { token: owner.token });
  assert.equal(members.body.members.length, 1, "the refused join changed nothing");
});

Deno.test("many users racing to join never overfill a room", async () => {
  await using t = await testApp();
  const owner = await registerUser(t.app);
  const users = await Promise.all(Array.from({ length: 12 }, () => registerUser(t.app)));
  const id = await roomWith(t.app, owner, [], { name: "tight", capacity: 5 });
  const results = await Promise.all(
    users.map((u) => call(t.app, `/api/rooms/${id}/join`, { token: u.token, method: "POST" })),
  );
  assert.equal(results.filter((r) => r.status === 200).length, 4);
  assert.equal(results.filter((r) => r.status === 409).length, 8);
  const room = await call(t.app, `/api/rooms/${id}`, { token: owner.token });
  assert.equal(room.body.room.memberCount, 5);
  const members = await call(t.app, `/api/rooms/${id}/members`, { token: owner.token });
  assert.equal(members.body.members.length, 5);
});

Deno.test("POST /api/rooms/:id/members lets only the owner invite; the invitee joins on accepting", async () => {
  await using t = await testApp();
  const [owner, guest, outsider] = await Promise.all([1, 2, 3].map(() => registerUser(t.app)));
  const id = await roomWith(t.app, owner, [], { name: "private", private: true });
  const invite = (by: { token: string }, username: string) =>
    call(t.app, `/api/rooms/${id}/members`, { token: by.token, body: { username } });

  const byOutsider = await invite(outsider, guest.username);
  assert.equal(byOutsider.status, 403);
  assert.equal((await invite(owner, "nobody_here")).status, 404);
  assert.equal((await invite(owner, "bad name!")).status, 400);

  const ok = await invite(owner, guest.username.toUpperCase());
  assert.equal(ok.status, 201);
  assert.deepEqual(ok.body.invitation, {
    roomId: id,
    roomName: "private",
    private: true,
    by: { id: owner.id, username: owner.username },
    createdAt: t.clock(),
  });
  assert.deepEqual((await invite(owner, guest.username)).body, ok.body, "twice is one invitation");
  // Until they accept, the invitee is not a member and sees nothing of the room.
  assert.equal((await call(t.app, `/api/rooms/${id}`, { token: guest.token })).status, 403);
  const pending = await call(t.app, "/api/invites", { token: guest.token });
  assert.deepEqual(pending.body.invitations, [ok.body.invitation]);
  const accepted = await call(t.app, `/api/invites/${id}/accept`, {
    token: guest.token,
    method: "POST",
  });
  assert.equal(accepted.status, 200);
  assert.equal(accepted.body.room.memberCount, 2);
  assert.deepEqual(
    (await call(t.app, "/api/invites", { token: guest.token })).body.invitations,
    [],
  );
  assert.equal((await call(t.app, `/api/rooms/${id}`, { token: guest.token })).status, 200);
  assert.equal((await invite(owner, guest.username)).status, 409, "a member already");

  const byGuest = await invite(guest, outsider.username);
  assert.equal(byGuest.status, 403, "members who are not the owner cannot invite");

  // Leaving a private room ends the invitation; the owner can invite again.
  assert.equal(
    (await call(t.app, `/api/rooms/${id}/leave`, { token: guest.token, method: "POST" })).status,
    204,
  );
  const back = await call(t.app, `/api/rooms/${id}/join`, { token: guest.token, method: "POST" });
  assert.equal(back.status, 403);
  assert.equal((await invite(owner, guest.username)).status, 201);
  // Joining with an invitation is accepting it.
  const rejoined = await call(t.app, `/api/rooms/${id}/join`, {
    token: guest.token,
    method: "POST",
  });
  assert.equal(rejoined.body.room.memberCount, 2);
  const no = await call(t.app, `/api/rooms/${id}/join`, { token: outsider.token, method: "POST" });
  assert.equal(no.status, 403);
});

Deno.test("GET /api/rooms/public lists public rooms only, with member counts", async () => {
  await using t = await testApp();
  const [a, b] = await Promise.all([1, 2].map(() => registerUser(t.app)));
  const open = await roomWith(t.app, a, [b], { name: "open" });
  await roomWith(t.app, a, [], { name: "closed", private: true });
  await call(t.app, `/api/direct/${b.username}`, { token: a.token, method: "POST" });
  const res = await call(t.app, "/api/rooms/public", { token: b.token });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body.rooms.map((r: any) => [r.id, r.name, r.memberCount]), [
    [open, "open", 2],
  ]);
  assert.equal((await call(t.app, "/api/rooms/public?limit=0", { token: b.token })).status, 400);
});

Deno.test("members lists and room details are for members only", async () => {
  await using t = await testApp();
  const [a, b] = await Promise.all([1, 2].map(() => registerUser(t.app)));
  const id = await roomWith(t.app, a, []);
  for (
    const path of [`/api/rooms/${id}/members`, `/api/rooms/${id}`, `/api/rooms/${id}/messages`]
  ) {
    const res = await call(t.app, path, { token: b.token });
    assert.equal(res.status, 403, path);
    assert.equal(res.body.error.code, "not_member");
  }
  assert.equal((await call(t.app, "/api/rooms/nope/members", { token: b.token })).status, 404);
});

Deno.test("POST /api/rooms/:id/leave removes the member, who can no longer post", async () => {
  await using t = await testApp();
  const [a, b] = await Promise.all([1, 2].map(() => registerUser(t.app)));
  const id = await roomWith(t.app, a, [b]);
  const left = await call(t.app, `/api/rooms/${id}/leave`, { token: b.token, method: "POST" });
  assert.equal(left.status, 204);
  assert.equal((await post(t.app, b.token, id, "still here?")).status, 403);
  assert.deepEqual((await call(t.app, "/api/rooms", { token: b.token })).body.rooms, []);
  const room = await call(t.app, `/api/rooms/${id}`, { token: a.token });
  assert.equal(room.body.room.memberCount, 1);
});

Deno.test("POST /api/direct/:username is one room from both sides", async () => {
  await using t = await testApp();
  const [a, b] = await Promise.all([1, 2].map(() => registerUser(t.app)));
  const first = await call(t.app, `/api/direct/${b.username}`, { token: a.token, method: "POST" });
  assert.equal(first.status, 201);
  assert.equal(first.body.room.kind, "direct");
  assert.equal(first.body.room.name, b.username);
  assert.deepEqual(first.body.room.peer, { id: b.id, username: b.username });
  const again = await call(t.app, `/api/direct/${b.username}`, { token: a.token, method: "POST" });
  assert.equal(again.status, 200);
  const other = await call(t.app, `/api/direct/${a.username}`, { token: b.token, method: "POST" });
  assert.equal(other.status, 200);
  assert.equal(other.body.room.id, first.body.room.id);
  assert.equal(other.body.room.name, a.username);

  const racing = await Promise.all(
    [1, 2, 3, 4].map(async () => {
      const [x, y] = await Promise.all([registerUser(t.app), registerUser(t.app)]);
      return Promise.all([
        call(t.app, `/api/direct/${y.username}`, { token: x.token, method: "POST" }),
        call(t.app, `/api/direct/${x.username}`, { token: y.token, method: "POST" }),
      ]);
    }),
  );
  for (const [r1, r2] of racing) {
    assert.equal(r1.body.room.id, r2.body.room.id, "racing openers get the same room");
    assert.deepEqual([r1.status, r2.status].sort(), [200, 201]);
  }

  const missing = await call(t.app, `/api/direct/nobody_here`, { token: a.token, method: "POST" });
  assert.equal(missing.status, 404);
  assert.equal(missing.body.error.code, "user_not_found");
  const self = await call(t.app, `/api/direct/${a.username}`, { token: a.token, method: "POST" });
  assert.equal(self.status, 400);
  const c = await registerUser(t.app);
  const peek = await call(t.app, `/api/rooms/${first.body.room.id}/join`, {
    token: c.token,
    method: "POST",
  });
  assert.equal(peek.status, 403, "nobody else can join a DM");
});

Deno.test("unread counts are right after an offline period and after reading", async () => {
  await using t = await testApp();
  const [a, b] = await Promise.all([1, 2].map(() => registerUser(t.app)));
  const general = await roomWith(t.app, a, [b], { name: "general" });
  const dm = (await call(t.app, `/api/direct/${b.username}`, { token: a.token, method: "POST" }))
    .body.room.id;

  // b is away (no stream open) while a writes.
  for (let i = 1; i <= 5; i++) await post(t.app, a.token, general, `general ${i}`);
  t.clock.advance(1000);
  for (let i = 1; i <= 3; i++) await post(t.app, a.token, dm, `dm ${i}`);

  const rooms = (await call(t.app, "/api/rooms", { token: b.token })).body.rooms;
  assert.deepEqual(rooms.map((r: any) => [r.id, r.unread]), [[dm, 3], [general, 5]]);
  assert.equal(rooms[0].lastMessage.text, "dm 3");
  assert.equal((await call(t.app, "/api/me", { token: b.token })).body.unread, 8);
  const mine = (await call(t.app, "/api/rooms", { token: a.token })).body.rooms;
  assert.deepEqual(mine.map((r: any) => r.unread), [0, 0], "one's own messages are read");

  const read = await call(t.app, `/api/rooms/${general}/read`, {
    token: b.token,
    body: { seq: 3 },
  });
  assert.equal(read.status, 200);
  assert.equal(read.body.room.unread, 2);
  const back = await call(t.app, `/api/rooms/${general}/read`, {
    token: b.token,
    body: { seq: 1 },
  });
  assert.equal(back.body.room.unread, 2, "the marker never moves back");
  const past = await call(t.app, `/api/rooms/${general}/read`, {
    token: b.token,
    body: { seq: 9 },
  });
  assert.equal(past.status, 400);
  await call(t.app, `/api/rooms/${dm}/read`, { token: b.token, body: { seq: 3 } });
  assert.equal((await call(t.app, "/api/me", { token: b.token })).body.unread, 2);

  // A new member starts with nothing unread but sees the history.
  const c = await registerUser(t.app);
  await call(t.app, `/api/rooms/${general}/join`, { token: c.token, method: "POST" });
  assert.equal((await call(t.app, "/api/me", { token: c.token })).body.unread, 0);
  const history = await call(t.app, `/api/rooms/${general}/messages`, { token: c.token });
  assert.equal(history.body.messages.length, 5);
  await post(t.app, a.token, general, "welcome");
  assert.equal((await call(t.app, "/api/me", { token: c.token })).body.unread, 1);
});

Deno.test("a user is in many rooms at once, most recent activity first", async () => {
  await using t = await testApp();
  const [a, b] = await Promise.all([1, 2].map(() => registerUser(t.app)));
  const ids = [];
  for (let i = 0; i < 4; i++) {
    ids.push(await roomWith(t.app, a, [b], { name: `room ${i}` }));
    t.clock.advance(10);
  }
  t.clock.advance(10);
  await post(t.app, a.token, ids[1], "bump");
  const rooms = (await call(t.app, "/api/rooms", { token: b.token })).body.rooms;
  assert.deepEqual(rooms.map((r: any) => r.id), [ids[1], ids[3], ids[2], ids[0]]);
});

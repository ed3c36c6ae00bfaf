// deno-lint-ignore-file no-explicit-any
/**
 * Consent: invitations, leaving any room (direct conversations too), and
 * what happens to a room when its owner leaves.
 */
import assert from "node:assert/strict";
import { call, post, registerUser, roomWith, serve, testApp } from "../helpers.ts";
import { SseClient } from "../sse_client.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("an invited user sees nothing of the room until they accept", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [owner, guest] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const id = await roomWith(server.url, owner, [], { name: "plans", private: true });
  const s = await SseClient.connect(server.url, guest);
  try {
    await s.next("ready");
    const sent = await call(server.url, `/api/rooms/${id}/members`, {
      token: owner.token,
      body: { username: guest.username },
    });
    assert.equal(sent.status, 201);
    const invited = await s.next("invite");
    assert.deepEqual(invited, { invitation: sent.body.invitation, status: "pending" });
    await post(server.url, owner.token, id, "before you accepted");
    for (
      const path of [`/api/rooms/${id}`, `/api/rooms/${id}/messages`, `/api/rooms/${id}/members`]
    ) {
      const res = await call(server.url, path, { token: guest.token });
      assert.equal(res.status, 403, path);
      assert.equal(res.body.error.code, "not_member");
    }
    assert.deepEqual((await call(server.url, "/api/rooms", { token: guest.token })).body.rooms, []);
    assert.equal((await post(server.url, guest.token, id, "let me in")).status, 403);
    await sleep(200);
    assert.deepEqual(s.of("message"), [], "no message of the room reached the invitee");

    const accepted = await call(server.url, `/api/invites/${id}/accept`, {
      token: guest.token,
      method: "POST",
    });
    assert.equal(accepted.status, 200);
    assert.equal(accepted.body.room.memberCount, 2);
    assert.equal((await s.next("invite", (e) => e.status === "accepted")).invitation.roomId, id);
    assert.equal((await s.next("room")).room.id, id);
    await post(server.url, owner.token, id, "welcome");
    assert.equal((await s.next("message")).text, "welcome");
    const again = await call(server.url, `/api/invites/${id}/accept`, {
      token: guest.token,
      method: "POST",
    });
    assert.equal(again.status, 200, "accepting twice is harmless");
  } finally {
    await s.close();
  }
});

Deno.test("declining removes the invitation; a private room then stays closed", async () => {
  await using t = await testApp();
  const [owner, guest] = await Promise.all([registerUser(t.app), registerUser(t.app)]);
  const id = await roomWith(t.app, owner, [], { name: "plans", private: true });
  await call(t.app, `/api/rooms/${id}/members`, {
    token: owner.token,
    body: { username: guest.username },
  });
  const declined = await call(t.app, `/api/invites/${id}/decline`, {
    token: guest.token,
    method: "POST",
  });
  assert.equal(declined.status, 204);
  assert.deepEqual(
    (await call(t.app, "/api/invites", { token: guest.token })).body.invitations,
    [],
  );
  const join = await call(t.app, `/api/rooms/${id}/join`, { token: guest.token, method: "POST" });
  assert.equal(join.status, 403);
  const noMore = await call(t.app, `/api/invites/${id}/accept`, {
    token: guest.token,
    method: "POST",
  });
  assert.equal(noMore.status, 404);
  assert.equal(noMore.body.error.code, "no_invitation");
  const members = await call(t.app, `/api/rooms/${id}/members`, { token: owner.token });
  assert.equal(members.body.members.length, 1);
});

Deno.test("a direct conversation can be left, and comes back when the other side writes", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [ann, bob] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const dm = await call(server.url, `/api/direct/${bob.username}`, {
    token: ann.token,
    method: "POST",
  });
  const id = dm.body.room.id;
  await post(server.url, ann.token, id, "hello");
  const left = await call(server.url, `/api/rooms/${id}/leave`, {
    token: bob.token,
    method: "POST",
  });
  assert.equal(left.status, 204);
  assert.deepEqual((await call(server.url, "/api/rooms", { token: bob.token })).body.rooms, []);
  const s = await SseClient.connect(server.url, bob);
  try {
    await s.next("ready");
    await post(server.url, ann.token, id, "are you there?");
    const back = await s.next("room");
    assert.equal(back.room.id, id);
    assert.equal((await s.next("message")).text, "are you there?");
    const rooms = (await call(server.url, "/api/rooms", { token: bob.token })).body.rooms;
    assert.equal(rooms.length, 1);
    assert.equal(rooms[0].unread, 2, "what came while it was hidden is unread");
    assert.equal(rooms[0].memberCount, 2);
  } finally {
    await s.close();
  }
  // Leaving and opening it again from one's own side works too.
  await call(server.url, `/api/rooms/${id}/leave`, { token: ann.token, method: "POST" });
  const reopened = await call(server.url, `/api/direct/${bob.username}`, {
    token: ann.token,
    method: "POST",
  });
  assert.equal(reopened.body.room.id, id);
  assert.equal((await post(server.url, ann.token, id, "back")).status, 201);
});

Deno.test("an owner who leaves hands the room to the longest-standing member; an empty room leaves the directory", async () => {
  await using t = await testApp();
  const [owner, first, second] = await Promise.all([1, 2, 3].map(() => registerUser(t.app)));
  const id = await roomWith(t.app, owner, [], { name: "handover" });
  await call(t.app, `/api/rooms/${id}/join`, { token: first.token, method: "POST" });
  t.clock.advance(1_000);
  await call(t.app, `/api/rooms/${id}/join`, { token: second.token, method: "POST" });
  await call(t.app, `/api/rooms/${id}/leave`, { token: owner.token, method: "POST" });
  const room = await call(t.app, `/api/rooms/${id}`, { token: first.token });
  assert.equal(room.body.room.ownerId, first.id);
  const members = await call(t.app, `/api/rooms/${id}/members`, { token: first.token });
  assert.deepEqual(
    members.body.members.map((m: any) => [m.id, m.role]).sort(),
    [[first.id, "owner"], [second.id, "member"]].sort(),
  );
  // The new owner can invite.
  const invited = await call(t.app, `/api/rooms/${id}/members`, {
    token: first.token,
    body: { username: owner.username },
  });
  assert.equal(invited.status, 201);

  const directory = () => call(t.app, "/api/rooms/public", { token: first.token });
  assert.ok((await directory()).body.rooms.some((r: any) => r.id === id));
  for (const u of [first, second]) {
    await call(t.app, `/api/rooms/${id}/leave`, { token: u.token, method: "POST" });
  }
  assert.ok(!(await directory()).body.rooms.some((r: any) => r.id === id), "gone when empty");
});

Deno.test("someone who blocked you cannot be invited by you", async () => {
  await using t = await testApp();
  const [owner, target] = await Promise.all([registerUser(t.app), registerUser(t.app)]);
  const id = await roomWith(t.app, owner, []);
  await call(t.app, "/api/me/blocks", { token: target.token, body: { username: owner.username } });
  const res = await call(t.app, `/api/rooms/${id}/members`, {
    token: owner.token,
    body: { username: target.username },
  });
  assert.equal(res.status, 403);
  assert.equal(res.body.error.code, "blocked");
  assert.deepEqual(
    (await call(t.app, "/api/invites", { token: target.token })).body.invitations,
    [],
  );
});

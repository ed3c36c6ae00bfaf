// deno-lint-ignore-file no-explicit-any
/**
 * Moderation through the real path: edits and deletions, roles, kicks and
 * bans (across two instances), administrators, the audit log and the
 * content filter.
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

type U = { id: string; username: string; token: string };

async function setRole(target: any, room: string, by: U, user: U, role: string) {
  return await call(target, `/api/rooms/${room}/members/${user.id}/role`, {
    token: by.token,
    method: "PUT",
    body: { role },
  });
}

Deno.test("the author edits and deletes; others cannot; history keeps a gapless tombstone", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [author, other] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const id = await roomWith(server.url, author, [other]);
  for (const text of ["one", "two", "three"]) await post(server.url, author.token, id, text);
  const s = await SseClient.connect(server.url, other);
  try {
    await s.next("ready");
    t.clock.advance(5_000);
    const edit = (u: U, seq: number, text: string) =>
      call(server.url, `/api/rooms/${id}/messages/${seq}`, {
        token: u.token,
        method: "PATCH",
        body: { text },
      });
    const edited = await edit(author, 2, "two, fixed");
    assert.equal(edited.status, 200);
    assert.equal(edited.body.message.text, "two, fixed");
    assert.equal(edited.body.message.editedAt, t.clock());
    assert.deepEqual(await s.next("message_update"), edited.body.message);
    const refused = await edit(other, 2, "not yours");
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, "forbidden");
    assert.equal((await edit(author, 2, "x".repeat(4001))).status, 400);
    assert.equal((await edit(author, 99, "nothing there")).status, 404);

    const del = (u: U, seq: number) =>
      call(server.url, `/api/rooms/${id}/messages/${seq}`, { token: u.token, method: "DELETE" });
    assert.equal((await del(other, 3)).status, 403, "a member cannot delete another's message");
    assert.equal((await del(author, 3)).status, 204);
    const tombstone = await s.next("message_update", (m) => m.deleted);
    assert.deepEqual(
      { seq: tombstone.seq, text: tombstone.text, deleted: tombstone.deleted },
      { seq: 3, text: "", deleted: true },
    );
    const history = await call(server.url, `/api/rooms/${id}/messages`, { token: other.token });
    assert.deepEqual(history.body.messages.map((m: any) => [m.seq, m.text, m.deleted ?? false]), [
      [1, "one", false],
      [2, "two, fixed", false],
      [3, "", true],
    ]);
    const rooms = await call(server.url, "/api/rooms", { token: other.token });
    assert.equal(rooms.body.rooms[0].unread, 3, "edits and deletions leave unread counts alone");
    assert.equal(
      rooms.body.rooms[0].lastMessage.deleted,
      true,
      "the room list shows the tombstone",
    );
    assert.equal((await edit(author, 3, "back from the dead")).status, 403);
  } finally {
    await s.close();
  }
});

Deno.test("message_update replays on resume like any other event", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [author, other] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const id = await roomWith(server.url, author, [other]);
  await post(server.url, author.token, id, "typo");
  const s = await SseClient.connect(server.url, other);
  await s.next("ready");
  const from = s.lastEventId;
  await s.close();
  await call(server.url, `/api/rooms/${id}/messages/1`, {
    token: author.token,
    method: "PATCH",
    body: { text: "fixed" },
  });
  const again = await SseClient.connect(server.url, { token: other.token, lastEventId: from });
  try {
    assert.equal((await again.next("message_update")).text, "fixed");
    assert.equal(again.events[0].event, "message_update", "no reset: an exact resume");
  } finally {
    await again.close();
  }
});

Deno.test("moderators delete others' messages, on the audit log; roles are the owner's to give", async () => {
  await using t = await testApp();
  const [owner, mod, member, other] = await Promise.all(
    [1, 2, 3, 4].map(() => registerUser(t.app)),
  );
  const id = await roomWith(t.app, owner, [mod, member, other]);
  assert.equal((await setRole(t.app, id, member, other, "moderator")).status, 403);
  assert.equal((await setRole(t.app, id, owner, mod, "moderator")).status, 204);
  assert.equal((await setRole(t.app, id, mod, member, "moderator")).status, 403, "owner only");
  const members = await call(t.app, `/api/rooms/${id}/members`, { token: member.token });
  assert.equal(members.body.members.find((m: any) => m.id === mod.id).role, "moderator");

  await post(t.app, member.token, id, "spam");
  const del = await call(t.app, `/api/rooms/${id}/messages/1`, {
    token: mod.token,
    method: "DELETE",
  });
  assert.equal(del.status, 204);
  const audit = await call(t.app, `/api/rooms/${id}/audit`, { token: owner.token });
  assert.equal(audit.status, 200);
  assert.deepEqual(
    audit.body.entries.map((e: any) => [e.action, e.actor.id, e.target.userId ?? null]),
    [["delete_message", mod.id, member.id], ["role", owner.id, mod.id]],
  );
  assert.equal(audit.body.entries[0].seq, 1);
  assert.equal((await call(t.app, `/api/rooms/${id}/audit`, { token: member.token })).status, 403);
});

Deno.test("handing the room over makes the former owner a moderator", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [owner, heir] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const id = await roomWith(server.url, owner, [heir]);
  const s = await SseClient.connect(server.url, heir);
  try {
    await s.next("ready");
    assert.equal((await setRole(server.url, id, owner, heir, "owner")).status, 204);
    const changes = [
      await s.next("member", (e) => e.action === "role"),
      await s.next("member", (e) => e.action === "role"),
    ];
    assert.deepEqual(
      changes.map((e) => [e.user.id, e.role, e.ownerId]).sort(),
      [[heir.id, "owner", heir.id], [owner.id, "moderator", heir.id]].sort(),
    );
    const room = await call(server.url, `/api/rooms/${id}`, { token: owner.token });
    assert.equal(room.body.room.ownerId, heir.id);
    assert.equal((await setRole(server.url, id, owner, heir, "member")).status, 403);
  } finally {
    await s.close();
  }
});

Deno.test("a kick removes the member, who may rejoin; nobody kicks the owner or an equal", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [owner, mod, mod2, member] = await Promise.all(
    [1, 2, 3, 4].map(() => registerUser(server.url)),
  );
  const id = await roomWith(server.url, owner, [mod, mod2, member]);
  await setRole(server.url, id, owner, mod, "moderator");
  await setRole(server.url, id, owner, mod2, "moderator");
  const kick = (by: U, u: U) =>
    call(server.url, `/api/rooms/${id}/members/${u.id}`, { token: by.token, method: "DELETE" });
  assert.equal((await kick(member, mod)).status, 403);
  assert.equal((await kick(mod, owner)).status, 403, "never the owner");
  assert.equal((await kick(mod, mod2)).status, 403, "never an equal");
  const s = await SseClient.connect(server.url, member);
  try {
    await s.next("ready");
    assert.equal((await kick(mod, member)).status, 204);
    const told = await s.next("member", (e) => e.user.id === member.id);
    assert.equal(told.action, "removed");
    await post(server.url, owner.token, id, "after the kick");
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(s.of("message"), [], "the room no longer reaches their stream");
    const back = await call(server.url, `/api/rooms/${id}/join`, {
      token: member.token,
      method: "POST",
    });
    assert.equal(back.status, 200, "a kicked member may rejoin a public room");
  } finally {
    await s.close();
  }
  assert.equal((await kick(owner, mod)).status, 204, "the owner may remove a moderator");
});

Deno.test("a ban refuses rejoining, invitations and posting until it ends, or until lifted", async () => {
  await using t = await testApp();
  const [owner, troll] = await Promise.all([registerUser(t.app), registerUser(t.app)]);
  const id = await roomWith(t.app, owner, [troll]);
  const banned = await call(t.app, `/api/rooms/${id}/bans`, {
    token: owner.token,
    body: { username: troll.username, reason: "spamming", minutes: 10 },
  });
  assert.equal(banned.status, 204);
  const expectBanned = (res: any) => {
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, "banned");
  };
  expectBanned(await call(t.app, `/api/rooms/${id}/join`, { token: troll.token, method: "POST" }));
  expectBanned(await post(t.app, troll.token, id, "let me back"));
  expectBanned(
    await call(t.app, `/api/rooms/${id}/members`, {
      token: owner.token,
      body: { username: troll.username },
    }),
  );
  const list = await call(t.app, `/api/rooms/${id}/bans`, { token: owner.token });
  assert.equal(list.body.bans.length, 1);
  assert.equal(list.body.bans[0].reason, "spamming");
  assert.equal(list.body.bans[0].until, t.clock() + 600_000);
  assert.equal((await call(t.app, `/api/rooms/${id}/bans`, { token: troll.token })).status, 403);

  t.clock.advance(600_001);
  const later = await call(t.app, `/api/rooms/${id}/join`, { token: troll.token, method: "POST" });
  assert.equal(later.status, 200, "the ban ran out");

  await call(t.app, `/api/rooms/${id}/bans`, {
    token: owner.token,
    body: { username: troll.username },
  });
  expectBanned(await call(t.app, `/api/rooms/${id}/join`, { token: troll.token, method: "POST" }));
  const lifted = await call(t.app, `/api/rooms/${id}/bans/${troll.id}`, {
    token: owner.token,
    method: "DELETE",
  });
  assert.equal(lifted.status, 204);
  assert.equal(
    (await call(t.app, `/api/rooms/${id}/join`, { token: troll.token, method: "POST" })).status,
    200,
  );
  const audit = await call(t.app, `/api/rooms/${id}/audit`, { token: owner.token });
  assert.deepEqual(audit.body.entries.map((e: any) => e.action), ["unban", "ban", "ban"]);
  assert.equal(audit.body.entries[2].reason, "spamming");
});

Deno.test("a banned user's open stream on another instance stops carrying the room at once", async () => {
  await using file = await tempKvPath();
  const clock = manualClock(Date.now());
  await using one = await testApp({}, { path: file.path, clock });
  await using two = await testApp({}, { path: file.path, clock });
  await using s1 = serve(one.app.fetch);
  await using s2 = serve(two.app.fetch);
  const [owner, troll] = await Promise.all([registerUser(s1.url), registerUser(s1.url)]);
  const id = await roomWith(s1.url, owner, [troll]);
  const stream = await SseClient.connect(s2.url, troll);
  try {
    await stream.next("ready");
    await post(s1.url, owner.token, id, "before");
    await stream.next("message");
    await call(s1.url, `/api/rooms/${id}/bans`, {
      token: owner.token,
      body: { username: troll.username, reason: "enough" },
    });
    const told = await stream.next("member", (e) => e.user.id === troll.id, 5_000);
    assert.equal(told.action, "banned");
    assert.equal(told.reason, "enough");
    await post(s1.url, owner.token, id, "after");
    await new Promise((r) => setTimeout(r, 1_500)); // past the file poll's back-off
    assert.deepEqual(stream.of("message").map((m) => m.text), ["before"]);
  } finally {
    await stream.close();
  }
});

Deno.test("administrators suspend accounts, delete any message and room, list accounts and the audit", async () => {
  await using t = await testApp({ admins: ["boss"] });
  await using server = serve(t.app.fetch);
  const boss = await registerUser(server.url, "boss");
  const [owner, member, rogue] = await Promise.all([1, 2, 3].map(() => registerUser(server.url)));
  const id = await roomWith(server.url, owner, [member, rogue]);
  await post(server.url, rogue.token, id, "bad");

  const me = await call(server.url, "/api/me", { token: boss.token });
  assert.equal(me.body.admin, true);
  assert.equal((await call(server.url, "/api/me", { token: owner.token })).body.admin, false);
  const notAdmin = await call(server.url, `/api/admin/users/${rogue.username}/suspend`, {
    token: owner.token,
    body: {},
  });
  assert.equal(notAdmin.status, 403);
  assert.equal(notAdmin.body.error.code, "not_admin");

  const stream = await SseClient.connect(server.url, rogue);
  try {
    await stream.next("ready");
    const suspended = await call(server.url, `/api/admin/users/${rogue.username}/suspend`, {
      token: boss.token,
      body: { reason: "abuse" },
    });
    assert.equal(suspended.status, 204);
    await stream.until(() => stream.closed, 5_000, "the suspended account's stream to end");
  } finally {
    await stream.close();
  }
  assert.equal((await call(server.url, "/api/me", { token: rogue.token })).status, 401);
  const login = await call(server.url, "/api/auth/login", {
    body: { username: rogue.username, password: "password-123" },
  });
  assert.equal(login.status, 403);
  assert.equal(login.body.error.code, "suspended");
  const wrong = await call(server.url, "/api/auth/login", {
    body: { username: rogue.username, password: "not-the-password" },
  });
  assert.equal(wrong.status, 401, "a wrong password learns nothing of the suspension");

  const accounts = await call(server.url, "/api/admin/users?limit=2", { token: boss.token });
  assert.equal(accounts.body.users.length, 2);
  assert.ok(accounts.body.next);
  const all = [...accounts.body.users];
  for (let after = accounts.body.next; after;) {
    const page = await call(server.url, `/api/admin/users?limit=2&after=${after}`, {
      token: boss.token,
    });
    all.push(...page.body.users);
    after = page.body.next;
  }
  assert.equal(all.length, 4);
  const r = all.find((u: any) => u.id === rogue.id);
  assert.deepEqual([r.status, r.suspendedReason, r.rooms], ["suspended", "abuse", 1]);

  assert.equal(
    (await call(server.url, `/api/rooms/${id}/messages/1`, { token: boss.token, method: "DELETE" }))
      .status,
    204,
    "an administrator deletes any message, in rooms they are not in",
  );
  const s = await SseClient.connect(server.url, member);
  try {
    await s.next("ready");
    const byMember = await call(server.url, `/api/rooms/${id}`, {
      token: member.token,
      method: "DELETE",
    });
    assert.equal(byMember.status, 403);
    assert.equal(
      (await call(server.url, `/api/rooms/${id}`, { token: boss.token, method: "DELETE" })).status,
      204,
    );
    assert.deepEqual(await s.next("room_deleted"), { roomId: id });
    assert.deepEqual(
      (await call(server.url, "/api/rooms", { token: member.token })).body.rooms,
      [],
    );
    assert.equal((await call(server.url, `/api/rooms/${id}`, { token: owner.token })).status, 404);
    assert.equal((await post(server.url, owner.token, id, "anyone?")).status, 404);
  } finally {
    await s.close();
  }

  await call(server.url, `/api/admin/users/${rogue.username}/suspend`, {
    token: boss.token,
    method: "DELETE",
  });
  const back = await call(server.url, "/api/auth/login", {
    body: { username: rogue.username, password: "password-123" },
  });
  assert.equal(back.status, 200, "the suspension was lifted");
  const audit = await call(server.url, "/api/admin/audit", { token: boss.token });
  assert.deepEqual(
    audit.body.entries.map((e: any) => e.action),
    ["unsuspend", "delete_room", "delete_message", "suspend"],
  );
  assert.equal((await call(server.url, "/api/admin/audit", { token: owner.token })).status, 403);
});

Deno.test("the content filter refuses look-alike forms and stores nothing", async () => {
  await using t = await testApp({ contentFilterTerms: ["spamword", "bad phrase"] });
  const a = await registerUser(t.app);
  const id = await roomWith(t.app, a, []);
  for (
    const text of [
      "this is SPAMWORD",
      "ｓｐａｍｗｏｒｄ in fullwidth",
      "spam\u200bword with a zero-width space",
      "a Bad   Phrase indeed",
    ]
  ) {
    const res = await post(t.app, a.token, id, text);
    assert.equal(res.status, 422, text);
    assert.equal(res.body.error.code, "content_blocked");
  }
  assert.equal((await post(t.app, a.token, id, "spamwordy is another word")).status, 201);
  const history = await call(t.app, `/api/rooms/${id}/messages`, { token: a.token });
  assert.deepEqual(history.body.messages.map((m: any) => m.text), ["spamwordy is another word"]);
  const room = await call(t.app, "/api/rooms", { token: a.token, body: { name: "Spamword club" } });
  assert.equal(room.status, 422);
  const edit = await call(t.app, `/api/rooms/${id}/messages/1`, {
    token: a.token,
    method: "PATCH",
    body: { text: "now spamword" },
  });
  assert.equal(edit.status, 422);
  const after = await call(t.app, `/api/rooms/${id}/messages`, { token: a.token });
  assert.equal(after.body.messages[0].text, "spamwordy is another word");
});

Deno.test("the server's audit log keeps every action of a group commit", async () => {
  await using t = await testApp({ admins: ["boss"] });
  const boss = await registerUser(t.app, "boss");
  const owner = await registerUser(t.app);
  const members = await Promise.all(Array.from({ length: 12 }, () => registerUser(t.app)));
  const rooms = await Promise.all(
    members.map((m, i) => roomWith(t.app, owner, [m], { name: `r${i}` })),
  );
  await Promise.all(
    rooms.map((r, i) =>
      call(t.app, `/api/rooms/${r}/members/${members[i].id}`, {
        token: owner.token,
        method: "DELETE",
      })
    ),
  );
  const ids: string[] = [];
  for (let before: string | null = null;;) {
    const page: any = await call(
      t.app,
      `/api/admin/audit?limit=5${before ? `&before=${before}` : ""}`,
      { token: boss.token },
    );
    assert.equal(page.status, 200);
    ids.push(...page.body.entries.map((e: any) => e.id));
    before = page.body.next;
    if (!before) break;
  }
  assert.equal(ids.length, 12, "one entry per kick, across pages");
  assert.equal(new Set(ids).size, 12);
});

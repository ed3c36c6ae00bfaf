// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import {
  call,
  manualClock,
  post,
  registerUser,
  roomWith,
  serve,
  spawnServer,
  tempKvPath,
  testApp,
} from "../helpers.ts";
import { SseClient } from "../sse_client.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("[e2e] GET /api/events delivers a message live to every member", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b, c, outsider] = await Promise.all([1, 2, 3, 4].map(() => registerUser(server.url)));
  const id = await roomWith(server.url, a, [b, c]);
  const streams = await Promise.all(
    [a, b, c, outsider].map((u) => SseClient.connect(server.url, u)),
  );
  const aSecond = await SseClient.connect(server.url, a);
  try {
    for (const s of streams) {
      await s.until(() => s.events.length > 0, 5000, "the first event");
      assert.equal(s.events[0].event, "ready", "a fresh stream starts with ready");
    }
    assert.ok(streams[0].retry! > 0, "a retry hint is sent");
    const sentAt = performance.now();
    const sent = (await post(server.url, b.token, id, "hello <b>all</b>")).body.message;
    for (const s of [streams[0], streams[1], streams[2], aSecond]) {
      const got = await s.next("message", (m) => m.id === sent.id);
      assert.deepEqual(got, sent, "the event carries the message exactly as the POST returned it");
    }
    const latency = performance.now() - sentAt;
    assert.ok(latency < 1000, `delivered in ${latency.toFixed(0)} ms`);
    await sleep(100);
    assert.deepEqual(streams[3].of("message"), [], "a non-member gets nothing");
    const ids = streams[1].events.map((e) => e.id);
    assert.ok(
      ids.every((id) => /^[\w-]+:[0-9a-f]{20}:\d+$/.test(id)),
      "every event has a resumable id",
    );
  } finally {
    await Promise.all([...streams, aSecond].map((s) => s.close()));
  }
});

Deno.test("GET /api/events needs a signed-in user and works with the cookie", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  assert.equal((await call(server.url, "/api/events")).status, 401);
  const a = await registerUser(server.url);
  const res = await fetch(`${server.url}/api/events`, {
    headers: { cookie: `parley_session=${a.token}` },
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /^text\/event-stream/);
  const reader = res.body!.getReader();
  const { value } = await reader.read();
  assert.match(new TextDecoder().decode(value), /retry: \d+/);
  await reader.cancel();
});

Deno.test("room, member, read and typing events reach the right users", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => registerUser(server.url)));
  const [sa, sa2, sb, sc] = await Promise.all(
    [a, a, b, c].map((u) => SseClient.connect(server.url, u)),
  );
  try {
    // A opens a DM with B: B is told "A wants to chat", and so are A's other clients.
    const dm = await call(
      server.url,
      `/api/direct/${b.username}`,
      {
        token: a.token,
        method: "POST",
      },
    );
    const told = await sb.next("room");
    assert.equal(told.room.id, dm.body.room.id);
    assert.equal(told.room.kind, "direct");
    assert.equal(told.room.name, a.username);
    assert.equal((await sa2.next("room")).room.id, dm.body.room.id);

    const id = await roomWith(server.url, a, [b]);
    await sa.next("member", (e) => e.roomId === id && e.user.id === b.id);
    await call(server.url, `/api/rooms/${id}/members`, {
      token: a.token,
      body: { username: c.username },
    });
    const invited = await sc.next("invite");
    assert.equal(invited.invitation.roomId, id);
    assert.equal(invited.status, "pending");
    await call(server.url, `/api/invites/${id}/accept`, { token: c.token, method: "POST" });
    const added = await sc.next("room", (e) => e.room.id === id);
    assert.equal(added.room.name, "room");
    const joined = await sb.next("member", (e) => e.user.id === c.id);
    assert.deepEqual(joined, {
      roomId: id,
      user: { id: c.id, username: c.username },
      action: "joined",
      memberCount: 3,
      ownerId: a.id,
      role: "member",
    });
    await call(server.url, `/api/rooms/${id}/leave`, { token: c.token, method: "POST" });
    const left = await sa.next("member", (e) => e.user.id === c.id && e.action === "left");
    assert.equal(left.roomId, id);
    assert.equal(left.memberCount, 2, "the event carries the room's new member count");

    await post(server.url, b.token, id, "one");
    await sa.next("message");
    await post(server.url, b.token, id, "two");
    await call(server.url, `/api/rooms/${id}/read`, { token: a.token, body: { seq: 2 } });
    assert.deepEqual(await sa2.next("read"), { roomId: id, seq: 2, mentions: 0 });
    // Reading an older message moves nothing, so nobody is told.
    await call(server.url, `/api/rooms/${id}/read`, { token: a.token, body: { seq: 1 } });

    await call(server.url, `/api/rooms/${id}/typing`, { token: b.token, method: "POST" });
    assert.deepEqual(await sa.next("typing"), {
      roomId: id,
      user: { id: b.id, username: b.username },
    });
    await sleep(100);
    assert.deepEqual(sb.of("typing"), [], "the typist is not told about themself");
    assert.deepEqual(sb.of("read"), [], "read markers go only to their owner");
    assert.deepEqual(
      sa2.of("read"),
      [{ roomId: id, seq: 2, mentions: 0 }],
      "a marker that did not move is not sent",
    );
    assert.equal(
      (await call(server.url, `/api/rooms/${id}/typing`, { token: c.token, method: "POST" }))
        .status,
      403,
    );
  } finally {
    await Promise.all([sa, sa2, sb, sc].map((s) => s.close()));
  }
});

Deno.test("resume after random disconnects delivers every message exactly once, in order", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const users = await Promise.all(Array.from({ length: 4 }, () => registerUser(server.url)));
  // Six rooms; each user is in a different subset.
  const rooms: { id: string; members: typeof users }[] = [];
  for (let r = 0; r < 6; r++) {
    const members = users.filter((_, i) => (i + r) % 3 !== 0);
    rooms.push({ id: await roomWith(server.url, members[0], members.slice(1)), members });
  }
  const clients = await Promise.all(users.map((u) => SseClient.connect(server.url, u)));
  const received = users.map(() => [] as any[]);
  const collect = (i: number, s: SseClient) => () => received[i].push(...s.of("message"));
  const current = [...clients];
  let sending = true;

  // Posters: 300 messages over 6 rooms, from several senders at once.
  const posting = Promise.all(rooms.map(async (room, r) => {
    for (let k = 0; k < 50; k++) {
      const author = room.members[k % room.members.length];
      const res = await post(server.url, author.token, room.id, `r${r}-${k}`);
      assert.equal(res.status, 201);
      if (k % 7 === 0) await sleep(3);
    }
  })).finally(() => sending = false);

  // Each client drops its connection at random moments and resumes from its last id.
  const churn = Promise.all(users.map(async (u, i) => {
    let drops = 0;
    while (sending || drops < 2) {
      await sleep(10 + Math.random() * 40);
      const old = current[i];
      await old.close();
      collect(i, old)();
      current[i] = await SseClient.connect(server.url, {
        token: u.token,
        lastEventId: old.lastEventId,
        viaQuery: drops % 2 === 1,
      });
      drops++;
    }
  }));
  await Promise.all([posting, churn]);

  for (let i = 0; i < users.length; i++) {
    const mine = rooms.filter((r) => r.members.includes(users[i]));
    const expected = mine.length * 50;
    await current[i].until(
      () => received[i].length + current[i].of("message").length >= expected,
      10_000,
      `user ${i} to have ${expected} messages`,
    );
    await sleep(200);
    collect(i, current[i])();
    assert.equal(current[i].of("reset").length, 0, "no resume fell back to a reset");
    const keys = received[i].map((m) => `${m.roomId}#${m.seq}`);
    assert.equal(new Set(keys).size, keys.length, `user ${i} got a message twice`);
    assert.equal(keys.length, expected, `user ${i} got every message of their rooms`);
    for (const room of mine) {
      const seqs = received[i].filter((m) => m.roomId === room.id).map((m) => m.seq);
      assert.deepEqual(seqs, Array.from({ length: 50 }, (_, k) => k + 1), "per-room order");
    }
  }
  await Promise.all(current.map((c) => c.close()));
});

Deno.test("an unknown or foreign event id gets an explicit reset, then live events", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const a = await registerUser(server.url);
  const id = await roomWith(server.url, a, []);
  for (const lastEventId of ["garbage", "otherdb:5", "x:99999999"]) {
    const s = await SseClient.connect(server.url, { token: a.token, lastEventId });
    try {
      const first = await s.next("reset");
      assert.equal(s.events[0].event, "reset", "reset comes first");
      assert.ok(first.reason);
      const sent = (await post(server.url, a.token, id, `after ${lastEventId}`)).body.message;
      assert.deepEqual(await s.next("message"), sent);
    } finally {
      await s.close();
    }
  }
});

Deno.test("an id older than the resume window gets a reset, not a silent gap", async () => {
  await using t = await testApp({ resumeWindowMs: 60_000 });
  await using server = serve(t.app.fetch);
  const a = await registerUser(server.url);
  const id = await roomWith(server.url, a, []);
  const s = await SseClient.connect(server.url, a);
  await s.next("ready");
  const oldId = s.lastEventId;
  await s.close();
  await post(server.url, a.token, id, "missed, then trimmed away");
  t.clock.advance(120_000);
  await post(server.url, a.token, id, "newer");
  const { trimLog } = await import("../../lib/feed.ts");
  assert.ok(await trimLog(t.kv, t.clock() - 60_000) > 0);
  const again = await SseClient.connect(server.url, { token: a.token, lastEventId: oldId });
  try {
    await again.next("reset");
  } finally {
    await again.close();
  }
});

Deno.test("a message committed through one instance reaches a stream held by another", async () => {
  await using file = await tempKvPath();
  const clock = manualClock();
  await using one = await testApp({}, { path: file.path, clock });
  await using two = await testApp({}, { path: file.path, clock });
  await using s1 = serve(one.app.fetch);
  await using s2 = serve(two.app.fetch);
  const [a, b] = await Promise.all([registerUser(s1.url), registerUser(s1.url)]);
  const id = await roomWith(s1.url, a, [b]);
  const onTwo = await SseClient.connect(s2.url, b);
  const onOne = await SseClient.connect(s1.url, b);
  try {
    const t0 = performance.now();
    const sent = (await post(s1.url, a.token, id, "across")).body.message;
    assert.deepEqual(await onTwo.next("message"), sent);
    const ms = performance.now() - t0;
    assert.ok(ms < 1000, `cross-instance delivery took ${ms.toFixed(0)} ms`);
    // And the other way round, with resume on the other instance.
    const back = (await post(s2.url, b.token, id, "back")).body.message;
    assert.deepEqual(await onOne.next("message", (m) => m.id === back.id), back);
    const lastId = onOne.lastEventId;
    await onOne.close();
    const missed = (await post(s1.url, a.token, id, "missed")).body.message;
    const resumed = await SseClient.connect(s2.url, { token: b.token, lastEventId: lastId });
    assert.deepEqual(await resumed.next("message"), missed);
    await resumed.close();
  } finally {
    await onTwo.close();
    await onOne.close();
  }
});

Deno.test("a stalled reader is cut off and does not slow the others", async () => {
  await using t = await testApp({ streamBufferBytes: 256 * 1024 });
  await using server = serve(t.app.fetch);
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => registerUser(server.url)));
  const id = await roomWith(server.url, a, [b, c]);
  const fast = await SseClient.connect(server.url, b);
  // c opens a stream over raw TCP and never reads from it.
  const port = Number(new URL(server.url).port);
  const stalled = await Deno.connect({ hostname: "127.0.0.1", port });
  await stalled.write(new TextEncoder().encode(
    `GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${c.token}\r\n\r\n`,
  ));
  try {
    await fast.until(() => t.app.services.hub.streamCount === 2, 5000, "both streams open");
    const text = "x".repeat(3900);
    const latencies: number[] = [];
    // Post 40 large messages at a time until the kernel's socket buffers and the
    // stream's own buffer are full and the stalled stream is cut off.
    let round = 0;
    for (; round < 200 && t.app.services.hub.streamCount === 2; round++) {
      const t0 = performance.now();
      const batch = await Promise.all(
        Array.from(
          { length: 40 },
          (_, k) => post(server.url, a.token, id, `${round}-${k} ${text}`),
        ),
      );
      const want = (round + 1) * 40;
      assert.ok(batch.every((r) => r.status === 201));
      await fast.until(() => fast.of("message").length >= want, 5000, `${want} deliveries`);
      latencies.push(performance.now() - t0);
    }
    assert.equal(t.app.services.hub.streamCount, 1, "the stalled stream was cut off");
    const seqs = fast.of("message").map((m) => m.seq);
    assert.deepEqual(seqs, seqs.map((_, i) => i + 1), "the fast reader got everything, in order");
    assert.equal(seqs.length, round * 40);
    latencies.sort((x, y) => x - y);
    assert.ok(latencies[latencies.length - 1] < 3000, `slowest round ${latencies.at(-1)} ms`);
  } finally {
    stalled.close();
    await fast.close();
  }
});

Deno.test("presence: online on connect, offline after the grace, no flap on a quick reconnect", async () => {
  await using t = await testApp({ presenceGraceMs: 300 });
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  await call(server.url, `/api/direct/${a.username}`, { token: b.token, method: "POST" });
  const watcher = await SseClient.connect(server.url, b);
  try {
    let sa = await SseClient.connect(server.url, a);
    const online = await watcher.next("presence");
    assert.deepEqual(online, {
      userId: a.id,
      username: a.username,
      online: true,
      lastSeen: t.clock(),
    });
    const listed = await call(server.url, "/api/users?online=true", { token: b.token });
    assert.deepEqual(
      listed.body.users.map((u: any) => u.username).sort(),
      [a.username, b.username].sort(),
    );

    // A page reload: the stream closes and a new one opens at once.
    await sa.close();
    sa = await SseClient.connect(server.url, a);
    await sleep(600);
    assert.equal(watcher.of("presence").length, 1, "no offline/online flap");

    await sa.close();
    t.clock.advance(5_000);
    const offline = await watcher.next("presence", (p) => !p.online, 3000);
    assert.equal(offline.userId, a.id);
    assert.equal(offline.lastSeen, t.clock());
    const users = (await call(server.url, "/api/users", { token: b.token })).body.users;
    assert.deepEqual(users.find((u: any) => u.id === a.id), {
      id: a.id,
      username: a.username,
      online: false,
      lastSeen: t.clock(),
    });
    const onlineOnly = await call(server.url, "/api/users?online=true", { token: b.token });
    assert.deepEqual(onlineOnly.body.users.map((u: any) => u.id), [b.id]);
    const members = await call(server.url, "/api/rooms", { token: b.token });
    assert.equal(members.status, 200);
  } finally {
    await watcher.close();
  }
});

Deno.test("presence: a user whose server process died goes offline after the heartbeat timeout", async () => {
  await using file = await tempKvPath();
  const crashing = await spawnServer(file.path);
  const clock = manualClock(Date.now());
  try {
    await using survivor = await testApp({}, { path: file.path, clock });
    await using server = serve(survivor.app.fetch);
    const [a, b] = await Promise.all([registerUser(crashing.url), registerUser(crashing.url)]);
    await call(crashing.url, `/api/direct/${a.username}`, { token: b.token, method: "POST" });
    const watcher = await SseClient.connect(server.url, b);
    const doomed = await SseClient.connect(crashing.url, a);
    try {
      assert.equal((await watcher.next("presence", (p) => p.userId === a.id)).online, true);
      await crashing.kill("SIGKILL");
      await survivor.app.services.presence.sweep();
      await sleep(300);
      assert.equal(
        watcher.of("presence").filter((p) => !p.online).length,
        0,
        "the lease still holds",
      );
      clock.advance(61_000);
      await survivor.app.services.presence.sweep();
      const offline = await watcher.next("presence", (p) => !p.online, 3000);
      assert.equal(offline.userId, a.id);
    } finally {
      await doomed.close();
      await watcher.close();
    }
  } finally {
    await crashing.kill("SIGKILL");
  }
});

Deno.test("a resume never shows a room its user has left", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [alice, bob] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const s = await SseClient.connect(server.url, bob);
  await s.next("ready");
  const firstId = s.lastEventId;
  await s.close();
  const id = await roomWith(server.url, alice, [], { name: "secret", private: true });
  await call(server.url, `/api/rooms/${id}/members`, {
    token: alice.token,
    body: { username: bob.username },
  });
  await call(server.url, `/api/invites/${id}/accept`, { token: bob.token, method: "POST" });
  await call(server.url, `/api/rooms/${id}/leave`, { token: bob.token, method: "POST" });
  await post(server.url, alice.token, id, "posted after bob left");

  const replay = await SseClient.connect(server.url, { token: bob.token, lastEventId: firstId });
  try {
    await replay.next("member", (e) => e.action === "left");
    await sleep(200);
    assert.deepEqual(replay.of("room"), [], "no room event for a room bob left");
    assert.ok(!JSON.stringify(replay.events).includes("posted after bob left"));
  } finally {
    await replay.close();
  }
});

Deno.test("logging out ends the session's open event streams", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const a = await registerUser(server.url);
  const other = await call(server.url, "/api/auth/login", {
    body: { username: a.username, password: "password-123" },
  });
  const s = await SseClient.connect(server.url, a);
  const kept = await SseClient.connect(server.url, { token: other.body.token });
  try {
    await s.next("ready");
    await call(server.url, "/api/auth/logout", { token: a.token, method: "POST" });
    await s.until(() => s.closed, 3000, "the stream to end");
    assert.equal(kept.closed, false, "another session's stream stays open");
  } finally {
    await s.close();
    await kept.close();
  }
});

Deno.test("a member whose join is queued just before a message gets it live", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [carol, dave] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const id = await roomWith(server.url, carol, []);
  const s = await SseClient.connect(server.url, dave);
  try {
    await s.next("ready");
    const { feed, rooms, messages } = t.app.services;
    // Keep the room's domain busy so the join and the send queue up behind it.
    const busy = feed.run(
      `room:${id}`,
      () => Promise.resolve({ checks: [], events: [], apply() {}, value: undefined }),
    );
    const joined = rooms.join({ id: dave.id, username: dave.username }, id);
    const sent = messages.send(id, { id: carol.id, username: carol.username }, {
      text: "same commit",
    });
    await Promise.all([busy, joined, sent]);
    const message = await s.next("message");
    assert.equal(message.text, "same commit");
  } finally {
    await s.close();
  }
});

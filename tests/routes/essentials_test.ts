// deno-lint-ignore-file no-explicit-any
/**
 * Conversation essentials through the real path: replies, reactions,
 * @mentions and muting.
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

const send = (url: string, token: string, room: string, body: Record<string, unknown>) =>
  call(url, `/api/rooms/${room}/messages`, { token, body });

Deno.test("a reply quotes its original live and in history, and says deleted once it is", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const room = await roomWith(server.url, a, [b]);
  const long = "x".repeat(250);
  await post(server.url, a.token, room, long);
  const s = await SseClient.connect(server.url, b);
  try {
    await s.next("ready");
    const reply = await send(server.url, a.token, room, { text: "answering", replyTo: 1 });
    assert.equal(reply.status, 201);
    const quote = { seq: 1, author: { id: a.id, username: a.username }, text: "x".repeat(200) };
    assert.deepEqual(reply.body.message.replyTo, quote);
    assert.deepEqual((await s.next("message")).replyTo, quote);
    for (const replyTo of [99, 0]) {
      const bad = await send(server.url, a.token, room, { text: "to nothing", replyTo });
      assert.equal(bad.status, 400, `replyTo ${replyTo}`);
    }
    await call(server.url, `/api/rooms/${room}/messages/1`, { token: a.token, method: "DELETE" });
    const history = await call(server.url, `/api/rooms/${room}/messages`, { token: b.token });
    assert.deepEqual(history.body.messages[1].replyTo, {
      seq: 1,
      author: { id: a.id, username: a.username },
      text: "",
      deleted: true,
    });
  } finally {
    await s.close();
  }
});

Deno.test("reactions: twice is once, taking back works, counts and 'me' are right for each viewer", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => registerUser(server.url)));
  const room = await roomWith(server.url, a, [b, c]);
  await post(server.url, a.token, room, "react to me");
  const s = await SseClient.connect(server.url, c);
  try {
    await s.next("ready");
    const from = s.lastEventId;
    const react = (u: any, emoji: string, method = "PUT") =>
      call(server.url, `/api/rooms/${room}/messages/1/reactions/${encodeURIComponent(emoji)}`, {
        token: u.token,
        method,
      });
    assert.equal((await react(a, "👍")).status, 204);
    assert.equal((await react(a, "👍")).status, 204, "twice is harmless");
    assert.equal((await react(b, "👍")).status, 204);
    assert.equal((await react(b, "🎉")).status, 204);
    assert.equal((await react(b, "🎉", "DELETE")).status, 204);
    assert.equal((await react(b, "not an emoji")).status, 400);
    const events = [
      await s.next("reaction"),
      await s.next("reaction"),
      await s.next("reaction"),
      await s.next("reaction"),
    ];
    assert.deepEqual(
      events.map((e) => [e.emoji, e.userId === a.id ? "a" : "b", e.added, e.count]),
      [["👍", "a", true, 1], ["👍", "b", true, 2], ["🎉", "b", true, 1], ["🎉", "b", false, 0]],
    );
    const seen = async (u: any) =>
      (await call(server.url, `/api/rooms/${room}/messages`, { token: u.token })).body
        .messages[0].reactions;
    assert.deepEqual(await seen(a), [{ emoji: "👍", count: 2, me: true }]);
    assert.deepEqual(await seen(c), [{ emoji: "👍", count: 2, me: false }]);
    const outsider = await registerUser(server.url);
    assert.equal((await react(outsider, "👍")).status, 403);
    // The same reactions arrive again on resume.
    await s.close();
    const again = await SseClient.connect(server.url, { token: c.token, lastEventId: from });
    try {
      await again.until(() => again.of("reaction").length === 4, 5000, "the replayed reactions");
    } finally {
      await again.close();
    }
  } finally {
    await s.close();
  }
});

Deno.test("a message holds at most 20 different reactions", async () => {
  await using t = await testApp();
  const a = await registerUser(t.app);
  const room = await roomWith(t.app, a, []);
  await post(t.app, a.token, room, "popular");
  const emoji = [..."😀😃😄😁😆😅😂🤣😊😇🙂🙃😉😌😍🥰😘😗😙😚😋"];
  for (let i = 0; i < 20; i++) {
    const res = await call(t.app, `/api/rooms/${room}/messages/1/reactions/${emoji[i]}`, {
      token: a.token,
      method: "PUT",
    });
    assert.equal(res.status, 204);
  }
  const more = await call(t.app, `/api/rooms/${room}/messages/1/reactions/${emoji[20]}`, {
    token: a.token,
    method: "PUT",
  });
  assert.equal(more.status, 409);
});

Deno.test("a mention of a member counts as an unread mention and lists; of a non-member it does not", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b, stranger] = await Promise.all([1, 2, 3].map(() => registerUser(server.url)));
  const room = await roomWith(server.url, a, [b]);
  const sent = await post(
    server.url,
    a.token,
    room,
    `hey @${b.username.toUpperCase()} and @${stranger.username}`,
  );
  assert.deepEqual(sent.body.message.mentions, [b.id], "only the member");
  await post(server.url, a.token, room, "no mention here");
  const roomOf = async (u: any) =>
    (await call(server.url, "/api/rooms", { token: u.token })).body.rooms[0];
  assert.deepEqual([(await roomOf(b)).unread, (await roomOf(b)).mentions], [2, 1]);
  const listed = await call(server.url, "/api/me/mentions", { token: b.token });
  assert.deepEqual(listed.body.mentions.map((m: any) => m.message.seq), [1]);
  assert.equal(listed.body.mentions[0].roomId, room);
  assert.deepEqual(
    (await call(server.url, "/api/me/mentions", { token: stranger.token })).body
      .mentions,
    [],
  );
  await call(server.url, `/api/rooms/${room}/read`, { token: b.token, body: { seq: 1 } });
  assert.deepEqual([(await roomOf(b)).unread, (await roomOf(b)).mentions], [1, 0]);
});

Deno.test("a muted room still counts unread, and mentions in it still reach the stream", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const room = await roomWith(server.url, a, [b]);
  const s = await SseClient.connect(server.url, b);
  try {
    await s.next("ready");
    const muted = await call(server.url, `/api/rooms/${room}/settings`, {
      token: b.token,
      method: "PUT",
      body: { muted: true },
    });
    assert.equal(muted.status, 200);
    assert.equal(muted.body.room.muted, true);
    assert.equal((await s.next("room")).room.muted, true, "other devices hear of it");
    await post(server.url, a.token, room, `@${b.username} look`);
    const m = await s.next("message");
    assert.deepEqual(m.mentions, [b.id]);
    const mine = (await call(server.url, "/api/rooms", { token: b.token })).body.rooms[0];
    assert.deepEqual([mine.muted, mine.unread, mine.mentions], [true, 1, 1]);
    const outsider = await registerUser(server.url);
    const refused = await call(server.url, `/api/rooms/${room}/settings`, {
      token: outsider.token,
      method: "PUT",
      body: { muted: true },
    });
    assert.equal(refused.status, 403);
  } finally {
    await s.close();
  }
});

Deno.test("reactions racing sends on another instance never set a room's seq back", async () => {
  await using file = await tempKvPath();
  const clock = manualClock(Date.now());
  await using one = await testApp({}, { path: file.path, clock });
  await using two = await testApp({}, { path: file.path, clock });
  await using s1 = serve(one.app.fetch);
  await using s2 = serve(two.app.fetch);
  const [a, b] = await Promise.all([registerUser(s1.url), registerUser(s1.url)]);
  const room = await roomWith(s1.url, a, [b]);
  await post(s1.url, a.token, room, "first");
  let sending = true;
  const sends = (async () => {
    for (let i = 0; i < 10; i++) {
      await Promise.all(
        Array.from({ length: 20 }, (_, k) => post(s1.url, a.token, room, `m${i}.${k}`)),
      );
    }
  })().finally(() => sending = false);
  // Keep reacting to whatever is the room's last message, through the other instance.
  const reactions = (async () => {
    for (let n = 0; sending; n++) {
      const rooms = await call(s2.url, "/api/rooms", { token: b.token });
      const last = rooms.body.rooms[0].lastSeq;
      const emoji = n % 2 ? "👍" : "🎉";
      await call(
        s2.url,
        `/api/rooms/${room}/messages/${last}/reactions/${encodeURIComponent(emoji)}`,
        {
          token: b.token,
          method: "PUT",
        },
      );
    }
  })();
  await Promise.all([sends, reactions]);
  const seqs: number[] = [];
  for (let after = 0;;) {
    const page = await call(s1.url, `/api/rooms/${room}/messages?after=${after}&limit=100`, {
      token: a.token,
    });
    seqs.push(...page.body.messages.map((m: any) => m.seq));
    if (!page.body.hasMore) break;
    after = seqs.at(-1)!;
  }
  assert.deepEqual(
    seqs,
    Array.from({ length: 201 }, (_, i) => i + 1),
    "every acknowledged send kept",
  );
});

Deno.test("editMessage() mentions whom the new text names and no longer whom it dropped", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => registerUser(server.url)));
  const room = await roomWith(server.url, a, [b, c]);
  await post(server.url, a.token, room, `hello @${b.username}`);
  const edit = (text: string) =>
    call(server.url, `/api/rooms/${room}/messages/1`, {
      token: a.token,
      method: "PATCH",
      body: { text },
    });
  const mentioned = async (u: any) =>
    (await call(server.url, "/api/me/mentions", { token: u.token })).body.mentions.map((
      m: any,
    ) => m.message.seq);
  const counts = async (u: any) =>
    (await call(server.url, "/api/rooms", { token: u.token })).body.rooms[0].mentions;

  const edited = await edit(`hello @${c.username}`);
  assert.equal(edited.status, 200);
  assert.deepEqual(edited.body.message.mentions, [c.id]);
  assert.deepEqual([await mentioned(b), await mentioned(c)], [[], [1]]);
  assert.deepEqual([await counts(b), await counts(c)], [0, 1]);

  const cleared = await edit("hello everyone");
  assert.equal(cleared.body.message.mentions, undefined);
  assert.deepEqual([await mentioned(b), await mentioned(c)], [[], []]);
  assert.deepEqual([await counts(b), await counts(c)], [0, 0]);
});

Deno.test("leaving a room forgets its mute: back in, the join answer and the list both say unmuted", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const room = await roomWith(server.url, a, [b]);
  const mute = await call(server.url, `/api/rooms/${room}/settings`, {
    token: b.token,
    method: "PUT",
    body: { muted: true },
  });
  assert.equal(mute.status, 200);
  const listed = async () =>
    (await call(server.url, "/api/rooms", { token: b.token })).body.rooms[0].muted;
  assert.equal(await listed(), true);
  const left = await call(server.url, `/api/rooms/${room}/leave`, {
    token: b.token,
    method: "POST",
  });
  assert.equal(left.status, 204);
  const joined = await call(server.url, `/api/rooms/${room}/join`, {
    token: b.token,
    method: "POST",
  });
  assert.equal(joined.body.room.muted ?? false, false);
  assert.equal(await listed(), false);
});

Deno.test("deleteMessage() forgets who reacted to the message, and history shows none", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const room = await roomWith(server.url, a, [b]);
  await post(server.url, a.token, room, "react, then it goes");
  for (const [u, emoji] of [[a, "👍"], [b, "👍"], [b, "🎉"]] as const) {
    const res = await call(
      server.url,
      `/api/rooms/${room}/messages/1/reactions/${encodeURIComponent(emoji)}`,
      { token: u.token, method: "PUT" },
    );
    assert.equal(res.status, 204);
  }
  const stored = async (prefix: string) =>
    (await Array.fromAsync(t.kv.list({ prefix: [prefix] }))).length;
  assert.deepEqual([await stored("reactions"), await stored("user_reactions")], [3, 3]);
  const deleted = await call(server.url, `/api/rooms/${room}/messages/1`, {
    token: a.token,
    method: "DELETE",
  });
  assert.equal(deleted.status, 204);
  assert.deepEqual([await stored("reactions"), await stored("user_reactions")], [0, 0]);
  const history = await call(server.url, `/api/rooms/${room}/messages`, { token: b.token });
  assert.equal(history.body.messages[0].reactions, undefined);
});

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

/** Every message of a room, paging backwards through history. */
async function fullHistory(target: Parameters<typeof call>[0], token: string, roomId: string) {
  const all: any[] = [];
  let before: number | undefined;
  for (;;) {
    const q = before === undefined ? "limit=100" : `limit=100&before=${before}`;
    const page = await call(target, `/api/rooms/${roomId}/messages?${q}`, { token });
    assert.equal(page.status, 200);
    all.unshift(...page.body.messages);
    if (!page.body.hasMore) return all;
    before = page.body.messages[0].seq;
  }
}

Deno.test("[e2e] POST /api/rooms/:id/messages stores and returns the message", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const a = await registerUser(server.url);
  const id = await roomWith(server.url, a, []);
  const res = await post(server.url, a.token, id, "  hello  ", "c-1");
  assert.equal(res.status, 201);
  assert.match(res.headers.get("content-type")!, /application\/json/);
  const m = res.body.message;
  assert.deepEqual({ ...m, id: "x" }, {
    id: "x",
    roomId: id,
    seq: 1,
    author: { id: a.id, username: a.username },
    text: "hello",
    createdAt: t.clock(),
    clientId: "c-1",
  });
  const history = await call(server.url, `/api/rooms/${id}/messages`, { token: a.token });
  assert.deepEqual(history.body, { messages: [m], hasMore: false });
});

Deno.test("200 concurrent posts from 20 users get seqs exactly 1..200, in history in order", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const users = await Promise.all(Array.from({ length: 20 }, () => registerUser(server.url)));
  const id = await roomWith(server.url, users[0], users.slice(1));
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) => post(server.url, users[i % 20].token, id, `m${i}`)),
  );
  assert.ok(results.every((r) => r.status === 201));
  const seqs = results.map((r) => r.body.message.seq).sort((x, y) => x - y);
  assert.deepEqual(seqs, Array.from({ length: 200 }, (_, i) => i + 1));
  const history = await fullHistory(server.url, users[3].token, id);
  assert.deepEqual(history.map((m) => m.seq), seqs);
  const byText = new Map(results.map((r) => [r.body.message.text, r.body.message]));
  for (const m of history) assert.deepEqual(m, byText.get(m.text));
});

Deno.test("sending a clientId again returns the original and stores nothing new", async () => {
  await using t = await testApp();
  const [a, b] = await Promise.all([registerUser(t.app), registerUser(t.app)]);
  const id = await roomWith(t.app, a, [b]);
  const first = await post(t.app, a.token, id, "once", "retry-me");
  assert.equal(first.status, 201);
  const again = await post(t.app, a.token, id, "once (edited?)", "retry-me");
  assert.equal(again.status, 200);
  assert.deepEqual(again.body.message, first.body.message);

  // Retries racing each other, and a retry after later messages.
  const racing = await Promise.all(
    [1, 2, 3, 4, 5].map(() => post(t.app, a.token, id, "r", "race")),
  );
  assert.equal(racing.filter((r) => r.status === 201).length, 1);
  assert.equal(new Set(racing.map((r) => r.body.message.id)).size, 1);
  await post(t.app, b.token, id, "other");
  assert.equal((await post(t.app, a.token, id, "once", "retry-me")).body.message.seq, 1);

  // The same clientId from another author is another message.
  const theirs = await post(t.app, b.token, id, "mine", "retry-me");
  assert.equal(theirs.status, 201);
  const history = await call(t.app, `/api/rooms/${id}/messages`, { token: a.token });
  assert.deepEqual(history.body.messages.map((m: any) => m.text), ["once", "r", "other", "mine"]);
});

Deno.test("POST /api/rooms/:id/messages rejects bad input in the error shape", async () => {
  await using t = await testApp();
  const [a, b] = await Promise.all([registerUser(t.app), registerUser(t.app)]);
  const id = await roomWith(t.app, a, []);
  const cases: [unknown, number][] = [
    [{ text: "" }, 400],
    [{ text: "   \n " }, 400],
    [{ text: "x".repeat(4001) }, 400],
    [{ text: "ok", clientId: "" }, 400],
    [{ text: "ok", clientId: "c".repeat(65) }, 400],
    [{ text: 5 }, 400],
    [{}, 400],
  ];
  for (const [body, status] of cases) {
    const res = await call(t.app, `/api/rooms/${id}/messages`, { token: a.token, body });
    assert.equal(res.status, status, JSON.stringify(body).slice(0, 50));
    assert.equal(res.body.error.code, "invalid_input");
  }
  assert.equal((await post(t.app, a.token, id, "x".repeat(4000))).status, 201);
  assert.equal((await post(t.app, b.token, id, "hi")).status, 403);
  assert.equal((await post(t.app, a.token, "no-such-room", "hi")).status, 404);
  const history = await call(t.app, `/api/rooms/${id}/messages`, { token: a.token });
  assert.equal(history.body.messages.length, 1, "only the valid message was stored");
});

Deno.test("GET /api/rooms/:id/messages pages backwards and forwards", async () => {
  await using t = await testApp();
  const a = await registerUser(t.app);
  const id = await roomWith(t.app, a, []);
  for (let i = 1; i <= 25; i++) await post(t.app, a.token, id, `m${i}`);
  const page = (q: string) => call(t.app, `/api/rooms/${id}/messages?${q}`, { token: a.token });
  const seqs = (r: any) => r.body.messages.map((m: any) => m.seq);

  const newest = await page("limit=10");
  assert.deepEqual(seqs(newest), [16, 17, 18, 19, 20, 21, 22, 23, 24, 25]);
  assert.equal(newest.body.hasMore, true);
  const older = await page("limit=10&before=16");
  assert.deepEqual(seqs(older), [6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  const oldest = await page("limit=10&before=6");
  assert.deepEqual(seqs(oldest), [1, 2, 3, 4, 5]);
  assert.equal(oldest.body.hasMore, false);
  const forward = await page("after=20&limit=3");
  assert.deepEqual(seqs(forward), [21, 22, 23]);
  assert.equal(forward.body.hasMore, true);
  const end = await page("after=23");
  assert.deepEqual(seqs(end), [24, 25]);
  assert.equal(end.body.hasMore, false);
  const between = await page("after=3&before=7");
  assert.deepEqual(seqs(between), [4, 5, 6]);
  for (const q of ["limit=0", "limit=101", "before=abc", "after=-1"]) {
    assert.equal((await page(q)).status, 400, q);
  }
});

Deno.test("two app instances over one KV file keep seq gapless", async () => {
  await using file = await tempKvPath();
  const clock = manualClock();
  await using one = await testApp({}, { path: file.path, clock });
  await using two = await testApp({}, { path: file.path, clock });
  const users = await Promise.all(Array.from({ length: 6 }, () => registerUser(one.app)));
  const id = await roomWith(one.app, users[0], users.slice(1));
  const results = await Promise.all(
    Array.from(
      { length: 120 },
      (_, i) => post(i % 2 ? one.app : two.app, users[i % 6].token, id, `m${i}`, `c${i}`),
    ),
  );
  assert.ok(
    results.every((r) => r.status === 201),
    JSON.stringify(results.find((r) => r.status !== 201)?.body),
  );
  const seqs = results.map((r) => r.body.message.seq).sort((x, y) => x - y);
  assert.deepEqual(seqs, Array.from({ length: 120 }, (_, i) => i + 1));
  const history = await fullHistory(two.app, users[1].token, id);
  assert.deepEqual(
    history.map((m) => m.text),
    seqs.map((s) => results.find((r) => r.body.message.seq === s)!.body.message.text),
  );
});

Deno.test("acknowledged messages survive a SIGKILL right after the acknowledgement", async () => {
  await using file = await tempKvPath();
  let server = await spawnServer(file.path);
  try {
    const base = server.url;
    const a = await registerUser(base);
    const id = await roomWith(base, a, []);
    const acked: any[] = [];
    // Keep 20 posts in flight and kill the process the moment the 150th is acknowledged.
    let next = 0;
    let killed: Promise<void> | undefined;
    await Promise.all(Array.from({ length: 20 }, async () => {
      while (!killed && next < 400) {
        const i = next++;
        try {
          const res = await post(base, a.token, id, `m${i}`);
          if (res.status === 201) acked.push(res.body.message);
        } catch { /* the server died mid-request: not acknowledged */ }
        if (acked.length >= 150 && !killed) killed = server.kill("SIGKILL");
      }
    }));
    await killed;
    assert.ok(acked.length >= 150);

    server = await spawnServer(file.path, Number(new URL(base).port));
    const stored = await fullHistory(base, a.token, id);
    const storedIds = new Set(stored.map((m) => m.id));
    for (const m of acked) assert.ok(storedIds.has(m.id), `acknowledged message ${m.seq} was lost`);
    assert.deepEqual(stored.map((m) => m.seq), stored.map((_, i) => i + 1), "no gap after restart");
    const after = await post(base, a.token, id, "after restart");
    assert.equal(after.body.message.seq, stored.length + 1);
  } finally {
    await server.kill("SIGKILL");
  }
});

Deno.test("two server processes over one KV file keep seq gapless", async () => {
  await using file = await tempKvPath();
  await using one = await spawnServer(file.path);
  await using two = await spawnServer(file.path);
  const servers = [one.url, two.url];
  const users = await Promise.all(Array.from({ length: 4 }, () => registerUser(servers[0])));
  const id = await roomWith(servers[1], users[0], users.slice(1));
  const results = await Promise.all(
    Array.from({ length: 100 }, (_, i) => post(servers[i % 2], users[i % 4].token, id, `m${i}`)),
  );
  assert.ok(results.every((r) => r.status === 201));
  const seqs = results.map((r) => r.body.message.seq).sort((x, y) => x - y);
  assert.deepEqual(seqs, Array.from({ length: 100 }, (_, i) => i + 1));
  const history = await fullHistory(servers[0], users[2].token, id);
  assert.equal(history.length, 100);
});

Deno.test("a burst of sends with the longest client ids stays inside KV's limits", async () => {
  await using t = await testApp();
  const users = await Promise.all([1, 2, 3].map(() => registerUser(t.app)));
  const rooms = await Promise.all(users.map((u) => roomWith(t.app, u, [])));
  const results = await Promise.all(
    Array.from(
      { length: 600 },
      (_, i) => post(t.app, users[i % 3].token, rooms[i % 3], `m${i}`, `${i}-`.padEnd(64, "x")),
    ),
  );
  assert.deepEqual([...new Set(results.map((r) => r.status))], [201]);
  const weird = await post(t.app, users[0].token, rooms[0], "hi", "日本語".repeat(10));
  assert.equal(weird.status, 400, "client ids are plain ASCII");
});

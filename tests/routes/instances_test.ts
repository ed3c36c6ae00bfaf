// deno-lint-ignore-file no-explicit-any
/**
 * Several instances over one KV: real server processes (and apps on sockets
 * over separate KV handles), real HTTP, real SSE parsing.
 */
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

const METRICS_TOKEN = "instances-test-token";

/** A counter read from an instance's `/metrics`. */
async function counter(url: string, name: string): Promise<number> {
  const res = await fetch(`${url}/metrics`, {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  assert.equal(res.status, 200);
  const match = (await res.text()).match(new RegExp(`^${name} (\\d+)$`, "m"));
  assert.ok(match, `${name} is reported`);
  return Number(match[1]);
}

async function conflicts(urls: string[]): Promise<number> {
  let n = 0;
  for (const url of urls) n += await counter(url, "parley_commit_conflicts_total");
  return n;
}

/** Every room's history, checked to run 1..n with no gap and no repeat. */
async function assertGapless(url: string, token: string, roomId: string, n: number) {
  const seqs: number[] = [];
  for (let after = 0;;) {
    const page = await call(url, `/api/rooms/${roomId}/messages?after=${after}&limit=100`, {
      token,
    });
    assert.equal(page.status, 200);
    seqs.push(...page.body.messages.map((m: any) => m.seq));
    if (!page.body.hasMore) break;
    after = seqs.at(-1)!;
  }
  assert.deepEqual(seqs, Array.from({ length: n }, (_, i) => i + 1), `room ${roomId} is gapless`);
}

/** The (room, seq) pairs a stream received, each once, ascending per room. */
function assertDeliveredOnce(stream: SseClient, expected: Map<string, number>) {
  const seen = new Map<string, number[]>();
  for (const m of stream.of("message")) {
    const list = seen.get(m.roomId) ?? [];
    list.push(m.seq);
    seen.set(m.roomId, list);
  }
  for (const [roomId, n] of expected) {
    assert.deepEqual(
      seen.get(roomId) ?? [],
      Array.from({ length: n }, (_, i) => i + 1),
      `every message of ${roomId} once, in order`,
    );
  }
}

/**
 * Senders on two instances post into their own rooms without a single
 * conflict, then into the same rooms, which stay gapless; a stream on one
 * instance gets every message once.
 */
async function exerciseTwoInstances(one: string, two: string) {
  const [s1, s2, watcher] = await Promise.all([
    registerUser(one),
    registerUser(two),
    registerUser(one),
  ]);
  const rooms1 = await Promise.all(
    Array.from({ length: 10 }, (_, i) => roomWith(one, s1, [watcher], { name: `one-${i}` })),
  );
  const rooms2 = await Promise.all(
    Array.from({ length: 10 }, (_, i) => roomWith(two, s2, [watcher], { name: `two-${i}` })),
  );
  const stream = await SseClient.connect(one, watcher);
  try {
    await stream.next("ready");
    const before = await conflicts([one, two]);
    const PER_ROOM = 8;
    const sendAll = (url: string, user: { token: string }, rooms: string[], tag: string) =>
      Promise.all(rooms.flatMap((r) =>
        Array.from({ length: PER_ROOM }, async (_, k) => {
          const res = await post(url, user.token, r, `${tag} ${k}`);
          assert.equal(res.status, 201);
        })
      ));
    await Promise.all([sendAll(one, s1, rooms1, "own"), sendAll(two, s2, rooms2, "own")]);
    assert.equal(await conflicts([one, two]), before, "own rooms never conflict");

    // Now both post into all twenty rooms at once.
    for (const r of rooms1) {
      await call(two, `/api/rooms/${r}/join`, { token: s2.token, method: "POST" });
    }
    for (const r of rooms2) {
      await call(one, `/api/rooms/${r}/join`, { token: s1.token, method: "POST" });
    }
    const all = [...rooms1, ...rooms2];
    await Promise.all([sendAll(one, s1, all, "shared"), sendAll(two, s2, all, "shared")]);
    const expected = new Map(all.map((r) => [r, PER_ROOM * 3]));
    await Promise.all(all.map((r) => assertGapless(one, watcher.token, r, PER_ROOM * 3)));
    const total = all.length * PER_ROOM * 3;
    await stream.until(() => stream.of("message").length >= total, 15_000, "every message");
    await new Promise((r) => setTimeout(r, 300));
    assertDeliveredOnce(stream, expected);
  } finally {
    await stream.close();
  }
}

Deno.test("two server processes on one KV file: own rooms never conflict, shared rooms stay gapless", async () => {
  await using file = await tempKvPath();
  const env = { METRICS_TOKEN };
  await using one = await spawnServer(file.path, undefined, env);
  await using two = await spawnServer(file.path, undefined, env);
  await exerciseTwoInstances(one.url, two.url);
});

Deno.test("two apps over two KV handles of one file: own rooms never conflict, shared rooms stay gapless", async () => {
  await using file = await tempKvPath();
  const clock = manualClock(Date.now());
  await using a = await testApp({ metricsToken: METRICS_TOKEN }, { path: file.path, clock });
  await using b = await testApp({ metricsToken: METRICS_TOKEN }, { path: file.path, clock });
  await using one = serve(a.app.fetch);
  await using two = serve(b.app.fetch);
  await exerciseTwoInstances(one.url, two.url);
});

Deno.test("a client hopping between three instances with random disconnects gets every message once, in order", async () => {
  await using file = await tempKvPath();
  const servers = await Promise.all([0, 1, 2].map(() => spawnServer(file.path)));
  try {
    const urls = servers.map((s) => s.url);
    const [sender, reader] = await Promise.all([registerUser(urls[0]), registerUser(urls[1])]);
    const rooms = await Promise.all(
      Array.from({ length: 6 }, (_, i) => roomWith(urls[i % 3], sender, [reader])),
    );
    const PER_ROOM = 25;
    // The first stream is fresh: it starts from now, so it opens before anything is sent.
    let stream = await SseClient.connect(urls[0], { token: reader.token });
    await stream.next("ready");
    let sending = true;
    const sent = (async () => {
      for (let k = 0; k < PER_ROOM; k++) {
        await Promise.all(rooms.map(async (r, i) => {
          const res = await post(urls[(k + i) % 3], sender.token, r, `m${k}`);
          assert.equal(res.status, 201);
        }));
        await new Promise((r) => setTimeout(r, Math.random() * 30));
      }
    })().finally(() => sending = false);
    // Its failure is reported below; a reader failing first must not leave it unhandled.
    sent.catch(() => {});

    const received: any[] = [];
    const firstEvents: string[] = [];
    // Hops while sending are not counted: a loaded machine sends slowly.
    for (let hop = 0, after = 0;; hop++, after += sending ? 0 : 1) {
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 250));
      if (!sending) await new Promise((r) => setTimeout(r, 1_200)); // the poll's back-off
      await stream.close();
      firstEvents.push(stream.events[0].event);
      received.push(...stream.of("message"));
      if (!sending && received.length >= rooms.length * PER_ROOM) break;
      if (after >= 30) {
        const got = received.map((m) => `${rooms.indexOf(m.roomId)}:${m.seq}`).sort();
        assert.fail(`the reader did not catch up: ${received.length} received: ${got.join(" ")}`);
      }
      const url = urls[Math.floor(Math.random() * 3)];
      stream = await SseClient.connect(url, {
        token: reader.token,
        lastEventId: stream.lastEventId,
      });
    }
    await sent;
    assert.equal(firstEvents[0], "ready");
    assert.ok(!firstEvents.includes("reset"), "every resume was exact");
    const byRoom = new Map<string, number[]>();
    for (const m of received) byRoom.set(m.roomId, [...byRoom.get(m.roomId) ?? [], m.seq]);
    for (const r of rooms) {
      assert.deepEqual(byRoom.get(r), Array.from({ length: PER_ROOM }, (_, i) => i + 1));
    }
  } finally {
    await Promise.all(servers.map((s) => s.kill()));
  }
});

Deno.test("SIGTERM ends an instance's 100 streams cleanly and they resume on another with nothing lost or repeated", async () => {
  await using file = await tempKvPath();
  const doomed = await spawnServer(file.path);
  await using survivor = await spawnServer(file.path);
  try {
    const sender = await registerUser(survivor.url);
    const users = await Promise.all(Array.from({ length: 10 }, () => registerUser(doomed.url)));
    const room = await roomWith(survivor.url, sender, users);
    const streams = await Promise.all(
      Array.from({ length: 100 }, (_, i) => SseClient.connect(doomed.url, users[i % 10])),
    );
    let n = 0;
    const send = async () => {
      const res = await post(survivor.url, sender.token, room, `m${++n}`);
      assert.equal(res.status, 201);
    };
    for (let i = 0; i < 5; i++) await send();
    await Promise.all(streams.map((s) => s.until(() => s.of("message").length === 5, 10_000)));

    // Messages keep coming while the instance stops.
    const during = (async () => {
      for (let i = 0; i < 10; i++) {
        await send();
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    await doomed.kill("SIGTERM");
    await during;
    await Promise.all(streams.map((s) => s.until(() => s.closed, 5_000, "the stream to end")));
    assert.deepEqual(
      streams.filter((s) => s.error !== undefined),
      [],
      "every stream ended cleanly",
    );

    const resumed = await Promise.all(
      streams.map((s, i) =>
        SseClient.connect(survivor.url, { token: users[i % 10].token, lastEventId: s.lastEventId })
      ),
    );
    try {
      for (let i = 0; i < 5; i++) await send();
      await Promise.all(resumed.map((r, i) =>
        r.until(
          () => streams[i].of("message").length + r.of("message").length >= n,
          10_000,
          "every message",
        )
      ));
      await new Promise((r) => setTimeout(r, 200));
      resumed.forEach((r, i) => {
        assert.notEqual(r.events[0]?.event, "reset");
        const texts = [...streams[i].of("message"), ...r.of("message")].map((m) => m.text);
        assert.deepEqual(texts, Array.from({ length: n }, (_, k) => `m${k + 1}`));
      });
    } finally {
      await Promise.all(resumed.map((r) => r.close()));
    }
  } finally {
    await doomed.kill("SIGKILL");
  }
});

Deno.test("HEAD /api/events subscribes nothing: no stream is held and the user stays offline", async () => {
  await using t = await testApp({ metricsToken: METRICS_TOKEN, presenceGraceMs: 100 });
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const room = await roomWith(server.url, a, [b]);
  for (let i = 0; i < 100; i++) {
    const res = await fetch(`${server.url}/api/events`, {
      method: "HEAD",
      headers: { authorization: `Bearer ${a.token}` },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/event-stream/);
    await res.body?.cancel();
    if (i % 10 === 0) await post(server.url, b.token, room, `traffic ${i}`);
  }
  assert.equal(await counter(server.url, "parley_streams_open"), 0);
  assert.equal(t.app.services.hub.streamCount, 0);
  await new Promise((r) => setTimeout(r, 300));
  const users = (await call(server.url, "/api/users", { token: b.token })).body.users;
  assert.equal(users.find((u: any) => u.id === a.id).online, false, "HEAD never made a online");
});

Deno.test("opening a stream answers ready before its presence is committed", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const a = await registerUser(server.url);
  // Hold the user's presence domain: a stream that waited for its commit would hang.
  let release!: () => void;
  const held = t.app.services.feed.run(`user:${a.id}`, async () => {
    await new Promise<void>((r) => release = r);
    return { checks: [], events: [], apply() {}, value: undefined };
  });
  const s = await SseClient.connect(server.url, a);
  try {
    await s.next("ready", () => true, 2_000);
  } finally {
    release();
    await held;
    await s.close();
  }
});

Deno.test("GET /metrics answers 404 without METRICS_TOKEN and 401 with a wrong token", async () => {
  await using plain = await testApp();
  assert.equal((await plain.app.request("/metrics")).status, 404);
  await using t = await testApp({ metricsToken: METRICS_TOKEN });
  const wrong = await t.app.request("/metrics", { headers: { authorization: "Bearer nope" } });
  assert.equal(wrong.status, 401);
  assert.equal((await wrong.json()).error.code, "unauthorized");
  const right = await t.app.request("/metrics", {
    headers: { authorization: `Bearer ${METRICS_TOKEN}` },
  });
  assert.equal(right.status, 200);
  const text = await right.text();
  for (
    const name of [
      "parley_commits_total",
      "parley_commit_conflicts_total",
      "parley_kv_lock_retries_total",
      "parley_streams_open",
      "parley_events_delivered_total",
      "parley_process_resident_memory_bytes",
    ]
  ) assert.match(text, new RegExp(`^${name} \\d+$`, "m"));
  assert.match(text, /^parley_http_requests_total\{class="4xx"\} \d+$/m);
});

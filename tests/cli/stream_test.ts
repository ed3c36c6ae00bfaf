import assert from "node:assert/strict";
import { EventStream, type StreamEvent, type StreamState } from "../../cli/stream.ts";
import { serve } from "../helpers.ts";

const encoder = new TextEncoder();

/** A fake event server: each connection is answered by the next script. */
function fakeEvents(scripts: ((req: Request) => Response)[]) {
  const seen: (string | null)[] = [];
  const open: ReadableStreamDefaultController<Uint8Array>[] = [];
  const server = serve((req) => {
    seen.push(req.headers.get("last-event-id"));
    const script = scripts[Math.min(seen.length - 1, scripts.length - 1)];
    return script(req);
  });
  const stream = (chunks: string[], end: boolean) =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(c) {
          for (const chunk of chunks) c.enqueue(encoder.encode(chunk));
          if (end) c.close();
          else open.push(c);
        },
      }),
      { headers: { "content-type": "text/event-stream" } },
    );
  return {
    server,
    seen,
    stream,
    closeAll: () =>
      open.forEach((c) => {
        try {
          c.close();
        } catch {
          // the client already cancelled it
        }
      }),
  };
}

Deno.test("EventStream reconnects after the stream ends, resuming with Last-Event-ID", async () => {
  const fake = fakeEvents([
    () =>
      fake.stream([
        'retry: 10\n\nevent: ready\nid: 1\ndata: {"position":1}\n\n',
        'event: message\nid: 2\ndata: {"seq":1}\n\n',
      ], true),
    () => fake.stream(['event: message\nid: 3\ndata: {"seq":2}\n\n'], false),
  ]);
  await using _ = fake.server;
  const events: StreamEvent[] = [];
  const states: string[] = [];
  const stream = new EventStream({
    server: fake.server.url,
    token: "t",
    onEvent: (e) => events.push(e),
    onState: (s) => states.push(s.state),
    minBackoffMs: 10,
  });
  stream.start();
  await waitUntil(() => events.length === 3);
  await stream.close();
  fake.closeAll();
  assert.deepEqual(events.map((e) => `${e.event}:${e.id}`), ["ready:1", "message:2", "message:3"]);
  assert.deepEqual(fake.seen, [null, "2"]);
  assert.deepEqual(states, ["open", "down", "open"]);
  assert.equal(stream.lastEventId, "3");
});

Deno.test("EventStream treats a silent stream as dead, and backs off on failures", async () => {
  let failures = 0;
  const fake = fakeEvents([
    () => fake.stream(["event: ready\nid: 7\ndata: {}\n\n"], false), // then silence
    () => {
      failures++;
      return new Response("down", { status: 503 });
    },
    () => new Response("down", { status: 503 }),
    () => new Response("down", { status: 503 }),
    () => new Response("down", { status: 503 }),
    () => fake.stream(['event: message\nid: 8\ndata: {"seq":1}\n\n'], false),
  ]);
  await using _ = fake.server;
  const states: StreamState[] = [];
  const events: StreamEvent[] = [];
  const stream = new EventStream({
    server: fake.server.url,
    token: "t",
    onEvent: (e) => events.push(e),
    onState: (s) => states.push(s),
    minBackoffMs: 20,
    maxBackoffMs: 60,
    idleTimeoutMs: 150,
  });
  stream.start();
  await waitUntil(() => events.length === 2, 5000);
  await stream.close();
  fake.closeAll();
  assert.equal(failures, 1);
  assert.deepEqual(fake.seen, [null, "7", "7", "7", "7", "7"]);
  const waits = states.flatMap((s) => s.state === "down" ? [s.retryInMs] : []);
  // 20, 40, 60 (the cap), 60, 60 ms, each within the ±20% jitter.
  const expected = [20, 40, 60, 60, 60];
  assert.equal(waits.length, expected.length);
  waits.forEach((w, i) => assert.ok(w >= expected[i] * 0.8 && w <= expected[i] * 1.2, `${w}`));
});

Deno.test("EventStream stops when the token is refused", async () => {
  const fake = fakeEvents([() => new Response("no", { status: 401 })]);
  await using _ = fake.server;
  const states: string[] = [];
  const stream = new EventStream({
    server: fake.server.url,
    token: "expired",
    onEvent: () => {},
    onState: (s) => states.push(s.state),
    minBackoffMs: 10,
  });
  stream.start();
  await waitUntil(() => states.length > 0);
  await new Promise((resolve) => setTimeout(resolve, 100));
  await stream.close();
  assert.deepEqual(states, ["unauthorized"]);
  assert.equal(fake.seen.length, 1);
});

async function waitUntil(predicate: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

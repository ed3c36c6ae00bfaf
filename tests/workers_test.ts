// deno-lint-ignore-file no-explicit-any
/**
 * `deno serve --parallel`: several workers of one process on one KV file,
 * as `deno task start` runs them. Connections land on either worker, so the
 * test keeps opening them until it holds streams and has posted on both.
 */
import assert from "node:assert/strict";
import { call, registerUser, roomWith, tempKvPath } from "./helpers.ts";
import { SseClient } from "./sse_client.ts";

const METRICS_TOKEN = "workers-test-metrics";

/** Each worker's commit conflicts so far, read on new connections until every worker answered. */
async function conflictsByWorker(url: string, workers: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; seen.size < workers; i++) {
    assert.ok(i < 100, "every worker answered /metrics");
    const res = await fetch(`${url}/metrics`, {
      headers: { authorization: `Bearer ${METRICS_TOKEN}`, connection: "close" },
    });
    const text = await res.text();
    const conflicts = Number(text.match(/^parley_commit_conflicts_total (\d+)$/m)?.[1]);
    seen.set(res.headers.get("x-parley-instance")!, conflicts);
  }
  return seen;
}

async function startWorkers(kvPath: string, workers: number) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = new Deno.Command(Deno.execPath(), {
    args: ["serve", "--parallel", "-A", "--host", "127.0.0.1", "--port", String(port), "serve.ts"],
    cwd: new URL("..", import.meta.url).pathname,
    env: {
      DENO_JOBS: String(workers),
      KV_PATH: kvPath,
      RATE_LIMITS: "off",
      METRICS_TOKEN: METRICS_TOKEN,
    },
    stdout: "null",
    stderr: "null",
  }).spawn();
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0;; i++) {
    try {
      const res = await fetch(`${url}/api/health`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not yet */ }
    if (i > 200) throw new Error("the workers did not start");
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    async [Symbol.asyncDispose]() {
      child.kill("SIGKILL");
      await child.status;
    },
  };
}

Deno.test("workers of deno serve --parallel deliver across workers, once each, keep seq gapless, and never race on a room", async () => {
  await using file = await tempKvPath();
  await using server = await startWorkers(file.path, 2);
  const [sender, reader] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const room = await roomWith(server.url, sender, [reader]);
  // A stream holds its connection, so each new one may land on either worker.
  const streams = new Map<string, SseClient>();
  const extra: SseClient[] = [];
  for (let i = 0; streams.size < 2; i++) {
    assert.ok(i < 60, "both workers served a stream");
    const s = await SseClient.connect(server.url, reader);
    await s.next("ready");
    if (streams.has(s.instance!)) extra.push(s);
    else streams.set(s.instance!, s);
  }
  for (const s of extra) await s.close();
  const conflictsBefore = await conflictsByWorker(server.url, 2);
  const posted = new Set<string>();
  const SENDS = 150;
  const sends = Array.from({ length: SENDS }, async (_, k) => {
    const res = await fetch(`${server.url}/api/rooms/${room}/messages`, {
      method: "POST",
      headers: {
        authorization: `Bearer ${sender.token}`,
        "content-type": "application/json",
        connection: "close",
      },
      body: JSON.stringify({ text: `m${k}` }),
    });
    assert.equal(res.status, 201);
    posted.add(res.headers.get("x-parley-instance")!);
    await res.body?.cancel();
  });
  await Promise.all(sends);
  assert.equal(posted.size, 2, "posts landed on both workers");
  // One worker owns the room and commits its sends, so the workers never race on its head.
  const conflictsAfter = await conflictsByWorker(server.url, 2);
  for (const [worker, n] of conflictsAfter) {
    assert.equal(n - (conflictsBefore.get(worker) ?? 0), 0, `commit conflicts on ${worker}`);
  }
  try {
    for (const s of streams.values()) {
      await s.until(() => s.of("message").length >= SENDS, 10_000, "every message");
      await new Promise((r) => setTimeout(r, 200));
      const seqs = s.of("message").map((m) => m.seq).sort((a: number, b: number) => a - b);
      assert.deepEqual(seqs, Array.from({ length: SENDS }, (_, i) => i + 1), "each once, gapless");
    }
    const page = (query: string) =>
      call(server.url, `/api/rooms/${room}/messages?limit=100${query}`, { token: reader.token });
    const [older, newer] = [await page("&before=51"), await page("")];
    assert.deepEqual(
      [...older.body.messages, ...newer.body.messages].map((m: any) => m.seq),
      Array.from({ length: SENDS }, (_, i) => i + 1),
    );
  } finally {
    for (const s of streams.values()) await s.close();
  }
});

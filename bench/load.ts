/**
 * The load generator: one benchmark part against a running Parley server,
 * run as its own process by `bench/main.ts` so it never shares a thread with
 * the server.
 *
 * Usage: `deno run -A bench/load.ts '<json LoadJob>'`. It talks to the
 * orchestrator over stdio: it prints `MARK <name>` at the edges of measured
 * phases and waits for an `ok` line on stdin when it must hold still while
 * the orchestrator samples the server; at the end it prints `RESULT <json>`.
 *
 * Latency is measured in this process alone: the send time goes into the
 * message text (`bench|<tag>|<ms>`), and the receiving stream subtracts it
 * from the time the event arrives.
 *
 * @module
 */
import { createHash } from "node:crypto";
import {
  HttpConnection,
  INSTANCE_HEADER,
  SseConnection,
  type StreamedBody,
  type Target,
} from "./http_client.ts";

/** What one load process runs. */
export type LoadJob =
  & {
    target: Target;
    /**
     * Every instance when the part runs several servers over one KV
     * (`targets[0]` is `target`); one-to-one then puts each pair's sender and
     * receiver on different instances.
     */
    targets?: Target[];
  }
  & (
    | {
      part: "oneToOne";
      pairs: number;
      inFlight: number;
      durationMs: number;
      warmupMs: number;
      /**
       * Where connections go on a server with several workers, instead of
       * wherever the kernel hands them: the receivers' streams spread evenly
       * over `workers`, and each pair's sender connections either all on its
       * stream's worker (`pin`: for the floor, whose workers keep their state
       * apart) or spread evenly over the workers (`spread`: for Parley, so
       * that a fixed share of the messages, (workers − 1) / workers, crosses
       * workers in every run). See {@linkcode placePairs}.
       */
      placement?: { workers: number; mode: "pin" | "spread" };
    }
    | { part: "connectStorm"; users: number }
    | {
      part: "roomFanout";
      members: number;
      senders: number;
      connections: number;
      rates: number[];
      stepMs: number;
      drainMs: number;
    }
    | { part: "connections"; count: number; users: number; concurrency: number }
    | { part: "catchUp"; messages: number; concurrency: number }
    | { part: "history"; messages: number; requests: number; concurrency: number }
    | { part: "attachments"; bytes: number; runs: number }
  );

// ---- talking to the orchestrator ------------------------------------------------------------

const stdinLines = (async function* () {
  let buf = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    buf += chunk;
    let at: number;
    while ((at = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, at);
      buf = buf.slice(at + 1);
    }
  }
})();

const encoder = new TextEncoder();

function say(line: string): void {
  Deno.stdout.writeSync(encoder.encode(line + "\n"));
}

/** Tells the orchestrator a phase edge was reached; with `wait`, holds until it sampled. */
async function mark(name: string, wait = false): Promise<void> {
  say(`MARK ${wait ? "wait" : "go"} ${name}`);
  if (wait) await stdinLines.next();
}

function log(message: string): void {
  console.error(`[load] ${message}`);
}

// ---- small helpers -----------------------------------------------------------------------------

const now = () => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The q-quantile (0..1) of `values`, by nearest rank; 0 when empty. */
function quantile(values: number[] | Float64Array, q: number): number {
  if (!values.length) return 0;
  const sorted = Float64Array.from(values).sort();
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Runs `task(i)` for i in 0..n with at most `limit` at a time. */
async function pool<T>(n: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results = new Array<T>(n);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) {
      const i = next++;
      results[i] = await task(i);
    }
  }));
  return results;
}

/** A pool of keep-alive connections for setup calls that must succeed. */
class Api {
  #target: Target;
  #free: HttpConnection[] = [];

  constructor(target: Target) {
    this.#target = target;
  }

  // deno-lint-ignore no-explicit-any
  async call(method: string, path: string, token?: string, json?: unknown): Promise<any> {
    const conn = this.#free.pop() ?? await HttpConnection.open(this.#target);
    try {
      // Parley wants a JSON body on every POST, even an empty one.
      const body = json ?? (method === "POST" ? {} : undefined);
      const res = await conn.request(method, path, { token, json: body });
      if (res.status >= 300) throw new Error(`${method} ${path} → ${res.status} ${res.body}`);
      this.#free.push(conn);
      return res.body ? JSON.parse(res.body) : null;
    } catch (e) {
      conn.close();
      throw e;
    }
  }

  close(): void {
    for (const c of this.#free.splice(0)) c.close();
  }
}

interface BenchUser {
  id: string;
  username: string;
  token: string;
}

/** Registers `n` users, 16 at a time (each costs the server a password hash). */
async function registerUsers(api: Api, n: number, prefix: string): Promise<BenchUser[]> {
  const started = now();
  const run = crypto.randomUUID().slice(0, 6);
  const users = await pool(n, 16, async (i) => {
    const username = `${prefix}${run}_${i}`;
    const body = await api.call("POST", "/api/auth/register", undefined, {
      username,
      password: "bench-password",
    });
    return { id: body.user.id, username, token: body.token };
  });
  log(`registered ${n} users in ${Math.round(now() - started)} ms`);
  return users;
}

const TEXT_RE = /"text":"bench\|([^|"]*)\|([\d.]+)"/;

/** The tag and send time a bench message carries, or null for anything else. */
function parseBenchText(data: string): { tag: string; sentAt: number } | null {
  const m = TEXT_RE.exec(data);
  return m ? { tag: m[1], sentAt: Number(m[2]) } : null;
}

/**
 * Opens a stream for `user` and resolves once its `ready` (or `reset`) event arrived.
 *
 * @throws {Error} when the server refuses the stream, or it ends or stays without
 * `ready` for `timeoutMs` (the stream is closed then).
 */
async function openReadyStream(
  target: Target,
  token: string,
  onEvent: (event: string, id: string, data: string) => void,
  lastEventId?: string,
  timeoutMs = 60_000,
  timing?: { connected?: () => void },
): Promise<SseConnection> {
  let ready!: () => void;
  const gotReady = new Promise<void>((r) => ready = r);
  const stream = await SseConnection.open(
    target,
    token,
    (event, id, data) => {
      if (event === "ready" || event === "reset") ready();
      onEvent(event, id, data);
    },
    lastEventId,
    timing,
  );
  if (lastEventId) return stream;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const failed = await Promise.race([
    gotReady.then(() => null),
    stream.done.then(() => "the stream ended before ready", (e) => `the stream failed: ${e}`),
    new Promise<string>((r) =>
      timer = setTimeout(() => r(`no ready in ${timeoutMs} ms`), timeoutMs)
    ),
  ]);
  clearTimeout(timer);
  if (failed) {
    await stream.close();
    throw new Error(failed);
  }
  return stream;
}

/** Waits until `done()` or `ms` passed; returns whether `done()` became true. */
async function waitFor(done: () => boolean, ms: number): Promise<boolean> {
  const until = now() + ms;
  while (!done()) {
    if (now() > until) return false;
    await sleep(5);
  }
  return true;
}

// ---- the parts ---------------------------------------------------------------------------------

/**
 * Delivery counts of numbered messages, per pair: how many times message `n`
 * of pair `p` arrived, so a loss or a duplicate is seen exactly.
 */
class Tally {
  #counts: Uint8Array[];

  constructor(pairs: number) {
    this.#counts = Array.from({ length: pairs }, () => new Uint8Array(1024));
  }

  /** Counts one arrival of message `n` of pair `p`; returns how many times it has arrived. */
  add(p: number, n: number): number {
    let c = this.#counts[p];
    if (n >= c.length) {
      const bigger = new Uint8Array(Math.max(n + 1, c.length * 2));
      bigger.set(c);
      c = this.#counts[p] = bigger;
    }
    if (c[n] < 255) c[n]++;
    return c[n];
  }

  /** How many times message `n` of pair `p` arrived. */
  get(p: number, n: number): number {
    return this.#counts[p][n] ?? 0;
  }
}

/**
 * 1:1: each sender keeps `inFlight` POSTs going to its DM with one receiver.
 * With several `targets` (instances over one KV file), pair i's sender talks
 * to instance i mod n and its receiver's stream to instance i + 1 mod n, so
 * every message crosses from one instance to another.
 */
async function oneToOne(job: Extract<LoadJob, { part: "oneToOne" }>) {
  const targets = job.targets ?? [job.target];
  const senderAt = (pair: number) => targets[pair % targets.length];
  const receiverAt = (pair: number) => targets[(pair + 1) % targets.length];
  const api = new Api(job.target);
  const users = await registerUsers(api, job.pairs * 2, "p");
  api.close();
  const senders = users.slice(0, job.pairs), receivers = users.slice(job.pairs);
  const apis = targets.map((t) => new Api(t));
  const apiOf = (t: Target) => apis[targets.indexOf(t)];
  const rooms: string[] = await pool(job.pairs, 16, async (i) => {
    const body = await apiOf(senderAt(i)).call(
      "POST",
      `/api/direct/${receivers[i].username}`,
      senders[i].token,
    );
    return body.room.id;
  });

  let measureFrom = Infinity, measureTo = Infinity;
  // Each message's text is `bench|<pair>.<n>|<sent at>`: the pair and the number tell a
  // duplicate or a loss apart, the time gives the latency.
  const tally = new Tally(job.pairs);
  let delivered = 0, deliveredOnce = 0, duplicates = 0, strays = 0;
  const latencies: number[] = [];
  const onEventOf = (pair: number) => (event: string, _id: string, data: string) => {
    if (event !== "message") return;
    const m = parseBenchText(data);
    if (!m) return;
    const dot = m.tag.indexOf(".");
    const p = Number(m.tag.slice(0, dot)), n = Number(m.tag.slice(dot + 1));
    if (p !== pair) {
      strays++; // another pair's message on this stream: never expected
      return;
    }
    delivered++;
    if (tally.add(p, n) === 1) deliveredOnce++;
    else duplicates++;
    if (m.sentAt >= measureFrom && m.sentAt < measureTo) latencies.push(now() - m.sentAt);
  };
  const open = (pair: number) =>
    openReadyStream(receiverAt(pair), receivers[pair].token, onEventOf(pair));
  const { streams, conns } = job.placement ? await placePairs(job, job.placement, open) : {
    streams: await Promise.all(receivers.map((_, pair) => open(pair))),
    conns: await Promise.all(
      Array.from(
        { length: job.pairs * job.inFlight },
        (_, i) => HttpConnection.open(senderAt(Math.floor(i / job.inFlight))),
      ),
    ),
  };
  // Which instance (or worker) holds each receiver's stream: a POST answered by another one
  // crossed instances (or workers) to be delivered.
  const streamInstance = streams.map((s) => s.instance);
  const instancesSeen = new Set(streamInstance.filter((i) => i !== undefined));

  let acked = 0, ackedTotal = 0, errors = 0, crossed = 0;
  const ackedIds: number[] = []; // pair · 2^24 + n
  const next = new Array<number>(job.pairs).fill(0);
  const ackLatencies: number[] = [];
  const start = now();
  measureFrom = start + job.warmupMs;
  measureTo = measureFrom + job.durationMs;
  setTimeout(() => mark("start"), job.warmupMs);
  await Promise.all(conns.map(async (conn, i) => {
    const pair = Math.floor(i / job.inFlight);
    const path = `/api/rooms/${rooms[pair]}/messages`;
    const token = senders[pair].token;
    while (now() < measureTo) {
      const n = next[pair]++;
      const sentAt = now();
      const res = await conn.request("POST", path, {
        token,
        json: { text: `bench|${pair}.${n}|${sentAt.toFixed(3)}` },
      });
      const at = now();
      if (res.status !== 201) {
        if (errors++ < 3) log(`POST → ${res.status} ${res.body}`);
        continue;
      }
      ackedTotal++;
      ackedIds.push(pair * 2 ** 24 + n);
      const instance = res.headers.get(INSTANCE_HEADER);
      if (instance !== undefined) {
        instancesSeen.add(instance);
        if (instance !== streamInstance[pair]) crossed++;
      }
      if (sentAt >= measureFrom && at <= measureTo) {
        acked++;
        ackLatencies.push(at - sentAt);
      }
    }
  }));
  await mark("end");
  const allDelivered = await waitFor(() => deliveredOnce >= ackedTotal, 10_000);
  // A duplicate may trail the original: give it a moment to show.
  if (allDelivered) await sleep(300);
  const undelivered =
    ackedIds.filter((id) => tally.get(Math.floor(id / 2 ** 24), id % 2 ** 24) === 0)
      .length;
  for (const c of conns) c.close();
  await Promise.all(streams.map((s) => s.close()));
  for (const a of apis) a.close();
  return {
    pairs: job.pairs,
    inFlight: job.inFlight,
    instances: targets.length,
    durationS: job.durationMs / 1000,
    acked,
    ackedTotal,
    msgsPerSec: round(acked / (job.durationMs / 1000), 0),
    p50Ms: round(quantile(latencies, 0.5)),
    p99Ms: round(quantile(latencies, 0.99)),
    ackP50Ms: round(quantile(ackLatencies, 0.5)),
    ackP99Ms: round(quantile(ackLatencies, 0.99)),
    errors,
    delivered,
    undelivered,
    duplicates,
    strays,
    // Acknowledged messages posted on another instance (or worker) than the one holding the
    // receiver's stream, and how many instances answered at all (from `x-parley-instance`;
    // 0 and 0 for a server that does not send it).
    crossedInstances: crossed,
    instancesSeen: instancesSeen.size,
    placement: job.placement?.mode ?? null,
  };
}

/**
 * Opens one-to-one's receiver streams and sender connections on chosen
 * workers of a server with `workers` workers: the streams spread evenly over
 * the workers, and each pair's `inFlight` connections either all on the
 * worker of its stream (`pin`) or spread evenly over all workers, starting
 * with the stream's (`spread`). A connection's worker is whichever accepted
 * it; it is read off `x-parley-instance` (of the stream, and of a `GET
 * /api/health` on each connection), and a connection on a worker that needs
 * no more is closed and another one opened.
 *
 * Left to the kernel, a burst of connections can all land on one worker:
 * in short runs 45 % to 100 % of Parley's messages crossed workers.
 *
 * @throws {Error} when the server does not name its workers, or the
 * connections will not land where needed after many tries.
 */
async function placePairs(
  job: { pairs: number; inFlight: number; target: Target },
  placement: { workers: number; mode: "pin" | "spread" },
  open: (pair: number) => Promise<SseConnection>,
): Promise<{ streams: SseConnection[]; conns: HttpConnection[] }> {
  const started = now();
  const quota = Math.ceil(job.pairs / placement.workers);
  const workers: string[] = []; // in the order their first stream came
  const streamsOn = new Map<string, number>();
  const streams: SseConnection[] = [];
  let tries = 0;
  for (let pair = 0; pair < job.pairs; pair++) {
    while (true) {
      if (++tries > job.pairs * 20 + 50) {
        throw new Error(`could not spread ${job.pairs} streams over ${placement.workers} workers`);
      }
      const stream = await open(pair);
      const worker = stream.instance;
      if (worker === undefined) throw new Error("the server does not name its workers");
      const count = streamsOn.get(worker) ?? 0;
      if (count < quota && (count > 0 || workers.length < placement.workers)) {
        if (!count) workers.push(worker);
        streamsOn.set(worker, count + 1);
        streams[pair] = stream;
        break;
      }
      await stream.close();
    }
  }
  // How many connections each pair still wants on each worker.
  const want = streams.map((stream) => {
    const first = workers.indexOf(stream.instance!);
    const counts = new Map<string, number>();
    for (let k = 0; k < job.inFlight; k++) {
      const w = placement.mode === "pin" ? workers[first] : workers[(first + k) % workers.length];
      counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    return counts;
  });
  const conns: HttpConnection[][] = Array.from({ length: job.pairs }, () => []);
  const wanted = job.pairs * job.inFlight;
  let placed = 0, opened = 0;
  while (placed < wanted) {
    if (opened > wanted * 20 + 200) {
      throw new Error(`could not place ${wanted} connections on their workers`);
    }
    const batch = Math.min(64, (wanted - placed) * 2);
    opened += batch;
    await Promise.all(Array.from({ length: batch }, async () => {
      const conn = await HttpConnection.open(job.target);
      const res = await conn.request("GET", "/api/health");
      const worker = res.headers.get(INSTANCE_HEADER);
      if (worker === undefined) throw new Error("the server does not name its workers");
      const pair = want.findIndex((counts) => (counts.get(worker) ?? 0) > 0);
      if (pair < 0) return conn.close();
      want[pair].set(worker, want[pair].get(worker)! - 1);
      conns[pair].push(conn);
      placed++;
    }));
  }
  log(
    `placed ${job.pairs} pairs on ${workers.length} workers (${placement.mode}; ${opened} ` +
      `connections opened for ${wanted}) in ${Math.round(now() - started)} ms`,
  );
  return { streams, conns: conns.flat() };
}

/** Room fan-out: open-loop sends at fixed rates into one room whose members all listen. */
async function roomFanout(job: Extract<LoadJob, { part: "roomFanout" }>) {
  const api = new Api(job.target);
  const users = await registerUsers(api, job.members, "f");
  const { room } = await api.call("POST", "/api/rooms", users[0].token, {
    name: "fan-out",
    capacity: Math.max(job.members, 2),
  });
  await pool(
    job.members - 1,
    16,
    (i) => api.call("POST", `/api/rooms/${room.id}/join`, users[i + 1].token),
  );

  let step = { tag: "", end: Infinity, delivered: 0, inWindow: 0, latencies: [] as number[] };
  const streams = await Promise.all(
    users.map((u) =>
      openReadyStream(job.target, u.token, (event, _id, data) => {
        if (event !== "message") return;
        const m = parseBenchText(data);
        if (!m || m.tag !== step.tag) return;
        const at = now();
        step.delivered++;
        if (at <= step.end) step.inWindow++;
        step.latencies.push(at - m.sentAt);
      })
    ),
  );
  await sleep(500); // let the presence events of 50 arrivals pass before measuring

  const conns = await Promise.all(
    Array.from({ length: job.connections }, () => HttpConnection.open(job.target)),
  );
  const path = `/api/rooms/${room.id}/messages`;
  const results = [];
  for (const rate of job.rates) {
    const n = Math.round(rate * job.stepMs / 1000);
    step = { tag: `r${rate}`, end: Infinity, delivered: 0, inWindow: 0, latencies: [] };
    const free = conns.map((c, i) => ({ c, token: users[i % job.senders].token }));
    const backlog: number[] = [];
    let acked = 0, errors = 0, maxBacklog = 0;
    const pending = new Set<Promise<void>>();
    const send = (slot: { c: HttpConnection; token: string }, sentAt: number) => {
      const p = (async () => {
        let at = sentAt;
        while (true) {
          const res = await slot.c.request("POST", path, {
            token: slot.token,
            json: { text: `bench|${step.tag}|${at.toFixed(3)}` },
          });
          if (res.status === 201) acked++;
          else errors++;
          const next = backlog.shift();
          if (next === undefined) break;
          at = next;
        }
        free.push(slot);
      })();
      pending.add(p);
      p.finally(() => pending.delete(p));
    };

    const interval = 1000 / rate;
    const t0 = now();
    step.end = t0 + job.stepMs;
    await mark(`start:${rate}`);
    // Open loop: message i is due at t0 + i·interval whatever happened to earlier ones, and
    // its latency counts from when it was due, so a slow server cannot hide its queue.
    for (let i = 0; i < n;) {
      const t = now();
      while (i < n && t0 + i * interval <= t) {
        const due = t0 + i * interval;
        const slot = free.pop();
        if (slot) send(slot, due);
        else backlog.push(due);
        i++;
      }
      maxBacklog = Math.max(maxBacklog, backlog.length);
      await sleep(1);
    }
    await Promise.all(pending);
    await mark(`end:${rate}`);
    const expected = acked * job.members;
    const complete = await waitFor(() => step.delivered >= expected, job.drainMs);
    results.push({
      rate,
      sent: n,
      acked,
      errors,
      expectedDeliveries: expected,
      delivered: step.delivered,
      missing: complete ? 0 : expected - step.delivered,
      offeredDeliveriesPerSec: rate * job.members,
      deliveriesPerSec: round(step.inWindow / (job.stepMs / 1000), 0),
      p50Ms: round(quantile(step.latencies, 0.5)),
      p99Ms: round(quantile(step.latencies, 0.99)),
      maxClientBacklog: maxBacklog,
    });
    log(`rate ${rate}: ${JSON.stringify(results.at(-1))}`);
    await sleep(200);
  }
  for (const c of conns) c.close();
  await Promise.all(streams.map((s) => s.close()));
  api.close();
  return { members: job.members, senders: job.senders, steps: results };
}

/** Idle streams: how long `count` take to open and what they cost the server. */
async function connections(job: Extract<LoadJob, { part: "connections" }>) {
  const api = new Api(job.target);
  const users = await registerUsers(api, job.users, "c");
  api.close();
  await mark("before", true);
  const start = now();
  let failed = 0;
  const streams = await pool(job.count, job.concurrency, async (i) => {
    try {
      return await openReadyStream(job.target, users[i % users.length].token, () => {});
    } catch (e) {
      if (failed++ < 3) log(`stream ${i}: ${e}`);
      return null;
    }
  });
  const connectMs = now() - start;
  await mark("after", true);
  await Promise.all(streams.map((s) => s?.close()));
  return { count: job.count, opened: job.count - failed, failed, connectMs: round(connectMs, 0) };
}

/**
 * Connect storm: `users` users, registered beforehand, all open their event
 * streams at once; each counts once its `ready` event arrived.
 */
async function connectStorm(job: Extract<LoadJob, { part: "connectStorm" }>) {
  const api = new Api(job.target);
  const users = await registerUsers(api, job.users, "s");
  api.close();
  await sleep(200); // let registration's work finish before the storm
  await mark("start");
  const start = now();
  const readyMs: number[] = [], tcpMs: number[] = [];
  let failed = 0;
  const streams = await Promise.all(users.map(async (u, i) => {
    try {
      const stream = await openReadyStream(job.target, u.token, () => {}, undefined, 30_000, {
        connected: () => tcpMs.push(now() - start),
      });
      readyMs.push(now() - start);
      return stream;
    } catch (e) {
      if (failed++ < 3) log(`stream ${i}: ${e}`);
      return null;
    }
  }));
  await mark("end");
  await Promise.all(streams.map((s) => s?.close()));
  return {
    users: job.users,
    ready: readyMs.length,
    failed,
    // start → the last stream's `ready`: the figure the issue targets (about a second at 1,000)
    allReadyMs: failed ? null : round(Math.max(...readyMs), 0),
    p50Ms: round(quantile(readyMs, 0.5), 1),
    p99Ms: round(quantile(readyMs, 0.99), 1),
    // The TCP handshakes alone: a connect the listen queue dropped is retried by the kernel
    // after 1 s, which shows here and not in the server's own work.
    tcpConnectP50Ms: round(quantile(tcpMs, 0.5), 1),
    tcpConnectP99Ms: round(quantile(tcpMs, 0.99), 1),
    tcpConnectsOver900Ms: tcpMs.filter((ms) => ms > 900).length,
  };
}

/** Posts `n` bench messages to a room with `concurrency` requests in flight. */
async function seed(
  target: Target,
  roomId: string,
  tokens: string[],
  n: number,
  concurrency: number,
): Promise<number> {
  const started = now();
  const conns = await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, () => HttpConnection.open(target)),
  );
  let next = 0;
  await Promise.all(conns.map(async (c, w) => {
    while (next < n) {
      const i = next++;
      const res = await c.request("POST", `/api/rooms/${roomId}/messages`, {
        token: tokens[w % tokens.length],
        json: { text: `bench|s|${i}` },
      });
      if (res.status !== 201) throw new Error(`seeding: ${res.status} ${res.body}`);
    }
  }));
  for (const c of conns) c.close();
  const ms = now() - started;
  log(`seeded ${n} messages in ${Math.round(ms)} ms (${Math.round(n / ms * 1000)}/s)`);
  return round(n / ms * 1000, 0);
}

/** Catch-up: a reader misses `messages`, then resumes with Last-Event-ID. */
async function catchUp(job: Extract<LoadJob, { part: "catchUp" }>) {
  const api = new Api(job.target);
  const [reader, writer] = await registerUsers(api, 2, "u");
  const { room } = await api.call("POST", `/api/direct/${reader.username}`, writer.token);
  let lastId = "";
  const first = await openReadyStream(job.target, reader.token, (_e, id) => lastId = id);
  await sleep(100);
  await first.close();
  const seedPerSec = await seed(job.target, room.id, [writer.token], job.messages, job.concurrency);

  let received = 0, lastSeq = 0, outOfOrder = 0, doneAt = 0;
  let finished!: () => void;
  const all = new Promise<void>((r) => finished = r);
  await mark("start");
  const start = now();
  const stream = await openReadyStream(job.target, reader.token, (event, _id, data) => {
    if (event !== "message") return;
    const seq = Number(/"seq":(\d+)/.exec(data)?.[1]);
    if (seq <= lastSeq) outOfOrder++;
    lastSeq = seq;
    if (++received === job.messages) {
      doneAt = now();
      finished();
    }
  }, lastId);
  const timedOut = await Promise.race([all.then(() => false), sleep(60_000).then(() => true)]);
  await mark("end");
  await stream.close();
  api.close();
  return {
    messages: job.messages,
    received,
    outOfOrder,
    ms: timedOut ? null : round(doneAt - start, 1),
    seedMsgsPerSec: seedPerSec,
  };
}

/** History: the newest page of a room holding `messages`. */
async function history(job: Extract<LoadJob, { part: "history" }>) {
  const api = new Api(job.target);
  const users = await registerUsers(api, 4, "h");
  const { room } = await api.call("POST", "/api/rooms", users[0].token, { name: "history" });
  await pool(3, 3, (i) => api.call("POST", `/api/rooms/${room.id}/join`, users[i + 1].token));
  const seedPerSec = await seed(
    job.target,
    room.id,
    users.map((u) => u.token),
    job.messages,
    job.concurrency,
  );

  const conn = await HttpConnection.open(job.target);
  const get = async () => {
    const started = now();
    const res = await conn.request("GET", `/api/rooms/${room.id}/messages?limit=50`, {
      token: users[0].token,
    });
    const ms = now() - started;
    if (res.status !== 200) throw new Error(`history: ${res.status}`);
    const page = JSON.parse(res.body);
    if (page.messages.length !== Math.min(50, job.messages)) {
      throw new Error(`history page had ${page.messages.length} messages`);
    }
    return ms;
  };
  for (let i = 0; i < Math.min(100, job.requests); i++) await get(); // warm up
  await mark("start");
  const times: number[] = [];
  for (let i = 0; i < job.requests; i++) times.push(await get());
  await mark("end");
  conn.close();
  api.close();
  return {
    messages: job.messages,
    requests: job.requests,
    p50Ms: round(quantile(times, 0.5), 3),
    p99Ms: round(quantile(times, 0.99), 3),
    maxMs: round(Math.max(...times), 3),
    seedMsgsPerSec: seedPerSec,
  };
}

/** `n` random bytes (`getRandomValues` fills at most 64 KiB a call). */
function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** One MB as Parley counts it (`MAX_UPLOAD_MB`): 2^20 bytes. */
const MB = 2 ** 20;

/**
 * A `multipart/form-data` body holding `file` in field `file`, as a browser's
 * `FormData` sends it, produced piece by piece: the part's headers, the
 * file's bytes as 64 KiB views (never copied), the closing boundary.
 */
function multipartFile(file: Uint8Array, name: string): StreamedBody {
  const boundary = `----parley-bench-${crypto.randomUUID()}`;
  const head = encoder.encode(
    `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="${name}"\r\n` +
      `content-type: application/octet-stream\r\n\r\n`,
  );
  const tail = encoder.encode(`\r\n--${boundary}--\r\n`);
  return {
    contentType: `multipart/form-data; boundary=${boundary}`,
    length: head.length + file.length + tail.length,
    chunks: (function* () {
      yield head;
      for (let i = 0; i < file.length; i += 65536) yield file.subarray(i, i + 65536);
      yield tail;
    })(),
  };
}

/**
 * Attachments: one member uploads a random file `runs` times (each upload a
 * new attachment), then another member of the room downloads each of them,
 * hashing the bytes as they arrive; a download that is not the file, byte for
 * byte, fails the part. One transfer at a time, each on a new connection.
 */
async function attachments(job: Extract<LoadJob, { part: "attachments" }>) {
  const api = new Api(job.target);
  const [uploader, downloader] = await registerUsers(api, 2, "a");
  const { room } = await api.call("POST", "/api/rooms", uploader.token, { name: "attachments" });
  await api.call("POST", `/api/rooms/${room.id}/join`, downloader.token);
  api.close();
  const file = randomBytes(job.bytes);
  const sha256 = createHash("sha256").update(file).digest("hex");
  const mbps = (ms: number) => round(job.bytes / MB / (ms / 1000), 1);

  const ids: string[] = [], uploadMs: number[] = [];
  await mark("start:upload", true);
  for (let i = 0; i < job.runs; i++) {
    // A connection per transfer, opened before the clock starts: the server leaves the closing
    // boundary of a form unread, so it does not keep that connection alive after an upload.
    const up = await HttpConnection.open(job.target);
    const started = now();
    const res = await up.exchange("POST", `/api/rooms/${room.id}/attachments`, {
      token: uploader.token,
      body: multipartFile(file, `bench-${i}.bin`),
    });
    const ms = now() - started;
    up.close();
    if (res.status !== 201) throw new Error(`upload ${i}: ${res.status} ${res.body}`);
    const { attachment } = JSON.parse(res.body);
    if (attachment.size !== job.bytes || attachment.sha256 !== sha256) {
      throw new Error(
        `upload ${i}: the server stored ${attachment.size} bytes with sha256 ` +
          `${attachment.sha256}, not ${job.bytes} with ${sha256}`,
      );
    }
    ids.push(attachment.id);
    uploadMs.push(ms);
    log(`upload ${i}: ${Math.round(ms)} ms, ${mbps(ms)} MB/s`);
  }
  await mark("end:upload");

  const downloadMs: number[] = [];
  await mark("start:download", true);
  for (let i = 0; i < job.runs; i++) {
    const down = await HttpConnection.open(job.target);
    const hash = createHash("sha256");
    const started = now();
    const res = await down.exchange("GET", `/api/attachments/${ids[i]}`, {
      token: downloader.token,
      onBody: (piece) => hash.update(piece),
    });
    const ms = now() - started;
    down.close();
    if (res.status !== 200) throw new Error(`download ${i}: ${res.status} ${res.body}`);
    const got = hash.digest("hex");
    if (res.bytes !== job.bytes || got !== sha256) {
      throw new Error(
        `download ${i}: ${res.bytes} bytes with sha256 ${got}, not ${job.bytes} with ${sha256}`,
      );
    }
    downloadMs.push(ms);
    log(`download ${i}: ${Math.round(ms)} ms, ${mbps(ms)} MB/s`);
  }
  await mark("end:download");
  return {
    bytes: job.bytes,
    mb: round(job.bytes / MB, 2),
    runs: job.runs,
    // The median run (the time's, so the speed's too) and the fastest.
    uploadMBps: mbps(quantile(uploadMs, 0.5)),
    uploadBestMBps: mbps(Math.min(...uploadMs)),
    downloadMBps: mbps(quantile(downloadMs, 0.5)),
    downloadBestMBps: mbps(Math.min(...downloadMs)),
    uploadMs: uploadMs.map((ms) => round(ms, 1)),
    downloadMs: downloadMs.map((ms) => round(ms, 1)),
    sha256,
    // Every upload's stored hash and every download's bytes matched (a mismatch throws above).
    sha256Verified: true,
    verifiedDownloads: downloadMs.length,
  };
}

// ---- entry -------------------------------------------------------------------------------------

if (import.meta.main) {
  const job = JSON.parse(Deno.args[0]) as LoadJob;
  const parts = {
    oneToOne,
    roomFanout,
    connections,
    connectStorm,
    catchUp,
    history,
    attachments,
  } as const;
  // deno-lint-ignore no-explicit-any
  const result = await (parts[job.part] as (j: any) => Promise<unknown>)(job);
  say(`RESULT ${JSON.stringify(result)}`);
  Deno.exit(0);
}

/**
 * `deno task bench`: measures Parley end to end. For every part it starts a
 * fresh server process (as `deno task start` runs it, KV on a temporary
 * file; two of them over one file for the two-instance part; `deno serve
 * --parallel` with a worker per core for the workers part), runs the load
 * generator (`bench/load.ts`) in another process against it over loopback,
 * reads the server's CPU time and memory from `/proc` and its KV commit
 * counters from `GET /metrics`, prints a table and writes the results as JSON.
 *
 * Right after Parley's run of one-to-one (one worker and all workers), room
 * fan-out, idle streams and the connect storm, the same load runs against
 * the floor (`bench/floor.ts`, a bare relay on `Deno.serve`), and the results
 * carry both and their ratio: the ratio is what compares across machines.
 *
 * Flags: `--quick` (small sizes, about a minute; writes
 * `bench/results.quick.json`), `--only=oneToOne,history` (some parts),
 * `--profile` (CPU-profile the server during the measured phase of each part
 * and print where the time went), `--out=<file>`, `--server-root=<dir>` (run
 * the server from another checkout, e.g. an instrumented scratch copy),
 * `--workers=<n>` (the workers part's worker count; default the core count),
 * `--no-floor` (skip the floor's runs).
 *
 * @module
 */
import type { LoadJob } from "./load.ts";
import { type KvCounters, kvDelta, readKvCounters, readKvCountersOfWorkers } from "./metrics.ts";
import { printSummary, Profiler, summarize } from "./profile.ts";
import {
  cpuBetween,
  loadAverage,
  machineBusyS,
  type ProcSample,
  resetPeakRss,
  sampleProc,
  sampleProcs,
  sampleThreads,
  sampleThreadsOf,
  type ServerProcess,
  startServer,
  startSharedServers,
  withFileLimit,
} from "./server_process.ts";

/** The parts, in the order they run. */
export const PARTS = [
  "oneToOne",
  "oneToOneWorkers",
  "oneToOneTwoInstances",
  "roomFanout",
  "connections",
  "connectStorm",
  "catchUp",
  "history",
  "attachments",
] as const;
/** One part's name. */
export type Part = typeof PARTS[number];

/** The parts the floor runs too, each right after Parley's. */
export const FLOOR_PARTS = [
  "oneToOne",
  "oneToOneWorkers",
  "roomFanout",
  "connections",
  "connectStorm",
] as const satisfies readonly Part[];

/** A delivery rate counts as saturated when it falls short of the offered one by more than this. */
export const SATURATION_SHORTFALL = 0.05;
/** … or when delivery p99 exceeds this many milliseconds. */
export const SATURATION_P99_MS = 50;

type OneToOneSizes = Omit<Extract<LoadJob, { part: "oneToOne" }>, "part" | "target" | "placement">;
type Sizes = {
  oneToOne: OneToOneSizes;
  oneToOneWorkers: OneToOneSizes;
  oneToOneTwoInstances: OneToOneSizes;
  roomFanout: Omit<Extract<LoadJob, { part: "roomFanout" }>, "part" | "target">;
  connections: { counts: number[]; users: number; concurrency: number };
  connectStorm: Omit<Extract<LoadJob, { part: "connectStorm" }>, "part" | "target">;
  catchUp: Omit<Extract<LoadJob, { part: "catchUp" }>, "part" | "target">;
  history: Omit<Extract<LoadJob, { part: "history" }>, "part" | "target">;
  attachments: Omit<Extract<LoadJob, { part: "attachments" }>, "part" | "target">;
};

/** The sizes of the real run, as the issue asks. */
export const fullSizes: Sizes = {
  oneToOne: { pairs: 25, inFlight: 32, durationMs: 10_000, warmupMs: 2_000 },
  // The same load on every worker of one process (deno serve --parallel).
  oneToOneWorkers: { pairs: 25, inFlight: 32, durationMs: 10_000, warmupMs: 2_000 },
  // The same load as one-to-one, split over two instances; a longer warm-up because an instance
  // learns of the other's commits through a poll that backs off to about 1 s while idle.
  oneToOneTwoInstances: { pairs: 25, inFlight: 32, durationMs: 10_000, warmupMs: 3_000 },
  roomFanout: {
    members: 50,
    senders: 10,
    connections: 64,
    // 3,200 and 6,400 go past the target to find where it saturates when 1,600 does not.
    rates: [100, 200, 400, 800, 1600, 3200, 6400],
    stepMs: 5_000,
    drainMs: 10_000,
  },
  connections: { counts: [1_000, 10_000], users: 100, concurrency: 200 },
  connectStorm: { users: 1_000 },
  catchUp: { messages: 10_000, concurrency: 256 },
  history: { messages: 100_000, requests: 2_000, concurrency: 256 },
  // A 20 MB file (MB as MAX_UPLOAD_MB counts it, 2^20 bytes), three times each way.
  attachments: { bytes: 20 * 2 ** 20, runs: 3 },
};

/** Small sizes that exercise every path in well under a minute. */
export const quickSizes: Sizes = {
  oneToOne: { pairs: 4, inFlight: 8, durationMs: 1_000, warmupMs: 200 },
  oneToOneWorkers: { pairs: 4, inFlight: 8, durationMs: 1_000, warmupMs: 300 },
  oneToOneTwoInstances: { pairs: 4, inFlight: 8, durationMs: 1_000, warmupMs: 1_500 },
  roomFanout: {
    members: 8,
    senders: 2,
    connections: 8,
    rates: [100, 400],
    stepMs: 1_000,
    drainMs: 10_000, // only waits this long when deliveries are missing: a busy CI box
  },
  connections: { counts: [200], users: 5, concurrency: 50 },
  connectStorm: { users: 100 },
  catchUp: { messages: 500, concurrency: 64 },
  history: { messages: 1_000, requests: 200, concurrency: 64 },
  attachments: { bytes: 4 * 2 ** 20, runs: 3 },
};

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** Where the server's `main.ts` is taken from: this checkout, or `--server-root=<dir>`. */
let serverRoot = root;
/** The workers part's worker count: `--workers=<n>`, default the core count (as `deno task start`). */
let allWorkers = navigator.hardwareConcurrency;

/** A load job before it knows where the server listens. */
type JobSpec = LoadJob extends infer J ? J extends unknown ? Omit<J, "target"> : never : never;

/** The samples taken at one mark of the load generator. */
interface Mark {
  server: ProcSample;
  load: ProcSample;
  threads: Map<string, number>;
  machineBusyS: number;
  loadAvg: number;
}

/** What one load process reported, with the server samples taken at its marks. */
interface PartRun {
  // deno-lint-ignore no-explicit-any
  result: any;
  /** Samples at the marks; with several instances, their CPU and memory summed. */
  marks: Map<string, Mark>;
  server: { start: ProcSample; end: ProcSample };
  /**
   * What the KV counters of `GET /metrics` grew by over the whole part (set-up included),
   * summed over the instances; null when the server has no metrics.
   */
  kv: KvCounters | null;
  /** The same, per instance. */
  kvByInstance: (KvCounters | null)[];
}

/** Which server a part runs against. */
interface ServerChoice {
  /** The floor (`bench/floor.ts`) instead of Parley. */
  floor?: boolean;
  /** Workers of `deno serve --parallel` (default 1: `deno run main.ts`, or plain `deno serve`). */
  workers?: number;
}

/**
 * Runs one load job against a fresh server (Parley, or the floor; on one
 * worker or several), or against `instances` fresh Parley servers over one
 * KV file.
 */
async function runLoad(
  job: JobSpec,
  options: { profile?: [string, string]; instances?: number } & ServerChoice = {},
): Promise<PartRun> {
  const instances = options.instances ?? 1;
  let servers: ServerProcess[], stopAll: () => Promise<void>;
  if (instances > 1) {
    ({ servers, stop: stopAll } = await startSharedServers(serverRoot, instances));
  } else {
    // The floor is this checkout's, whichever server is measured.
    const one = await startServer(options.floor ? root : serverRoot, {
      inspect: !!options.profile,
      workers: options.workers,
      floor: options.floor,
    });
    servers = [one];
    stopAll = one.stop;
  }
  const server = servers[0];
  const pids = servers.map((s) => s.pid);
  const readKv = () =>
    Promise.all(
      servers.map((s) =>
        s.kind === "floor"
          ? null
          : s.workers > 1
          ? readKvCountersOfWorkers(s.port, s.metricsToken, s.workers)
          : readKvCounters(s.port, s.metricsToken)
      ),
    );
  try {
    const kvBefore = await readKv();
    const profiler = options.profile ? await Profiler.attach(server.inspectPort!) : undefined;
    const targets = servers.map((s) => ({ hostname: "127.0.0.1", port: s.port }));
    const full = { ...job, target: targets[0], ...(instances > 1 ? { targets } : {}) };
    const { cmd, args } = withFileLimit([
      Deno.execPath(),
      "run",
      "-A",
      "bench/load.ts",
      JSON.stringify(full),
    ]);
    const child = new Deno.Command(cmd, {
      args,
      cwd: root,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const stdin = child.stdin.getWriter();
    const marks = new Map<string, Mark>();
    const start = await sampleProcs(pids);
    let result: unknown;
    let threadsAtStart: Map<string, number> | undefined;
    let buf = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      buf += chunk;
      let at: number;
      while ((at = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, at);
        buf = buf.slice(at + 1);
        if (line.startsWith("MARK ")) {
          const [, mode, name] = line.split(" ");
          if (mode === "wait") await new Promise((r) => setTimeout(r, 1_000)); // let memory settle
          marks.set(name, {
            server: await sampleProcs(pids),
            load: await sampleProc(child.pid),
            threads: await sampleThreadsOf(pids),
            machineBusyS: await machineBusyS(),
            loadAvg: loadAverage(),
          });
          // A measured phase starts: reset the peak so it tells that phase's, not set-up's.
          if (name.startsWith("start") || name === "before") {
            await Promise.all(pids.map(resetPeakRss));
          }
          if (profiler && name === options.profile![0]) {
            threadsAtStart = await sampleThreads(server.pid);
            await profiler.start();
          }
          if (profiler && name === options.profile![1]) {
            const summary = {
              ...summarize(await profiler.stop(), serverRoot),
              threads: threadCpu(threadsAtStart!, await sampleThreads(server.pid)),
            };
            printSummary(`${job.part} ${name}`, summary);
            console.log("-- CPU seconds by server thread (all of them, incl. KV and I/O)");
            for (const [thread, cpuS] of summary.threads) {
              console.log(`${cpuS.toFixed(2)} s  ${thread}`);
            }
            await Deno.mkdir(`${root}/bench/profiles`, { recursive: true });
            await Deno.writeTextFile(
              `${root}/bench/profiles/${job.part}.summary.json`,
              JSON.stringify(summary, null, 2),
            );
          }
          if (mode === "wait") await stdin.write(new TextEncoder().encode("ok\n"));
        } else if (line.startsWith("RESULT ")) {
          result = JSON.parse(line.slice(7));
        } else if (line) {
          console.log(line);
        }
      }
    }
    const status = await child.status;
    await stdin.close().catch(() => {});
    profiler?.close();
    if (!status.success || result === undefined) {
      throw new Error(`the load generator for ${job.part} failed (exit ${status.code})`);
    }
    const end = await sampleProcs(pids);
    const kvAfter = await readKv();
    return {
      result,
      marks,
      server: { start, end },
      kv: kvDelta(kvBefore, kvAfter),
      kvByInstance: kvBefore.map((b, i) => kvDelta([b], [kvAfter[i]])),
    };
  } finally {
    await stopAll();
  }
}

/** CPU seconds each server thread used between two samples, busiest first. */
function threadCpu(a: Map<string, number>, b: Map<string, number>): [string, number][] {
  return [...b].map(([name, s]) =>
    [name, Math.round((s - (a.get(name) ?? 0)) * 100) / 100] as [
      string,
      number,
    ]
  ).filter(([, s]) => s > 0).sort((x, y) => y[1] - x[1]);
}

/** Server cost during a measured phase: CPU between two marks, and the phase's peak RSS. */
function serverCost(run: PartRun, from: string, to: string) {
  const a = run.marks.get(from)!, b = run.marks.get(to)!;
  return {
    ...cpuBetween(a.server, b.server),
    peakRssMiB: Math.round(b.server.hwmKiB / 1024),
    loadCpuPct: cpuBetween(a.load, b.load).cpuPct,
    // Which threads did the work: "deno" is the JavaScript thread; the rest are Deno's own.
    threadCpuS: Object.fromEntries(threadCpu(a.threads, b.threads)),
    // CPU the rest of the machine used meanwhile (other programs): high means a noisy run.
    otherCpuPct: Math.max(
      0,
      Math.round(
        ((b.machineBusyS - a.machineBusyS) - (b.server.cpuS - a.server.cpuS) -
          (b.load.cpuS - a.load.cpuS)) / ((b.server.at - a.server.at) / 1000) * 100,
      ),
    ),
    loadAvg: b.loadAvg,
  };
}

async function oneToOne(sizes: Sizes, profile: boolean, choice: ServerChoice = {}) {
  const run = await runLoad({ part: "oneToOne", ...sizes.oneToOne }, {
    profile: profile ? ["start", "end"] : undefined,
    ...choice,
  });
  const server = serverCost(run, "start", "end");
  // Server CPU per acknowledged message holds up better than msgs/s on a busy machine.
  return {
    ...run.result,
    workers: 1,
    cpuUsPerMsg: perUnit(server.cpuS, run.result.acked),
    server,
    kv: run.kv,
  };
}

/**
 * One-to-one on every worker of one process (`deno serve --parallel`, as
 * `deno task start` serves). The receivers' streams are spread evenly over
 * the workers. For Parley each sender's connections are spread evenly too, so
 * (workers − 1) / workers of the messages are posted on another worker than
 * the receiver's stream and cross through KV. The floor keeps its state per
 * worker and relays only within one, so for it each pair's connections are
 * pinned to its stream's worker. See `placePairs` in `bench/load.ts`. Not
 * profiled.
 */
async function oneToOneWorkers(sizes: Sizes, choice: ServerChoice = {}) {
  const workers = allWorkers;
  const mode = choice.floor ? "pin" : "spread";
  const run = await runLoad({
    part: "oneToOne",
    ...sizes.oneToOneWorkers,
    ...(workers > 1 ? { placement: { workers, mode } } : {}),
  }, { ...choice, workers });
  const server = serverCost(run, "start", "end");
  return {
    ...run.result,
    workers,
    cpuUsPerMsg: perUnit(server.cpuS, run.result.acked),
    server,
    kv: run.kv,
  };
}

/**
 * One-to-one over two server processes on one KV file: each pair's sender on
 * one instance, its receiver's stream on the other. Server figures are both
 * processes together. Not profiled.
 */
async function oneToOneTwoInstances(sizes: Sizes) {
  const run = await runLoad({ part: "oneToOne", ...sizes.oneToOneTwoInstances }, {
    instances: 2,
  });
  const server = serverCost(run, "start", "end");
  return {
    ...run.result,
    cpuUsPerMsg: perUnit(server.cpuS, run.result.acked),
    server,
    kv: run.kv,
    kvByInstance: run.kvByInstance,
  };
}

function perUnit(cpuS: number, n: number): number | null {
  return n ? Math.round(cpuS * 1e6 / n) : null;
}

async function roomFanout(sizes: Sizes, profile: boolean, choice: ServerChoice = {}) {
  const rates = sizes.roomFanout.rates;
  const top = rates.at(-1);
  const run = await runLoad({ part: "roomFanout", ...sizes.roomFanout }, {
    profile: profile ? [`start:${top}`, `end:${top}`] : undefined,
    ...choice,
  });
  // deno-lint-ignore no-explicit-any
  const steps = run.result.steps.map((s: any) => {
    const server = serverCost(run, `start:${s.rate}`, `end:${s.rate}`);
    return { ...s, cpuUsPerMsg: perUnit(server.cpuS, s.acked), server };
  });
  // deno-lint-ignore no-explicit-any
  const saturated = steps.find((s: any) =>
    s.deliveriesPerSec < s.offeredDeliveriesPerSec * (1 - SATURATION_SHORTFALL) ||
    s.p99Ms > SATURATION_P99_MS || s.missing > 0
  );
  const at = saturated ? steps.indexOf(saturated) : steps.length;
  return {
    steps,
    members: run.result.members,
    senders: run.result.senders,
    saturationRate: saturated?.rate ?? null,
    // The highest rate held before the first saturated one (the top rate when none saturated;
    // null when the first already did): what the saturation ratio compares.
    heldRate: at > 0 ? steps[at - 1].rate : null,
    // deno-lint-ignore no-explicit-any
    peakRssMiB: Math.max(...steps.map((s: any) => s.server.peakRssMiB)),
    kv: run.kv,
  };
}

async function connections(sizes: Sizes, choice: ServerChoice = {}) {
  const out = [];
  for (const count of sizes.connections.counts) {
    const run = await runLoad({
      part: "connections",
      count,
      users: sizes.connections.users,
      concurrency: sizes.connections.concurrency,
    }, choice);
    const before = run.marks.get("before")!.server, after = run.marks.get("after")!.server;
    out.push({
      count,
      opened: run.result.opened,
      failed: run.result.failed,
      connectMs: run.result.connectMs,
      rssBeforeMiB: Math.round(before.rssKiB / 1024),
      rssAfterMiB: Math.round(after.rssKiB / 1024),
      rssPerConnKiB: Math.round((after.rssKiB - before.rssKiB) / run.result.opened * 10) / 10,
      server: serverCost(run, "before", "after"),
      kv: run.kv,
    });
  }
  return out;
}

async function connectStorm(sizes: Sizes, profile: boolean, choice: ServerChoice = {}) {
  const run = await runLoad({ part: "connectStorm", ...sizes.connectStorm }, {
    ...choice,
    profile: profile && !choice.floor ? ["start", "end"] : undefined,
  });
  return { ...run.result, server: serverCost(run, "start", "end"), kv: run.kv };
}

async function catchUp(sizes: Sizes, profile: boolean) {
  const run = await runLoad({ part: "catchUp", ...sizes.catchUp }, {
    profile: profile ? ["start", "end"] : undefined,
  });
  return { ...run.result, server: serverCost(run, "start", "end"), kv: run.kv };
}

async function history(sizes: Sizes, profile: boolean) {
  const run = await runLoad({ part: "history", ...sizes.history }, {
    profile: profile ? ["start", "end"] : undefined,
  });
  return { ...run.result, server: serverCost(run, "start", "end"), kv: run.kv };
}

/**
 * Attachments: upload and download throughput, and the server's memory
 * before and at its peak during each direction (the peak is reset when a
 * direction starts).
 */
async function attachments(sizes: Sizes) {
  const run = await runLoad({ part: "attachments", ...sizes.attachments });
  const upload = serverCost(run, "start:upload", "end:upload");
  const download = serverCost(run, "start:download", "end:download");
  const mib = (kib: number) => Math.round(kib / 1024);
  // Server CPU per MB moved holds up better than MB/s on a busy machine.
  const mbMoved = run.result.bytes * run.result.runs / 2 ** 20;
  const msPerMb = (cpuS: number) => Math.round(cpuS * 1000 / mbMoved * 10) / 10;
  return {
    ...run.result,
    rssBeforeMiB: mib(run.marks.get("start:upload")!.server.rssKiB),
    peakRssUploadMiB: upload.peakRssMiB,
    rssBeforeDownloadMiB: mib(run.marks.get("start:download")!.server.rssKiB),
    peakRssDownloadMiB: download.peakRssMiB,
    uploadCpuMsPerMB: msPerMb(upload.cpuS),
    downloadCpuMsPerMB: msPerMb(download.cpuS),
    server: { upload, download },
    kv: run.kv,
  };
}

async function git(...args: string[]): Promise<string> {
  const out = await new Deno.Command("git", { args, cwd: root, stdout: "piped", stderr: "null" })
    .output();
  return new TextDecoder().decode(out.stdout).trim();
}

async function machine() {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  return {
    cores: navigator.hardwareConcurrency,
    cpu: /model name\s*:\s*(.*)/.exec(cpuinfo)?.[1] ?? "unknown",
    memoryGiB: Math.round(Deno.systemMemoryInfo().total / 2 ** 30 * 10) / 10,
    os: `${Deno.build.os} ${Deno.osRelease()} ${Deno.build.arch}`,
    deno: Deno.version.deno,
  };
}

/** `a / b` to three decimals; null unless both are positive numbers. */
function ratio(a: unknown, b: unknown): number | null {
  if (typeof a !== "number" || typeof b !== "number" || !(a > 0) || !(b > 0)) return null;
  return Math.round(a / b * 1000) / 1000;
}

/**
 * Parley's figures divided by the floor's, from the same run. For room
 * fan-out the saturation ratio compares the highest rates each held (the rate
 * before its first saturated one, or the top rate); `roomSaturationBound`
 * says how exact that is: `exact` (both saturated: to the ladder's step),
 * `atMost` (only Parley saturated: the floor may hold more, so the true ratio
 * is lower), `atLeast` (only the floor saturated), `neither` (both held the
 * top rate: the ladder, or the load generator, is the limit, and 1 says
 * nothing more).
 */
// deno-lint-ignore no-explicit-any
export function floorRatios(r: any, f: any): Record<string, unknown> {
  const out: Record<string, unknown> = {
    oneToOne: ratio(r.oneToOne?.msgsPerSec, f.oneToOne?.msgsPerSec),
    roomSaturation: ratio(r.roomFanout?.heldRate, f.roomFanout?.heldRate),
    roomSaturationBound: null,
    // At the largest count, where the per-stream cost dominates the fixed one.
    rssPerConn: ratio(r.connections?.at(-1)?.rssPerConnKiB, f.connections?.at(-1)?.rssPerConnKiB),
    rssPerConnAt: r.connections?.at(-1)?.count ?? null,
    connectStorm: ratio(r.connectStorm?.allReadyMs, f.connectStorm?.allReadyMs),
    // All workers: Parley's (connections spread, half crossing) against the floor's (pinned).
    oneToOneWorkers: ratio(r.oneToOneWorkers?.msgsPerSec, f.oneToOneWorkers?.msgsPerSec),
    workersVsOneWorker: ratio(r.oneToOneWorkers?.msgsPerSec, r.oneToOne?.msgsPerSec),
    floorWorkersVsOneWorker: ratio(f.oneToOneWorkers?.msgsPerSec, f.oneToOne?.msgsPerSec),
    roomDeliveriesByRate: null,
  };
  if (r.roomFanout && f.roomFanout) {
    const ps = r.roomFanout.saturationRate !== null, fs = f.roomFanout.saturationRate !== null;
    out.roomSaturationBound = ps && fs ? "exact" : ps ? "atMost" : fs ? "atLeast" : "neither";
    out.roomDeliveriesByRate = Object.fromEntries(
      // deno-lint-ignore no-explicit-any
      r.roomFanout.steps.map((s: any) => {
        // deno-lint-ignore no-explicit-any
        const fs = f.roomFanout.steps.find((x: any) => x.rate === s.rate);
        return [s.rate, ratio(s.deliveriesPerSec, fs?.deliveriesPerSec)];
      }),
    );
  }
  return out;
}

/** Results as parsed JSON: their shape is checked by tests/bench/bench_test.ts. */
// deno-lint-ignore no-explicit-any
type Json = any;

/** Formats the results as the table printed and pasted in the README. */
export function formatTable(r: Json): string {
  const f = r.floor ?? {}, q = r.ratios ?? {};
  const lines = [
    "| part | figure | server CPU (other programs) | server peak RSS | KV commits / conflicts / lock retries | floor, same run | Parley ÷ floor |",
    "|---|---|---|---|---|---|---|",
  ];
  // Other programs' CPU on the machine during the phase says how far to trust a figure.
  const cpu = (s: { cpuPct: number; otherCpuPct?: number }) =>
    `${s.cpuPct}% of a core (others: ${s.otherCpuPct ?? "?"}%)`;
  // The whole part's commit counters from GET /metrics; "–" when the server has none.
  const kv = (k: KvCounters | null | undefined) =>
    k ? `${k.commits ?? "?"} / ${k.conflicts ?? "?"} / ${k.lockRetries ?? "?"}` : "–";
  const times = (x: number | null | undefined) => x === null || x === undefined ? "–" : `**${x}×**`;
  // A row's last two cells: the floor's figure (empty when it did not run) and the ratio.
  const vs = (floorCell: string | undefined, x: number | null | undefined) =>
    floorCell === undefined ? " | |" : ` ${floorCell} | ${times(x)} |`;
  const lost = (o: Json) =>
    `${o.undelivered ? `; ${o.undelivered} undelivered` : ""}` +
    `${o.duplicates ? `; ${o.duplicates} duplicates` : ""}`;
  const oneToOneRow = (label: string, o: Json, extra = "") =>
    `| ${label} (${o.pairs} pairs × ${o.inFlight} in flight, ${o.durationS} s) | ` +
    `**${o.msgsPerSec} msgs/s**${extra}; delivery p50 ${o.p50Ms} ms, p99 ${o.p99Ms} ms; ack p50 ` +
    `${o.ackP50Ms} ms, p99 ${o.ackP99Ms} ms; ${o.cpuUsPerMsg} µs server CPU/msg${lost(o)} | ` +
    `${cpu(o.server)} | ${o.server.peakRssMiB} MiB | ${kv(o.kv)} |`;
  const floorOneToOne = (o: Json, extra = "") =>
    o &&
    `**${o.msgsPerSec} msgs/s**${extra}; delivery p50 ${o.p50Ms} ms, p99 ${o.p99Ms} ms; ` +
      `${o.cpuUsPerMsg} µs server CPU/msg; ${cpu(o.server)}${lost(o)}`;
  if (r.oneToOne) {
    lines.push(oneToOneRow("one-to-one", r.oneToOne) + vs(floorOneToOne(f.oneToOne), q.oneToOne));
  }
  if (r.oneToOneWorkers) {
    const w = r.oneToOneWorkers;
    const share = w.ackedTotal ? Math.round(w.crossedInstances / w.ackedTotal * 100) : 0;
    const fw = f.oneToOneWorkers;
    lines.push(
      oneToOneRow(
        `one-to-one, ${w.workers} workers (deno serve --parallel)`,
        w,
        `${w.vsOneWorker ? ` (${w.vsOneWorker}× one worker's ${w.oneWorkerMsgsPerSec})` : ""}; ` +
          `${share}% posted on another worker than the receiver's stream`,
      ) +
        vs(
          fw &&
            floorOneToOne(
              fw,
              `${fw.vsOneWorker ? ` (${fw.vsOneWorker}× its one worker's)` : ""}` +
                `${fw.placement === "pin" ? "; each pair pinned to one worker" : ""}`,
            ),
          q.oneToOneWorkers,
        ),
    );
  }
  if (r.oneToOneTwoInstances) {
    const t = r.oneToOneTwoInstances;
    lines.push(
      oneToOneRow(
        "one-to-one, two instances on one KV file",
        t,
        t.vsSingleInstance === null || t.vsSingleInstance === undefined
          ? ""
          : ` (${t.vsSingleInstance}× one instance's ${t.singleInstanceMsgsPerSec})`,
      ) + vs(undefined, null),
    );
  }
  if (r.roomFanout) {
    const rf = r.roomFanout, ff = f.roomFanout;
    for (const s of rf.steps) {
      const fs = ff?.steps.find((x: Json) => x.rate === s.rate);
      lines.push(
        `| room fan-out, ${rf.members} members, ${s.rate} msgs/s | ${s.deliveriesPerSec} ` +
          `deliveries/s of ${s.offeredDeliveriesPerSec}; p50 ${s.p50Ms} ms, p99 ${s.p99Ms} ms` +
          `${s.missing ? `; ${s.missing} missing` : ""} | ${cpu(s.server)} | ` +
          `${s.server.peakRssMiB} MiB | |` +
          vs(
            fs &&
              `${fs.deliveriesPerSec} deliveries/s; p50 ${fs.p50Ms} ms, p99 ${fs.p99Ms} ms` +
                `${fs.missing ? `; ${fs.missing} missing` : ""}; ${cpu(fs.server)}`,
            q.roomDeliveriesByRate?.[s.rate],
          ),
      );
    }
    const saturation = (x: Json) =>
      x.saturationRate ? `${x.saturationRate} msgs/s` : "none up to the highest rate";
    const bound = { atMost: "at most ", atLeast: "at least ", neither: "", exact: "" }[
      q.roomSaturationBound as string
    ] ?? "";
    const satRatio = !ff
      ? ""
      : q.roomSaturation === null || q.roomSaturation === undefined
      ? `– (highest rate held: Parley ${rf.heldRate ?? "none"}, floor ${ff.heldRate ?? "none"})`
      : `${bound}${times(q.roomSaturation)} of the highest rate held` +
        `${q.roomSaturationBound === "neither" ? " (neither saturated)" : ""}`;
    lines.push(
      `| room fan-out saturation | ${saturation(rf)} | | | ${kv(rf.kv)} | ` +
        `${ff ? saturation(ff) : ""} | ${satRatio} |`,
    );
  }
  for (const [i, c] of (r.connections ?? []).entries()) {
    const fc = f.connections?.[i];
    lines.push(
      `| ${c.count} idle SSE streams | **${c.rssPerConnKiB} KiB/stream**; all open in ` +
        `${c.connectMs} ms (${c.rssBeforeMiB} → ${c.rssAfterMiB} MiB)` +
        `${c.failed ? `; ${c.failed} failed` : ""} | ${cpu(c.server)} | ` +
        `${c.server.peakRssMiB} MiB | ${kv(c.kv)} |` +
        vs(
          fc &&
            `**${fc.rssPerConnKiB} KiB/stream**; all open in ${fc.connectMs} ms ` +
              `(${fc.rssBeforeMiB} → ${fc.rssAfterMiB} MiB)${
                fc.failed ? `; ${fc.failed} failed` : ""
              }`,
          ratio(c.rssPerConnKiB, fc?.rssPerConnKiB),
        ),
    );
  }
  if (r.connectStorm) {
    const c = r.connectStorm, fc = f.connectStorm;
    lines.push(
      `| connect storm, ${c.users} users at once | **all ready in ${c.allReadyMs ?? "–"} ms**; ` +
        `time to ready p50 ${c.p50Ms} ms, p99 ${c.p99Ms} ms; TCP connect p50 ` +
        `${c.tcpConnectP50Ms} ms, p99 ${c.tcpConnectP99Ms} ms` +
        `${c.tcpConnectsOver900Ms ? ` (${c.tcpConnectsOver900Ms} over 900 ms)` : ""}` +
        `${c.failed ? `; ${c.failed} of ${c.users} failed` : ""} | ${cpu(c.server)} | ` +
        `${c.server.peakRssMiB} MiB | ${kv(c.kv)} |` +
        vs(
          fc &&
            `**all ready in ${fc.allReadyMs ?? "–"} ms**; p50 ${fc.p50Ms} ms, p99 ${fc.p99Ms} ms` +
              `${fc.tcpConnectsOver900Ms ? ` (${fc.tcpConnectsOver900Ms} TCP over 900 ms)` : ""}` +
              `${fc.failed ? `; ${fc.failed} failed` : ""}`,
          q.connectStorm,
        ),
    );
  }
  if (r.catchUp) {
    const c = r.catchUp;
    lines.push(
      `| catch-up of ${c.messages} missed | **${c.ms} ms** (${c.received} received) | ` +
        `${cpu(c.server)} | ${c.server.peakRssMiB} MiB | ${kv(c.kv)} | | |`,
    );
  }
  if (r.history) {
    const h = r.history;
    lines.push(
      `| history, newest 50 of ${h.messages} | p50 ${h.p50Ms} ms, **p99 ${h.p99Ms} ms** ` +
        `(seeded at ${h.seedMsgsPerSec} msgs/s) | ${
          cpu(h.server)
        } | ${h.server.peakRssMiB} MiB | ` +
        `${kv(h.kv)} | | |`,
    );
  }
  if (r.attachments) {
    const a = r.attachments;
    const size = `${a.mb} MB × ${a.runs}`;
    lines.push(
      `| attachment upload, ${size} | **${a.uploadMBps} MB/s** (median; best ` +
        `${a.uploadBestMBps}); ${a.uploadCpuMsPerMB} ms server CPU/MB; RSS ${a.rssBeforeMiB} → ` +
        `peak ${a.peakRssUploadMiB} MiB | ${cpu(a.server.upload)} | ` +
        `${a.server.upload.peakRssMiB} MiB | | | |`,
      `| attachment download, ${size}, another member | **${a.downloadMBps} MB/s** (median; ` +
        `best ${a.downloadBestMBps}); ${a.downloadCpuMsPerMB} ms server CPU/MB; sha256 ` +
        `${a.sha256Verified ? `verified ${a.verifiedDownloads}×` : "NOT verified"}; RSS ` +
        `${a.rssBeforeDownloadMiB} → peak ${a.peakRssDownloadMiB} MiB | ` +
        `${cpu(a.server.download)} | ${a.server.download.peakRssMiB} MiB | ${kv(a.kv)} | | |`,
    );
  }
  return lines.join("\n");
}

/** Parses the flags and runs the chosen parts. */
export async function main(argv: string[]): Promise<void> {
  const flags = new Map(argv.map((a) => {
    const [k, v] = a.replace(/^--/, "").split("=");
    return [k, v ?? "true"] as const;
  }));
  const quick = flags.has("quick");
  const profile = flags.has("profile");
  const only = flags.get("only")?.split(",") as Part[] | undefined;
  for (const p of only ?? []) if (!PARTS.includes(p)) throw new Error(`unknown part ${p}`);
  const out = flags.get("out") ??
    `${root}/bench/${
      quick ? "results.quick.json" : only || profile ? "results.partial.json" : "results.json"
    }`;
  const sizes = quick ? quickSizes : fullSizes;
  serverRoot = flags.get("server-root") ?? root;
  if (flags.has("workers")) {
    allWorkers = Number(flags.get("workers"));
    if (!Number.isInteger(allWorkers) || allWorkers < 1) throw new Error("--workers=<n>, n >= 1");
  }
  const withFloor = !flags.has("no-floor");
  const chosen = only ?? PARTS;

  const started = performance.now();
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    commit: await git("rev-parse", "HEAD"),
    ...(flags.has("server-root") ? { serverRoot } : {}),
    serverCodeChanged: (await git(
      "status",
      "--porcelain",
      "--",
      "lib",
      "http",
      "routes",
      "shared",
      "main.ts",
      "serve.ts",
    )) !==
      "",
    mode: quick ? "quick" : "full",
    machine: await machine(),
    workers: allWorkers,
    sizes: Object.fromEntries(chosen.map((p) => [p, sizes[p]])),
  };
  // The floor's figures, in the same shape as Parley's, each run right after Parley's part.
  const floor: Record<string, unknown> = {};
  const floorChoice = { floor: true };
  for (const part of chosen) {
    const t = performance.now();
    console.error(`[bench] ${part}…`);
    if (part === "oneToOne") results.oneToOne = await oneToOne(sizes, profile);
    if (part === "oneToOneWorkers") results.oneToOneWorkers = await oneToOneWorkers(sizes);
    if (part === "oneToOneTwoInstances") {
      results.oneToOneTwoInstances = await oneToOneTwoInstances(sizes);
    }
    if (part === "roomFanout") results.roomFanout = await roomFanout(sizes, profile);
    if (part === "connections") results.connections = await connections(sizes);
    if (part === "connectStorm") results.connectStorm = await connectStorm(sizes, profile);
    if (part === "catchUp") results.catchUp = await catchUp(sizes, profile);
    if (part === "history") results.history = await history(sizes, profile);
    if (part === "attachments") results.attachments = await attachments(sizes);
    console.error(`[bench] ${part} done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    if (!withFloor || !(FLOOR_PARTS as readonly string[]).includes(part)) continue;
    const f = performance.now();
    console.error(`[bench] ${part} on the floor…`);
    if (part === "oneToOne") floor.oneToOne = await oneToOne(sizes, false, floorChoice);
    if (part === "oneToOneWorkers") {
      floor.oneToOneWorkers = await oneToOneWorkers(sizes, floorChoice);
    }
    if (part === "roomFanout") floor.roomFanout = await roomFanout(sizes, false, floorChoice);
    if (part === "connections") floor.connections = await connections(sizes, floorChoice);
    if (part === "connectStorm") floor.connectStorm = await connectStorm(sizes, false, floorChoice);
    console.error(
      `[bench] ${part} on the floor done in ${((performance.now() - f) / 1000).toFixed(1)} s`,
    );
  }
  // All workers against one, for Parley and for the floor, from the same run.
  for (const side of [results, floor]) {
    const all = side.oneToOneWorkers as Json, one = side.oneToOne as Json;
    if (!all) continue;
    all.oneWorkerMsgsPerSec = one?.msgsPerSec ?? null;
    all.vsOneWorker = ratio(all.msgsPerSec, one?.msgsPerSec);
  }
  if (Object.keys(floor).length) {
    results.floor = floor;
    results.ratios = floorRatios(results, floor);
  }
  // The two-instance figure beside the single-instance one of the same run (same machine, same
  // minutes): the ratio is what compares across machines.
  if (results.oneToOneTwoInstances) {
    // deno-lint-ignore no-explicit-any
    const two = results.oneToOneTwoInstances as any, one = results.oneToOne as any;
    two.singleInstanceMsgsPerSec = one?.msgsPerSec ?? null;
    two.singleInstanceP50Ms = one?.p50Ms ?? null;
    two.singleInstanceP99Ms = one?.p99Ms ?? null;
    two.vsSingleInstance = one?.msgsPerSec
      ? Math.round(two.msgsPerSec / one.msgsPerSec * 100) / 100
      : null;
  }
  results.durationS = Math.round((performance.now() - started) / 100) / 10;
  await Deno.writeTextFile(out, JSON.stringify(results, null, 2) + "\n");
  console.log(`\n${formatTable(results)}\n`);
  console.log(`wrote ${out} (${results.durationS} s)`);
}

if (import.meta.main) await main(Deno.args);

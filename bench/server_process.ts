/**
 * Starting a real Parley server process for the benchmark, and reading what
 * it costs from `/proc`.
 *
 * @module
 */
import { HttpConnection, INSTANCE_HEADER } from "./http_client.ts";

/** One reading of a process's counters. */
export interface ProcSample {
  /** `performance.now()` of the orchestrator when read. */
  at: number;
  /** User plus system CPU time so far, in seconds (all threads). */
  cpuS: number;
  /** Resident memory now, KiB (`VmRSS`). */
  rssKiB: number;
  /** Peak resident memory so far, KiB (`VmHWM`). */
  hwmKiB: number;
}

let clockTicks = 0;

/** The kernel's clock ticks per second (`getconf CLK_TCK`), which `/proc/<pid>/stat` counts in. */
export async function ticksPerSecond(): Promise<number> {
  if (!clockTicks) {
    const out = await new Deno.Command("getconf", { args: ["CLK_TCK"], stdout: "piped" }).output();
    clockTicks = Number(new TextDecoder().decode(out.stdout).trim()) || 100;
  }
  return clockTicks;
}

/** Reads CPU time and memory of `pid` from `/proc/<pid>/stat` and `/proc/<pid>/status`. */
export async function sampleProc(pid: number): Promise<ProcSample> {
  const ticks = await ticksPerSecond();
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  // Fields after the command name (which may hold spaces) start at field 3; utime, stime are 14, 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const cpuTicks = Number(fields[11]) + Number(fields[12]);
  const kib = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return {
    at: performance.now(),
    cpuS: cpuTicks / ticks,
    rssKiB: kib("VmRSS"),
    hwmKiB: kib("VmHWM"),
  };
}

/** CPU seconds the whole machine has been busy (all cores, from `/proc/stat`). */
export async function machineBusyS(): Promise<number> {
  const ticks = await ticksPerSecond();
  const cpu = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1)
    .map(Number);
  // user nice system idle iowait irq softirq steal …: busy is all but idle and iowait.
  const busy = cpu.slice(0, 8).reduce((a, b) => a + b, 0) - cpu[3] - cpu[4];
  return busy / ticks;
}

/** The 1-minute load average. */
export function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}

/** CPU seconds so far of each thread of `pid`, summed by thread name (`/proc/<pid>/task`). */
export async function sampleThreads(pid: number): Promise<Map<string, number>> {
  const ticks = await ticksPerSecond();
  const byName = new Map<string, number>();
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/stat`);
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")")).replace(/\d+$/, "#");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      const cpu = (Number(fields[11]) + Number(fields[12])) / ticks;
      byName.set(name, (byName.get(name) ?? 0) + cpu);
    } catch { /* the thread ended */ }
  }
  return byName;
}

/**
 * One reading of several processes taken as one (the instances of a part that
 * runs more than one server): CPU time, RSS and peak RSS summed.
 */
export async function sampleProcs(pids: number[]): Promise<ProcSample> {
  const samples = await Promise.all(pids.map(sampleProc));
  if (samples.length === 1) return samples[0];
  const sum = (k: "cpuS" | "rssKiB" | "hwmKiB") => samples.reduce((n, s) => n + s[k], 0);
  return { at: performance.now(), cpuS: sum("cpuS"), rssKiB: sum("rssKiB"), hwmKiB: sum("hwmKiB") };
}

/** {@linkcode sampleThreads} of several processes, summed by thread name. */
export async function sampleThreadsOf(pids: number[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const pid of pids) {
    for (const [name, s] of await sampleThreads(pid)) out.set(name, (out.get(name) ?? 0) + s);
  }
  return out;
}

/**
 * Resets `VmHWM` to the current RSS (writing 5 to `/proc/<pid>/clear_refs`), so
 * a later sample's peak covers only what came after. Quietly does nothing
 * where that is not allowed.
 */
export async function resetPeakRss(pid: number): Promise<void> {
  await Deno.writeTextFile(`/proc/${pid}/clear_refs`, "5").catch(() => {});
}

/** CPU use between two samples: seconds, and percent of one core. */
export function cpuBetween(a: ProcSample, b: ProcSample): { cpuS: number; cpuPct: number } {
  const cpuS = b.cpuS - a.cpuS;
  const wall = (b.at - a.at) / 1000;
  return { cpuS: round(cpuS), cpuPct: round(wall > 0 ? cpuS / wall * 100 : 0, 0) };
}

function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** A free TCP port on loopback (asks the kernel, then lets it go). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/**
 * Runs `cmd` under bash with the open-file limit raised to the hard limit,
 * so ten thousand sockets fit; `exec` keeps the pid that of `cmd` itself.
 */
export function withFileLimit(cmd: string[]): { cmd: string; args: string[] } {
  const quoted = cmd.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  return { cmd: "bash", args: ["-c", `ulimit -n "$(ulimit -Hn)"; exec ${quoted}`] };
}

/** A running server. */
export interface ServerProcess extends AsyncDisposable {
  pid: number;
  port: number;
  /** Its workers (threads of `deno serve --parallel`); 1 for a plain `deno run` or `deno serve`. */
  workers: number;
  /** Parley, or the floor (`bench/floor.ts`, which has no metrics). */
  kind: "parley" | "floor";
  /** The inspector's address when started with `inspect`. */
  inspectPort?: number;
  /** The `METRICS_TOKEN` it was started with, for `GET /metrics`. */
  metricsToken: string;
  stop(): Promise<void>;
}

const PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read", "--allow-write"];

/**
 * Starts `main.ts` exactly as `deno task start` does, on a free port with
 * its KV on a fresh temporary file (or on `kvPath`, which it then leaves in
 * place), and waits until `/api/health` answers.
 *
 * With `workers` above 1 it runs `serve.ts` under `deno serve --parallel`
 * with `DENO_JOBS=<workers>`, as `deno task start` does with `WORKERS`, and
 * waits until every worker has answered `/api/health`.
 *
 * With `floor` it starts the floor instead (`bench/floor.ts` of `root`, under
 * `deno serve`, with `--parallel` when `workers` is above 1): no KV, no
 * metrics.
 *
 * The server gets `RATE_LIMITS=off` (the load would otherwise trip the
 * abuse limits) and a random `METRICS_TOKEN`, so `GET /metrics` answers.
 *
 * @throws {Error} when the server exits or is not healthy within 30 s.
 */
export async function startServer(
  root: string,
  options: { inspect?: boolean; kvPath?: string; workers?: number; floor?: boolean } = {},
): Promise<ServerProcess> {
  const workers = options.workers ?? 1;
  const floor = options.floor ?? false;
  const dir = options.kvPath || floor
    ? undefined
    : await Deno.makeTempDir({ prefix: "parley-bench-" });
  const kvPath = options.kvPath ?? `${dir}/parley.kv`;
  const port = freePort();
  const inspectPort = options.inspect ? freePort() : undefined;
  const metricsToken = crypto.randomUUID();
  const listen = ["--host", "127.0.0.1", "--port", String(port)];
  const command = floor
    ? ["serve", ...(workers > 1 ? ["--parallel"] : []), "--allow-net", ...listen, "bench/floor.ts"]
    : workers > 1
    ? ["serve", "--parallel", ...PERMISSIONS, ...listen, "serve.ts"]
    : [
      "run",
      ...PERMISSIONS,
      ...(inspectPort ? [`--inspect=127.0.0.1:${inspectPort}`] : []),
      "main.ts",
    ];
  const { cmd, args } = withFileLimit([Deno.execPath(), ...command]);
  const child = new Deno.Command(cmd, {
    args,
    cwd: root,
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      ...(floor ? {} : { KV_PATH: kvPath }),
      RATE_LIMITS: "off",
      METRICS_TOKEN: metricsToken,
      DENO_JOBS: String(workers),
    },
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    // A server that ignores SIGTERM must not hang the bench: SIGKILL after five seconds.
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5_000);
    await status;
    clearTimeout(timer);
    if (dir) await Deno.remove(dir, { recursive: true });
  };
  const deadline = performance.now() + 30_000;
  while (true) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/api/health`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (exited) {
      await stop();
      throw new Error(`the server exited before it became healthy (exit ${(await status).code})`);
    }
    if (performance.now() > deadline) {
      await stop();
      throw new Error("the server did not become healthy in 30 s");
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  // Each worker starts on its own: wait until every one of them has answered.
  const seen = new Set<string>();
  while (workers > 1 && seen.size < workers) {
    try {
      const conn = await HttpConnection.open({ hostname: "127.0.0.1", port });
      const res = await conn.request("GET", "/api/health").finally(() => conn.close());
      const instance = res.headers.get(INSTANCE_HEADER);
      if (res.status === 200 && instance) seen.add(instance);
    } catch { /* a worker not listening yet */ }
    if (exited || performance.now() > deadline) {
      await stop();
      throw new Error(`only ${seen.size} of the server's ${workers} workers answered in 30 s`);
    }
    if (seen.size < workers) await new Promise((r) => setTimeout(r, 10));
  }
  return {
    pid: child.pid,
    port,
    workers,
    kind: floor ? "floor" : "parley",
    inspectPort,
    metricsToken,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/**
 * Starts `count` servers over one fresh KV file (one after another, each
 * healthy before the next opens the file). Stopping the returned group stops
 * them all and removes the file.
 */
export async function startSharedServers(
  root: string,
  count: number,
): Promise<{ servers: ServerProcess[]; stop(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "parley-bench-" });
  const kvPath = `${dir}/parley.kv`;
  const servers: ServerProcess[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await Deno.remove(dir, { recursive: true });
  };
  try {
    for (let i = 0; i < count; i++) servers.push(await startServer(root, { kvPath }));
  } catch (e) {
    await stop();
    throw e;
  }
  return { servers, stop };
}

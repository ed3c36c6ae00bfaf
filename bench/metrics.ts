/**
 * Reading a Parley server's KV counters from `GET /metrics` (Prometheus text,
 * enabled by `METRICS_TOKEN`), so the benchmark can report per part how many
 * commits were made, how many were refused for a conflict and how many
 * "database is locked" retries it took.
 *
 * @module
 */
import { HttpConnection, INSTANCE_HEADER } from "./http_client.ts";

/** The KV counters the benchmark reports; a field is null when the server does not expose it. */
export interface KvCounters {
  /** `parley_commits_total`: commits that succeeded. */
  commits: number | null;
  /** `parley_commit_conflicts_total`: commits refused because a checked key had changed. */
  conflicts: number | null;
  /** `parley_kv_lock_retries_total`: "database is locked" retries (several processes, one file). */
  lockRetries: number | null;
}

const NAMES = {
  commits: "parley_commits_total",
  conflicts: "parley_commit_conflicts_total",
  lockRetries: "parley_kv_lock_retries_total",
} as const;

/**
 * Parses the Prometheus text format into a value per metric name, summing
 * the series of a name over its labels. Comments and malformed lines are
 * skipped.
 *
 * @example
 * ```ts
 * parsePrometheus('# TYPE x counter\nx 3\ny{a="1"} 2\ny{a="2"} 5\n'); // Map { x → 3, y → 7 }
 * ```
 */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    // name, optional {labels}, value, optional timestamp
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const value = Number(m[3]);
    if (!Number.isFinite(value)) continue;
    out.set(m[1], (out.get(m[1]) ?? 0) + value);
  }
  return out;
}

/**
 * Reads the KV counters of the server at `port`. Resolves to null when the
 * server has no `/metrics` route (404) or refuses the token, so a server that
 * does not offer metrics yet still runs the benchmark.
 */
export async function readKvCounters(port: number, token: string): Promise<KvCounters | null> {
  let res: Response;
  try {
    res = await fetch(`http://127.0.0.1:${port}/metrics`, {
      headers: { authorization: `Bearer ${token}` },
    });
  } catch (e) {
    console.error(`[bench] GET /metrics failed: ${e}`);
    return null;
  }
  if (!res.ok) {
    await res.body?.cancel();
    if (res.status !== 404) console.error(`[bench] GET /metrics answered ${res.status}`);
    return null;
  }
  return countersOf(await res.text());
}

/**
 * Reads the KV counters of every worker of a `deno serve --parallel` server
 * and sums them: each worker keeps its own, and a request lands on whichever
 * worker the kernel hands its connection to, so each reading is taken on a
 * new connection until every worker (told apart by `x-parley-instance`) has
 * answered once. Null when the server has no metrics, or does not name its
 * workers, or not all of them answered in 200 tries.
 */
export async function readKvCountersOfWorkers(
  port: number,
  token: string,
  workers: number,
): Promise<KvCounters | null> {
  if (workers === 1) return await readKvCounters(port, token);
  const byWorker = new Map<string, KvCounters>();
  for (let i = 0; i < 200 && byWorker.size < workers; i++) {
    let res;
    try {
      const conn = await HttpConnection.open({ hostname: "127.0.0.1", port });
      res = await conn.request("GET", "/metrics", { token }).finally(() => conn.close());
    } catch (e) {
      console.error(`[bench] GET /metrics failed: ${e}`);
      return null;
    }
    const worker = res.headers.get(INSTANCE_HEADER);
    if (res.status !== 200 || !worker) {
      if (res.status !== 404) console.error(`[bench] GET /metrics answered ${res.status}`);
      return null;
    }
    if (!byWorker.has(worker)) byWorker.set(worker, countersOf(res.body));
  }
  if (byWorker.size < workers) {
    console.error(`[bench] GET /metrics reached ${byWorker.size} of ${workers} workers`);
    return null;
  }
  const sum = (k: keyof KvCounters): number | null => {
    let total = 0;
    for (const c of byWorker.values()) {
      const v = c[k];
      if (v === null) return null;
      total += v;
    }
    return total;
  };
  return { commits: sum("commits"), conflicts: sum("conflicts"), lockRetries: sum("lockRetries") };
}

function countersOf(text: string): KvCounters {
  const values = parsePrometheus(text);
  const get = (name: string) => values.get(name) ?? null;
  return {
    commits: get(NAMES.commits),
    conflicts: get(NAMES.conflicts),
    lockRetries: get(NAMES.lockRetries),
  };
}

/**
 * What the counters of several servers grew by between two readings, summed
 * over the servers. A field is null when any reading lacks it; the whole
 * result is null when any server had no metrics.
 */
export function kvDelta(
  before: (KvCounters | null)[],
  after: (KvCounters | null)[],
): KvCounters | null {
  if (before.some((b) => !b) || after.some((a) => !a)) return null;
  const field = (k: keyof KvCounters): number | null => {
    let sum = 0;
    for (let i = 0; i < before.length; i++) {
      const a = before[i]![k], b = after[i]![k];
      if (a === null || b === null) return null;
      sum += b - a;
    }
    return sum;
  };
  return {
    commits: field("commits"),
    conflicts: field("conflicts"),
    lockRetries: field("lockRetries"),
  };
}

/**
 * Process-wide counters, exposed in the Prometheus text format by
 * `GET /metrics`. Counters are plain numbers in one object: bumping one is an
 * addition on the hot path, and the text is built only when scraped.
 *
 * @module
 */

/** The counters one process keeps; every app built in the process adds to them. */
export const metrics = {
  /** Commits of the event writer that succeeded (accounts and sessions commit on their own). */
  commits: 0,
  /** Commits refused because a key they checked had changed since it was read. */
  conflicts: 0,
  /** "database is locked" answers retried (several processes on one KV file). */
  lockRetries: 0,
  /** Events written to event streams. */
  eventsDelivered: 0,
  /** HTTP responses by status class ("2xx", "4xx", …). */
  http: {} as Record<string, number>,
};

/** Counts one HTTP response under its status class. */
export function countResponse(status: number): void {
  const key = `${Math.floor(status / 100)}xx`;
  metrics.http[key] = (metrics.http[key] ?? 0) + 1;
}

/**
 * The Prometheus text exposition of the counters, plus the gauges given.
 *
 * @example
 * ```ts
 * renderMetrics({ streamsOpen: 3 }); // "# HELP parley_commits_total …"
 * ```
 */
export function renderMetrics(gauges: { streamsOpen: number }): string {
  const memory = Deno.memoryUsage();
  const lines: string[] = [];
  const add = (name: string, type: string, help: string, samples: [string, number][]) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}${labels} ${value}`);
  };
  add("parley_commits_total", "counter", "Event-writer KV commits that succeeded.", [[
    "",
    metrics.commits,
  ]]);
  add(
    "parley_commit_conflicts_total",
    "counter",
    "KV commits refused because a checked key had changed.",
    [["", metrics.conflicts]],
  );
  add(
    "parley_kv_lock_retries_total",
    "counter",
    'KV operations retried after "database is locked".',
    [["", metrics.lockRetries]],
  );
  add("parley_streams_open", "gauge", "Event streams open on this instance.", [[
    "",
    gauges.streamsOpen,
  ]]);
  add("parley_events_delivered_total", "counter", "Events written to event streams.", [[
    "",
    metrics.eventsDelivered,
  ]]);
  add(
    "parley_http_requests_total",
    "counter",
    "HTTP responses by status class.",
    Object.entries(metrics.http).sort().map(([k, v]) => [`{class="${k}"}`, v]),
  );
  add("parley_process_resident_memory_bytes", "gauge", "Resident memory of the process.", [[
    "",
    memory.rss,
  ]]);
  add("parley_process_heap_used_bytes", "gauge", "JavaScript heap in use.", [[
    "",
    memory.heapUsed,
  ]]);
  return lines.join("\n") + "\n";
}

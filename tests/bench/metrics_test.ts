/**
 * The benchmark's reading of `GET /metrics`: the Prometheus text parser and
 * the per-part deltas.
 *
 * @module
 */
import assert from "node:assert/strict";
import { kvDelta, parsePrometheus } from "../../bench/metrics.ts";

Deno.test("parsePrometheus() sums a metric's series and skips comments", () => {
  const values = parsePrometheus(
    [
      "# HELP parley_commits_total KV commits that succeeded.",
      "# TYPE parley_commits_total counter",
      "parley_commits_total 12",
      'parley_http_requests_total{class="2xx"} 40',
      'parley_http_requests_total{class="4xx"} 2',
      "parley_process_resident_memory_bytes 1.5e+08",
      "parley_kv_lock_retries_total 0 1700000000000",
      "not a metric line",
      "",
    ].join("\n"),
  );
  assert.equal(values.get("parley_commits_total"), 12);
  assert.equal(values.get("parley_http_requests_total"), 42);
  assert.equal(values.get("parley_process_resident_memory_bytes"), 150_000_000);
  assert.equal(values.get("parley_kv_lock_retries_total"), 0);
  assert.equal(values.has("not"), false);
});

Deno.test("kvDelta() sums over instances, and is null without metrics", () => {
  const at = (commits: number, conflicts: number, lockRetries: number | null) => ({
    commits,
    conflicts,
    lockRetries,
  });
  assert.deepEqual(
    kvDelta([at(1, 0, 0), at(5, 1, 2)], [at(11, 2, 3), at(25, 1, 7)]),
    { commits: 30, conflicts: 2, lockRetries: 8 },
  );
  assert.deepEqual(kvDelta([at(1, 0, null)], [at(3, 0, null)]), {
    commits: 2,
    conflicts: 0,
    lockRetries: null,
  });
  assert.equal(kvDelta([null, at(1, 0, 0)], [null, at(2, 0, 0)]), null);
});

/**
 * Runs `deno task bench --quick` end to end (a real server process and a real
 * load process) so the harness cannot rot, and checks the results it writes.
 * Speed is not asserted here: a shared test machine makes that flaky; the
 * targets live in bench/README.md.
 *
 * @module
 */
import assert from "node:assert/strict";
import { formatTable } from "../../bench/main.ts";

const root = new URL("../..", import.meta.url).pathname;

function positive(value: unknown, what: string): void {
  assert.equal(typeof value, "number", `${what} is a number`);
  assert.ok(Number.isFinite(value) && (value as number) > 0, `${what} > 0, got ${value}`);
}

function cost(server: Record<string, unknown>, what: string): void {
  assert.equal(typeof server.cpuS, "number", `${what} cpuS`);
  assert.ok((server.cpuS as number) >= 0, `${what} cpuS >= 0`);
  positive(server.peakRssMiB, `${what} peakRssMiB`);
}

Deno.test({
  name: "bench --quick measures every part and writes sane results",
  sanitizeResources: false, // the child's pipes close as the process exits
  async fn() {
    const dir = await Deno.makeTempDir();
    const out = `${dir}/results.json`;
    try {
      const started = performance.now();
      const run = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-all", "bench/main.ts", "--quick", `--out=${out}`],
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const seconds = (performance.now() - started) / 1000;
      assert.ok(run.success, new TextDecoder().decode(run.stderr));
      assert.ok(seconds < 60, `--quick took ${seconds.toFixed(1)} s`);
      const r = JSON.parse(await Deno.readTextFile(out));

      assert.equal(r.mode, "quick");
      assert.match(r.commit, /^[0-9a-f]{40}$/);
      assert.ok(!Number.isNaN(Date.parse(r.date)));
      positive(r.machine.cores, "machine.cores");
      positive(r.machine.memoryGiB, "machine.memoryGiB");
      assert.match(r.machine.os, /linux/);

      positive(r.oneToOne.msgsPerSec, "oneToOne.msgsPerSec");
      positive(r.oneToOne.p50Ms, "oneToOne.p50Ms");
      assert.ok(r.oneToOne.p99Ms >= r.oneToOne.p50Ms);
      assert.equal(r.oneToOne.errors, 0);
      assert.equal(r.oneToOne.undelivered, 0);
      cost(r.oneToOne.server, "oneToOne");

      assert.deepEqual(r.roomFanout.steps.map((s: { rate: number }) => s.rate), [100, 400]);
      for (const s of r.roomFanout.steps) {
        positive(s.deliveriesPerSec, `roomFanout ${s.rate} deliveriesPerSec`);
        positive(s.p50Ms, `roomFanout ${s.rate} p50Ms`);
        assert.ok(s.p99Ms >= s.p50Ms);
        assert.equal(s.missing, 0, `every member got every message at ${s.rate}/s`);
        assert.equal(s.delivered, s.expectedDeliveries);
        cost(s.server, `roomFanout ${s.rate}`);
      }
      assert.ok(r.roomFanout.saturationRate === null || r.roomFanout.saturationRate > 0);

      assert.equal(r.connections.length, 1);
      for (const c of r.connections) {
        assert.equal(c.opened, c.count);
        positive(c.connectMs, "connections.connectMs");
        positive(c.rssPerConnKiB, "connections.rssPerConnKiB");
        cost(c.server, "connections");
      }

      assert.equal(r.catchUp.received, r.catchUp.messages);
      assert.equal(r.catchUp.outOfOrder, 0);
      positive(r.catchUp.ms, "catchUp.ms");
      cost(r.catchUp.server, "catchUp");

      positive(r.history.p50Ms, "history.p50Ms");
      assert.ok(r.history.p99Ms >= r.history.p50Ms);
      cost(r.history.server, "history");

      assert.match(formatTable(r), /one-to-one .* msgs\/s/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

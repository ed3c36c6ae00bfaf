import assert from "node:assert/strict";
import { FeedWriter, MAX_CHECKS, measurePlan } from "../../lib/feed.ts";
import { logPrefix } from "../../lib/keys.ts";

Deno.test("FeedWriter fails only the operation whose plan throws, even at once", async () => {
  using kv = await Deno.openKv(":memory:");
  const feed = new FeedWriter(kv, Date.now);
  const broken = feed.run<void>("room:a", () => {
    throw new Error("planned badly");
  });
  const fine = feed.run<number>("room:b", () =>
    Promise.resolve({
      checks: [],
      events: [],
      apply: (op) => void op.set(["x"], 1),
      value: 42,
    }));
  await assert.rejects(broken, /planned badly/);
  assert.equal(await fine, 42);
  assert.equal((await kv.get(["x"])).value, 1);
  await feed.close();
});

Deno.test("measurePlan() counts a plan's writes and their sizes", () => {
  const size = measurePlan({
    checks: [],
    events: [],
    apply(op) {
      op.set(["a", "b"], { text: "x".repeat(100) }).delete(["c"]).max(["d"], 3n);
    },
  });
  assert.equal(size.mutations, 3);
  assert.ok(size.bytes > 200, `${size.bytes} bytes`);
  assert.ok(size.keyBytes > 0);
});

Deno.test("FeedWriter puts as many domains in a commit as its check limit allows", async () => {
  using kv = await Deno.openKv(":memory:");
  const commitsFor = async (maxChecks: number) => {
    const before = (await Array.fromAsync(kv.list({ prefix: logPrefix() }))).length;
    const feed = new FeedWriter(kv, Date.now, maxChecks);
    // 40 rooms, two checked keys each, like a batch of sends.
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        feed.run(`room:${maxChecks}-${i}`, async (kv) => {
          const keys = [["head", maxChecks, i], ["room", maxChecks, i]];
          return {
            checks: await kv.getMany(keys),
            events: [{
              type: "typing" as const,
              roomId: `r${i}`,
              user: { id: "u", username: "u" },
            }],
            apply: (op) => void op.set(keys[0], i),
            value: i,
          };
        })),
    );
    await feed.close();
    return (await Array.fromAsync(kv.list({ prefix: logPrefix() }))).length - before;
  };
  const [remote, local] = [await commitsFor(MAX_CHECKS.remote), await commitsFor(MAX_CHECKS.local)];
  assert.ok(remote >= 40 / 5, `10 checks: at most 5 rooms a commit (${remote} commits)`);
  assert.ok(local < remote / 2, `100 checks: ${local} commits against ${remote}`);
});

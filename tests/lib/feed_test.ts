import assert from "node:assert/strict";
import { FeedWriter, measurePlan } from "../../lib/feed.ts";

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

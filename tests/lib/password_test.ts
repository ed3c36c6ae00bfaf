import assert from "node:assert/strict";
import {
  hashesWaiting,
  hashPassword,
  setHashConcurrency,
  verifyPassword,
} from "../../lib/password.ts";

Deno.test("hashPassword() runs at most HASH_CONCURRENCY hashes at once and queues the rest", async () => {
  setHashConcurrency(2);
  try {
    const hashes = Array.from({ length: 6 }, (_, i) => hashPassword(`password-${i}`));
    assert.equal(hashesWaiting(), 4, "two run, four wait their turn");
    const done = await Promise.all(hashes);
    assert.equal(hashesWaiting(), 0);
    assert.equal(await verifyPassword("password-5", done[5]), true);
    assert.equal(await verifyPassword("password-4", done[5]), false);
  } finally {
    setHashConcurrency(2);
  }
});

import assert from "node:assert/strict";
import { openSseStream } from "../../lib/sse.ts";

Deno.test("openSseStream() drops a stream whose client has taken nothing for the stall time", async () => {
  let closed = 0;
  const { stream, response } = openSseStream({ maxBufferedBytes: 1024, onClose: () => closed++ });
  assert.equal(stream.write(new Uint8Array(600)), true, "past half the buffer, not past all of it");
  const now = performance.now();
  assert.equal(stream.dropIfStalled(now, 30_000), false, "not stalled yet");
  assert.equal(stream.dropIfStalled(now + 30_001, 30_000), true);
  assert.equal(stream.closed, true);
  assert.equal(closed, 1);
  const reader = response.body!.getReader();
  await assert.rejects(async () => {
    while (!(await reader.read()).done);
  }, /dropped an event stream: the client took nothing for 30 s/);
});

Deno.test("openSseStream() keeps a stream whose client keeps up", async () => {
  const { stream, response } = openSseStream({ maxBufferedBytes: 1024, onClose: () => {} });
  const reader = response.body!.getReader();
  stream.write(new Uint8Array(600));
  await reader.read();
  assert.equal(stream.dropIfStalled(performance.now() + 60_000, 30_000), false, "nothing waits");
  stream.close();
  await reader.cancel();
});

import assert from "node:assert/strict";
import { type SseEvent, SseParser } from "../../shared/sse_reader.ts";

Deno.test("SseParser reads events across chunks, CRLF, comments and retry", () => {
  const events: SseEvent[] = [], comments: string[] = [], retries: number[] = [];
  const parser = new SseParser({
    event: (e) => events.push(e),
    comment: (c) => comments.push(c),
    retry: (ms) => retries.push(ms),
  });
  const text = 'retry: 2000\r\n\r\n: keep-alive\n\nevent: message\nid: a:1\ndata: {"text":"h' +
    'é"}\n\ndata: {"n":\r\ndata: 1}\r\n\r\nevent: room\ndata: 2\r\r\n';
  const bytes = new TextEncoder().encode(text);
  // Fed in 3-byte pieces, so lines, CRLFs and the two-byte "é" are split.
  for (let i = 0; i < bytes.length; i += 3) parser.push(bytes.subarray(i, i + 3));
  assert.deepEqual(events, [
    { event: "message", id: "a:1", data: '{"text":"hé"}' },
    { event: "message", id: null, data: '{"n":\n1}' }, // data lines joined with "\n"
    { event: "room", id: null, data: "2" },
  ]);
  assert.deepEqual(comments, [" keep-alive"]);
  assert.deepEqual(retries, [2000]);
  assert.equal(parser.lastEventId, "a:1", "an event without an id keeps the last one");
});

Deno.test("SseParser reads a large chunk of many events at once", () => {
  const events: SseEvent[] = [];
  const parser = new SseParser({ event: (e) => events.push(e) });
  const one = (i: number) => `event: message\nid: x:${i}\ndata: {"seq":${i}}\n\n`;
  parser.push(Array.from({ length: 5000 }, (_, i) => one(i)).join("") + "event: mess");
  assert.equal(events.length, 5000);
  assert.equal(events[4999].data, '{"seq":4999}');
  parser.push("age\ndata: {}\n\n");
  assert.deepEqual(events.at(-1), { event: "message", id: null, data: "{}" });
});

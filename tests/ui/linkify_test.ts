import assert from "node:assert/strict";
import { splitLinks } from "../../islands/linkify.ts";
import { mergeMessages, sortRooms } from "../../islands/store.ts";
import type { Message, Room } from "../../islands/types.ts";

Deno.test("splitLinks() makes http and https URLs links and leaves the rest as text", () => {
  assert.deepEqual(splitLinks("see https://deno.com/x?a=1. or http://a.example"), [
    { text: "see " },
    { text: "https://deno.com/x?a=1", href: "https://deno.com/x?a=1" },
    { text: ". or " },
    { text: "http://a.example", href: "http://a.example/" },
  ]);
});

Deno.test("splitLinks() never links other schemes or markup", () => {
  for (
    const text of [
      "javascript:alert(1)",
      "<a href=x>y</a>",
      "data:text/html,<script>alert(1)</script>",
      "ftp://example.com",
      "plain words",
    ]
  ) {
    assert.deepEqual(splitLinks(text), [{ text }], text);
  }
  assert.deepEqual(splitLinks(""), []);
});

Deno.test("splitLinks() stops a URL at quotes and angle brackets", () => {
  const parts = splitLinks(`"https://example.com/a"><img src=x>`);
  assert.deepEqual(parts.filter((p) => p.href).map((p) => p.href), ["https://example.com/a"]);
  assert.equal(parts.map((p) => p.text).join(""), `"https://example.com/a"><img src=x>`);
});

const message = (seq: number, text = `m${seq}`): Message => ({
  id: `id${seq}`,
  roomId: "r",
  seq,
  author: { id: "u", username: "u" },
  text,
  createdAt: seq,
});

Deno.test("mergeMessages() orders by seq and keeps each seq once", () => {
  const merged = mergeMessages([message(3), message(1)], [message(2), message(3, "again")]);
  assert.deepEqual(merged.map((m) => [m.seq, m.text]), [[1, "m1"], [2, "m2"], [3, "again"]]);
});

Deno.test("sortRooms() puts the most recent activity first", () => {
  const room = (id: string, lastActivityAt: number) => ({ id, name: id, lastActivityAt }) as Room;
  assert.deepEqual(
    sortRooms([room("a", 1), room("b", 3), room("c", 2)]).map((r) => r.id),
    ["b", "c", "a"],
  );
});

import assert from "node:assert/strict";
import { splitLinks, splitMentions } from "../../islands/linkify.ts";

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

Deno.test("splitMentions() finds @username as the server does, and nothing else", () => {
  assert.deepEqual(splitMentions("hi @rita, and @Riley_2!"), [
    { text: "hi " },
    { text: "@rita", name: "rita" },
    { text: ", and " },
    { text: "@Riley_2", name: "Riley_2" },
    { text: "!" },
  ]);
  // Not an address, not two @, not too short.
  for (const text of ["mail me@example.com", "@@rita", "@ab", "plain"]) {
    assert.deepEqual(splitMentions(text), [{ text }], text);
  }
  assert.equal(splitMentions("a @rita b @rita").filter((p) => p.name).length, 2);
  assert.deepEqual(splitMentions(""), []);
});

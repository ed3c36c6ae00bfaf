import assert from "node:assert/strict";
import { splitLinks } from "../../islands/linkify.ts";

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

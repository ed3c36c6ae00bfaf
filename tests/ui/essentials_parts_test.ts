import assert from "node:assert/strict";
import { mentionChoices, reactionOrder, REACTIONS } from "../../islands/essentials.ts";
import { notificationText } from "../../islands/notifications.ts";
import type { Member, Message } from "../../islands/types.ts";

const member = (id: string, username: string): Member => ({
  id,
  username,
  role: "member",
  online: false,
});

Deno.test("mentionChoices() offers names starting with the query first, never the user", () => {
  const members = [
    member("1", "rita"),
    member("2", "Riley"),
    member("3", "maria"),
    member("4", "sam"),
    member("5", "bob"),
  ];
  const names = (q: string) => mentionChoices(members, q, "4").map((m) => m.username);
  assert.deepEqual(names("ri"), ["Riley", "rita", "maria"]);
  assert.deepEqual(names("RIT"), ["rita"]);
  assert.deepEqual(names(""), ["bob", "maria", "Riley", "rita"]);
  assert.deepEqual(names("sam"), []);
  assert.deepEqual(names("zz"), []);
  const many = Array.from({ length: 20 }, (_, i) => member(`m${i}`, `user${i}`));
  assert.equal(mentionChoices(many, "user", "x").length, 8);
});

Deno.test("reactionOrder() keeps the picker's order, then other emoji, whatever the counts", () => {
  const list = [
    { emoji: "🦀", count: 9 },
    { emoji: "👀", count: 1 },
    { emoji: "👍", count: 3 },
    { emoji: "🐢", count: 2 },
  ];
  assert.deepEqual(reactionOrder(list).map((r) => r.emoji), ["👍", "👀", "🐢", "🦀"]);
  assert.equal(REACTIONS.length, 8);
  assert.deepEqual(list.map((r) => r.emoji), ["🦀", "👀", "👍", "🐢"], "not sorted in place");
});

Deno.test("notificationText() names who and where, and shortens long text", () => {
  const m = {
    id: "m",
    roomId: "r",
    seq: 1,
    author: { id: "u", username: "uri" },
    text: "@tara look",
    createdAt: 0,
  } satisfies Message;
  assert.deepEqual(notificationText(m, { kind: "group", name: "ops" }), {
    title: "uri in #ops",
    body: "@tara look",
  });
  assert.deepEqual(notificationText(m, { kind: "direct", name: "uri" }), {
    title: "uri",
    body: "@tara look",
  });
  const long = notificationText({ ...m, text: "x".repeat(500) }, { kind: "direct", name: "uri" });
  assert.equal(long.body.length, 160);
  assert.ok(long.body.endsWith("…"));
  const file = {
    id: "a",
    roomId: "r",
    name: "plan.pdf",
    size: 1,
    contentType: "application/pdf",
    sha256: "",
    createdAt: 0,
  };
  assert.equal(
    notificationText({ ...m, text: "", attachments: [file] }, { kind: "direct", name: "uri" })
      .body,
    "Sent plan.pdf",
  );
  assert.equal(
    notificationText({ ...m, text: "", attachments: [file, file] }, { kind: "group", name: "o" })
      .body,
    "Sent 2 files",
  );
});

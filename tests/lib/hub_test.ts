import assert from "node:assert/strict";
import { createUser } from "../../lib/accounts.ts";
import { FeedWriter } from "../../lib/feed.ts";
import { defaultHubOptions, Hub } from "../../lib/hub.ts";
import { defaultPresenceOptions, Presence } from "../../lib/presence.ts";

Deno.test("Hub sends a retry hint, a ready event and keep-alive comments", async () => {
  using kv = await Deno.openKv(":memory:");
  const feed = new FeedWriter(kv, Date.now);
  const presence = new Presence(kv, feed, Date.now, "test", defaultPresenceOptions);
  const hub = new Hub(kv, feed, presence, Date.now, {
    ...defaultHubOptions,
    keepAliveMs: 50,
  });
  const user = await createUser(kv, "keeper", "password-123", Date.now());
  const res = await hub.subscribe(user, null, { id: "t", expiresAt: Date.now() + 60_000 });
  const reader = res.body!.getReader();
  let text = "";
  const deadline = Date.now() + 3000;
  while (!/\n:\n\n/.test(text) && Date.now() < deadline) {
    text += new TextDecoder().decode((await reader.read()).value);
  }
  assert.match(text, /^retry: \d+\n\n/);
  assert.match(
    text,
    /event: ready\nid: ([\w-]+:[0-9a-f]{20}:\d+)\ndata: \{"position":"\1"\}\n\n/,
  );
  assert.match(text, /\n:\n\n/, "a keep-alive comment arrives");
  await reader.cancel();
  await hub.close();
  await presence.close();
});

Deno.test("Hub ends a stream when its session expires", async () => {
  using kv = await Deno.openKv(":memory:");
  const feed = new FeedWriter(kv, Date.now);
  const presence = new Presence(kv, feed, Date.now, "test", defaultPresenceOptions);
  const hub = new Hub(kv, feed, presence, Date.now, { ...defaultHubOptions, keepAliveMs: 50 });
  const user = await createUser(kv, "expiring", "password-123", Date.now());
  const res = await hub.subscribe(user, null, { id: "t", expiresAt: Date.now() + 150 });
  const reader = res.body!.getReader();
  const started = Date.now();
  while (!(await reader.read()).done) {
    assert.ok(Date.now() - started < 3000, "the stream ended");
  }
  assert.equal(hub.streamCount, 0);
  await hub.close();
  await presence.close();
});

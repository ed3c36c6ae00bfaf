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

Deno.test("Hub registers a stream whose user's last other stream closes meanwhile", async () => {
  using kv = await Deno.openKv(":memory:");
  const feed = new FeedWriter(kv, Date.now);
  const presence = new Presence(kv, feed, Date.now, "test", defaultPresenceOptions);
  const hub = new Hub(kv, feed, presence, Date.now, defaultHubOptions);
  const user = await createUser(kv, "switcher", "password-123", Date.now());
  const session = { id: "t", expiresAt: Date.now() + 60_000 };
  let old = (await hub.subscribe(user, null, session)).body!.getReader();
  // Close the old stream at a different moment of the new one's registration each time.
  const other = await createUser(kv, "newcomer", "password-123", Date.now());
  for (let delay = 0; delay < 40; delay++) {
    // Registered in the same batch, a user new to the index makes it read KV.
    const opening = hub.subscribe(user, null, session);
    const beside = hub.subscribe(other, null, session);
    for (let i = 0; i < delay; i++) await new Promise((r) => queueMicrotask(() => r(null)));
    if (delay >= 20) await new Promise((r) => setTimeout(r, delay - 20));
    await old.cancel();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const [res, res2] = await Promise.race([
      Promise.all([opening, beside]),
      new Promise<never>((_, fail) =>
        timer = setTimeout(() => fail(new Error("never registered")), 3000)
      ),
    ]).finally(() => clearTimeout(timer));
    await res2.body!.cancel();
    old = res.body!.getReader();
    assert.equal(hub.streamCount, 1, `one stream after switching (delay ${delay})`);
  }
  await old.cancel();
  assert.equal(hub.streamCount, 0);
  await hub.close();
  await presence.close();
});

import assert from "node:assert/strict";
import { call, registerUser, roomWith, tempKvPath, testApp } from "../helpers.ts";

/** Sends one message to each room through `app`; returns the statuses. */
async function sendToEach(app: Parameters<typeof call>[0], token: string, rooms: string[]) {
  return await Promise.all(rooms.map(async (room) => {
    const res = await call(app, `/api/rooms/${room}/messages`, { token, body: { text: "hi" } });
    return res.status;
  }));
}

/** Waits for the routing's first heartbeat, after which peers on one database know each other. */
const settle = () => new Promise((r) => setTimeout(r, 1_200));

Deno.test("SendRouting never hands a send to an app on another database, whatever its configured path", async () => {
  // Both apps carry the same configured KV path, but each has a database of its own.
  await using a = await testApp();
  await using b = await testApp();
  await settle();
  const user = await registerUser(b.app);
  const rooms = await Promise.all(Array.from({ length: 8 }, () => roomWith(b.app, user, [])));
  assert.deepEqual(await sendToEach(b.app, user.token, rooms), rooms.map(() => 201));
  assert.ok(a.app, "the other app ran beside it");
});

Deno.test("SendRouting: apps on one database route each room to one owner and keep seq gapless", async () => {
  await using file = await tempKvPath();
  await using a = await testApp({}, { path: file.path });
  await using b = await testApp({}, { path: file.path });
  await settle();
  const user = await registerUser(a.app);
  const rooms = await Promise.all(Array.from({ length: 8 }, () => roomWith(a.app, user, [])));
  // Through both apps at once: every send lands, once, in order per room.
  const statuses = await Promise.all(
    [a, b, a, b].map((t) => sendToEach(t.app, user.token, rooms)),
  );
  assert.deepEqual(statuses.flat(), statuses.flat().map(() => 201));
  for (const room of rooms) {
    const page = await call(a.app, `/api/rooms/${room}/messages`, { token: user.token });
    assert.deepEqual(page.body.messages.map((m: { seq: number }) => m.seq), [1, 2, 3, 4]);
  }
});

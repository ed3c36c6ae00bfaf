// deno-lint-ignore-file no-explicit-any
import assert from "node:assert/strict";
import { dirname } from "node:path";
import {
  call,
  type CallOptions,
  post,
  registerUser,
  roomWith,
  serve,
  tempKvPath,
  testApp,
} from "../helpers.ts";
import { SseClient } from "../sse_client.ts";
import { TestDevice, toBase64 } from "../e2e_device.ts";
import {
  ENVELOPE_CIPHERTEXT_MAX,
  ENVELOPE_KEYS_MAX,
  ENVELOPE_SIGNATURE_MAX,
  ENVELOPE_WRAPPED_KEY_MAX,
} from "../../shared/limits.ts";
import type { Envelope } from "../../shared/api_types.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Target = Parameters<typeof call>[0];
type Account = { id: string; username: string; token: string };

/** Two users with a published device each, in an encrypted direct conversation. */
async function encryptedPair(base: Target) {
  const [a, b] = await Promise.all([registerUser(base), registerUser(base)]);
  const [da, db] = await Promise.all([TestDevice.create(), TestDevice.create()]);
  for (const [d, u] of [[da, a], [db, b]] as const) {
    const res = await call(base, `/api/me/devices/${d.id}`, {
      method: "PUT",
      token: u.token,
      body: { publicKey: d.publicKey, signingKey: d.signingKey },
    });
    assert.equal(res.status, 200);
  }
  const dm = await call(base, `/api/direct/${b.username}`, {
    token: a.token,
    body: { encrypted: true },
  });
  assert.equal(dm.status, 201);
  return { a, b, da, db, roomId: dm.body.room.id as string };
}

/** Posts `body` to a room's messages. */
function send(base: Target, who: Account, roomId: string, body: unknown) {
  return call(base, `/api/rooms/${roomId}/messages`, { token: who.token, body });
}

/** A room's whole history as `who` reads it. */
async function history(base: Target, who: Account, roomId: string) {
  const res = await call(base, `/api/rooms/${roomId}/messages?limit=100`, { token: who.token });
  assert.equal(res.status, 200);
  return res.body.messages as any[];
}

/** A room as `who` sees it. */
async function roomOf(base: Target, who: Account, roomId: string) {
  const res = await call(base, `/api/rooms/${roomId}`, { token: who.token });
  assert.equal(res.status, 200);
  return res.body.room;
}

/** A well-formed envelope whose bytes mean nothing, for the checks that do not decrypt. */
function fakeEnvelope(senderDevice: string, over: Partial<Envelope> = {}): Envelope {
  const b64 = (n: number) => toBase64(new Uint8Array(n).fill(7));
  return {
    ciphertext: b64(60),
    iv: b64(12),
    keys: { [senderDevice]: b64(60) },
    senderDevice,
    signature: b64(64),
    ...over,
  };
}

Deno.test("[e2e] POST /api/direct/:username {encrypted: true} creates it encrypted; reopening keeps it", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b, c] = await Promise.all([1, 2, 3].map(() => registerUser(server.url)));
  const created = await call(server.url, `/api/direct/${b.username}`, {
    token: a.token,
    body: { encrypted: true },
  });
  assert.equal(created.status, 201);
  assert.equal(created.body.room.encrypted, true);
  const fromB = await call(server.url, `/api/direct/${a.username}`, {
    token: b.token,
    body: { encrypted: false },
  });
  assert.equal(fromB.status, 200);
  assert.equal(fromB.body.room.id, created.body.room.id);
  assert.equal(fromB.body.room.encrypted, true, "opening it does not change it");
  const noBody = await call(server.url, `/api/direct/${c.username}`, {
    token: a.token,
    method: "POST",
  });
  assert.equal(noBody.status, 201, "the body stays optional");
  assert.equal(noBody.body.room.encrypted, false);
  const group = await call(server.url, "/api/rooms", { token: a.token, body: { name: "g" } });
  assert.equal(group.body.room.encrypted, false);
  const rooms = await call(server.url, "/api/rooms", { token: a.token });
  assert.deepEqual(
    rooms.body.rooms.map((r: any) => [r.id, r.encrypted]).sort(),
    [
      [created.body.room.id, true],
      [noBody.body.room.id, false],
      [group.body.room.id, false],
    ].sort(),
  );
  const bad = await call(server.url, `/api/direct/${c.username}`, {
    token: a.token,
    body: { encrypted: "yes" },
  });
  assert.equal(bad.status, 400);
});

Deno.test("plaintext to an encrypted conversation is refused with encryption_required and stores nothing", async () => {
  await using t = await testApp();
  const { a, b, roomId } = await encryptedPair(t.app);
  for (const body of [{ text: "hello" }, { text: "hi", clientId: "c-1" }]) {
    const res = await send(t.app, a, roomId, body);
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "encryption_required");
  }
  assert.equal((await post(t.app, b.token, roomId, "from the other side")).status, 400);
  assert.deepEqual(await history(t.app, a, roomId), []);
  const room = await roomOf(t.app, b, roomId);
  assert.equal(room.lastSeq, 0, "seq unchanged");
  assert.equal(room.unread, 0);
  assert.equal(room.lastMessage, null);
});

Deno.test("an envelope to a room that is not encrypted is refused with not_encrypted", async () => {
  await using t = await testApp();
  const [a, b] = await Promise.all([registerUser(t.app), registerUser(t.app)]);
  const device = await TestDevice.create();
  assert.equal(
    (await call(t.app, `/api/me/devices/${device.id}`, {
      method: "PUT",
      token: a.token,
      body: { publicKey: device.publicKey, signingKey: device.signingKey },
    })).status,
    200,
  );
  const dm = await call(t.app, `/api/direct/${b.username}`, { token: a.token, method: "POST" });
  const group = await roomWith(t.app, a, [b]);
  for (const roomId of [dm.body.room.id, group]) {
    const res = await send(t.app, a, roomId, { envelope: fakeEnvelope(device.id) });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, "not_encrypted");
    assert.equal((await roomOf(t.app, a, roomId)).lastSeq, 0);
  }
});

Deno.test("an envelope whose senderDevice is not an active device of the sender is refused", async () => {
  await using t = await testApp();
  const { a, b, da, db, roomId } = await encryptedPair(t.app);
  const cases: [string, string][] = [
    ["the other user's device", db.id],
    ["a device nobody published", "never-published-device"],
  ];
  for (const [what, deviceId] of cases) {
    const res = await send(t.app, a, roomId, { envelope: fakeEnvelope(deviceId) });
    assert.equal(res.status, 400, what);
    assert.equal(res.body.error.code, "invalid_input", what);
    assert.match(res.body.error.message, /senderDevice .* is not an active device of yours/);
    assert.deepEqual(res.body.error.details, { senderDevice: deviceId });
  }
  assert.equal((await send(t.app, a, roomId, { envelope: fakeEnvelope(da.id) })).status, 201);
  assert.equal(
    (await call(t.app, `/api/me/devices/${da.id}`, { method: "DELETE", token: a.token })).status,
    204,
  );
  const retired = await send(t.app, a, roomId, { envelope: fakeEnvelope(da.id) });
  assert.equal(retired.status, 400, "a retired device cannot send");
  assert.match(retired.body.error.message, /retired/);
  assert.equal((await roomOf(t.app, b, roomId)).lastSeq, 1, "only the valid one was stored");
});

Deno.test("envelopes are bounded and must be base64; text and an envelope together are refused", async () => {
  await using t = await testApp();
  const { a, da, roomId } = await encryptedPair(t.app);
  const keys = (n: number) =>
    Object.fromEntries(
      Array.from({ length: n }, (_, i) => [`device-${String(i).padStart(4, "0")}`, "AAAA"]),
    );
  const cases: [string, unknown][] = [
    [
      "a long ciphertext",
      fakeEnvelope(da.id, { ciphertext: "A".repeat(ENVELOPE_CIPHERTEXT_MAX + 4) }),
    ],
    ["an empty ciphertext", fakeEnvelope(da.id, { ciphertext: "" })],
    ["a short iv", fakeEnvelope(da.id, { iv: "AAAAAAAAAAAA" })],
    ["a long iv", fakeEnvelope(da.id, { iv: "A".repeat(20) })],
    ["too many keys", fakeEnvelope(da.id, { keys: keys(ENVELOPE_KEYS_MAX + 1) })],
    ["no keys", fakeEnvelope(da.id, { keys: {} })],
    [
      "a long wrapped key",
      fakeEnvelope(da.id, {
        keys: { [da.id]: "A".repeat(ENVELOPE_WRAPPED_KEY_MAX + 4) },
      }),
    ],
    ["a bad key id", fakeEnvelope(da.id, { keys: { "no!": "AAAA" } })],
    [
      "a long signature",
      fakeEnvelope(da.id, { signature: "A".repeat(ENVELOPE_SIGNATURE_MAX + 4) }),
    ],
    ["not base64", fakeEnvelope(da.id, { ciphertext: "not base64!" })],
    ["no senderDevice", { ...fakeEnvelope(da.id), senderDevice: undefined }],
    ["text too", { envelope: fakeEnvelope(da.id), text: "hello" }],
  ];
  for (const [what, envelope] of cases) {
    const body = what === "text too" ? envelope : { envelope };
    const res = await send(t.app, a, roomId, body);
    assert.equal(res.status, 400, what);
    assert.equal(res.body.error.code, "invalid_input", what);
  }
  const widest = fakeEnvelope(da.id, { keys: keys(ENVELOPE_KEYS_MAX) });
  widest.keys[da.id] = "AAAA";
  delete widest.keys["device-0000"];
  assert.equal((await send(t.app, a, roomId, { envelope: widest })).status, 201);
  assert.equal((await roomOf(t.app, a, roomId)).lastSeq, 1);
});

Deno.test("[e2e] an envelope goes through POST, history, live events and resume unchanged", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const { a, b, da, db, roomId } = await encryptedPair(server.url);
  const [sa, sb] = await Promise.all([a, b].map((u) => SseClient.connect(server.url, u)));
  let resumed: SseClient | undefined;
  try {
    await Promise.all([sa.next("ready"), sb.next("ready")]);
    const envelope = await da.seal(roomId, "meet at noon @" + b.username, [da, db]);
    const sent = await send(server.url, a, roomId, { envelope, clientId: "e-1" });
    assert.equal(sent.status, 201);
    const message = sent.body.message;
    assert.deepEqual(message.envelope, envelope, "stored and answered unchanged");
    assert.equal(message.text, "");
    assert.equal(message.seq, 1);
    assert.equal(message.clientId, "e-1");
    assert.equal(message.mentions, undefined, "the server cannot see mentions");
    assert.deepEqual(await sb.next("message"), message, "live, exactly as answered");
    assert.deepEqual(await sa.next("message"), message);
    assert.deepEqual(await history(server.url, b, roomId), [message]);
    assert.equal(await db.open(roomId, message.envelope, da), "meet at noon @" + b.username);
    assert.equal(await da.open(roomId, message.envelope, da), "meet at noon @" + b.username);

    const retry = await send(server.url, a, roomId, { envelope, clientId: "e-1" });
    assert.equal(retry.status, 200, "a retried clientId returns the original");
    assert.deepEqual(retry.body.message, message);
    const room = await roomOf(server.url, b, roomId);
    assert.equal(room.unread, 1);
    assert.equal(room.mentions, 0);
    assert.deepEqual(room.lastMessage, message);

    // B drops off; A sends on; B resumes from the last id it saw.
    const lastSeen = sb.lastEventId!;
    await sb.close();
    const second = await send(server.url, a, roomId, {
      envelope: await da.seal(roomId, "second", [da, db]),
    });
    assert.equal(second.status, 201);
    resumed = await SseClient.connect(server.url, { token: b.token, lastEventId: lastSeen });
    assert.deepEqual(await resumed.next("message"), second.body.message, "resume replays it");

    // A reply quotes no text, only that it is encrypted; reactions work as anywhere.
    const reply = await send(server.url, b, roomId, {
      envelope: await db.seal(roomId, "yes", [da, db]),
      replyTo: 1,
    });
    assert.equal(reply.status, 201);
    assert.deepEqual(reply.body.message.replyTo, {
      seq: 1,
      author: { id: a.id, username: a.username },
      text: "",
      encrypted: true,
    });
    assert.equal(
      await da.open(roomId, (await sa.next("message", (m) => m.seq === 3)).envelope, db),
      "yes",
    );
    const react = await call(server.url, `/api/rooms/${roomId}/messages/1/reactions/👍`, {
      method: "PUT",
      token: b.token,
    });
    assert.equal(react.status, 204);
    assert.equal((await sa.next("reaction")).count, 1);

    // Edits: an envelope, never text.
    const newer = await da.seal(roomId, "meet at one", [da, db]);
    const edited = await call(server.url, `/api/rooms/${roomId}/messages/1`, {
      method: "PATCH",
      token: a.token,
      body: { envelope: newer },
    });
    assert.equal(edited.status, 200);
    assert.deepEqual(edited.body.message.envelope, newer);
    assert.ok(edited.body.message.editedAt);
    const update = await resumed.next("message_update");
    assert.deepEqual(update, edited.body.message);
    assert.equal(await db.open(roomId, update.envelope, da), "meet at one");
    const textEdit = await call(server.url, `/api/rooms/${roomId}/messages/1`, {
      method: "PATCH",
      token: a.token,
      body: { text: "in clear" },
    });
    assert.equal(textEdit.status, 400);
    assert.equal(textEdit.body.error.code, "encryption_required");
    const foreignEdit = await call(server.url, `/api/rooms/${roomId}/messages/1`, {
      method: "PATCH",
      token: a.token,
      body: { envelope: fakeEnvelope(db.id) },
    });
    assert.equal(foreignEdit.status, 400, "an edit's senderDevice is checked too");
    const all = await history(server.url, a, roomId);
    assert.deepEqual(all.map((m) => m.seq), [1, 2, 3]);
    assert.deepEqual(all[0].envelope, newer);
  } finally {
    await Promise.all([sa.close(), resumed?.close()]);
  }
});

Deno.test("[e2e] switching encryption on and off is a notice in both streams and in history", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const dm = await call(server.url, `/api/direct/${b.username}`, {
    token: a.token,
    method: "POST",
  });
  const roomId = dm.body.room.id;
  assert.equal((await post(server.url, a.token, roomId, "in clear")).status, 201);
  const [sa, sb] = await Promise.all([a, b].map((u) => SseClient.connect(server.url, u)));
  try {
    await Promise.all([sa.next("ready"), sb.next("ready")]);
    const switch_ = (who: Account, encrypted: boolean) =>
      call(server.url, `/api/rooms/${roomId}/encryption`, {
        method: "PUT",
        token: who.token,
        body: { encrypted },
      });
    const on = await switch_(b, true);
    assert.equal(on.status, 200);
    assert.equal(on.body.room.encrypted, true);
    for (const s of [sa, sb]) {
      const notice = await s.next("message");
      assert.deepEqual(
        { ...notice, id: "x", createdAt: 0 },
        {
          id: "x",
          roomId,
          seq: 2,
          author: { id: b.id, username: b.username },
          text: "",
          notice: "encryption_on",
          createdAt: 0,
        },
      );
      const changed = await s.next("room", (r) => r.room.id === roomId);
      assert.equal(changed.room.encrypted, true);
    }
    assert.equal((await roomOf(server.url, a, roomId)).unread, 1, "a notice counts as unread");

    const again = await switch_(a, true);
    assert.equal(again.status, 200, "switching to what it is changes nothing");
    assert.equal(again.body.room.lastSeq, 2);
    assert.equal((await post(server.url, a.token, roomId, "late")).status, 400);

    const off = await switch_(a, false);
    assert.equal(off.body.room.encrypted, false);
    for (const s of [sa, sb]) {
      const notice = await s.next("message", (m) => m.seq === 3);
      assert.equal(notice.notice, "encryption_off");
      assert.equal(notice.author.id, a.id);
    }
    assert.deepEqual(
      (await history(server.url, b, roomId)).map((m) => [m.seq, m.text, m.notice]),
      [[1, "in clear", undefined], [2, "", "encryption_on"], [3, "", "encryption_off"]],
    );
    await sleep(100);
    assert.equal(sb.of("message").length, 2, "the no-op sent nothing");

    // Switching off is never silent: its notice cannot be taken back.
    const del = await call(server.url, `/api/rooms/${roomId}/messages/3`, {
      method: "DELETE",
      token: a.token,
    });
    assert.equal(del.status, 403);
    const edit = await call(server.url, `/api/rooms/${roomId}/messages/3`, {
      method: "PATCH",
      token: a.token,
      body: { text: "nothing happened" },
    });
    assert.equal(edit.status, 403);
    assert.equal((await post(server.url, b.token, roomId, "in clear again")).status, 201);
  } finally {
    await Promise.all([sa.close(), sb.close()]);
  }
});

Deno.test("only the participants of a direct conversation switch it; outsiders cannot post", async () => {
  await using t = await testApp();
  const { a, b, roomId } = await encryptedPair(t.app);
  const c = await registerUser(t.app);
  const dc = await TestDevice.create();
  await call(t.app, `/api/me/devices/${dc.id}`, {
    method: "PUT",
    token: c.token,
    body: { publicKey: dc.publicKey, signingKey: dc.signingKey },
  });
  const put = (who: Account, id: string, body: unknown) =>
    call(t.app, `/api/rooms/${id}/encryption`, { method: "PUT", token: who.token, body });
  const outsider = await put(c, roomId, { encrypted: false });
  assert.equal(outsider.status, 403);
  assert.equal(outsider.body.error.code, "not_member");
  const posted = await send(t.app, c, roomId, { envelope: fakeEnvelope(dc.id) });
  assert.equal(posted.status, 403);
  assert.equal((await roomOf(t.app, a, roomId)).encrypted, true);
  assert.equal((await roomOf(t.app, b, roomId)).lastSeq, 0);

  const group = await roomWith(t.app, a, [b]);
  const grouped = await put(b, group, { encrypted: true });
  assert.equal(grouped.status, 400, "group rooms are not encrypted");
  assert.match(grouped.body.error.message, /direct conversation/);
  assert.equal((await roomOf(t.app, a, group)).lastSeq, 0);
  assert.equal((await put(a, roomId, {})).status, 400);
  assert.equal((await put(a, "no-such-room", { encrypted: true })).status, 404);
  const signedOut = await call(t.app, `/api/rooms/${roomId}/encryption`, {
    method: "PUT",
    body: { encrypted: false },
  });
  assert.equal(signedOut.status, 401);
});

/** Every KV entry (key and value) as text. */
async function kvText(kv: Deno.Kv): Promise<string> {
  const parts: string[] = [];
  const replacer = (_: string, v: unknown) =>
    typeof v === "bigint"
      ? v.toString()
      : v instanceof Uint8Array
      ? new TextDecoder().decode(v)
      : v instanceof Deno.KvU64
      ? v.value.toString()
      : v;
  for await (const e of kv.list({ prefix: [] })) {
    parts.push(JSON.stringify([e.key, e.value], replacer));
  }
  return parts.join("\n");
}

/** The bytes of every file of the KV's folder (the database, its journal), as Latin-1 text. */
async function folderBytes(path: string): Promise<string> {
  let text = "";
  for await (const f of Deno.readDir(path)) {
    if (f.isFile) {
      text += new TextDecoder("latin1").decode(await Deno.readFile(`${path}/${f.name}`));
    }
  }
  return text;
}

Deno.test("[e2e] the text of an encrypted message reaches neither KV nor any API response", async () => {
  await using file = await tempKvPath();
  const marker = `MARKER-${crypto.randomUUID()}`;
  const control = `CONTROL-${crypto.randomUUID()}`;
  const seen: string[] = [];
  // Whatever the server logs meanwhile is kept too.
  const logged: string[] = [];
  const original = { log: console.log, error: console.error, warn: console.warn };
  for (const name of ["log", "error", "warn"] as const) {
    console[name] = (...args: unknown[]) => {
      logged.push(args.map((a) => a instanceof Error ? a.stack : String(a)).join(" "));
      original[name](...args);
    };
  }
  try {
    await using t = await testApp({}, { path: file.path });
    await using server = serve(t.app.fetch);
    /** Calls the API and keeps the response's text. */
    const api = async (path: string, options: CallOptions) => {
      const res = await call(server.url, path, options);
      seen.push(JSON.stringify(res.body));
      return res;
    };
    const { a, b, da, db, roomId } = await encryptedPair(server.url);
    const [sa, sb] = await Promise.all([a, b].map((u) => SseClient.connect(server.url, u)));
    let resumed: SseClient | undefined;
    try {
      await Promise.all([sa.next("ready"), sb.next("ready")]);
      const first = await api(`/api/rooms/${roomId}/messages`, {
        token: a.token,
        body: {
          envelope: await da.seal(roomId, `${marker} @${b.username}`, [da, db]),
          clientId: "m-1",
        },
      });
      assert.equal(first.status, 201);
      const lastSeen = sb.lastEventId!;
      await sb.close();
      await api(`/api/rooms/${roomId}/messages`, {
        token: b.token,
        body: { envelope: await db.seal(roomId, `re: ${marker}`, [da, db]), replyTo: 1 },
      });
      await api(`/api/rooms/${roomId}/messages/1`, {
        method: "PATCH",
        token: a.token,
        body: { envelope: await da.seal(roomId, `${marker} (edited)`, [da, db]) },
      });
      await api(`/api/rooms/${roomId}/messages/1/reactions/🎉`, { method: "PUT", token: b.token });
      await api(`/api/rooms/${roomId}/encryption`, {
        method: "PUT",
        token: b.token,
        body: { encrypted: false },
      });
      // The control: plain text in the same database, which the scans must find.
      await api(`/api/rooms/${roomId}/messages`, { token: a.token, body: { text: control } });
      resumed = await SseClient.connect(server.url, { token: b.token, lastEventId: lastSeen });
      await resumed.next("message", (m) => m.text === control);

      const read = await api(`/api/rooms/${roomId}/messages?limit=100`, { token: b.token });
      const [edited, reply] = read.body.messages;
      assert.equal(await db.open(roomId, edited.envelope, da), `${marker} (edited)`);
      assert.equal(await da.open(roomId, reply.envelope, db), `re: ${marker}`);
      assert.equal(reply.replyTo.encrypted, true);
      for (const who of [a, b]) {
        await api("/api/rooms", { token: who.token });
        await api(`/api/rooms/${roomId}`, { token: who.token });
        await api(`/api/users/${who.username}/devices`, { token: who.token });
      }
      const mentions = await api("/api/me/mentions", { token: b.token });
      assert.deepEqual(mentions.body.mentions, [], "the server cannot read the names");
      seen.push(JSON.stringify([sa.events, resumed.events]));

      const stored = await kvText(t.kv);
      assert.ok(stored.includes(control), "the scan finds text that was stored");
      assert.ok(!stored.includes(marker), "no KV key or value holds the encrypted text");
    } finally {
      await Promise.all([sa.close(), sb.close(), resumed?.close()]);
    }
  } finally {
    Object.assign(console, original);
  }
  assert.ok(!logged.join("\n").includes(marker), "nothing logged holds the encrypted text");
  const responses = seen.join("\n");
  assert.ok(responses.includes(control), "the responses carry plain text where there is some");
  assert.ok(!responses.includes(marker), "no response carries the encrypted text");
  const bytes = await folderBytes(dirname(file.path));
  assert.ok(bytes.includes(control), "the database file holds the plain text");
  assert.ok(!bytes.includes(marker), "the database file does not hold the encrypted text");
});

// deno-lint-ignore-file no-explicit-any
/**
 * Attachments through the real path: multipart uploads over a real socket
 * (from fetch's FormData and from curl), chunked storage in real KV,
 * downloads, limits, messages carrying files, cut-off uploads and the
 * sweeper.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { attachmentChunksPrefix, uploadsPrefix } from "../../lib/keys.ts";
import { sweepAttachments, usage } from "../../lib/attachments.ts";
import {
  call,
  manualClock,
  post,
  registerUser,
  roomWith,
  serve,
  spawnServer,
  tempKvPath,
  testApp,
} from "../helpers.ts";
import { SseClient } from "../sse_client.ts";

/** A PNG's first bytes: the signature and an IHDR of `width` × `height`. */
function png(width: number, height: number, extra = 100): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(33 + extra);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
  bytes.set(new TextEncoder().encode("IHDR"), 12);
  const v = new DataView(bytes.buffer);
  v.setUint32(16, width);
  v.setUint32(20, height);
  return bytes;
}

function random(size: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

async function upload(
  url: string,
  token: string,
  room: string,
  bytes: Uint8Array<ArrayBuffer>,
  name: string,
) {
  const form = new FormData();
  form.append("note", "a field before the file is skipped");
  form.append("file", new File([bytes], name, { type: "application/x-test" }));
  const res = await fetch(`${url}/api/rooms/${room}/attachments`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}` },
    body: form,
  });
  return { status: res.status, body: await res.json() };
}

async function download(url: string, token: string, id: string) {
  const res = await fetch(`${url}/api/attachments/${id}`, {
    headers: { authorization: `Bearer ${token}` },
  });
  return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

Deno.test("an image uploads with its size read from its header, and downloads byte for byte", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, stranger] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const room = await roomWith(server.url, a, []);
  const image = png(640, 480);
  const up = await upload(server.url, a.token, room, image, "photo.png");
  assert.equal(up.status, 201);
  assert.deepEqual(
    { ...up.body.attachment, id: "x" },
    {
      id: "x",
      roomId: room,
      name: "photo.png",
      size: image.length,
      contentType: "image/png",
      sha256: sha256(image),
      createdAt: t.clock(),
      width: 640,
      height: 480,
    },
  );
  const got = await download(server.url, a.token, up.body.attachment.id);
  assert.equal(got.res.status, 200);
  assert.equal(got.res.headers.get("content-type"), "image/png");
  assert.equal(
    got.res.headers.get("content-disposition"),
    `inline; filename="photo.png"; filename*=UTF-8''photo.png`,
  );
  assert.equal(got.res.headers.get("x-content-type-options"), "nosniff");
  assert.equal(got.res.headers.get("content-security-policy"), "sandbox");
  assert.equal(got.res.headers.get("content-length"), String(image.length));
  assert.equal(got.res.headers.get("etag"), `"${sha256(image)}"`);
  assert.match(got.res.headers.get("cache-control")!, /^private/);
  assert.deepEqual(got.bytes, image);
  const other = await download(server.url, stranger.token, up.body.attachment.id);
  assert.equal(other.res.status, 404, "a non-member cannot tell it exists");
  const refused = await upload(server.url, stranger.token, room, image, "x.png");
  assert.equal(refused.status, 403);
});

Deno.test("a 20 MB file uploaded by one member downloads byte-exact for another, and by ranges", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const room = await roomWith(server.url, a, [b]);
  const bytes = random(20 * 1024 * 1024);
  const up = await upload(server.url, a.token, room, bytes, 'Grüße & "quotes".bin');
  assert.equal(up.status, 201);
  assert.equal(up.body.attachment.name, 'Grüße & "quotes".bin');
  const got = await download(server.url, b.token, up.body.attachment.id);
  assert.equal(sha256(got.bytes), sha256(bytes));
  assert.equal(
    got.res.headers.get("content-disposition"),
    `attachment; filename="Gr__e & _quotes_.bin"; filename*=UTF-8''${
      encodeURIComponent('Grüße & "quotes".bin')
    }`,
  );
  const range = async (value: string) => {
    const res = await fetch(`${server.url}/api/attachments/${up.body.attachment.id}`, {
      headers: { authorization: `Bearer ${b.token}`, range: value },
    });
    return { res, bytes: new Uint8Array(await res.arrayBuffer()) };
  };
  // Across a chunk boundary (chunks are 61,440 bytes).
  const mid = await range("bytes=61000-62999");
  assert.equal(mid.res.status, 206);
  assert.equal(mid.res.headers.get("content-range"), `bytes 61000-62999/${bytes.length}`);
  assert.deepEqual(mid.bytes, bytes.slice(61000, 63000));
  const tail = await range("bytes=-100");
  assert.deepEqual(tail.bytes, bytes.slice(-100));
  const open = await range(`bytes=${bytes.length - 10}-`);
  assert.deepEqual(open.bytes, bytes.slice(-10));
  const past = await range(`bytes=${bytes.length}-`);
  assert.equal(past.res.status, 416);
  assert.equal(past.res.headers.get("content-range"), `bytes */${bytes.length}`);
});

Deno.test("a 3 MB file sent by curl -F is stored in 60 KiB chunks and comes back whole", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const a = await registerUser(server.url);
  const room = await roomWith(server.url, a, []);
  const bytes = random(3 * 1024 * 1024 + 123);
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/big file.bin`, bytes);
    const out = await new Deno.Command("curl", {
      args: [
        "-sS",
        "-H",
        `Authorization: Bearer ${a.token}`,
        "-F",
        `file=@${dir}/big file.bin`,
        `${server.url}/api/rooms/${room}/attachments`,
      ],
      stdout: "piped",
    }).output();
    const body = JSON.parse(new TextDecoder().decode(out.stdout));
    assert.equal(body.attachment.size, bytes.length);
    assert.equal(body.attachment.sha256, sha256(bytes));
    assert.equal(body.attachment.name, "big file.bin");
    assert.equal(body.attachment.contentType, "application/octet-stream");
    let chunks = 0;
    for await (
      const e of t.kv.list<Uint8Array>({ prefix: attachmentChunksPrefix(body.attachment.id) })
    ) {
      assert.ok(e.value.length <= 60 * 1024);
      chunks++;
    }
    assert.equal(chunks, Math.ceil(bytes.length / (60 * 1024)));
    const got = await download(server.url, a.token, body.attachment.id);
    assert.equal(got.res.headers.get("content-type"), "application/octet-stream");
    assert.match(got.res.headers.get("content-disposition")!, /^attachment;/);
    assert.equal(sha256(got.bytes), sha256(bytes));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the file size limit and the quota refuse with 413 and leave nothing", async () => {
  await using t = await testApp({ maxUploadBytes: 1024 * 1024, uploadQuotaBytes: 1536 * 1024 });
  await using server = serve(t.app.fetch);
  const a = await registerUser(server.url);
  const room = await roomWith(server.url, a, []);
  const big = await upload(server.url, a.token, room, random(1024 * 1024 + 1), "big.bin");
  assert.equal(big.status, 413);
  assert.equal(big.body.error.code, "file_too_large");
  assert.equal(await usage(t.kv, a.id), 0);
  const first = await upload(server.url, a.token, room, random(1000 * 1024), "one.bin");
  assert.equal(first.status, 201);
  const second = await upload(server.url, a.token, room, random(800 * 1024), "two.bin");
  assert.equal(second.status, 413);
  assert.equal(second.body.error.code, "quota_exceeded");
  assert.equal(await usage(t.kv, a.id), 1000 * 1024);
  let leftovers = 0;
  for await (const _ of t.kv.list({ prefix: ["attachment_chunks"] })) leftovers++;
  assert.equal(leftovers, Math.ceil(1000 * 1024 / (60 * 1024)), "only the stored file's chunks");
  const notMultipart = await call(server.url, `/api/rooms/${room}/attachments`, {
    token: a.token,
    body: { file: "nope" },
  });
  assert.equal(notMultipart.status, 415);
});

Deno.test("messages carry attachments: text may be empty; only the sender's own, once, in that room", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const room = await roomWith(server.url, a, [b]);
  const elsewhere = await roomWith(server.url, a, [], { name: "elsewhere" });
  const s = await SseClient.connect(server.url, b);
  try {
    await s.next("ready");
    const file = (await upload(server.url, a.token, room, png(10, 20), "tiny.png")).body.attachment;
    const send = (u: any, roomId: string, body: any) =>
      call(server.url, `/api/rooms/${roomId}/messages`, { token: u.token, body });
    assert.equal((await send(a, room, { text: "" })).status, 400, "no text and no file");
    const bsFile = (await upload(server.url, b.token, room, png(1, 1), "b.png")).body.attachment;
    assert.equal((await send(a, room, { text: "", attachments: [bsFile.id] })).status, 400);
    assert.equal((await send(a, elsewhere, { text: "", attachments: [file.id] })).status, 400);
    assert.equal(
      (await send(a, room, { text: "", attachments: Array(11).fill(file.id) })).status,
      400,
    );
    const sent = await send(a, room, { text: "", attachments: [file.id] });
    assert.equal(sent.status, 201);
    assert.deepEqual(sent.body.message.attachments, [file]);
    assert.deepEqual((await s.next("message")).attachments, [file]);
    assert.equal((await send(a, room, { text: "again", attachments: [file.id] })).status, 400);
    const history = await call(server.url, `/api/rooms/${room}/messages`, { token: b.token });
    assert.deepEqual(history.body.messages[0].attachments, [file]);
    assert.equal((await download(server.url, b.token, file.id)).res.status, 200);

    // Deleting the message deletes its files.
    await call(server.url, `/api/rooms/${room}/messages/1`, { token: a.token, method: "DELETE" });
    const tombstone = await s.next("message_update");
    assert.equal(tombstone.attachments, undefined);
    assert.equal((await download(server.url, b.token, file.id)).res.status, 404);
    await sweepAttachments(t.kv, t.clock());
    const left = await usage(t.kv, a.id);
    assert.equal(left, 0, "the quota is given back (the unused b.png is b's)");
  } finally {
    await s.close();
  }
});

Deno.test("an upload cut off midway leaves nothing visible, and the sweeper removes what it stored", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const a = await registerUser(server.url);
  const room = await roomWith(server.url, a, []);
  const { port } = new URL(server.url);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
  const boundary = "----cutoff";
  const head = `POST /api/rooms/${room}/attachments HTTP/1.1\r\nhost: x\r\n` +
    `authorization: Bearer ${a.token}\r\n` +
    `content-type: multipart/form-data; boundary=${boundary}\r\n` +
    `content-length: ${5 * 1024 * 1024}\r\n\r\n` +
    `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="cut.bin"\r\n\r\n`;
  await conn.write(new TextEncoder().encode(head));
  const part = random(64 * 1024);
  for (let i = 0; i < 20; i++) await conn.write(part); // 1.25 MiB of 5
  // Wait until some chunks are stored, then drop the connection.
  const deadline = Date.now() + 10_000;
  for (;;) {
    let n = 0;
    for await (const _ of t.kv.list({ prefix: ["attachment_chunks"] })) n++;
    if (n > 0) break;
    assert.ok(Date.now() < deadline, "chunks were written");
    await new Promise((r) => setTimeout(r, 20));
  }
  conn.close();
  await new Promise((r) => setTimeout(r, 300));
  for await (const _ of t.kv.list({ prefix: ["attachments"] })) assert.fail("nothing visible");
  t.clock.advance(2 * 60 * 60_000);
  await sweepAttachments(t.kv, t.clock());
  for await (const _ of t.kv.list({ prefix: ["attachment_chunks"] })) assert.fail("chunks swept");
  for await (const _ of t.kv.list({ prefix: uploadsPrefix() })) assert.fail("upload record swept");
});

Deno.test("a server killed during an upload leaves no attachment, and the sweeper removes its chunks", async () => {
  await using file = await tempKvPath();
  const server = await spawnServer(file.path);
  try {
    const a = await registerUser(server.url);
    const room = await roomWith(server.url, a, []);
    const { port } = new URL(server.url);
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: Number(port) });
    const boundary = "----killed";
    await conn.write(
      new TextEncoder().encode(
        `POST /api/rooms/${room}/attachments HTTP/1.1\r\nhost: x\r\n` +
          `authorization: Bearer ${a.token}\r\n` +
          `content-type: multipart/form-data; boundary=${boundary}\r\n` +
          `content-length: ${8 * 1024 * 1024}\r\n\r\n` +
          `--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="k.bin"\r\n\r\n`,
      ),
    );
    for (let i = 0; i < 40; i++) await conn.write(random(64 * 1024));
    await new Promise((r) => setTimeout(r, 500));
    await server.kill("SIGKILL");
    conn.close();
  } finally {
    await server.kill("SIGKILL");
  }
  const clock = manualClock(Date.now());
  await using t = await testApp({}, { path: file.path, clock });
  let chunks = 0;
  for await (const _ of t.kv.list({ prefix: ["attachment_chunks"] })) chunks++;
  assert.ok(chunks > 0, `the killed server had stored ${chunks} chunks`);
  for await (const _ of t.kv.list({ prefix: ["attachments"] })) assert.fail("nothing visible");
  clock.advance(2 * 60 * 60_000);
  await sweepAttachments(t.kv, clock());
  for await (const _ of t.kv.list({ prefix: ["attachment_chunks"] })) assert.fail("swept");
});

Deno.test("a resumed stream replays a message's attachments", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const [a, b] = await Promise.all([registerUser(server.url), registerUser(server.url)]);
  const room = await roomWith(server.url, a, [b]);
  const s = await SseClient.connect(server.url, b);
  await s.next("ready");
  const from = s.lastEventId;
  await s.close();
  const file = (await upload(server.url, a.token, room, png(3, 4), "r.png")).body.attachment;
  await call(server.url, `/api/rooms/${room}/messages`, {
    token: a.token,
    body: { text: "look", attachments: [file.id] },
  });
  const again = await SseClient.connect(server.url, { token: b.token, lastEventId: from });
  try {
    assert.deepEqual((await again.next("message")).attachments, [file]);
  } finally {
    await again.close();
  }
});

Deno.test("deleting a room deletes its files; GET /api/me shows storage used", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const a = await registerUser(server.url);
  const room = await roomWith(server.url, a, []);
  const file = (await upload(server.url, a.token, room, random(5000), "f.bin")).body.attachment;
  const me = await call(server.url, "/api/me", { token: a.token });
  assert.deepEqual(me.body.storage, { used: 5000, quota: 500 * 1024 * 1024 });
  await call(server.url, `/api/rooms/${room}`, { token: a.token, method: "DELETE" });
  const other = await roomWith(server.url, a, [], { name: "other" });
  assert.equal((await download(server.url, a.token, file.id)).res.status, 404);
  await sweepAttachments(t.kv, t.clock());
  assert.equal((await call(server.url, "/api/me", { token: a.token })).body.storage.used, 0);
  assert.ok(other);
});

Deno.test("an attachment no message uses within a day is swept", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const a = await registerUser(server.url);
  const room = await roomWith(server.url, a, []);
  const unused = (await upload(server.url, a.token, room, random(2000), "u.bin")).body.attachment;
  const used = (await upload(server.url, a.token, room, random(2000), "k.bin")).body.attachment;
  await call(server.url, `/api/rooms/${room}/messages`, {
    token: a.token,
    body: { text: "keep this", attachments: [used.id] },
  });
  t.clock.advance(23 * 60 * 60_000);
  await sweepAttachments(t.kv, t.clock());
  assert.equal((await download(server.url, a.token, unused.id)).res.status, 200, "not yet");
  t.clock.advance(2 * 60 * 60_000);
  await sweepAttachments(t.kv, t.clock());
  assert.equal((await download(server.url, a.token, unused.id)).res.status, 404);
  assert.equal((await download(server.url, a.token, used.id)).res.status, 200, "in use: kept");
  assert.equal(await usage(t.kv, a.id), 2000);
  assert.equal((await post(server.url, a.token, room, "still fine")).status, 201);
});

Deno.test("a file name in UTF-8, as browsers and curl send it, uploads and comes back encoded", async () => {
  await using t = await testApp();
  await using server = serve(t.app.fetch);
  const a = await registerUser(server.url);
  const room = await roomWith(server.url, a, []);
  const up = await upload(server.url, a.token, room, random(100), "résumé €.html");
  assert.equal(up.status, 201);
  assert.equal(up.body.attachment.name, "résumé €.html");
  const got = await download(server.url, a.token, up.body.attachment.id);
  assert.equal(
    got.res.headers.get("content-disposition"),
    `attachment; filename="r_sum_ _.html"; filename*=UTF-8''${encodeURIComponent("résumé €.html")}`,
  );
});

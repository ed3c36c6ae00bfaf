import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { formatSize } from "../../cli/format.ts";
import {
  api,
  count,
  hasTmux,
  register,
  startClient,
  startProxy,
  startServer,
  tempDir,
  TmuxClient,
} from "./harness.ts";

const PASSWORD = "password-123";

/** The token the client saved for `server` under `home`. */
async function savedToken(home: string, server: string): Promise<string> {
  const saved = JSON.parse(await Deno.readTextFile(`${home}/.config/parley/sessions.json`));
  return saved[server].token;
}

/**
 * A client registering `name`, running in `cwd` if given, and a way to type
 * a line and wait for what it prints.
 */
async function client(server: string, dir: string, name: string, cwd?: string) {
  const home = `${dir}/${name}`;
  const process = startClient({
    server,
    home,
    args: ["--user", name, "--register"],
    password: PASSWORD,
    cwd,
  });
  await process.waitFor("Type /help for commands.");
  const run = async (line: string, expect: RegExp | string, timeoutMs = 8000) => {
    const from = process.stdout.length;
    await process.line(line);
    return await process.waitFor(expect, timeoutMs, from);
  };
  return { process, run, token: await savedToken(home, server) };
}

/** `size` random bytes. */
function random(size: number): Uint8Array {
  const out = new Uint8Array(size);
  for (let i = 0; i < size; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

/** A PNG's first bytes: the signature and an IHDR of `width` × `height`. */
function png(width: number, height: number): Uint8Array {
  const bytes = new Uint8Array(133);
  bytes.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
  bytes.set(new TextEncoder().encode("IHDR"), 12);
  const v = new DataView(bytes.buffer);
  v.setUint32(16, width);
  v.setUint32(20, height);
  return bytes;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

type Attachment = { id: string; name: string; size: number; sha256: string };
type Messages = { messages: { seq: number; text: string; attachments?: Attachment[] }[] };

Deno.test("[cli] /upload streams a file with a message; the other side sees it and /download saves it byte for byte", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  await alice.run("/create den", "* Now in #den");
  const roomId = /Created #den, id (\S+)/.exec(alice.process.stdout)![1];
  const bobFolder = `${dir.path}/bob's folder`;
  await Deno.mkdir(bobFolder);
  const bob = await client(server.url, dir.path, "bob", bobFolder);
  await using _bob = bob.process;
  await bob.run("/join den", "* Now in #den");
  await alice.process.waitFor("* bob joined #den");

  // About 3 MB, written by the test; a space in the name, quoted.
  const bytes = random(3 * 1024 * 1024 + 12345);
  const path = `${dir.path}/big data.bin`;
  await Deno.writeFile(path, bytes);
  await alice.run(`/upload "${path}" here it is`, "* Uploaded big data.bin (3.0 MB)\n", 20_000);

  // The message carries the file, its sha256 the file's.
  const history = () =>
    api<Messages>(server.url, `/api/rooms/${roomId}/messages`, { token: bob.token });
  let last;
  for (let i = 0; i < 50; i++) {
    last = (await history()).body.messages.at(-1);
    if (last?.attachments) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(last?.text, "here it is");
  assert.equal(last?.attachments?.length, 1);
  const file = last!.attachments![0];
  assert.deepEqual([file.name, file.size, file.sha256], [
    "big data.bin",
    bytes.length,
    sha256(bytes),
  ]);

  // Both sides show it under the text: name, size, id.
  const line = `  📎 big data.bin · 3.0 MB · id ${file.id}\n`;
  await bob.process.waitFor(new RegExp(`\\] alice: here it is\\n${escape(line)}`));
  await alice.process.waitFor(new RegExp(`\\] alice: here it is\\n${escape(line)}`));

  // Saved where asked, byte for byte.
  const copy = `${dir.path}/copy.bin`;
  await bob.run(`/download ${file.id} ${copy}`, `* Saved ${copy} (3.0 MB)\n`, 20_000);
  assert.equal(sha256(await Deno.readFile(copy)), sha256(bytes));
  // By default into the current folder under its own name; never over an existing file.
  await bob.run(`/download ${file.id}`, `* Saved ${bobFolder}/big data.bin (3.0 MB)\n`);
  await bob.run(`/download ${file.id}`, `* Saved ${bobFolder}/big data (1).bin (3.0 MB)\n`);
  assert.equal(sha256(await Deno.readFile(`${bobFolder}/big data (1).bin`)), sha256(bytes));
  // Into a folder asked for, the same way.
  const folder = `${dir.path}/downloads`;
  await Deno.mkdir(folder);
  await bob.run(`/download ${file.id} ${folder}`, `* Saved ${folder}/big data.bin (3.0 MB)\n`);
  await bob.run(
    `/download ${file.id} ${folder}/`,
    `* Saved ${folder}/big data (1).bin (3.0 MB)\n`,
  );
  await bob.run(
    `/download ${file.id} "${folder}/big data.bin"`,
    `* Saved ${folder}/big data (2).bin (3.0 MB)\n`,
  );
  for (const name of ["big data.bin", "big data (1).bin", "big data (2).bin"]) {
    assert.equal(sha256(await Deno.readFile(`${folder}/${name}`)), sha256(bytes));
  }

  // An image alone, no text: its dimensions show, and history shows it too.
  const image = png(640, 480);
  await Deno.writeFile(`${dir.path}/photo.png`, image);
  await alice.run(`/upload ${dir.path}/photo.png`, "* Uploaded photo.png (133 B)\n");
  const imageLine = /\] alice:\n {2}📎 photo\.png · 133 B · 640×480 · id ([\w-]+)\n/;
  const imageId = imageLine.exec(await bob.process.waitFor(imageLine))![1];
  await bob.run(
    "/history 2",
    new RegExp(
      `\\] alice: here it is\\n${
        escape(line)
      }.*\\] alice:\\n {2}📎 photo\\.png · 133 B · 640×480 · id ${imageId}\\n`,
    ),
  );

  // Errors, one line each.
  await alice.run(`/upload ${dir.path}/nothing.bin`, `! No such file: ${dir.path}/nothing.bin\n`);
  await alice.run(`/upload ${dir.path}`, `! Not uploaded: ${dir.path} is not a file.\n`);
  await alice.run("/upload", "! Usage: /upload <path> [text]");
  await bob.run(
    "/download nosuchfile",
    "! No such file: nosuchfile (or it is not in your rooms).\n",
  );
  await bob.run(`/download ${file.id} ${dir.path}/no/such/folder/x.bin`, "! No such folder: ");
  await bob.run("/download", "! Usage: /download <id> [path]");
  // Not in the room: the same as no such file.
  const carol = await client(server.url, dir.path, "carol");
  await using _carol = carol.process;
  await carol.run(
    `/download ${file.id} ${dir.path}/carol.bin`,
    `! No such file: ${file.id} (or it is not in your rooms).\n`,
  );
  assert.equal(await Deno.stat(`${dir.path}/carol.bin`).catch(() => null), null);

  await alice.run(
    "/help",
    /\/upload <path> \[text\] +send a file.*\n {2}\/download <id> \[path\] +save a file/,
  );
  for (const c of [alice, bob, carol]) {
    await c.process.line("/quit");
    assert.equal(await c.process.finish(), 0);
    assert.equal(c.process.stderr, "");
  }
  // A pipe gets the outcome, never a progress bar.
  assert.doesNotMatch(alice.process.stdout + bob.process.stdout, /█|░|%/);
  assert.equal(count(bob.process.stdout, line), 2); // live, then in /history
});

Deno.test("[cli] /upload over the server's limits says so in one line; the request said its length", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`, undefined, {
    MAX_UPLOAD_MB: "1",
    UPLOAD_QUOTA_MB: "2",
  });
  await using proxy = startProxy(server.port);
  const alice = await client(proxy.url, dir.path, "alice");
  await using _alice = alice.process;
  await alice.run("/create den", "* Now in #den");

  const big = random(2 * 1024 * 1024);
  await Deno.writeFile(`${dir.path}/big.bin`, big);
  const sentBefore = proxy.sent.length;
  await alice.run(
    `/upload ${dir.path}/big.bin too big`,
    "! Not uploaded: big.bin is 2.0 MB; the server takes files up to 1 MB.\n",
  );
  // Streamed with an exact Content-Length, so the server could refuse it before storing any.
  const sent = proxy.sent.slice(sentBefore);
  const start = sent.search(/POST \/api\/rooms\/[\w-]+\/attachments HTTP\/1\.1\r\n/);
  assert.ok(start >= 0, "the upload went through the proxy");
  const head = sent.slice(start).split("\r\n\r\n")[0];
  const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1]);
  assert.ok(length > big.length && length < big.length + 1024, `content-length ${length}`);
  assert.doesNotMatch(head, /transfer-encoding/i);

  // Three files of 0.9 MB: the third would pass the quota of 2 MB.
  const part = random(900 * 1024);
  await Deno.writeFile(`${dir.path}/part.bin`, part);
  await alice.run(`/upload ${dir.path}/part.bin`, "* Uploaded part.bin (900 KB)\n");
  await alice.run(`/upload ${dir.path}/part.bin`, "* Uploaded part.bin (900 KB)\n");
  await alice.run(
    `/upload ${dir.path}/part.bin`,
    "! Not uploaded: part.bin (900 KB) would pass your storage quota of 2 MB.\n",
  );
  await alice.process.line("/quit");
  assert.equal(await alice.process.finish(), 0);
  assert.equal(alice.process.stderr, "");
  assert.equal(formatSize(part.length), "900 KB");
});

Deno.test("[cli] /upload that is rate limited says when to try again", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`, undefined, {
    RATE_LIMITS: "on",
    RATE_UPLOADS: "60/h:2",
  });
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  await alice.run("/create den", "* Now in #den");
  await Deno.writeFile(`${dir.path}/a.txt`, new TextEncoder().encode("hello"));
  await alice.run(`/upload ${dir.path}/a.txt one`, "* Uploaded a.txt (5 B)\n");
  await alice.run(`/upload ${dir.path}/a.txt two`, "* Uploaded a.txt (5 B)\n");
  await alice.run(
    `/upload ${dir.path}/a.txt three`,
    /! Too many uploads; try again in \d+ (s|min)\.\n/,
  );
  await alice.process.line("/quit");
  assert.equal(await alice.process.finish(), 0);
});

Deno.test({
  name: "[cli] on a terminal: /upload's progress bar sits above the typed line, redrawn in place",
  ignore: !hasTmux,
  async fn() {
    await using dir = await tempDir();
    await using server = await startServer(`${dir.path}/parley.kv`);
    const aliceToken = await register(server.url, "alice");
    const bobToken = await register(server.url, "bob");
    const room = await api<{ room: { id: string } }>(server.url, "/api/rooms", {
      token: aliceToken,
      body: { name: "den" },
    });
    const roomId = room.body.room.id;
    await api(server.url, `/api/rooms/${roomId}/join`, { token: bobToken, body: {} });
    // A slow uplink, so the upload takes a few seconds.
    await using proxy = startProxy(server.port);
    proxy.delayMs = 10;
    await Deno.writeFile(`${dir.path}/big.bin`, random(4 * 1024 * 1024));

    await using tty = new TmuxClient();
    await tty.start(
      [Deno.execPath(), "run", "-A", "cli/main.ts", "--server", proxy.url, "--user", "alice"],
      {
        HOME: dir.path,
        XDG_CONFIG_HOME: `${dir.path}/.config`,
        DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
        PARLEY_PASSWORD: PASSWORD,
        TERM: "xterm",
        LANG: "C.UTF-8",
      },
    );
    await tty.waitFor(/#den> ?$/);
    await tty.keys(`/upload ${dir.path}/big.bin`);
    await tty.keys("Enter", false);
    await tty.keys("half typed");
    const bar = String.raw`↑ big\.bin \[[█░]{20}\] +\d+% {2}[\d.]+ (B|KB|MB) / 4\.0 MB`;
    await tty.waitFor(new RegExp(`\n${bar}\n#den> half typed$`));
    // What arrives meanwhile prints above the bar; the bar and the typed line stay below.
    await api(server.url, `/api/rooms/${roomId}/messages`, {
      token: bobToken,
      body: { text: "meanwhile" },
    });
    await tty.waitFor(new RegExp(`bob: meanwhile\n${bar}\n#den> half typed$`));
    const done = await tty.waitFor(
      /\* Uploaded big\.bin \(4\.0 MB\)\n.*alice:\n {2}📎 big\.bin · 4\.0 MB · id [\w-]+\n#den> half typed$/,
      30_000,
    );
    // Gone once done, leaving nothing behind in the scrollback.
    assert.doesNotMatch(done, /↑|█|░/);

    // Ctrl-C during an upload cancels it, and ends the client as it always does.
    await tty.keys("C-u", false);
    await tty.keys(`/upload ${dir.path}/big.bin not this one`);
    await tty.keys("Enter", false);
    await tty.waitFor(new RegExp(`\n${bar}\n#den> ?$`));
    await tty.keys("C-c", false);
    assert.ok(await tty.ended(), "the client exits on Ctrl-C");
    const { body } = await api<Messages>(server.url, `/api/rooms/${roomId}/messages`, {
      token: bobToken,
    });
    assert.deepEqual(body.messages.map((m) => [m.text, m.attachments?.length ?? 0]), [
      ["meanwhile", 0],
      ["", 1],
    ]);
  },
});

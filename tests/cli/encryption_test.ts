import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Api } from "../../cli/api.ts";
import { ChatView } from "../../cli/chat_view.ts";
import { DevicesChanged, Encryption } from "../../cli/encryption.ts";
import { composer } from "../../cli/encryption_commands.ts";
import { KeyFile } from "../../cli/key_file.ts";
import { Outbox } from "../../cli/outbox.ts";
import { Screen } from "../../cli/screen.ts";
import type { Envelope, Message, User } from "../../shared/api_types.ts";
import { withRoom } from "../../shared/client_state.ts";
import { createDeviceKeys, publicJwks } from "../../shared/e2e.ts";
import {
  api,
  count,
  freePort,
  hasTmux,
  startClient,
  startProxy,
  startServer,
  tempDir,
  TmuxClient,
} from "./harness.ts";

const PASSWORD = "password-123";

type Messages = {
  messages: {
    seq: number;
    text: string;
    envelope?: Envelope;
    notice?: string;
    author: { username: string };
    attachments?: { id: string; name: string; size: number; sha256: string }[];
  }[];
};

/**
 * A terminal client of `name` with its own config under `dir/home`
 * (registering unless `login`), and a way to type a line and wait for what
 * it prints after it.
 */
async function client(
  server: string,
  dir: string,
  name: string,
  options: { home?: string; login?: boolean; cwd?: string } = {},
) {
  const home = `${dir}/${options.home ?? name}`;
  const process = startClient({
    server,
    home,
    args: ["--user", name, ...(options.login ? [] : ["--register"])],
    password: PASSWORD,
    cwd: options.cwd,
  });
  await process.waitFor("Type /help for commands.", 15_000);
  const run = async (line: string, expect: RegExp | string, timeoutMs = 8000) => {
    const from = process.stdout.length;
    await process.line(line);
    return await process.waitFor(expect, timeoutMs, from);
  };
  const saved = JSON.parse(await Deno.readTextFile(`${home}/.config/parley/sessions.json`));
  return { process, run, home, token: saved[server].token as string };
}

/** The room id of the direct conversation of the user holding `token` with `peer`. */
async function directId(server: string, token: string, peer: string): Promise<string> {
  const { body } = await api<{ rooms: { id: string; name: string; kind: string }[] }>(
    server,
    "/api/rooms",
    { token },
  );
  return body.rooms.find((r) => r.kind === "direct" && r.name === peer)!.id;
}

/** A room's history as the API gives it. */
async function history(server: string, token: string, roomId: string) {
  return await api<Messages>(server, `/api/rooms/${roomId}/messages?limit=100`, { token });
}

/** The safety number a `/verify` printed: 12 groups of 5 digits. */
function safetyNumberIn(text: string): string {
  const found = text.match(/Safety number of [^\n]*\n {2}((?:\d{5} ){11}\d{5})\n/);
  assert.ok(found, `no safety number in:\n${text}`);
  return found[1];
}

/** Everything stored in the KV file, values as JSON (byte arrays as text too). */
async function kvDump(path: string): Promise<string> {
  const kv = await Deno.openKv(path);
  try {
    let out = "";
    for await (const entry of kv.list({ prefix: [] })) {
      out += JSON.stringify(entry.key, bigints) + " " + JSON.stringify(entry.value, bigints) + "\n";
      if (entry.value instanceof Uint8Array) out += new TextDecoder().decode(entry.value) + "\n";
    }
    return out;
  } finally {
    kv.close();
  }
}

function bigints(_: string, v: unknown) {
  return typeof v === "bigint" ? String(v) : v;
}

/** The raw bytes of the KV file and its journal, as Latin-1 (V8 stores ASCII strings so). */
async function kvFiles(path: string): Promise<string> {
  let out = "";
  for (const suffix of ["", "-wal", "-shm"]) {
    const bytes = await Deno.readFile(path + suffix).catch(() => new Uint8Array());
    out += new TextDecoder("latin1").decode(bytes);
  }
  return out;
}

/** A base64 string with one character changed (still base64, same length). */
function flip(b64: string, at = 10): string {
  const c = b64[at] === "A" ? "B" : "A";
  return b64.slice(0, at) + c + b64.slice(at + 1);
}

Deno.test("[cli] two terminal clients exchange encrypted messages both ways; keys stay in an owner-only file, plaintext never reaches the server", async () => {
  await using dir = await tempDir();
  const kvPath = `${dir.path}/parley.kv`;
  const server = await startServer(kvPath);
  try {
    const alice = await client(server.url, dir.path, "alice");
    await using _alice = alice.process;
    const bob = await client(server.url, dir.path, "bob");
    await using _bob = bob.process;

    await alice.run("/dm bob --encrypted", "* Now in @bob 🔒");
    await alice.process.waitFor("* 🔒 End-to-end encrypted. bob is not verified");
    // What encryption does not hide is said where it matters.
    await alice.process.waitFor(
      "* Devices added later cannot read earlier messages; the server still sees who talks to " +
        "whom, and when.",
    );
    await bob.process.waitFor("* alice opened a direct conversation: /switch @alice");
    await alice.run("the eagle lands at noon", /\] alice: the eagle lands at noon\n/);
    await bob.process.waitFor("» @alice · alice: the eagle lands at noon");
    await bob.run("/switch @alice", /\] alice: the eagle lands at noon\n/);
    await bob.run("copy that, midnight pumpkin", /\] bob: copy that, midnight pumpkin\n/);
    await alice.process.waitFor(/\] bob: copy that, midnight pumpkin\n/);

    // The lock marks it in the room list.
    await alice.run("/rooms", "> @bob 🔒");

    // What the server holds and answers: envelopes, no text.
    const roomId = await directId(server.url, alice.token, "bob");
    const { body, status } = await history(server.url, bob.token, roomId);
    assert.equal(status, 200);
    const sent = body.messages.filter((m) => m.envelope);
    assert.equal(sent.length, 2);
    for (const m of sent) assert.equal(m.text, "");
    assert.doesNotMatch(JSON.stringify(body), /eagle|pumpkin/);
    // Plaintext to an encrypted conversation is refused.
    const plain = await api(server.url, `/api/rooms/${roomId}/messages`, {
      token: bob.token,
      body: { text: "in the clear" },
    });
    assert.equal(plain.status, 400);
    assert.equal((plain.body as { error: { code: string } }).error.code, "encryption_required");

    // Both sides compute the same safety number; each marks the other verified.
    await alice.run("/verify", "type /verify yes");
    assert.match(alice.process.stdout, /No forward secrecy within a device key's life/);
    await bob.run("/verify", "type /verify yes");
    const shown = safetyNumberIn(alice.process.stdout);
    assert.equal(safetyNumberIn(bob.process.stdout), shown);
    await alice.run("/verify yes", "* You verified bob.");
    await alice.run("/verify", "* bob is verified for these devices.");
    assert.equal(safetyNumberIn(alice.process.stdout.slice(-400)), shown);

    // The private keys are in the config directory, owner-only.
    for (const who of [alice, bob]) {
      const file = `${who.home}/.config/parley/keys.json`;
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
      assert.equal((await Deno.stat(`${who.home}/.config/parley`)).mode! & 0o777, 0o700);
      const keys = JSON.parse(await Deno.readTextFile(file));
      const account = Object.values(keys[server.url] as Record<string, unknown>)[0] as {
        device: { id: string; ecdh: JsonWebKey; signing: JsonWebKey };
      };
      assert.equal(typeof account.device.ecdh.d, "string");
      assert.equal(typeof account.device.signing.d, "string");
      // The server has its public keys only.
      const name = who === alice ? "alice" : "bob";
      const { body: listed } = await api<{ devices: { id: string; publicKey: JsonWebKey }[] }>(
        server.url,
        `/api/users/${name}/devices`,
        { token: alice.token },
      );
      assert.deepEqual(listed.devices.map((d) => d.id), [account.device.id]);
      assert.equal(listed.devices[0].publicKey.x, account.device.ecdh.x);
      assert.equal("d" in listed.devices[0].publicKey, false);
    }

    await alice.run("/quit", "");
    await bob.run("/quit", "");
    assert.equal(await alice.process.finish(), 0);
    assert.equal(await bob.process.finish(), 0);
    assert.equal(count(bob.process.stdout, "could not decrypt"), 0);

    // Started again, bob's client is the same device: it reads the history, and adds no device.
    await using again = startClient({ server: server.url, home: bob.home });
    await again.waitFor("Type /help for commands.", 15_000);
    await again.line("/switch @alice");
    await again.waitFor(
      /\] alice: the eagle lands at noon\n.*\] bob: copy that, midnight pumpkin\n/,
    );
    await again.line("/devices");
    await again.waitFor("Your devices (1 active):");
    assert.equal(await again.finish(), 0);
    assert.equal(count(again.stdout, "could not decrypt"), 0);
  } finally {
    await server.stop();
  }
  // Neither the stored entries nor the file's bytes hold the plaintext.
  const dump = await kvDump(kvPath);
  assert.match(dump, /ciphertext/);
  assert.doesNotMatch(dump, /eagle|pumpkin/);
  assert.doesNotMatch(await kvFiles(kvPath), /eagle|pumpkin/);
});

Deno.test("[cli] the sender's second device reads what the first sends; both sides are warned of it, and their next message waits for /ok", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  const bob = await client(server.url, dir.path, "bob");
  await using _bob = bob.process;
  await alice.run("/dm bob --encrypted first words", /\] alice: first words\n/);
  await bob.process.waitFor("» @alice · alice: first words");
  await bob.run("/switch @alice", /\] alice: first words\n/);
  await bob.process.waitFor("* 🔒 End-to-end encrypted. alice is not verified");
  await bob.run("/verify", "type /verify yes");
  await bob.run("/verify yes", "* You verified alice.");

  // alice signs in on a second terminal: a new device, with its own keys file.
  const second = await client(server.url, dir.path, "alice", { home: "alice2", login: true });
  await using _second = second.process;
  await alice.process.waitFor(
    "! Your devices changed: a device was added to or removed from your account (2 active now;",
  );
  const warning = "! alice's devices changed in @alice 🔒";
  await bob.process.waitFor(
    `${warning}: a device was added or removed. alice is no longer verified.`,
  );
  await bob.run("/devices alice", /Devices of alice \(2 active\):\n.*\n.*\n/);
  await bob.run("/verify", "* Compare it with alice");

  // bob's next message waits for /ok, then goes; both of alice's devices read it.
  await bob.run(
    "seen your new device",
    "* Not sent yet to @alice: alice's devices changed. /ok sends it",
  );
  await bob.run("/ok", /\] bob: seen your new device\n/);
  const out = bob.process.stdout;
  assert.ok(out.indexOf(warning) < out.indexOf("] bob: seen your new device"));
  assert.equal(count(out, warning), 1);
  await alice.process.waitFor(/\] bob: seen your new device\n/);
  await second.run("/switch @bob", /\] bob: seen your new device\n/);
  // Sent before it existed, so never wrapped for it: said, not hidden.
  assert.match(second.process.stdout, /\] alice: could not decrypt\n/);

  // The first device's message reaches the second once alice accepts her new device.
  await alice.run("sent from the first", "* Not sent yet to @bob: your devices changed. /ok");
  await alice.run("/ok", /\] alice: sent from the first\n/);
  await second.process.waitFor(/\] alice: sent from the first\n/);
  await second.run("sent from the second", /\] alice: sent from the second\n/);
  await alice.process.waitFor(/\] alice: sent from the second\n/);
  await bob.process.waitFor(/\] alice: sent from the second\n/);
  assert.equal(count(bob.process.stdout, "could not decrypt"), 0);
});

Deno.test("[cli] a device added while the client was away is told on entering the conversation, and the next send waits for /ok", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  const bob = await client(server.url, dir.path, "bob");
  await bob.run("/dm alice --encrypted hello", /\] bob: hello\n/);
  await alice.process.waitFor("» @bob · bob: hello");
  await alice.run("/switch @bob", /\] bob: hello\n/);
  await bob.process.line("/quit");
  assert.equal(await bob.process.finish(), 0);

  // bob adds a second device while alice's client is away; she comes back.
  await alice.process.line("/quit");
  assert.equal(await alice.process.finish(), 0);
  const second = await client(server.url, dir.path, "bob", { home: "bob2", login: true });
  await using _second = second.process;
  await using back = startClient({ server: server.url, home: alice.home });
  const warning = "! bob's devices changed in @bob 🔒";
  await back.waitFor(warning, 15_000);
  await back.waitFor("Type /help for commands.");
  await back.line("hi both of you");
  await back.waitFor("* Not sent yet to @bob: bob's devices changed. /ok sends it");
  await back.line("/ok");
  await back.waitFor(/\] alice: hi both of you\n/);
  assert.ok(back.stdout.indexOf(warning) < back.stdout.indexOf("] alice: hi both of you"));
  await second.run("/switch @alice", /\] alice: hi both of you\n/);
  // Accepted: entering again warns no more.
  await back.line("/switch @bob");
  await back.waitFor("* 🔒 End-to-end encrypted. bob is not verified", 8000, back.stdout.length);
  assert.equal(count(back.stdout, warning), 1);
});

Deno.test('[cli] a tampered envelope prints "could not decrypt", nothing else', async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  const bob = await client(server.url, dir.path, "bob");
  await using _bob = bob.process;
  await bob.run("/dm alice --encrypted a genuine one", /\] bob: a genuine one\n/);
  await alice.process.waitFor("» @bob · bob: a genuine one");
  await alice.run("/switch @bob", /\] bob: a genuine one\n/);

  const roomId = await directId(server.url, bob.token, "alice");
  const genuine = (await history(server.url, bob.token, roomId)).body.messages.at(-1)!.envelope!;
  const post = (envelope: Envelope) =>
    api(server.url, `/api/rooms/${roomId}/messages`, { token: bob.token, body: { envelope } });
  const tampered = [
    { ...genuine, ciphertext: flip(genuine.ciphertext) },
    { ...genuine, signature: flip(genuine.signature) },
    { ...genuine, iv: flip(genuine.iv, 2) },
  ];
  for (const envelope of tampered) assert.equal((await post(envelope)).status, 201);
  await bob.run("/history 4", /(\] bob: could not decrypt\n[^]*){3}/);
  await alice.process.waitFor(/(\] bob: could not decrypt\n[^]*){3}/);
  // Nothing of the genuine text leaks into those lines, and the genuine one still reads.
  const lines = alice.process.stdout.replaceAll("\x07", "").split("\n")
    .filter((l) => l.includes("] bob: "));
  assert.deepEqual(lines.map((l) => l.replace(/^#\d+ \[\d\d:\d\d\] /, "")), [
    "bob: a genuine one",
    "bob: could not decrypt",
    "bob: could not decrypt",
    "bob: could not decrypt",
  ]);
});

Deno.test("[cli] resuming after a dropped stream decrypts the envelopes replayed", async () => {
  await using dir = await tempDir();
  const port = freePort();
  await using server = await startServer(`${dir.path}/parley.kv`, port);
  await using proxy = startProxy(port);
  const alice = await client(proxy.url, dir.path, "alice");
  await using _alice = alice.process;
  const bob = await client(server.url, dir.path, "bob");
  await using _bob = bob.process;
  await bob.run("/dm alice --encrypted are you there", /\] bob: are you there\n/);
  await alice.process.waitFor("» @bob · bob: are you there");
  await alice.run("/switch @bob", /\] bob: are you there\n/);

  proxy.blocked = true;
  proxy.cut();
  await alice.process.waitFor("* Connection lost");
  await bob.run("while you were away", /\] bob: while you were away\n/);
  await bob.run("and once more", /\] bob: and once more\n/);
  proxy.blocked = false;
  await alice.process.waitFor("* Reconnected", 15_000);
  await alice.process.waitFor(/\] bob: and once more\n/, 10_000);
  assert.match(proxy.sent, /GET \/api\/events HTTP\/1\.1\r\n(.+\r\n)*last-event-id: \S+/i);
  const out = alice.process.stdout;
  assert.equal(count(out, "] bob: while you were away\n"), 1);
  assert.equal(count(out, "] bob: and once more\n"), 1);
  assert.equal(count(out, "could not decrypt"), 0);
});

Deno.test("[cli] /encrypt switches a direct conversation on and, once confirmed, off; both sides see it", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  const bob = await client(server.url, dir.path, "bob");
  await using _bob = bob.process;
  await alice.run("/dm bob in the clear", /\] alice: in the clear\n/);
  await bob.process.waitFor("» @alice · alice: in the clear");
  await bob.run("/switch @alice", "* Now in @alice\n");

  await alice.run("/encrypt on", "* [");
  await alice.process.waitFor("You turned on end-to-end encryption 🔒");
  await bob.process.waitFor("alice turned on end-to-end encryption 🔒");
  await bob.run("now it is secret", /\] bob: now it is secret\n/);
  await alice.process.waitFor(/\] bob: now it is secret\n/);
  await bob.run("/rooms", "> @alice 🔒");

  // Off asks first.
  await bob.run("/encrypt off", "/encrypt off --yes");
  await bob.run("/encrypt off --yes", "You turned off end-to-end encryption");
  await alice.process.waitFor("bob turned off end-to-end encryption: the server can read");
  await alice.run("plain again", /\] alice: plain again\n/);
  await bob.process.waitFor(/\] alice: plain again\n/);
  await bob.run("/rooms", "> @alice\n");

  const roomId = await directId(server.url, bob.token, "alice");
  const { body } = await history(server.url, bob.token, roomId);
  const shape = body.messages.map((m) => m.notice ?? (m.envelope ? "envelope" : m.text));
  assert.deepEqual(shape, [
    "in the clear",
    "encryption_on",
    "envelope",
    "encryption_off",
    "plain again",
  ]);
  // A restarted client shows the notices and decrypts from history.
  await bob.run("/history 5", /now it is secret[^]*plain again/);
});

Deno.test("[cli] a file sent to an encrypted conversation is encrypted before upload and decrypted on download", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  const bobFolder = `${dir.path}/downloads`;
  await Deno.mkdir(bobFolder);
  const bob = await client(server.url, dir.path, "bob", { cwd: bobFolder });
  await using _bob = bob.process;
  await alice.run("/dm bob --encrypted", "* Now in @bob 🔒");
  await bob.process.waitFor("* alice opened a direct conversation: /switch @alice");
  await bob.run("/switch @alice", "* Now in @alice 🔒");

  const bytes = new TextEncoder().encode("top secret plans\n".repeat(5000));
  const path = `${dir.path}/plans.txt`;
  await Deno.writeFile(path, bytes);
  await alice.run(`/upload ${path} the plans`, "* Uploaded plans.txt (83 KB), encrypted");
  const line = await bob.process.waitFor(/\] alice: the plans\n {2}📎 plans\.txt · 83 KB · id \S+/);
  const id = line.split("id ").at(-1)!;

  // The server has the ciphertext only, under no real name.
  const roomId = await directId(server.url, bob.token, "alice");
  const stored = (await history(server.url, bob.token, roomId)).body.messages.at(-1)!;
  assert.equal(stored.text, "");
  assert.equal(stored.attachments?.[0].name, "encrypted");
  const sha = createHash("sha256").update(bytes).digest("hex");
  assert.notEqual(stored.attachments?.[0].sha256, sha);

  await bob.run(`/download ${id}`, `* Saved ${bobFolder}/plans.txt (83 KB), decrypted\n`);
  const saved = await Deno.readFile(`${bobFolder}/plans.txt`);
  assert.equal(createHash("sha256").update(saved).digest("hex"), sha);
});

Deno.test({
  name: "[cli] on a terminal, the prompt of an encrypted conversation has a lock",
  ignore: !hasTmux,
  async fn() {
    await using dir = await tempDir();
    await using server = await startServer(`${dir.path}/parley.kv`);
    const bob = await client(server.url, dir.path, "bob");
    await using _bob = bob.process;
    await using tty = new TmuxClient();
    await tty.start(
      [Deno.execPath(), "run", "-A", "cli/main.ts", "--server", server.url, "--user", "alice"]
        .concat(["--register"]),
      {
        HOME: dir.path,
        XDG_CONFIG_HOME: `${dir.path}/.config`,
        DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
        TERM: "xterm",
        PARLEY_PASSWORD: PASSWORD,
      },
    );
    await tty.waitFor(/Type \/help for commands\./, 15_000);
    await tty.keys("/dm bob --encrypted");
    await tty.keys("Enter", false);
    await tty.waitFor(/@bob 🔒> ?$/);
    // The other side switches it off: the lock goes at once.
    await bob.process.waitFor("* alice opened a direct conversation: /switch @alice");
    await bob.run("/switch @alice", "* Now in @alice 🔒");
    await bob.run("/encrypt off --yes", "You turned off end-to-end encryption");
    await tty.waitFor(/bob turned off end-to-end encryption[^]*\n@bob> ?$/);
  },
});

Deno.test("Encryption.seal() refuses after a device change until it is accepted, warns once, then encrypts for the new devices", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  /** A signed-in device of `name`, its keys in `home`. */
  const device = async (name: string, home: string) => {
    const api = new Api(server.url);
    const path = name === home ? "/api/auth/register" : "/api/auth/login";
    const { user, token } = await api.request<{ user: User; token: string }>("POST", path, {
      body: { username: name, password: PASSWORD },
    });
    api.token = token;
    const encryption = await Encryption.open({
      api,
      me: user,
      file: new KeyFile(`${dir.path}/${home}`),
    });
    await encryption.publish();
    return { api, user, encryption };
  };
  const alice = await device("alice", "alice");
  const bob = await device("bob", "bob");
  const room = await alice.api.direct("bob", { encrypted: true });
  const payload = { v: 1 as const, text: "hi" };
  const first = await alice.encryption.seal(room, payload);
  assert.deepEqual(
    Object.keys(first.keys).sort(),
    [
      alice.encryption.deviceId,
      bob.encryption.deviceId,
    ].sort(),
  );

  // bob's new device, and no `devices` event: alice's directory is only read again.
  const bob2 = await device("bob", "bob2");
  alice.encryption.directory.invalidate();
  await assert.rejects(
    () => alice.encryption.seal(room, payload),
    (error: unknown) =>
      error instanceof DevicesChanged && error.whose === "bob's devices" &&
      error.warnings.length === 1 && error.warnings[0].startsWith("! bob's devices changed"),
  );
  // Told once; sending again does not accept it.
  const held = await alice.encryption.seal(room, payload).then(() => null, (e) => e);
  assert.ok(held instanceof DevicesChanged);
  assert.deepEqual(held.warnings, []);
  await held.accept();
  const next = await alice.encryption.seal(room, payload);
  assert.ok(bob2.encryption.deviceId in next.keys);
  assert.equal(Object.keys(next.keys).length, 3);
  // Accepted: no more warnings for this set, here or after a restart of the client.
  await alice.encryption.seal(room, payload);
  const again = await Encryption.open({
    api: alice.api,
    me: alice.user,
    file: new KeyFile(`${dir.path}/alice`),
  });
  assert.equal(again.deviceId, alice.encryption.deviceId);
  assert.deepEqual(await again.entered(room), [
    "* 🔒 End-to-end encrypted. bob is not verified: /verify compares safety numbers.",
    "* Devices added later cannot read earlier messages; the server still sees who talks to " +
    "whom, and when.",
  ]);
});

Deno.test("Outbox sends an envelope when the server says the conversation became encrypted meanwhile", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await signUp(server.url, dir.path, "alice");
  const bob = await signUp(server.url, dir.path, "bob");
  const room = await alice.api.direct("bob");
  const printed: string[] = [];
  const screen = new Screen({
    input: new ReadableStream({ start: (c) => c.close() }),
    write: (text) => printed.push(text.replace(/\n$/, "")),
    interactive: false,
  });
  const view = new ChatView(alice.api, screen, alice.user, { encryption: alice.encryption });
  view.update(withRoom(view.state, room));
  // bob switches it on; alice's client has not heard yet.
  await bob.api.setEncryption(room.id, true);
  const outbox = new Outbox(alice.api, (line) => view.say(line), composer(view));
  outbox.send(room, "said before I knew");
  await outbox.drained();
  assert.deepEqual(printed, []);
  assert.equal(view.state.rooms[room.id].encrypted, true);
  const { messages } = await bob.api.request<{ messages: Message[] }>(
    "GET",
    `/api/rooms/${room.id}/messages`,
  );
  const last = messages.at(-1)!;
  assert.equal(last.text, "");
  assert.equal((await bob.encryption.reveal(last)).text, "said before I knew");
});

/** A user registered through the client's own Api, with this device's keys published. */
async function signUp(server: string, dir: string, username: string) {
  const api = new Api(server);
  const { user, token } = await api.request<{ user: User; token: string }>(
    "POST",
    "/api/auth/register",
    { body: { username, password: PASSWORD } },
  );
  api.token = token;
  const encryption = await Encryption.open({
    api,
    me: user,
    file: new KeyFile(`${dir}/${username}`),
  });
  await encryption.publish();
  return { api, user, encryption };
}

/** A view of `who` that prints into `printed`, reading no input. */
function quietView(who: Awaited<ReturnType<typeof signUp>>, printed: string[]): ChatView {
  const screen = new Screen({
    input: new ReadableStream({ start: (c) => c.close() }),
    write: (text) => printed.push(text.replace(/\n$/, "")),
    interactive: false,
  });
  return new ChatView(who.api, screen, who.user, { encryption: who.encryption });
}

Deno.test("Outbox never sends in plaintext a message typed into an encrypted conversation the other side switched off", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await signUp(server.url, dir.path, "alice");
  const bob = await signUp(server.url, dir.path, "bob");
  const room = await alice.api.direct("bob", { encrypted: true });
  const printed: string[] = [];
  const view = quietView(alice, printed);
  view.update(withRoom(view.state, room));
  const outbox = new Outbox(alice.api, (line) => view.say(line), composer(view));
  const stored = async () =>
    (await bob.api.request<{ messages: Message[] }>("GET", `/api/rooms/${room.id}/messages`))
      .messages;

  // bob switches it off; alice's client has not heard, and its envelope is refused.
  await bob.api.setEncryption(room.id, false);
  outbox.send(view.state.rooms[room.id], "for your eyes only");
  await outbox.drained();
  assert.deepEqual(printed, [
    "! Not sent to @bob: bob turned end-to-end encryption off before it went; type it again " +
    "to send it unencrypted (the server can read it).",
  ]);
  assert.equal((await stored()).at(-1)!.notice, "encryption_off");
  assert.equal(view.state.rooms[room.id].encrypted, false);

  // Typed while encrypted, its turn coming once the client knows: refused without asking.
  outbox.send({ ...room, encrypted: true }, "typed before the notice came");
  await outbox.drained();
  assert.match(printed.at(-1)!, /^! Not sent to @bob: .*type it again to send it unencrypted/);
  assert.equal((await stored()).at(-1)!.notice, "encryption_off");

  // Typed again now that it is off: the user's choice, sent as typed.
  outbox.send(view.state.rooms[room.id], "for your eyes only");
  await outbox.drained();
  assert.equal(printed.length, 2);
  assert.equal((await stored()).at(-1)!.text, "for your eyes only");
  assert.equal((await stored()).filter((m) => m.text === "for your eyes only").length, 1);
});

Deno.test("[cli] a device added to your own account is warned of, live and at start, and your next message waits for /ok", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  const bob = await client(server.url, dir.path, "bob");
  await using _bob = bob.process;
  await alice.run("/dm bob --encrypted hello", /\] alice: hello\n/);
  await bob.process.waitFor("» @alice · alice: hello");
  const roomId = await directId(server.url, alice.token, "bob");
  /** A device published under alice's account, as a malicious server could add one. */
  const addDevice = async () => {
    const keys = await createDeviceKeys();
    const { status } = await api(server.url, `/api/me/devices/${keys.id}`, {
      token: alice.token,
      method: "PUT",
      body: await publicJwks(keys),
    });
    assert.equal(status, 200);
    return keys.id;
  };
  const lastEnvelope = async () =>
    (await history(server.url, bob.token, roomId)).body.messages.at(-1)!.envelope!;
  const warning = "! Your devices changed: a device was added to or removed from your account";

  const added = await addDevice();
  await alice.process.waitFor(`${warning} (2 active now; /devices lists them).`);
  assert.match(alice.process.stdout, /compare safety numbers first \(\/verify\)/);
  await alice.run("are you reading this", "* Not sent yet to @bob: your devices changed. /ok");
  assert.equal((await history(server.url, bob.token, roomId)).body.messages.length, 1);
  await alice.run("/ok", /\] alice: are you reading this\n/);
  assert.ok(added in (await lastEnvelope()).keys);
  await bob.process.waitFor(/\] alice: are you reading this\n|» @alice · alice: are you reading/);
  await alice.run("accepted now", /\] alice: accepted now\n/);
  assert.equal(count(alice.process.stdout, warning), 1);
  await alice.process.line("/quit");
  assert.equal(await alice.process.finish(), 0);

  // Another one while the client is away: told at start, before anything is sent.
  const later = await addDevice();
  await using back = startClient({ server: server.url, home: alice.home });
  await back.waitFor(`${warning} (3 active now;`, 15_000);
  await back.waitFor("Type /help for commands.");
  await back.line("still there?");
  await back.waitFor("* Not sent yet to @bob: your devices changed. /ok");
  await back.line("/ok");
  await back.waitFor(/\] alice: still there\?\n/);
  assert.ok(later in (await lastEnvelope()).keys);
});

Deno.test("[cli] a message held for a device change waits for /ok, and so does every message typed after it", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  const bob = await client(server.url, dir.path, "bob");
  await bob.run("/dm alice --encrypted hello", /\] bob: hello\n/);
  await alice.process.waitFor("» @bob · bob: hello");
  await bob.run("/help", "  /ok ");
  assert.match(bob.process.stdout, /\/ok +after a device-change warning: send what waits/);

  const second = await client(server.url, dir.path, "alice", { home: "alice2", login: true });
  await using _second = second.process;
  await bob.process.waitFor("! alice's devices changed in @alice 🔒");
  await bob.run("one", "* Not sent yet to @alice: alice's devices changed. /ok sends it");
  await bob.run("two", "* Waits behind your message to @alice: /ok sends them in order.");
  const roomId = await directId(server.url, bob.token, "alice");
  const stored = async () => (await history(server.url, bob.token, roomId)).body.messages.length;
  assert.equal(await stored(), 1);
  // Other commands still run meanwhile; an edit waits for the change to be accepted too.
  await bob.run("/edit hello!", "! Not edited: alice's devices changed. /ok accepts them");
  assert.equal(await stored(), 1);

  await bob.run("/ok", /\] bob: one\n[^]*\] bob: two\n/);
  await second.process.waitFor(/\] bob: one\n[^]*\] bob: two\n/);
  assert.equal(await stored(), 3);

  // Held when the client ends: dropped, and said so.
  const from = bob.process.stdout.length;
  const third = await client(server.url, dir.path, "alice", { home: "alice3", login: true });
  await using _third = third.process;
  await bob.process.waitFor("! alice's devices changed in @alice 🔒", 8000, from);
  await bob.run("three", "* Not sent yet to @alice");
  await bob.process.line("/quit");
  assert.equal(await bob.process.finish(), 0);
  assert.match(
    bob.process.stdout,
    /! Not sent to @alice: it was waiting for \/ok when the client closed\./,
  );
  assert.equal(await stored(), 3);
});

Deno.test("[cli] /edit refuses an encrypted message this device cannot read, and one that would go out in plaintext", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  const bob = await client(server.url, dir.path, "bob");
  await using _bob = bob.process;
  await alice.run(
    "/dm bob --encrypted the vault code is 0451",
    /\] alice: the vault code is 0451\n/,
  );
  await bob.process.waitFor("» @alice · alice: the vault code is 0451");
  await bob.run("/switch @alice", /\] alice: the vault code is 0451\n/);
  const roomId = await directId(server.url, bob.token, "alice");
  const last = async () => (await history(server.url, bob.token, roomId)).body.messages.at(-1)!;
  const before = await last();

  // A device added later cannot read it: editing would lose what it cannot see.
  const second = await client(server.url, dir.path, "alice", { home: "alice2", login: true });
  await using _second = second.process;
  await second.run("/switch @bob", /\] alice: could not decrypt\n/);
  await second.run(
    "/edit the vault code changed",
    "! Not edited: this device could not decrypt your last message.",
  );
  assert.deepEqual(await last(), before);

  // Switched off: the edit would put the encrypted message in plaintext on the server.
  await bob.run("/encrypt off --yes", "You turned off end-to-end encryption");
  await alice.process.waitFor("bob turned off end-to-end encryption: the server can read");
  await alice.run("/edit the vault code is 1234", "! Not edited: @bob is no longer encrypted");
  const after = (await history(server.url, bob.token, roomId)).body.messages;
  assert.deepEqual(after.find((m) => m.seq === before.seq), before);
  assert.doesNotMatch(JSON.stringify(after), /vault/);
});

Deno.test("[cli] a message that cannot be decrypted for want of the server shows as pending, and decrypted once it answers", async () => {
  await using dir = await tempDir();
  const port = freePort();
  await using server = await startServer(`${dir.path}/parley.kv`, port);
  await using proxy = startProxy(port);
  const alice = await client(proxy.url, dir.path, "alice");
  const bob = await client(server.url, dir.path, "bob");
  await using _bob = bob.process;
  await bob.run("/dm alice --encrypted the password is swordfish", /swordfish\n/);
  await alice.process.waitFor("» @bob · bob: the password is swordfish");
  await alice.process.line("/quit");
  assert.equal(await alice.process.finish(), 0);

  // The network goes just as alice's client, back, reads bob's devices to decrypt.
  proxy.rewrite = (text) => {
    if (!text.includes("GET /api/users/bob/devices ")) return text;
    proxy.blocked = true;
    proxy.cut();
    return "";
  };
  await using back = startClient({ server: proxy.url, home: alice.home });
  await back.waitFor(/\] bob: 🔒 not decrypted yet: the server could not be reached/, 15_000);
  await back.waitFor("* Connection lost");
  proxy.rewrite = null;
  proxy.blocked = false;
  await back.waitFor(
    /-- Decrypted now that the server answers --\n#\d+ \[\d\d:\d\d\] bob: the password is swordfish\n/,
    15_000,
  );
  // Settled once: a later retry prints nothing more.
  await back.line("/ping");
  await back.waitFor("pong");
  assert.equal(count(back.stdout, "bob: the password is swordfish"), 1);
  assert.equal(count(back.stdout, "could not decrypt"), 0);
});

Deno.test("[cli] a broken keys.json is left as it is, and encryption is off with an error naming it", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const folder = `${dir.path}/alice/.config/parley`;
  await Deno.mkdir(folder, { recursive: true, mode: 0o700 });
  const path = `${folder}/keys.json`;
  // Another account's private keys, cut off mid-file.
  const broken = '{"https://other.example": {"u1": {"username": "ann", "device": {"id": "x';
  await Deno.writeTextFile(path, broken, { mode: 0o600 });

  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  assert.match(
    alice.process.stdout,
    new RegExp(
      `! End-to-end encryption is off on this device: ${path.replaceAll(".", "\\.")} is not a ` +
        "JSON object as this client writes it, so it was left as it is",
    ),
  );
  await alice.run("/devices", "! This client has no keys for end-to-end encryption");
  assert.equal(await Deno.readTextFile(path), broken);
});

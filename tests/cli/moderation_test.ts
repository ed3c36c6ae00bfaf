import assert from "node:assert/strict";
import { api, count, startClient, startServer, tempDir } from "./harness.ts";

const PASSWORD = "password-123";

/** The token the client saved for `server` under `home`. */
async function savedToken(home: string, server: string): Promise<string> {
  const saved = JSON.parse(await Deno.readTextFile(`${home}/.config/parley/sessions.json`));
  return saved[server].token;
}

/** A client registering `name`, and a way to type a line and wait for what it prints. */
async function client(server: string, dir: string, name: string) {
  const home = `${dir}/${name}`;
  const process = startClient({
    server,
    home,
    args: ["--user", name, "--register"],
    password: PASSWORD,
  });
  await process.waitFor("Type /help for commands.");
  const run = async (line: string, expect: RegExp | string) => {
    const from = process.stdout.length;
    await process.line(line);
    return await process.waitFor(expect, 8000, from);
  };
  return { process, run, token: await savedToken(home, server) };
}

type Messages = { messages: { seq: number; text: string; editedAt?: number; deleted?: true }[] };

Deno.test("[cli] /edit replaces your last message; /delete asks first; both show on the other side", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  await alice.run("/create den", "* Now in #den");
  const roomId = /Created #den, id (\S+)/.exec(alice.process.stdout)![1];
  const bob = await client(server.url, dir.path, "bob");
  await using _bob = bob.process;
  await bob.run("/join den", "* Now in #den");
  await alice.process.waitFor("* bob joined #den");

  await alice.run("/edit nothing yet", "! You have no message in #den to edit.");
  await alice.process.line("helo wrld");
  await bob.process.waitFor(/\] alice: helo wrld\n/);
  await bob.process.line("from bob");
  await alice.process.waitFor(/\] bob: from bob\n/);

  // The last message of hers, not the last in the room.
  await alice.run("/edit hello world", "~ You edited: hello world\n");
  await bob.process.waitFor("~ alice edited: hello world\n");
  const history = () =>
    api<Messages>(server.url, `/api/rooms/${roomId}/messages`, { token: bob.token });
  const edited = (await history()).body.messages;
  assert.deepEqual(edited.map((m) => [m.seq, m.text]), [[1, "hello world"], [2, "from bob"]]);
  assert.equal(typeof edited[0].editedAt, "number");
  await bob.run("/history 2", /\] alice: hello world \(edited\)\n.*\] bob: from bob\n/);
  await alice.run("/edit hello world", "* Your last message says that already.");

  // Deleting asks first; anything but y keeps it.
  await alice.run("/delete", 'Delete your message "hello world (edited)"? (y/N) ');
  await alice.run("n", "* Not deleted.");
  await bob.run("/delete 1", 'Delete the message by alice "hello world (edited)"? (y/N) ');
  await bob.run("y", "! Only its author, the room's moderators or an administrator can delete it.");
  await alice.run("/delete", 'Delete your message "hello world (edited)"? (y/N) ');
  await alice.run("y", "~ Your message was deleted\n");
  await bob.process.waitFor("~ a message by alice was deleted\n");
  const after = (await history()).body.messages;
  assert.deepEqual(after.map((m) => [m.seq, m.text, m.deleted ?? false]), [
    [1, "", true],
    [2, "from bob", false],
  ]);
  await bob.run("/history", /\] alice: \(message deleted\)\n.*\] bob: from bob\n/);
  await alice.run("/delete", "! You have no message in #den to delete.");
  // The owner deletes anyone's message by its seq.
  await alice.run("/delete 2", 'Delete the message by bob "from bob"? (y/N) ');
  await alice.run("yes", "~ a message by bob was deleted\n");
  await bob.process.waitFor("~ Your message was deleted\n");
  await alice.run("/delete 2", "! Message 2 is deleted already.");
  await alice.run("/delete 9", "! There is no message 9 in #den.");
  assert.deepEqual((await history()).body.messages.map((m) => m.deleted), [true, true]);

  await alice.run("/help", /\/edit <text> +replace .*\n {2}\/delete \[seq\] +delete your last/);
  for (const c of [alice, bob]) {
    await c.process.line("/quit");
    assert.equal(await c.process.finish(), 0);
    assert.equal(c.process.stderr, "");
  }
  // Said once each, whether the command's answer or its event came first.
  assert.equal(count(alice.process.stdout, "~ You edited: hello world"), 1);
  assert.equal(count(alice.process.stdout, "~ Your message was deleted"), 1);
  assert.equal(count(bob.process.stdout, "~ alice edited: hello world"), 1);
});

Deno.test("[cli] /ban: the banned user learns why and is kept out; /bans, /unban, /mod, /who, /audit", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  await alice.run("/create den", "* Now in #den");
  const roomId = /Created #den, id (\S+)/.exec(alice.process.stdout)![1];
  const bob = await client(server.url, dir.path, "bob");
  await using _bob = bob.process;
  const carol = await client(server.url, dir.path, "carol");
  await using _carol = carol.process;
  await bob.run("/join den", "* Now in #den");
  await carol.run("/join den", "* Now in #den");
  await alice.process.waitFor("* carol joined #den");

  // The owner makes carol a moderator; everyone is told, carol in her own words.
  await alice.run("/mod carol", "* carol is now a moderator of #den\n");
  await carol.process.waitFor("* You are now a moderator of #den\n");
  await bob.process.waitFor("* carol is now a moderator of #den\n");
  await alice.run(
    "/who",
    /Members of #den \(\* online\): alice \(owner\) \*, carol \(mod\) \*, bob \*\n/,
  );
  await carol.run("/kick alice", "! You cannot act on the owner, or on someone of your own rank");
  await bob.run("/bans", "! Only the room's owner and moderators can do that.");

  await alice.run(
    "/ban bob 10 spamming the room",
    /\* bob was banned from #den( until \d\d:\d\d)?: spamming the room\n/,
  );
  await bob.process.waitFor("! You were banned from #den: spamming the room\n");
  await carol.process.waitFor("* bob was banned from #den: spamming the room\n");
  // His client forgot the room; the server refuses him.
  await bob.run("still here?", "! No conversation yet");
  const post = await api<{ error: { code: string } }>(server.url, `/api/rooms/${roomId}/messages`, {
    token: bob.token,
    body: { text: "let me in" },
  });
  assert.equal(post.status, 403);
  assert.equal(post.body.error.code, "banned");
  await bob.run("/join den", "! You are banned from this room.");

  await carol.run(
    "/bans",
    /Banned from #den \(1\):\n {2}bob · by alice · until \d\d:\d\d · spamming the room\n/,
  );
  await carol.run("/unban dave", "! dave is not banned from #den.");
  await carol.run("/unban bob", "* Lifted the ban on bob in #den");
  await carol.run("/bans", "Nobody is banned from #den.");
  await bob.run("/join den", "* Now in #den");
  await alice.run("/unmod carol", "* carol is no longer a moderator of #den\n");
  await carol.process.waitFor("* You are no longer a moderator of #den\n");
  await alice.run(
    "/audit",
    /-- Audit log of #den, oldest first --\n {2}\d\d:\d\d {2}alice made carol a moderator\n {2}\d\d:\d\d {2}alice banned bob: spamming the room\n {2}\d\d:\d\d {2}carol lifted the ban on bob\n {2}\d\d:\d\d {2}alice made carol a member\n/,
  );

  for (const c of [alice, bob, carol]) {
    await c.process.line("/quit");
    assert.equal(await c.process.finish(), 0);
    assert.equal(c.process.stderr, "");
  }
  assert.equal(count(alice.process.stdout, "* bob was banned from #den"), 1);
  assert.equal(count(alice.process.stdout, "* carol is now a moderator of #den"), 1);
  assert.equal(count(bob.process.stdout, "! You were banned"), 1);
});

Deno.test("[cli] a member /kick'ed is told so, the room leaves their list, and they may rejoin", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  await alice.run("/create den", "* Now in #den");
  const bob = await client(server.url, dir.path, "bob");
  await using _bob = bob.process;
  await bob.run("/join den", "* Now in #den");
  await bob.run("/create lounge", "* Now in #lounge");
  await alice.process.waitFor("* bob joined #den");

  await alice.run("/kick nobody", "! nobody is not in #den.");
  await alice.run("/kick bob", "* bob was removed from #den\n");
  await bob.process.waitFor("! You were removed from #den\n");
  const listed = bob.process.stdout.length;
  await bob.run("/rooms", /> #lounge {2}\(1\/100\)\n/);
  assert.doesNotMatch(bob.process.stdout.slice(listed), /#den/);
  await bob.run("/switch den", "! You are not in den");
  // Removed, not banned: a public room takes him back.
  await bob.run("/join den", /\* Joined #den\n\* Now in #den\n/);
  await alice.process.waitFor("* bob joined #den");
  await bob.run("/kick alice", "! Only the room's owner and moderators can do that.");

  for (const c of [alice, bob]) {
    await c.process.line("/quit");
    assert.equal(await c.process.finish(), 0);
    assert.equal(c.process.stderr, "");
  }
  assert.equal(count(alice.process.stdout, "* bob was removed from #den"), 1);
  assert.equal(count(bob.process.stdout, "! You were removed from #den"), 1);
});

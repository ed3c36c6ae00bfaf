import assert from "node:assert/strict";
import { api, count, register, startClient, startServer, tempDir } from "./harness.ts";

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

type Reaction = { emoji: string; count: number; me?: boolean };
type Messages = {
  messages: {
    seq: number;
    text: string;
    replyTo?: { seq: number; author: { username: string }; text: string; deleted?: true };
    reactions?: Reaction[];
  }[];
};

Deno.test("[cli] /reply quotes what it answers; /react and /unreact reach the other side and the API", async () => {
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
  const history = async (token: string) =>
    (await api<Messages>(server.url, `/api/rooms/${roomId}/messages`, { token })).body.messages;

  // Every message shows its seq, which /reply and /react take.
  await alice.run("what shall we eat tonight?", /#1 \[\d\d:\d\d\] alice: what shall we eat/);
  await bob.process.waitFor(/#1 \[\d\d:\d\d\] alice: what shall we eat tonight\?\n/);

  await bob.run(
    "/reply 1 pizza, obviously",
    /#2 \[\d\d:\d\d\] bob: pizza, obviously\n {2}↳ #1 alice: what shall we eat tonight\?\n/,
  );
  await alice.process.waitFor(
    /#2 \[\d\d:\d\d\] bob: pizza, obviously\n {2}↳ #1 alice: what shall we eat tonight\?\n/,
  );
  const reply = (await history(alice.token))[1];
  assert.equal(reply.text, "pizza, obviously");
  assert.deepEqual(
    { ...reply.replyTo, author: reply.replyTo?.author.username },
    { seq: 1, author: "alice", text: "what shall we eat tonight?" },
  );
  await bob.run("/reply 99 to nothing", "! Not sent to #den: There is no message 99");
  await bob.run("/reply 1", "! Usage: /reply <seq> <text>");

  // A reaction: said once on the reacting side, live on the other, counted by the API.
  await alice.run("/react 2 👍", "~ You reacted 👍 to #2\n");
  await bob.process.waitFor("~ alice reacted 👍 to #2\n");
  await bob.run("/react #2 :tada:", "~ You reacted 🎉 to #2\n");
  await alice.process.waitFor("~ bob reacted 🎉 to #2\n");
  const sorted = (reactions: Reaction[] = []) =>
    reactions.toSorted((a, b) => a.emoji.localeCompare(b.emoji));
  assert.deepEqual(sorted((await history(bob.token))[1].reactions), [
    { emoji: "🎉", count: 1, me: true },
    { emoji: "👍", count: 1, me: false },
  ]);
  await alice.run("/react 2 👍", "* You reacted 👍 to #2 already.");
  await alice.run(
    "/history 2",
    /#2 \[\d\d:\d\d\] bob: pizza, obviously\n {2}↳ #1 alice: what shall we eat tonight\?\n {2}👍 1 {2}🎉 1\n/,
  );

  await alice.run("/unreact 2 👍", "~ You took back 👍 on #2\n");
  await bob.process.waitFor("~ alice took back 👍 on #2\n");
  assert.deepEqual((await history(alice.token))[1].reactions, [
    { emoji: "🎉", count: 1, me: false },
  ]);
  await alice.run("/unreact 2 👍", "* You have no 👍 on #2 to take back.");
  await alice.run("/react 9 👍", "! There is no message 9 in #den.");
  await alice.run("/react 2 hello", "! Not one emoji: hello.");

  // Its original deleted, the reply quotes it as deleted.
  await alice.run("/delete 1", 'Delete your message "what shall we eat tonight?"? (y/N) ');
  await alice.run("y", "~ Your message was deleted\n");
  await bob.process.waitFor("~ a message by alice was deleted\n");
  await bob.run("/history 2", /#2 \[\d\d:\d\d\] bob: pizza, obviously\n {2}↳ #1 \(deleted\)\n/);
  assert.deepEqual((await history(bob.token))[1].replyTo?.deleted, true);

  await alice.run(
    "/help",
    /\/reply <seq> <text> +answer .*\n {2}\/react <seq> <emoji> +react .*\n {2}\/unreact <seq> <emoji> +take /,
  );
  for (const c of [alice, bob]) {
    await c.process.line("/quit");
    assert.equal(await c.process.finish(), 0);
    assert.equal(c.process.stderr, "");
  }
  // Said once each, whether the command's answer or its event came first.
  assert.equal(count(alice.process.stdout, "~ You reacted 👍 to #2"), 1);
  assert.equal(count(alice.process.stdout, "~ You took back 👍 on #2"), 1);
  assert.equal(count(bob.process.stdout, "~ You reacted 🎉 to #2"), 1);
  assert.equal(count(bob.process.stdout, "~ alice reacted 👍 to #2"), 1);
});

Deno.test("[cli] a mention is marked and rings the bell, a DM too; a muted room rings none but counts", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const alice = await client(server.url, dir.path, "alice");
  await using _alice = alice.process;
  const out = () => alice.process.stdout;
  await alice.run("/create den", "* Now in #den");
  const den = /Created #den, id (\S+)/.exec(out())![1];
  await alice.run("/create lounge", "* Now in #lounge");
  const lounge = /Created #lounge, id (\S+)/.exec(out())![1];
  const bobToken = await register(server.url, "bob");
  for (const room of [den, lounge]) {
    const joined = await api(server.url, `/api/rooms/${room}/join`, { token: bobToken, body: {} });
    assert.equal(joined.status, 200);
  }
  await alice.process.waitFor("* bob joined #lounge");
  const post = async (room: string, text: string) => {
    const res = await api(server.url, `/api/rooms/${room}/messages`, {
      token: bobToken,
      body: { text },
    });
    assert.equal(res.status, 201);
  };

  await alice.run("/switch den", "* Now in #den");
  await alice.run("/mute", "* Muted #den: no bell for it; its messages still count as unread.");
  await alice.run("/mute", "* #den is muted already.");
  await alice.run("/switch lounge", "* Now in #lounge");

  // A muted room: no bell, not even for a mention; unread and mentions still count.
  let from = out().length;
  await post(den, "plain news");
  await alice.process.waitFor("» #den · bob: plain news\n", 8000, from);
  await post(den, "@alice in a muted room");
  await alice.process.waitFor("@ » #den · bob: @alice in a muted room\n", 8000, from);
  await alice.run("/rooms", "  #den  2 unread, 1 mention  (2/100, muted)\n");
  assert.ok(!out().slice(from).includes("\x07"), "no bell from a muted room");
  // Nor for one's own message, even naming oneself.
  await alice.run("note to self, @alice", /#1 \[\d\d:\d\d\] alice: note to self, @alice\n/);
  assert.doesNotMatch(out(), /@ #1 \[\d\d:\d\d\] alice/);

  // A mention in a room that is not muted: marked, and the bell rings once.
  from = out().length;
  await post(lounge, "hey @alice, lunch?");
  await alice.process.waitFor(/(^|\n)@ #2 \[\d\d:\d\d\] bob: hey @alice, lunch\?\n/, 8000, from);
  await alice.run("/rooms", "> #lounge  (2/100)\n");
  assert.equal(count(out().slice(from), "\x07"), 1, "one bell for the mention");
  await post(lounge, "and a plain line");
  await alice.process.waitFor(/#3 \[\d\d:\d\d\] bob: and a plain line\n/, 8000, from);
  await alice.run("/rooms", "> #lounge  (2/100)\n");
  assert.equal(count(out().slice(from), "\x07"), 1, "none for a plain message");

  // A direct message rings it too.
  from = out().length;
  const dm = await api<{ room: { id: string } }>(server.url, "/api/direct/alice", {
    token: bobToken,
    body: {},
  });
  await post(dm.body.room.id, "psst");
  await alice.process.waitFor("» @bob · bob: psst\n", 8000, from);
  await alice.run("/rooms", "  @bob  1 unread\n");
  assert.equal(count(out().slice(from), "\x07"), 1, "one bell for the direct message");

  await alice.run(
    "/mentions",
    /-- Your latest mentions, oldest first --\n {2}\d\d:\d\d {2}#den {2}#2 bob: @alice in a muted room\n {2}\d\d:\d\d {2}#lounge {2}#2 bob: hey @alice, lunch\?\n/,
  );
  await alice.run("/switch den", "* Now in #den");
  await alice.run("/unmute", "* Unmuted #den");
  await alice.run("/unmute", "* #den is not muted.");
  const rooms = await api<{ rooms: { id: string; muted: boolean; mentions: number }[] }>(
    server.url,
    "/api/rooms",
    { token: alice.token },
  );
  const mine = rooms.body.rooms.find((r) => r.id === den)!;
  assert.equal(mine.muted, false);

  await alice.process.line("/quit");
  assert.equal(await alice.process.finish(), 0);
  assert.equal(alice.process.stderr, "");
});

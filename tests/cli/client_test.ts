import assert from "node:assert/strict";
import {
  api,
  count,
  freePort,
  register,
  startClient,
  startProxy,
  startServer,
  tempDir,
} from "./harness.ts";

const PASSWORD = "password-123";

Deno.test("[cli] signs in, talks in a room and a DM, shows presence, reuses the saved session", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const home = (name: string) => `${dir.path}/${name}`;

  await using alice = startClient({
    server: server.url,
    home: home("alice"),
    args: ["--user", "alice", "--register"],
    password: PASSWORD,
  });
  await alice.waitFor("Signed in as alice");
  await alice.waitFor("You are in no rooms yet");
  await alice.line("/create lobby");
  await alice.waitFor("* Now in #lobby");

  {
    await using bob = startClient({
      server: server.url,
      home: home("bob"),
      args: ["--user", "bob", "--register"],
      password: PASSWORD,
    });
    await bob.waitFor("Signed in as bob");
    await bob.waitFor(/Online \(2\): alice, bob/);
    await bob.line("/join lobby");
    await bob.waitFor("* Now in #lobby");
    await alice.waitFor("* bob joined #lobby");

    await alice.line("hello bob");
    await bob.waitFor(/\] alice: hello bob\n/);
    await bob.line("hi alice");
    await alice.waitFor(/\] bob: hi alice\n/);

    // A DM opened by bob shows in alice's terminal as a notice naming the conversation.
    await bob.line("/dm alice psst, a secret");
    await alice.waitFor("* bob opened a direct conversation: /switch @bob");
    await alice.waitFor("» @bob · bob: psst, a secret");
    await alice.line("/switch @bob");
    await alice.waitFor("* Now in @bob");
    await alice.line("got it");
    await bob.waitFor(/\] alice: got it\n/);
    assert.equal(await bob.finish(), 0);
    assert.equal(count(bob.stdout, "alice: hello bob"), 1);
  }
  await alice.waitFor("* bob is offline");
  await alice.line("are you there?");
  await alice.waitFor("alice: are you there?\n");

  // The saved session: no password, no prompt; the file is owner-only.
  const file = `${home("bob")}/.config/parley/sessions.json`;
  assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);
  assert.equal((await Deno.stat(`${home("bob")}/.config/parley`)).mode! & 0o777, 0o700);
  const saved = JSON.parse(await Deno.readTextFile(file));
  assert.equal(saved[server.url].username, "bob");

  await using again = startClient({ server: server.url, home: home("bob") });
  await again.waitFor("Signed in as bob");
  await alice.waitFor("* bob is online");
  await again.waitFor(/Your rooms:\n {2}@alice {2}1 unread\n {2}#lobby/);
  assert.doesNotMatch(again.stdout, /Password/);
  await again.line("/rooms");
  await again.waitFor("> @alice");

  // /logout ends the session on the server and forgets it here.
  await again.line("/logout");
  assert.equal(await again.finish(), 0);
  assert.match(again.stdout, /Signed out/);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(file)), {});
  const me = await api(server.url, "/api/me", { token: saved[server.url].token });
  assert.equal(me.status, 401);

  await alice.line("/quit");
  assert.equal(await alice.finish(), 0);
});

Deno.test("[cli] a message typed while another arrives is sent intact", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const bobToken = await register(server.url, "bob");
  await using alice = startClient({
    server: server.url,
    home: `${dir.path}/alice`,
    args: ["--user", "alice", "--register"],
    password: PASSWORD,
  });
  await alice.line("/create den");
  await alice.waitFor("* Now in #den");
  const roomId = /Created #den, id (\S+)/.exec(alice.stdout)![1];
  assert.equal(
    (await api(server.url, `/api/rooms/${roomId}/join`, { token: bobToken, body: {} }))
      .status,
    200,
  );

  await alice.type("half of a lo");
  await api(server.url, `/api/rooms/${roomId}/messages`, {
    token: bobToken,
    body: { text: "interruption" },
  });
  await alice.waitFor("bob: interruption");
  await alice.type("ng line\n");
  await alice.waitFor("alice: half of a long line");
  const history = await api<{ messages: { text: string }[] }>(
    server.url,
    `/api/rooms/${roomId}/messages`,
    { token: bobToken },
  );
  assert.deepEqual(history.body.messages.map((m) => m.text), [
    "interruption",
    "half of a long line",
  ]);
});

Deno.test("[cli] reconnects after a server restart and a network drop: nothing lost, nothing twice", async () => {
  await using dir = await tempDir();
  const kvPath = `${dir.path}/parley.kv`;
  const port = freePort();
  let server = await startServer(kvPath, port);
  // The client goes through a proxy the test can block, so "posted while it was away" is
  // certain, not a race against its backoff.
  await using proxy = startProxy(port);
  try {
    const bobToken = await register(server.url, "bob");
    await using alice = startClient({
      server: proxy.url,
      home: `${dir.path}/alice`,
      args: ["--user", "alice", "--register"],
      password: PASSWORD,
    });
    await alice.line("/create den");
    await alice.waitFor("* Now in #den");
    const roomId = /Created #den, id (\S+)/.exec(alice.stdout)![1];
    await api(server.url, `/api/rooms/${roomId}/join`, { token: bobToken, body: {} });
    const post = (text: string) =>
      api(server.url, `/api/rooms/${roomId}/messages`, { token: bobToken, body: { text } });
    await post("before 1");
    await alice.waitFor("bob: before 1");

    // The server dies.
    proxy.blocked = true;
    await server.stop("SIGKILL");
    await alice.waitFor("* Connection lost");
    // Typed while the server is down: retried with the same clientId until it lands.
    await alice.line("typed while down");
    await alice.waitFor("Not delivered yet; retrying");

    // It comes back on the same KV file; others talk before the client is back.
    server = await startServer(kvPath, port);
    for (let i = 1; i <= 5; i++) assert.equal((await post(`while away ${i}`)).status, 201);
    const why = () => `\n--- client output ---\n${alice.stdout}`;
    assert.ok(proxy.refused > 0, "the client kept trying" + why());
    assert.doesNotMatch(alice.stdout, /Reconnected|while away/, why());
    proxy.blocked = false;
    await alice.waitFor("* Reconnected", 15_000);
    await alice.waitFor("bob: while away 5", 10_000);
    await alice.waitFor("alice: typed while down", 10_000);
    assert.match(proxy.sent, /GET \/api\/events HTTP\/1\.1\r\n(.+\r\n)*last-event-id: \S+/i, why());

    // The network drops with the server up.
    proxy.blocked = true;
    proxy.cut();
    await alice.waitFor("* Connection lost", 5000, alice.stdout.indexOf("Reconnected"));
    await post("during the drop");
    proxy.blocked = false;
    await alice.waitFor("bob: during the drop", 15_000);
    await post("after 1");
    await alice.waitFor("bob: after 1");

    const shown = alice.stdout;
    const texts = ["before 1", "while away 1", "while away 2", "while away 3", "while away 4"]
      .concat(["while away 5", "during the drop", "after 1"]);
    for (const text of texts) assert.equal(count(shown, `bob: ${text}\n`), 1, text + why());
    assert.equal(count(shown, "alice: typed while down\n"), 1, why());
    const order = texts.map((text) => shown.indexOf(`bob: ${text}\n`));
    assert.deepEqual(order, [...order].sort((a, b) => a - b), why());

    const history = await api<{ messages: { text: string }[] }>(
      server.url,
      `/api/rooms/${roomId}/messages`,
      { token: bobToken },
    );
    assert.equal(history.body.messages.filter((m) => m.text === "typed while down").length, 1);
    await alice.line("/quit");
    assert.equal(await alice.finish(), 0);
  } finally {
    await server.stop("SIGKILL");
  }
});

Deno.test("[cli] clear one-line errors: password, full, private, unknown user and room, unreachable", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const owner = await register(server.url, "owner");
  await register(server.url, "carol");
  const create = (body: unknown) =>
    api<{ room: { id: string } }>(server.url, "/api/rooms", { token: owner, body });
  const full = (await create({ name: "tiny", capacity: 2 })).body.room.id;
  const secret = (await create({ name: "secret", private: true })).body.room.id;
  await api(server.url, `/api/direct/carol`, { token: owner, body: {} });
  const carol = await api<{ token: string }>(server.url, "/api/auth/login", {
    body: { username: "carol", password: PASSWORD },
  });
  await api(server.url, `/api/rooms/${full}/join`, { token: carol.body.token, body: {} });

  // Wrong password: one line, exit code 1, nothing saved.
  {
    await using wrong = startClient({
      server: server.url,
      home: `${dir.path}/wrong`,
      args: ["--user", "carol"],
      password: "not-the-password",
    });
    assert.equal(await wrong.finish(), 1);
    assert.equal(wrong.stdout, "! Wrong username or password.\n");
    assert.equal(wrong.stderr, "");
  }

  await using dan = startClient({
    server: server.url,
    home: `${dir.path}/dan`,
    args: ["--user", "dan", "--register"],
    password: PASSWORD,
  });
  await dan.waitFor("Type /help for commands.");
  const errors: [string, string][] = [
    ["/join tiny", "! The room is full."],
    [`/join ${secret}`, "! This room is private; ask its owner for an invitation."],
    ["/join secret", "! No such room: secret"],
    ["/join nowhere", "! No such room: nowhere"],
    ["/dm nobody hello?", "! No such user: nobody"],
    ["/switch nowhere", "! You are not in nowhere: try /join nowhere or /dm nowhere"],
    ["/frobnicate", "! Unknown command /frobnicate. Try /help."],
    ["a message with no room", "! No conversation yet"],
  ];
  for (const [line, message] of errors) {
    const from = dan.stdout.length;
    await dan.line(line);
    await dan.waitFor(message, 5000, from);
  }
  await dan.line("/quit");
  assert.equal(await dan.finish(), 0);
  assert.equal(dan.stderr, "");
  assert.doesNotMatch(dan.stdout, /^\s+at |Error:|Uncaught/m);

  // Unreachable: a port nobody listens on.
  await using nowhere = startClient({
    server: `http://127.0.0.1:${freePort()}`,
    home: `${dir.path}/nowhere`,
    args: ["--user", "dan"],
    password: PASSWORD,
  });
  assert.equal(await nowhere.finish(), 1);
  assert.match(
    nowhere.stdout,
    /^! Cannot reach the server at http:\/\/127\.0\.0\.1:\d+ \(connection refused\)\n$/,
  );
  assert.equal(nowhere.stderr, "");
});

Deno.test("[cli] --help lists every flag; a bad flag is one line", async () => {
  await using dir = await tempDir();
  await using help = startClient({
    server: "http://127.0.0.1:1",
    home: dir.path,
    args: ["--help"],
  });
  assert.equal(await help.finish(), 0);
  for (const flag of ["--server URL", "--user NAME", "--register", "--help", "PARLEY_PASSWORD"]) {
    assert.match(help.stdout, new RegExp(flag));
  }
  await using bad = startClient({
    server: "http://127.0.0.1:1",
    home: dir.path,
    args: ["--bogus"],
  });
  assert.equal(await bad.finish(), 2);
  assert.equal(bad.stderr, "parley-cli: Unknown argument --bogus; try --help\n");
});

Deno.test("[cli] room commands: create, invite, history, who, users, ping, rooms, switch, leave", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const bobToken = await register(server.url, "bob");
  await using alice = startClient({
    server: server.url,
    home: `${dir.path}/alice`,
    args: ["--user", "alice", "--register"],
    password: PASSWORD,
  });
  await alice.waitFor("Type /help for commands.");
  const run = async (line: string, expect: RegExp | string) => {
    const from = alice.stdout.length;
    await alice.line(line);
    return await alice.waitFor(expect, 8000, from);
  };
  await run("/create team chat --private --capacity 5", /Created #team chat \(private\), id \S+/);
  const teamId = /Created #team chat \(private\), id (\S+)/.exec(alice.stdout)![1];
  await run("/invite bob", "* Invited bob to #team chat");
  await run("/invite nobody", "! No such user: nobody");
  // An invitation, not a membership: bob is in once he accepts.
  const accepted = await api(server.url, `/api/invites/${teamId}/accept`, {
    token: bobToken,
    body: {},
  });
  assert.equal(accepted.status, 200);
  await alice.waitFor("* bob joined #team chat");
  await run("/invite bob", "! bob is a member already.");
  const post = (text: string) =>
    api(server.url, `/api/rooms/${teamId}/messages`, { token: bobToken, body: { text } });
  for (const text of ["one", "two", "three"]) await post(text);
  await alice.waitFor("bob: three\n");
  await run("/history 2", /-- Last messages in #team chat --\n.*bob: two\n.*bob: three\n/);
  await run("/who", "Members of #team chat (* online): alice (owner) *, bob\n");
  await run("/users", "Online (1): alice\n");
  await run("/ping", /pong: \d+ ms\n/);
  await run("/create second", "* Now in #second");
  await post("psst");
  await alice.waitFor("» #team chat · bob: psst\n");
  await run("/rooms", / {2}#team chat {2}1 unread {2}\(2\/5, private\)\n> #second {2}\(1\/100\)\n/);
  await run("/switch team chat", /\* Now in #team chat\n-- Recent messages in #team chat --\n/);
  await run("/leave", "* Left #team chat");
  await run("hello?", "! No conversation yet");
  await run("/switch #second", "* Now in #second");
  await run(
    "/help",
    /\/invite <user> +invite someone.*\n(.*\n)* {2}\/sessions end <n> +end session n/,
  );
  await alice.line("/quit");
  assert.equal(await alice.finish(), 0);
  assert.equal(alice.stderr, "");
});

Deno.test("[cli] an id the server cannot resume gets a reset: missed messages still show once", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  await using proxy = startProxy(server.port);
  const bobToken = await register(server.url, "bob");
  await using alice = startClient({
    server: proxy.url,
    home: `${dir.path}/alice`,
    args: ["--user", "alice", "--register"],
    password: PASSWORD,
  });
  const ids: Record<string, string> = {};
  for (const name of ["other", "den"]) {
    await alice.line(`/create ${name}`);
    await alice.waitFor(`* Now in #${name}`);
    ids[name] = new RegExp(`Created #${name}, id (\\S+)`).exec(alice.stdout)![1];
    await api(server.url, `/api/rooms/${ids[name]}/join`, { token: bobToken, body: {} });
  }
  const post = (room: string, text: string) =>
    api(server.url, `/api/rooms/${ids[room]}/messages`, { token: bobToken, body: { text } });
  await post("den", "den 1");
  await alice.waitFor("bob: den 1\n");

  proxy.blocked = true;
  proxy.cut();
  await alice.waitFor("* Connection lost");
  for (const text of ["den 2", "den 3"]) await post("den", text);
  for (const text of ["other 1", "other 2", "other 3"]) await post("other", text);
  // The client's Last-Event-ID reaches the server spoiled, as if its history had expired.
  proxy.rewrite = (text) => text.replace(/^(last-event-id:) \S+/im, "$1 stale:1");
  proxy.blocked = false;
  await alice.waitFor("* Reconnected", 10_000);
  await alice.waitFor("bob: den 3\n");
  await alice.waitFor("» #other · 3 new messages\n");
  assert.match(proxy.sent, /last-event-id: \S+:\d+/i);
  for (const text of ["den 1", "den 2", "den 3"]) {
    assert.equal(count(alice.stdout, `bob: ${text}\n`), 1, text);
  }
  await alice.line("/switch other");
  await alice.waitFor(
    /Recent messages in #other --\n.*bob: other 1\n.*bob: other 2\n.*bob: other 3\n/,
  );
  await alice.line("/quit");
  assert.equal(await alice.finish(), 0);
});

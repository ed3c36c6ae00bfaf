import assert from "node:assert/strict";
import { api, count, register, startClient, startProxy, startServer, tempDir } from "./harness.ts";

const PASSWORD = "password-123";

/** Waits until `token` is refused: a session ended elsewhere stops working within seconds. */
async function refused(server: string, token: string): Promise<void> {
  const deadline = Date.now() + 8_000;
  for (;;) {
    const { status } = await api(server, "/api/me", { token });
    if (status === 401) return;
    assert.equal(status, 200);
    if (Date.now() > deadline) assert.fail("the token still works");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The token the client saved for `server` under `home`. */
async function savedToken(home: string, server: string): Promise<string> {
  const saved = JSON.parse(await Deno.readTextFile(`${home}/.config/parley/sessions.json`));
  return saved[server].token;
}

Deno.test("[cli] /block stops a DM and says so once; /unblock lifts it; a block made elsewhere shows", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const bobToken = await register(server.url, "bob");
  await register(server.url, "carol");
  const home = `${dir.path}/alice`;
  await using alice = startClient({
    server: server.url,
    home,
    args: ["--user", "alice", "--register"],
    password: PASSWORD,
  });
  await alice.waitFor("Type /help for commands.");
  const run = async (line: string, expect: RegExp | string) => {
    const from = alice.stdout.length;
    await alice.line(line);
    return await alice.waitFor(expect, 8000, from);
  };
  const dmFromBob = () => api(server.url, "/api/direct/alice", { token: bobToken, body: {} });

  await run("/block bob", "* Blocked bob: no direct messages or invitations from them");
  const refused = await dmFromBob();
  assert.equal(refused.status, 403);
  assert.equal((refused.body as { error: { code: string } }).error.code, "blocked");
  await run("/block nobody", "! No such user: nobody");
  await run("/unblock carol", "! You do not block carol.");

  // A block made on another device arrives as an event, and is said once too.
  const aliceToken = await savedToken(home, server.url);
  const elsewhere = await api(server.url, "/api/me/blocks", {
    token: aliceToken,
    body: { username: "carol" },
  });
  assert.equal(elsewhere.status, 201);
  await alice.waitFor("* Blocked carol:");
  await run("/unblock carol", "* Unblocked carol");

  await run("/unblock bob", "* Unblocked bob");
  const allowed = await dmFromBob();
  assert.ok(allowed.status === 200 || allowed.status === 201, JSON.stringify(allowed.body));
  const roomId = (allowed.body as { room: { id: string } }).room.id;
  await api(server.url, `/api/rooms/${roomId}/messages`, {
    token: bobToken,
    body: { text: "friends again?" },
  });
  await alice.waitFor("» @bob · bob: friends again?");

  await alice.line("/quit");
  assert.equal(await alice.finish(), 0);
  // Each change was said once, whether the command's answer or its event came first.
  for (
    const line of ["* Blocked bob:", "* Unblocked bob", "* Blocked carol:", "* Unblocked carol"]
  ) {
    assert.equal(count(alice.stdout, line), 1, `${line}\n${alice.stdout}`);
  }
  assert.equal(alice.stderr, "");
});

Deno.test("[cli] invitations: shown at start-up and on arrival, listed, declined, accepted", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  const owner = await register(server.url, "olga");
  await register(server.url, "alice");
  const create = async (name: string, isPrivate: boolean) =>
    (await api<{ room: { id: string } }>(server.url, "/api/rooms", {
      token: owner,
      body: { name, private: isPrivate },
    })).body.room.id;
  const team = await create("team", true);
  const club = await create("book club", false);
  const invite = (roomId: string) =>
    api(server.url, `/api/rooms/${roomId}/members`, { token: owner, body: { username: "alice" } });
  assert.equal((await invite(team)).status, 201);

  await using alice = startClient({
    server: server.url,
    home: `${dir.path}/alice`,
    args: ["--user", "alice"],
    password: PASSWORD,
  });
  // Waiting since before she signed in.
  await alice.waitFor(
    "* olga invites you to #team (private) — /accept team or /decline team\nType /help",
  );
  const run = async (line: string, expect: RegExp | string) => {
    const from = alice.stdout.length;
    await alice.line(line);
    return await alice.waitFor(expect, 8000, from);
  };
  // Until she accepts, she is not in the room.
  await run("/switch team", "! You are not in team");

  // One arriving while she is here.
  assert.equal((await invite(club)).status, 201);
  await alice.waitFor("* olga invites you to #book club — /accept book club or /decline book club");
  await run(
    "/invites",
    /Invitations \(2\):\n {2}\d\d:\d\d {2}olga invites you to #book club — .*\n {2}\d\d:\d\d {2}olga invites you to #team \(private\) — /,
  );
  await run("/decline book club", "* Declined the invitation to #book club");
  await run("/accept nowhere", "! No invitation to nowhere: /invites lists them.");

  // Without a room, the newest still waiting: #team.
  await run("/accept", /\* Joined #team\n\* Now in #team\n/);
  await api(server.url, `/api/rooms/${team}/messages`, { token: owner, body: { text: "welcome" } });
  await alice.waitFor("olga: welcome\n");
  await run("/accept", "! No invitations are waiting for you.");
  await run("/who", "Members of #team (* online): olga (owner), alice *");

  // /join of a private room she is invited to accepts the invitation.
  const lab = await create("lab", true);
  assert.equal((await invite(lab)).status, 201);
  await alice.waitFor("* olga invites you to #lab (private)");
  await run("/join lab", /\* Joined #lab\n\* Now in #lab\n/);

  const left = await api<{ invitations: unknown[] }>(server.url, "/api/invites", {
    token: await savedToken(`${dir.path}/alice`, server.url),
  });
  assert.deepEqual(left.body.invitations, []);
  await alice.line("/quit");
  assert.equal(await alice.finish(), 0);
  assert.equal(count(alice.stdout, "* Declined the invitation"), 1);
  assert.doesNotMatch(alice.stdout, /You are now in #team/);
  assert.equal(alice.stderr, "");
});

Deno.test("[cli] /sessions lists both sessions and ends the other; /password changes it", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`);
  await using alice = startClient({
    server: server.url,
    home: `${dir.path}/alice`,
    args: ["--user", "alice", "--register"],
    password: PASSWORD,
  });
  await alice.waitFor("Type /help for commands.");
  const login = async (password = PASSWORD) =>
    await api<{ token: string }>(server.url, "/api/auth/login", {
      body: { username: "alice", password },
    });
  const signIn = async () => {
    const res = await login();
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.token;
  };
  const other = await signIn();
  const run = async (line: string, expect: RegExp | string) => {
    const from = alice.stdout.length;
    await alice.line(line);
    return await alice.waitFor(expect, 8000, from);
  };

  const listed = await run(
    "/sessions",
    /Your sessions \(2\):\n {2}1\. parley-cli \(Deno [^)]+\) · 127\.0\.0\.1 · last used \d\d:\d\d · this one\n {2}2\. .+ · 127\.0\.0\.1 · last used \d\d:\d\d\nEnd one with \/sessions end <n>\.\n/,
  );
  assert.doesNotMatch(listed.split("\n")[2], /this one/);
  await run("/sessions end 1", "! Session 1 is this one: /logout ends it.");
  await run("/sessions end 3", "! There is no session 3: /sessions lists them.");
  await run("/sessions stop", "! Usage: /sessions, or /sessions end <n>");
  await run("/sessions end 2", "* Ended session 2: ");
  await refused(server.url, other);
  await run("/sessions", /Your sessions \(1\):\n {2}1\. parley-cli .* · this one\n/);

  // A wrong current password changes nothing.
  const third = await signIn();
  await run("/password", "Current password: ");
  await alice.line("not-my-password");
  await alice.waitFor("New password: ");
  await alice.line("new-password-456");
  await alice.waitFor("! The current password is wrong; the password was not changed.");
  const still = await api(server.url, "/api/me", { token: third });
  assert.equal(still.status, 200, JSON.stringify(still.body) + alice.stdout);

  await run("/password", "Current password: ");
  await alice.line(PASSWORD);
  await alice.line("new-password-456");
  await alice.waitFor("* Password changed; your other sessions were signed out.");
  await refused(server.url, third);
  assert.equal((await login()).status, 401);
  assert.equal((await login("new-password-456")).status, 200);
  // This session goes on.
  await run("/ping", /pong: \d+ ms/);
  await run("/presence contacts", "* Only people who share a room or a conversation with you");
  const me = await api<{ presenceVisibility: string }>(server.url, "/api/me", {
    token: await savedToken(`${dir.path}/alice`, server.url),
  });
  assert.equal(me.body.presenceVisibility, "contacts");
  await run("/presence everyone", "* Everyone can now see when you are online.");

  // Signing out everywhere ends this session too, and the one on the other device.
  const fourth = (await login("new-password-456")).body.token;
  const mine = await savedToken(`${dir.path}/alice`, server.url);
  await alice.line("/logout-all");
  assert.equal(await alice.finish(), 0);
  assert.match(alice.stdout, /\* Signed out everywhere\.\n/);
  await refused(server.url, fourth);
  await refused(server.url, mine);
  const file = `${dir.path}/alice/.config/parley/sessions.json`;
  assert.deepEqual(JSON.parse(await Deno.readTextFile(file)), {});
  // Typed on a pipe, the answers are never printed back.
  assert.doesNotMatch(alice.stdout, /new-password-456|not-my-password/);
  assert.equal(alice.stderr, "");
});

Deno.test("[cli] a 429 says when to try again, and nothing is retried in a loop", async () => {
  await using dir = await tempDir();
  await using server = await startServer(`${dir.path}/parley.kv`, undefined, {
    RATE_LIMITS: "on",
    RATE_MESSAGES: "1/min:2",
    RATE_ROOMS: "1/h:1",
    MAX_STREAMS_PER_USER: "1",
  });
  await using proxy = startProxy(server.port);
  const home = `${dir.path}/alice`;
  await using alice = startClient({
    server: proxy.url,
    home,
    args: ["--user", "alice", "--register"],
    password: PASSWORD,
  });
  await alice.waitFor("Type /help for commands.");
  await alice.line("/create den");
  await alice.waitFor("* Now in #den");
  const roomId = /Created #den, id (\S+)/.exec(alice.stdout)![1];

  // Two messages fit; the third is refused for a minute, and so is the fourth, without asking.
  for (const text of ["one", "two", "three", "four"]) await alice.line(text);
  await alice.waitFor(/! Not sent to #den: too many messages; try again in (60|59) s\.\n/);
  await alice.waitFor(
    /! Not sent to #den: too many messages; try again in \d+ s\.\n(.*\n)*! Not sent to #den: too many messages; try again in \d+ s\.\n/,
  );
  const sends = proxy.sent.match(/POST \/api\/rooms\/\S+\/messages /g) ?? [];
  assert.equal(sends.length, 3, proxy.sent);
  const history = await api<{ messages: { text: string }[] }>(
    server.url,
    `/api/rooms/${roomId}/messages`,
    { token: await savedToken(home, proxy.url) },
  );
  assert.deepEqual(history.body.messages.map((m) => m.text), ["one", "two"]);

  // A command's 429 says what there were too many of.
  await alice.line("/create another");
  await alice.waitFor("! Too many rooms created; try again in 60 min.");

  // A second client of hers finds her one stream taken, and says when it tries again.
  {
    await using again = startClient({ server: proxy.url, home });
    await again.waitFor(
      "* Connection lost (too many open event streams for this account); reconnecting in 2 s…",
      15_000,
    );
    await again.line("/quit");
    assert.equal(await again.finish(), 0);
  }

  // Failed logins: the throttle's refusal says when, and is not asked again.
  await register(server.url, "carol");
  for (let i = 0; i < 5; i++) {
    const body = { username: "carol", password: "wrong-password" };
    assert.equal((await api(server.url, "/api/auth/login", { body })).status, 401);
  }
  await using carol = startClient({
    server: server.url,
    home: `${dir.path}/carol`,
    args: ["--user", "carol"],
    password: PASSWORD,
  });
  assert.equal(await carol.finish(), 1);
  assert.match(carol.stdout, /^! Too many failed logins; try again in 1[45] min\.\n$/);

  await alice.line("/quit");
  assert.equal(await alice.finish(), 0);
  assert.equal(alice.stderr, "");
  assert.equal(count(alice.stdout, "! Not sent to #den"), 2);
});

import assert from "node:assert/strict";
import { HISTORY_COMMAND_MAX, HISTORY_PAGE_MAX } from "../../shared/limits.ts";
import { api, count, register, startClient, startProxy, startServer, tempDir } from "./harness.ts";

/** The history requests in what the client sent through the proxy: each one's query. */
function historyQueries(sent: string): URLSearchParams[] {
  return [...sent.matchAll(/^GET \/api\/rooms\/[^/\s]+\/messages\?(\S*) HTTP\/1\.1\r$/gm)]
    .map((match) => new URLSearchParams(match[1]));
}

Deno.test("Chat prints /history 500 in pages", async () => {
  await using dir = await tempDir();
  // Seeding 520 messages from one user is no test of the message rate limit.
  await using server = await startServer(`${dir.path}/parley.kv`, undefined, {
    RATE_LIMITS: "off",
  });
  // Only the client goes through the proxy, so what it logs is the client's own requests.
  await using proxy = startProxy(server.port);
  const bobToken = await register(server.url, "bob");
  await register(server.url, "alice");
  const created = await api<{ room: { id: string } }>(server.url, "/api/rooms", {
    token: bobToken,
    body: { name: "archive" },
  });
  const roomId = created.body.room.id;
  // One after another, so "message n" has seq n.
  for (let n = 1; n <= 520; n++) {
    const res = await api(server.url, `/api/rooms/${roomId}/messages`, {
      token: bobToken,
      body: { text: `message ${n}` },
    });
    assert.equal(res.status, 201);
  }

  await using alice = startClient({
    server: proxy.url,
    home: `${dir.path}/alice`,
    args: ["--user", "alice"],
    password: "password-123",
  });
  await alice.waitFor("Type /help for commands.");
  await alice.line("/join archive");
  await alice.waitFor(/Recent messages in #archive --\n(.*\n){9}.*bob: message 520\n/);

  const from = alice.stdout.length;
  const asked = historyQueries(proxy.sent).length;
  await alice.line("/history 500");
  await alice.waitFor("bob: message 520\n", 15_000, from);
  const shown = alice.stdout.slice(from);
  const lines = shown.split("\n").filter((line) => / bob: message \d+$/.test(line));
  assert.equal(lines.length, 500, shown.slice(0, 500));
  assert.match(shown, /^-- Last messages in #archive --\n#21 \[\d\d:\d\d\] bob: message 21\n/);
  assert.match(lines.at(-1)!, /\] bob: message 520$/);
  assert.equal(count(shown, "bob: message 20\n"), 0);
  assert.doesNotMatch(shown, /^! /m);

  // Five pages of 100, each before the oldest of the page it follows.
  const pages = historyQueries(proxy.sent).slice(asked);
  assert.deepEqual(
    pages.map((q) => [q.get("limit"), q.get("before")]),
    [["100", null], ["100", "421"], ["100", "321"], ["100", "221"], ["100", "121"]],
  );
  for (const query of historyQueries(proxy.sent)) {
    assert.ok(Number(query.get("limit")) <= HISTORY_PAGE_MAX, query.toString());
  }

  // Past what the parser allows, the command is refused before anything is asked.
  const beyond = alice.stdout.length;
  await alice.line(`/history ${HISTORY_COMMAND_MAX + 1}`);
  await alice.waitFor(`! Usage: /history [n], n from 1 to ${HISTORY_COMMAND_MAX}`, 5000, beyond);
  assert.equal(historyQueries(proxy.sent).length, asked + pages.length);

  await alice.line("/quit");
  assert.equal(await alice.finish(), 0);
});

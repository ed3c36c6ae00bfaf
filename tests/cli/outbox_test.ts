import assert from "node:assert/strict";
import { Api, ApiFailure, parseRetryAfter } from "../../cli/api.ts";
import { parseLine } from "../../cli/command_runner.ts";
import { describe, formatInvitation, rateLimitText, waitText } from "../../cli/format.ts";
import { Outbox } from "../../cli/outbox.ts";
import type { Room } from "../../shared/api_types.ts";
import { serve } from "../helpers.ts";

const room = { id: "r-den", kind: "group", name: "den" } as Room;

/**
 * A server that refuses the first `refusals` sends with 429 and `Retry-After`
 * (seconds), then stores; it records when each send came and its clientId.
 */
function limitedServer(refusals: number, retryAfter: number) {
  const sends: { at: number; clientId: string }[] = [];
  const server = serve(async (req) => {
    const body = await req.json();
    sends.push({ at: Date.now(), clientId: body.clientId });
    if (sends.length <= refusals) {
      const error = {
        code: "rate_limited",
        message: `Too many requests. Try again in ${retryAfter} s.`,
        details: { retryAfter },
      };
      return Response.json({ error }, {
        status: 429,
        headers: { "retry-after": String(retryAfter) },
      });
    }
    const message = { id: "m1", roomId: room.id, seq: sends.length, text: body.text };
    return Response.json({ message }, { status: 201 });
  });
  const api = new Api(server.url);
  api.token = "t";
  return { server, api, sends };
}

Deno.test("Outbox waits out a short Retry-After, says so once, and sends the same message", async () => {
  const { server, api, sends } = limitedServer(1, 1);
  await using _ = server;
  const said: string[] = [];
  const outbox = new Outbox(api, (line) => said.push(line));
  outbox.send(room, "hello");
  await outbox.drained();
  assert.deepEqual(said, ["! Too many messages; sending this one in 1 s…"]);
  assert.equal(sends.length, 2);
  assert.equal(sends[0].clientId, sends[1].clientId);
  assert.ok(sends[1].at - sends[0].at >= 950, `retried after ${sends[1].at - sends[0].at} ms`);
});

Deno.test("Outbox refuses on a long Retry-After, and asks nothing more until it is over", async () => {
  const { server, api, sends } = limitedServer(1, 60);
  await using _ = server;
  const said: string[] = [];
  const outbox = new Outbox(api, (line) => said.push(line));
  outbox.send(room, "one");
  outbox.send(room, "two");
  await outbox.drained();
  assert.equal(sends.length, 1);
  assert.deepEqual(said, [
    "! Not sent to #den: too many messages; try again in 60 s.",
    "! Not sent to #den: too many messages; try again in 60 s.",
  ]);
});

Deno.test("a 429 always says when to try again", () => {
  const logins = new ApiFailure(
    429,
    "rate_limited",
    "Too many failed logins. Try again in 900 s.",
    900,
  );
  assert.equal(describe(logins), "Too many failed logins; try again in 15 min.");
  const generic = new ApiFailure(429, "rate_limited", "Too many requests; try again in 3 s.", 3);
  assert.equal(describe(generic), "Too many requests; try again in 3 s.");
  assert.equal(rateLimitText(generic, "invitations"), "Too many invitations; try again in 3 s.");
  assert.deepEqual([waitText(0.2), waitText(59.5), waitText(3600), waitText(7200)], [
    "1 s",
    "60 s",
    "60 min",
    "2 h",
  ]);
  assert.equal(parseRetryAfter("7", undefined), 7);
  assert.equal(parseRetryAfter(null, { retryAfter: 4 }), 4);
  assert.equal(parseRetryAfter(null, undefined), null);
  const inTenSeconds = new Date(Date.now() + 10_500).toUTCString();
  assert.ok([10, 11].includes(parseRetryAfter(inTenSeconds)!));
});

Deno.test("parseLine() knows the terminal's own commands and leaves the rest to the shared parser", () => {
  assert.deepEqual(parseLine("/sessions end 2"), { kind: "end-session", n: 2 });
  assert.deepEqual(parseLine("/sessions"), { kind: "sessions" });
  assert.equal(parseLine("/sessions end zero").kind, "error");
  assert.deepEqual(parseLine("/logout-all"), { kind: "logout-all" });
  assert.deepEqual(parseLine("/accept book club"), { kind: "accept", room: "book club" });
  assert.deepEqual(parseLine("hello"), { kind: "message", text: "hello" });
});

Deno.test("parseLine() reads /reply, /react, /unreact, /mute, /unmute and /mentions", () => {
  assert.deepEqual(parseLine("/reply 12  yes,  at noon "), {
    kind: "reply",
    seq: 12,
    text: "yes,  at noon",
  });
  assert.deepEqual(parseLine("/reply #3 ok"), { kind: "reply", seq: 3, text: "ok" });
  for (const bad of ["/reply", "/reply 12", "/reply x hi", "/reply 0 hi", "/reply 1.5 hi"]) {
    assert.equal(parseLine(bad).kind, "error", bad);
  }
  assert.deepEqual(parseLine("/react 12 👍"), { kind: "react", seq: 12, emoji: "👍", add: true });
  assert.deepEqual(parseLine("/react #12 :+1:"), {
    kind: "react",
    seq: 12,
    emoji: "👍",
    add: true,
  });
  assert.deepEqual(parseLine("/unreact 4 tada"), {
    kind: "react",
    seq: 4,
    emoji: "🎉",
    add: false,
  });
  assert.deepEqual(parseLine("/react 2 👩‍💻"), { kind: "react", seq: 2, emoji: "👩‍💻", add: true });
  assert.deepEqual(parseLine("/react 2 hello"), {
    kind: "error",
    message: "Not one emoji: hello. Usage: /react <seq> <emoji>, the emoji as itself or a name " +
      "like :+1:",
  });
  for (const bad of ["/react", "/react 2", "/react x 👍", "/react 2 👍 👍", "/react 2 👍👍"]) {
    assert.equal(parseLine(bad).kind, "error", bad);
  }
  assert.deepEqual(parseLine("/mute"), { kind: "mute", muted: true });
  assert.deepEqual(parseLine("/UNMUTE"), { kind: "mute", muted: false });
  assert.equal(parseLine("/mute den").kind, "error");
  assert.deepEqual(parseLine("/mentions"), { kind: "mentions" });
  assert.deepEqual(parseLine("/mentions 5"), { kind: "mentions", count: 5 });
  for (const bad of ["/mentions 0", "/mentions 101", "/mentions all"]) {
    assert.equal(parseLine(bad).kind, "error", bad);
  }
});

Deno.test("formatInvitation() shows who invites, where, and how to answer, in clean text", () => {
  const invitation = {
    roomId: "r1",
    roomName: "te\x1bam",
    private: true,
    by: { id: "u1", username: "ol\x07ga" },
    createdAt: 1,
  };
  assert.equal(
    formatInvitation(invitation, "r1"),
    "olga invites you to #team (private) — /accept r1 or /decline r1",
  );
});

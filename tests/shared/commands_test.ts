import assert from "node:assert/strict";
import { parseCommand } from "../../shared/commands.ts";

Deno.test("parseCommand() treats a plain line as a message", () => {
  assert.deepEqual(parseCommand("  hello there "), { kind: "message", text: "hello there" });
  assert.deepEqual(parseCommand("//shrug"), { kind: "message", text: "/shrug" });
});

Deno.test("parseCommand() parses /dm with and without text, and its aliases", () => {
  assert.deepEqual(parseCommand("/dm bob"), { kind: "dm", user: "bob" });
  assert.deepEqual(parseCommand("/dm bob  hi  there"), {
    kind: "dm",
    user: "bob",
    text: "hi  there",
  });
  assert.deepEqual(parseCommand("/PM bob yo"), { kind: "dm", user: "bob", text: "yo" });
  assert.equal(parseCommand("/dm").kind, "error");
});

Deno.test("parseCommand() parses /create with flags", () => {
  assert.deepEqual(parseCommand("/create team chat --private --capacity 5"), {
    kind: "create",
    name: "team chat",
    private: true,
    capacity: 5,
  });
  assert.deepEqual(parseCommand("/create lobby"), {
    kind: "create",
    name: "lobby",
    private: false,
  });
  assert.equal(parseCommand("/create x --capacity 1").kind, "error");
  assert.equal(parseCommand("/create --private").kind, "error");
});

Deno.test("parseCommand() parses the rest and rejects unknown commands", () => {
  assert.deepEqual(parseCommand("/join abc"), { kind: "join", room: "abc" });
  assert.equal(parseCommand("/join").kind, "error");
  assert.deepEqual(parseCommand("/history 20"), { kind: "history", count: 20 });
  assert.deepEqual(parseCommand("/history"), { kind: "history" });
  assert.equal(parseCommand("/history -3").kind, "error");
  for (const k of ["leave", "users", "rooms", "who", "ping", "help", "logout", "quit"]) {
    assert.equal(parseCommand(`/${k}`).kind, k);
  }
  assert.deepEqual(parseCommand("/switch general"), { kind: "switch", room: "general" });
  assert.deepEqual(parseCommand("/invite carol"), { kind: "invite", user: "carol" });
  assert.match((parseCommand("/frobnicate") as { message: string }).message, /Unknown command/);
});

Deno.test("parseCommand() keeps spaces in /join and /switch room names", () => {
  assert.deepEqual(parseCommand("/join  team chat "), { kind: "join", room: "team chat" });
  assert.deepEqual(parseCommand("/switch #team chat"), { kind: "switch", room: "#team chat" });
  assert.deepEqual(parseCommand("/switch @bob"), { kind: "switch", room: "@bob" });
  assert.equal(parseCommand("/switch   ").kind, "error");
});

Deno.test("parseCommand() parses invitations, blocks, sessions, password and presence", () => {
  assert.deepEqual(parseCommand("/invites"), { kind: "invites" });
  assert.deepEqual(parseCommand("/accept team chat"), { kind: "accept", room: "team chat" });
  assert.deepEqual(parseCommand("/decline"), { kind: "decline" });
  assert.deepEqual(parseCommand("/block mallory"), { kind: "block", user: "mallory" });
  assert.deepEqual(parseCommand("/block"), { kind: "error", message: "Usage: /block <user>" });
  assert.deepEqual(parseCommand("/unblock mallory"), { kind: "unblock", user: "mallory" });
  assert.deepEqual(parseCommand("/sessions"), { kind: "sessions" });
  assert.deepEqual(parseCommand("/password"), { kind: "password" });
  assert.deepEqual(parseCommand("/presence contacts"), {
    kind: "presence",
    visibility: "contacts",
  });
  assert.equal(parseCommand("/presence nobody").kind, "error");
});

Deno.test("parseCommand() parses /edit and the moderation commands", () => {
  assert.deepEqual(parseCommand("/edit fixed the typo"), { kind: "edit", text: "fixed the typo" });
  assert.deepEqual(parseCommand("/kick troll"), { kind: "kick", user: "troll" });
  assert.deepEqual(parseCommand("/ban troll"), { kind: "ban", user: "troll" });
  assert.deepEqual(parseCommand("/ban troll 30"), { kind: "ban", user: "troll", minutes: 30 });
  assert.deepEqual(parseCommand("/ban troll 30 spamming links"), {
    kind: "ban",
    user: "troll",
    minutes: 30,
    reason: "spamming links",
  });
  assert.deepEqual(parseCommand("/ban troll for spam"), {
    kind: "ban",
    user: "troll",
    reason: "for spam",
  });
  assert.deepEqual(parseCommand("/unban troll"), { kind: "unban", user: "troll" });
  assert.deepEqual(parseCommand("/mod ann"), { kind: "mod", user: "ann" });
  assert.deepEqual(parseCommand("/unmod ann"), { kind: "unmod", user: "ann" });
  assert.equal(parseCommand("/kick").kind, "error");
});

Deno.test("parseCommand() parses the end-to-end encryption commands", () => {
  assert.deepEqual(parseCommand("/dm bob --encrypted"), {
    kind: "dm",
    user: "bob",
    encrypted: true,
  });
  assert.deepEqual(parseCommand("/dm --encrypted bob  hi  there"), {
    kind: "dm",
    user: "bob",
    text: "hi  there",
    encrypted: true,
  });
  // Only right after the user is it the flag; later it is text.
  assert.deepEqual(parseCommand("/dm bob use --encrypted"), {
    kind: "dm",
    user: "bob",
    text: "use --encrypted",
  });
  assert.equal(parseCommand("/dm --encrypted").kind, "error");
  assert.deepEqual(parseCommand("/encrypt on"), { kind: "encrypt", on: true, confirmed: false });
  assert.deepEqual(parseCommand("/encrypt off"), { kind: "encrypt", on: false, confirmed: false });
  assert.deepEqual(parseCommand("/encrypt off --yes"), {
    kind: "encrypt",
    on: false,
    confirmed: true,
  });
  assert.equal(parseCommand("/encrypt").kind, "error");
  assert.equal(parseCommand("/encrypt maybe").kind, "error");
  assert.deepEqual(parseCommand("/verify"), { kind: "verify", confirm: false });
  assert.deepEqual(parseCommand("/verify YES"), { kind: "verify", confirm: true });
  assert.equal(parseCommand("/verify no").kind, "error");
  assert.deepEqual(parseCommand("/devices"), { kind: "devices" });
  assert.deepEqual(parseCommand("/devices bob"), { kind: "devices", user: "bob" });
  assert.equal(parseCommand("/devices bob carol").kind, "error");
});

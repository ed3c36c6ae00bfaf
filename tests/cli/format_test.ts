import assert from "node:assert/strict";
import { parseArgs, usage } from "../../cli/args.ts";
import {
  clean,
  cut,
  formatMention,
  formatMessage,
  formatNotice,
  formatReactions,
  formatRoomLine,
  roomLabel,
} from "../../cli/format.ts";
import type { Message, Room } from "../../shared/api_types.ts";

const message: Message = {
  id: "m1",
  roomId: "r1",
  seq: 1,
  author: { id: "u1", username: "bob" },
  text: "hi\x1b[2J\x07 there\r\nsecond\tline",
  createdAt: Date.UTC(2026, 0, 1, 12, 30),
};
const room = { kind: "group", name: "random\x1b]0;pwned\x07" } as Room;

Deno.test("clean() strips what would steer someone else's terminal", () => {
  assert.equal(clean("a\x1b[31mred\x9b\x07\r\u2028b\nc"), "a[31mredb\nc");
  assert.equal(clean("a\n\nb\tc", { oneLine: true }), "a ⏎ b c");
});

Deno.test("formatMessage() and formatNotice() show clean text", () => {
  const shown = formatMessage(message);
  assert.match(shown, /^#1 \[\d\d:\d\d\] bob: hi\[2J there\n {16}second line$/);
  assert.equal(roomLabel(room), "#random]0;pwned");
  assert.equal(roomLabel({ kind: "direct", name: "bob" }), "@bob");
  assert.equal(
    formatNotice(room, message, 200),
    "» #random]0;pwned · bob: hi[2J there ⏎ second line",
  );
  assert.equal(formatNotice(room, message, 20).length, 20);
  assert.equal(cut("short", 10), "short");
});

Deno.test("parseArgs() reads every flag, both spellings, and refuses the rest", () => {
  assert.deepEqual(parseArgs([], {}), {
    server: "http://localhost:8000",
    register: false,
    help: false,
  });
  assert.deepEqual(
    parseArgs(["--server=https://chat.example.com/x", "--user", "ann", "--register"], {}),
    { server: "https://chat.example.com", user: "ann", register: true, help: false },
  );
  assert.equal(parseArgs([], { PARLEY_SERVER: "http://h:1" }).server, "http://h:1");
  assert.equal(parseArgs(["-h"], {}).help, true);
  assert.throws(() => parseArgs(["--user"], {}), /--user needs a value/);
  assert.throws(() => parseArgs(["--server", "ftp://x"], {}), /http:\/\/ or https:\/\//);
  assert.throws(() => parseArgs(["--server", "nope"], {}), /must be a URL/);
  assert.throws(() => parseArgs(["--verbose"], {}), /Unknown argument --verbose/);
  for (const flag of ["--server", "--user", "--register", "--help"]) {
    assert.match(usage, new RegExp(flag));
  }
});

Deno.test("formatMessage() marks edited messages and shows tombstones", () => {
  assert.match(
    formatMessage({ ...message, text: "fixed", editedAt: 5 }),
    /\] bob: fixed \(edited\)$/,
  );
  const tombstone = { ...message, text: "", deleted: true as const };
  assert.match(formatMessage(tombstone), /\] bob: \(message deleted\)$/);
  assert.equal(formatNotice(room, tombstone, 200), "» #random]0;pwned · bob: (message deleted)");
});

Deno.test("formatMessage() shows a reply's quote, reactions, and a mention of the user", () => {
  const alice = { id: "u2", username: "alice" };
  const reply: Message = {
    ...message,
    seq: 12,
    text: "yes @Alice, see\nbelow",
    mentions: [alice.id],
    replyTo: { seq: 3, author: alice, text: "shall we\nmeet at noon? ".repeat(10) },
    reactions: [{ emoji: "👍", count: 2, me: true }, { emoji: "🎉", count: 1 }],
  };
  const plain = formatMessage(reply, { me: alice });
  assert.match(
    plain,
    /^@ #12 \[\d\d:\d\d\] bob: yes @Alice, see\n {19}below\n {2}↳ #3 alice: shall we ⏎ meet at noon\? shall we ⏎ .*…\n {2}👍 2 {2}🎉 1$/,
  );
  assert.equal(Array.from(plain.split("\n")[2]).length, 72);
  // Not the user's mention, or no user: no mark.
  assert.match(formatMessage(reply), /^#12 /);
  assert.match(formatMessage({ ...reply, author: alice }, { me: alice }), /^#12 /);

  // Escape shown as ⎋: dim seq and quote, the mention inverse and bold, the user's reaction bold.
  const colored = formatMessage(reply, { me: alice, color: true }).replaceAll("\x1b", "⎋");
  assert.match(
    colored,
    /^⎋\[2m#12⎋\[22m \[\d\d:\d\d\] bob: yes ⎋\[1;7m@Alice⎋\[22;27m, see\n {17}below\n/,
  );
  assert.match(colored, /\n⎋\[2m {2}↳ #3 alice: .*⎋\[22m\n {2}⎋\[1m👍 2⎋\[22m {2}🎉 1$/);

  const gone = { seq: 3, author: alice, text: "", deleted: true as const };
  assert.match(formatMessage({ ...message, replyTo: gone }), /\n {2}↳ #3 \(deleted\)$/);
  assert.equal(
    formatReactions([{ emoji: "👍", count: 2 }, { emoji: "🎉", count: 1 }]),
    "  👍 2  🎉 1",
  );
  assert.equal(
    formatNotice(room, reply, 200, { me: alice }),
    "@ » #random]0;pwned · bob: yes @Alice, see ⏎ below",
  );
});

Deno.test("formatRoomLine() counts unread and mentions and marks a muted room", () => {
  const den = {
    id: "r1",
    name: "den",
    kind: "group",
    capacity: 100,
    private: true,
    memberCount: 4,
    unread: 3,
    mentions: 1,
    muted: true,
  } as Room;
  assert.equal(formatRoomLine(den, true), "> #den  3 unread, 1 mention  (4/100, private, muted)");
  assert.equal(
    formatRoomLine({ ...den, unread: 0, mentions: 0, muted: false, private: false }, false),
    "  #den  (4/100)",
  );
  const dm = { ...den, kind: "direct", name: "bob", unread: 2, mentions: 2 } as Room;
  assert.equal(formatRoomLine(dm, false), "  @bob  2 unread, 2 mentions  (muted)");
});

Deno.test("formatMention() says when, where, which message, who and what", () => {
  const at = new Date(2026, 0, 1, 14, 2).getTime();
  const mention = {
    roomId: "r1",
    roomName: "den",
    message: { ...message, seq: 12, text: "@alice\nlunch?", createdAt: at },
  };
  assert.equal(formatMention(mention, undefined, at), "  14:02  #den  #12 bob: @alice ⏎ lunch?");
  assert.equal(
    formatMention(mention, { kind: "direct", name: "bob" }, at + 86_400_000),
    "  2026-01-01 14:02  @bob  #12 bob: @alice ⏎ lunch?",
  );
});

Deno.test("an encrypted conversation has a lock; notices and undecryptable messages read as such", () => {
  const direct = { kind: "direct", name: "bob", unread: 2, mentions: 0, encrypted: true } as Room;
  assert.equal(formatRoomLine(direct, true), "> @bob 🔒  2 unread");
  assert.equal(formatRoomLine({ ...direct, encrypted: false }, false), "  @bob  2 unread");
  const me = { id: "u2", username: "alice" };
  const notice: Message = { ...message, text: "", notice: "encryption_on" };
  assert.match(
    formatMessage(notice, { me }),
    /^\* \[\d\d:\d\d\] bob turned on end-to-end encryption 🔒/,
  );
  assert.match(
    formatMessage({ ...notice, author: me, notice: "encryption_off" }, { me }),
    /^\* \[\d\d:\d\d\] You turned off end-to-end encryption: the server can read new messages$/,
  );
  assert.equal(
    formatNotice(direct, notice, 200),
    "» @bob · bob turned on end-to-end encryption 🔒: only your devices and theirs can read new messages",
  );
  // Whatever the text field holds, an undecryptable message shows the one phrase, dimmed with colour.
  const broken = { ...message, text: "\x1b[2Jgarbage", undecryptable: true } as Message;
  assert.match(formatMessage(broken), /^#1 \[\d\d:\d\d\] bob: could not decrypt$/);
  assert.ok(
    formatMessage(broken, { color: true }).endsWith("bob: \x1b[2mcould not decrypt\x1b[22m"),
  );
  assert.equal(formatNotice(direct, broken, 200), "» @bob · bob: could not decrypt");
  // A quote of an encrypted message this client could not read says so.
  const reply = {
    ...message,
    text: "yes",
    replyTo: { seq: 1, author: me, text: "", encrypted: true },
  };
  assert.match(formatMessage(reply as Message), /\n {2}↳ #1 alice: 🔒 encrypted message$/);
});

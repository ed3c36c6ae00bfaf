import assert from "node:assert/strict";
import { parseArgs, usage } from "../../cli/args.ts";
import { clean, cut, formatMessage, formatNotice, roomLabel } from "../../cli/format.ts";
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
  assert.match(shown, /^\[\d\d:\d\d\] bob: hi\[2J there\n {13}second line$/);
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

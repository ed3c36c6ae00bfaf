import assert from "node:assert/strict";
import { LineEditor } from "../../cli/line_editor.ts";

Deno.test("LineEditor edits with arrows, Backspace, Delete, Home/End and Ctrl keys", () => {
  const e = new LineEditor();
  assert.deepEqual(e.feed("helo"), []);
  e.feed("\x1b[D\x1b[Dl");
  assert.equal(e.text, "hello");
  assert.equal(e.cursor, 3);
  e.feed("\x1b[H>\x1b[F!");
  assert.equal(e.text, ">hello!");
  e.feed("\x7f\x01\x1b[3~");
  assert.equal(e.text, "hello");
  e.feed("\x05 big world\x17");
  assert.equal(e.text, "hello big ");
  e.feed("\x01\x0b");
  assert.equal(e.text, "");
  e.feed("abc\x15");
  assert.equal(e.text, "");
  assert.deepEqual(e.feed("héllo 👋\r"), [{ kind: "line", line: "héllo 👋" }]);
  assert.equal(e.text, "");
});

Deno.test("LineEditor waits for an escape sequence cut between chunks", () => {
  const e = new LineEditor();
  e.feed("ab");
  e.feed("\x1b");
  e.feed("[");
  e.feed("DX");
  assert.equal(e.text, "aXb");
});

Deno.test("LineEditor reports Enter, Ctrl-D and Ctrl-C; recalls history", () => {
  const e = new LineEditor();
  assert.deepEqual(e.feed("one\rtwo\n"), [
    { kind: "line", line: "one" },
    { kind: "line", line: "two" },
  ]);
  e.feed("\x1b[A");
  assert.equal(e.text, "two");
  e.feed("\x1b[A");
  assert.equal(e.text, "one");
  e.feed("\x1b[B\x1b[B");
  assert.equal(e.text, "");
  e.feed("typed");
  assert.deepEqual(e.feed("\x03"), []); // clears the line first
  assert.equal(e.text, "");
  assert.deepEqual(e.feed("\x03"), [{ kind: "interrupt" }]);
  assert.deepEqual(e.feed("\x04"), [{ kind: "eof" }]);
});

Deno.test("LineEditor draws nothing of a secret, and erases what it drew", () => {
  const e = new LineEditor();
  e.prompt = "Password: ";
  e.secret = true;
  e.feed("hunter22");
  assert.equal(e.draw(80), "Password: \r\x1b[10C");
  assert.deepEqual(e.feed("\r"), [{ kind: "line", line: "hunter22" }]);
  e.feed("\x1b[A");
  assert.equal(e.text, "", "a secret is not kept in history");
});

Deno.test("LineEditor.draw() puts the cursor right on a wrapped line", () => {
  const e = new LineEditor();
  e.prompt = "> ";
  e.feed("x".repeat(25));
  e.feed("\x1b[D".repeat(20));
  // 27 characters on a 10-column terminal end on row 2; the cursor is at 7, row 0.
  assert.equal(e.draw(10), "> " + "x".repeat(25) + "\x1b[2A\r\x1b[7C");
  assert.equal(e.erase(), "\r\x1b[J");
  e.feed("\x1b[F");
  assert.equal(e.draw(10), "> " + "x".repeat(25) + "\r\x1b[7C");
  assert.equal(e.erase(), "\x1b[2A\r\x1b[J");
});

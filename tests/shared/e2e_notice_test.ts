import assert from "node:assert/strict";
import { noticeText } from "../../shared/e2e_notice.ts";

const on = { notice: "encryption_on" as const, author: { id: "u_bob", username: "bob" } };
const off = { ...on, notice: "encryption_off" as const };

Deno.test("noticeText() says who switched encryption and what that means", () => {
  assert.equal(
    noticeText(on),
    "bob turned on end-to-end encryption: only your devices and theirs can read new messages",
  );
  assert.equal(
    noticeText(off, { meId: "u_bob" }),
    "You turned off end-to-end encryption: the server can read new messages",
  );
});

Deno.test("noticeText() prints the name as the client does, and a lock only when turned on", () => {
  const o = { name: (n: string) => `<${n}>`, lock: "🔒" };
  assert.equal(
    noticeText(on, o),
    "<bob> turned on end-to-end encryption 🔒: only your devices and theirs can read new messages",
  );
  assert.equal(
    noticeText(off, o),
    "<bob> turned off end-to-end encryption: the server can read new messages",
  );
});

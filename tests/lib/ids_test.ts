import assert from "node:assert/strict";
import { base64url, newId } from "../../lib/ids.ts";

Deno.test("base64url() matches the standard encoding, unpadded and URL-safe, at every length", () => {
  for (let length = 0; length <= 40; length++) {
    for (let round = 0; round < 20; round++) {
      const bytes = crypto.getRandomValues(new Uint8Array(length));
      const standard = btoa(String.fromCharCode(...bytes)).replaceAll("+", "-")
        .replaceAll("/", "_").replace(/=+$/, "");
      assert.equal(base64url(bytes), standard, `length ${length}`);
    }
  }
  assert.equal(base64url(new Uint8Array([251, 255])), "-_8");
});

Deno.test("newId() gives 16 URL-safe characters, different each time", () => {
  const ids = new Set(Array.from({ length: 1000 }, newId));
  assert.equal(ids.size, 1000);
  for (const id of ids) assert.match(id, /^[\w-]{16}$/);
});

import assert from "node:assert/strict";
import { previewSize } from "../../islands/attachments.tsx";
import { formatBytes, uploadErrorText } from "../../islands/uploads.ts";

Deno.test("formatBytes() says sizes the way the limits are set (powers of 1024)", () => {
  assert.equal(formatBytes(0), "0 B");
  assert.equal(formatBytes(340), "340 B");
  assert.equal(formatBytes(1536), "1.5 KB");
  assert.equal(formatBytes(12.3 * 1024 * 1024), "12.3 MB");
  assert.equal(formatBytes(500 * 1024 * 1024), "500 MB");
  assert.equal(formatBytes(25 * 1024 ** 3), "25 GB");
});

Deno.test("previewSize() fits an image in 360 × 360 and keeps its aspect ratio", () => {
  assert.deepEqual(previewSize(800, 400), { width: 360, height: 180 });
  assert.deepEqual(previewSize(300, 600), { width: 180, height: 360 });
  assert.deepEqual(previewSize(120, 90), { width: 120, height: 90 }, "never enlarged");
  assert.deepEqual(previewSize(10_000, 10), { width: 360, height: 1 }, "never 0");
});

Deno.test("uploadErrorText() gives the server's reason with its limit, or when to retry", () => {
  const mb = 1024 * 1024;
  assert.equal(
    uploadErrorText("a.bin", 413, { code: "file_too_large", details: { maxBytes: 25 * mb } }, null),
    "a.bin is too large: a file may be at most 25 MB.",
  );
  assert.match(
    uploadErrorText(
      "a.bin",
      413,
      { code: "quota_exceeded", details: { quotaBytes: 500 * mb } },
      null,
    ),
    /^No room for a\.bin: your files may take 500 MB in all\./,
  );
  assert.equal(
    uploadErrorText("a.bin", 429, { code: "rate_limited", details: { retryAfter: 42 } }, null),
    "a.bin was not sent. Too many uploads — try again in 42 s.",
  );
  assert.equal(
    uploadErrorText("a.bin", 429, { code: "rate_limited" }, "600"),
    "a.bin was not sent. Too many uploads — try again in 10 min.",
  );
  assert.equal(
    uploadErrorText("a.bin", 0, undefined, null),
    "a.bin was not sent: cannot reach the server.",
  );
  assert.equal(
    uploadErrorText("a.bin", 403, { code: "not_member", message: "You are not a member." }, null),
    "a.bin was not sent: You are not a member.",
  );
});

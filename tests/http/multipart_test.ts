import assert from "node:assert/strict";
import { boundaryOf, MultipartError, readFilePart } from "../../http/multipart.ts";

/** A body as a stream of `size`-byte pieces, so boundaries fall across reads. */
function pieces(bytes: Uint8Array, size: number): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at += size));
    },
  });
}

async function collect(body: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const p of body) parts.push(p);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, (at += p.length) - p.length);
  return out;
}

Deno.test("readFilePart() streams the file field whatever the read sizes, skipping other fields", async () => {
  const file = new Uint8Array(5000).map((_, i) => i % 251);
  // A stretch of the file that looks like the start of the delimiter.
  file.set(new TextEncoder().encode("\r\n--b0und"), 1000);
  const form = new FormData();
  form.append("note", "first");
  form.append("file", new File([file], "na\u00efve.bin", { type: "application/x-thing" }));
  const req = new Request("http://x", { method: "POST", body: form });
  const boundary = boundaryOf(req.headers.get("content-type"))!;
  const bytes = new Uint8Array(await req.arrayBuffer());
  for (const size of [1, 7, 64, 4096, bytes.length]) {
    const part = await readFilePart(pieces(bytes, size), boundary, "file");
    assert.equal(part.filename, "na\u00efve.bin");
    assert.equal(part.contentType, "application/x-thing");
    assert.deepEqual(await collect(part.body), file, `read ${size} bytes at a time`);
  }
});

Deno.test("readFilePart() refuses a body with no such file, or one cut short", async () => {
  const form = new FormData();
  form.append("other", new File([new Uint8Array(10)], "x"));
  const req = new Request("http://x", { method: "POST", body: form });
  const boundary = boundaryOf(req.headers.get("content-type"))!;
  const bytes = new Uint8Array(await req.arrayBuffer());
  await assert.rejects(readFilePart(pieces(bytes, 16), boundary, "file"), MultipartError);
  const cut = bytes.slice(0, bytes.length - 30);
  const part = await readFilePart(pieces(cut, 16), boundary, "other");
  await assert.rejects(collect(part.body), MultipartError);
  assert.equal(boundaryOf("application/json"), null);
  assert.equal(boundaryOf('multipart/form-data; boundary="quoted b"'), "quoted b");
});

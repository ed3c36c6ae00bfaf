import assert from "node:assert/strict";
import { imageSize } from "../../lib/image_size.ts";

Deno.test("imageSize() reads PNG, GIF, JPEG and WebP headers, and nothing else", () => {
  const png = new Uint8Array(33);
  png.set([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 73, 72, 68, 82]);
  new DataView(png.buffer).setUint32(16, 800);
  new DataView(png.buffer).setUint32(20, 600);
  assert.deepEqual(imageSize(png), { type: "image/png", width: 800, height: 600 });

  const gif = new Uint8Array([...new TextEncoder().encode("GIF89a"), 0x40, 0x01, 0xf0, 0x00]);
  assert.deepEqual(imageSize(gif), { type: "image/gif", width: 320, height: 240 });

  // SOI, an APP0 segment of 16 bytes, then SOF0 with height 480 and width 640.
  const jpeg = new Uint8Array([
    0xff,
    0xd8,
    0xff,
    0xe0,
    0x00,
    0x10,
    ...new Array(14).fill(0),
    0xff,
    0xc0,
    0x00,
    0x11,
    0x08,
    0x01,
    0xe0,
    0x02,
    0x80,
    0x03,
    0,
    0,
    0,
  ]);
  assert.deepEqual(imageSize(jpeg), { type: "image/jpeg", width: 640, height: 480 });

  const webp = new Uint8Array(30);
  webp.set(new TextEncoder().encode("RIFF"), 0);
  webp.set(new TextEncoder().encode("WEBPVP8X"), 8);
  webp.set([0x3f, 0x01, 0x00, 0xef, 0x00, 0x00], 24); // 320 × 240, less one each
  assert.deepEqual(imageSize(webp), { type: "image/webp", width: 320, height: 240 });

  assert.equal(imageSize(new TextEncoder().encode("<svg onload=alert(1)>")), null);
  assert.equal(imageSize(new Uint8Array(0)), null);
});

/**
 * The width and height of a PNG, JPEG, GIF or WebP image, read from its
 * first bytes, without decoding it.
 *
 * @module
 */

/** An image's kind and size. */
export interface ImageSize {
  type: "image/png" | "image/jpeg" | "image/gif" | "image/webp";
  width: number;
  height: number;
}

/**
 * Reads the size from the start of a file (the first 64 KiB are plenty for
 * these formats' headers); `null` when it is none of them, or unreadable.
 *
 * @example
 * ```ts
 * imageSize(firstBytes); // { type: "image/png", width: 640, height: 480 }
 * ```
 */
export function imageSize(b: Uint8Array): ImageSize | null {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const has = (n: number) => b.length >= n;
  const ascii = (at: number, s: string) =>
    has(at + s.length) && [...s].every((c, i) => b[at + i] === c.charCodeAt(0));
  if (ascii(1, "PNG") && b[0] === 0x89 && has(24) && ascii(12, "IHDR")) {
    return { type: "image/png", width: v.getUint32(16), height: v.getUint32(20) };
  }
  if ((ascii(0, "GIF87a") || ascii(0, "GIF89a")) && has(10)) {
    return { type: "image/gif", width: v.getUint16(6, true), height: v.getUint16(8, true) };
  }
  if (ascii(0, "RIFF") && ascii(8, "WEBP") && has(30)) return webp(b, v);
  if (b[0] === 0xff && b[1] === 0xd8) return jpeg(b, v);
  return null;
}

function webp(b: Uint8Array, v: DataView): ImageSize | null {
  const chunk = String.fromCharCode(b[12], b[13], b[14], b[15]);
  if (chunk === "VP8X") {
    const width = 1 + (b[24] | (b[25] << 8) | (b[26] << 16));
    const height = 1 + (b[27] | (b[28] << 8) | (b[29] << 16));
    return { type: "image/webp", width, height };
  }
  if (chunk === "VP8 ") {
    return {
      type: "image/webp",
      width: v.getUint16(26, true) & 0x3fff,
      height: v.getUint16(28, true) & 0x3fff,
    };
  }
  if (chunk === "VP8L" && b.length >= 25) {
    const bits = v.getUint32(21, true);
    return { type: "image/webp", width: 1 + (bits & 0x3fff), height: 1 + ((bits >> 14) & 0x3fff) };
  }
  return null;
}

function jpeg(b: Uint8Array, v: DataView): ImageSize | null {
  // Walk the markers to a start-of-frame, which holds the size.
  for (let at = 2; at + 9 < b.length;) {
    if (b[at] !== 0xff) return null;
    const marker = b[at + 1];
    if (marker === 0xff) {
      at++;
      continue;
    }
    const length = v.getUint16(at + 2);
    const sof = marker >= 0xc0 && marker <= 0xcf && ![0xc4, 0xc8, 0xcc].includes(marker);
    if (sof) return { type: "image/jpeg", height: v.getUint16(at + 5), width: v.getUint16(at + 7) };
    at += 2 + length;
  }
  return null;
}

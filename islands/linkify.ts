/**
 * Finds web links in message text, so they can be shown as links while the
 * rest stays plain text.
 *
 * @module
 */

/** A piece of a message: plain text, or a link with a checked http(s) URL. */
export type TextPart = { text: string; href?: undefined } | { text: string; href: string };

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"'`]+/gi;
const TRAILING = /[.,;:!?)\]}'"]+$/;

/**
 * Splits text into plain parts and link parts. Only `http:` and `https:`
 * URLs that parse become links; trailing punctuation stays text.
 *
 * @example
 * ```ts
 * splitLinks("see https://deno.com.");
 * // [{ text: "see " }, { text: "https://deno.com", href: "https://deno.com/" }, { text: "." }]
 * ```
 */
export function splitLinks(text: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const raw = match[0].replace(TRAILING, "");
    const href = safeHref(raw);
    if (!href) continue;
    const start = match.index;
    if (start > last) parts.push({ text: text.slice(last, start) });
    parts.push({ text: raw, href });
    last = start + raw.length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

function safeHref(raw: string): string | null {
  try {
    const url = new URL(raw);
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  } catch {
    return null;
  }
}

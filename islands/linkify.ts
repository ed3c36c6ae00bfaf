/**
 * Finds web links and `@username` mentions in message text, so they can be
 * shown as links and highlighted while the rest stays plain text.
 *
 * @module
 */
import { MENTION } from "../shared/limits.ts";

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

/** A piece of plain text: as it is, or an `@username` mention (`name` as written). */
export type MentionPart = { text: string; name?: string };

/**
 * Splits text into plain parts and `@username` parts, as the server finds
 * mentions (whether each names a member is the message's `mentions`).
 *
 * @example
 * ```ts
 * splitMentions("hi @rita!"); // [{ text: "hi " }, { text: "@rita", name: "rita" }, { text: "!" }]
 * ```
 */
export function splitMentions(text: string): MentionPart[] {
  const parts: MentionPart[] = [];
  let last = 0;
  for (const match of text.matchAll(MENTION)) {
    if (match.index > last) parts.push({ text: text.slice(last, match.index) });
    parts.push({ text: match[0], name: match[1] });
    last = match.index + match[0].length;
  }
  if (last < text.length) parts.push({ text: text.slice(last) });
  return parts;
}

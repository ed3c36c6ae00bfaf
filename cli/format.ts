/**
 * How the terminal client shows messages, rooms and notices. Everything that
 * came from other users passes through {@linkcode clean} first, so nobody can
 * send escape sequences to someone else's terminal.
 *
 * @module
 */
import type { Message, Room } from "../shared/api_types.ts";
import { ApiFailure, Unreachable } from "./api.ts";

/**
 * Removes control characters (escape sequences, carriage returns, bells)
 * except line breaks, and tabs become spaces.
 *
 * @example
 * ```ts
 * clean("hi\x1b[2Jthere\tyou"); // "hi[2Jthere you"
 * ```
 */
export function clean(text: string, options: { oneLine?: boolean } = {}): string {
  // deno-lint-ignore no-control-regex -- control characters are what this removes
  const out = text.replaceAll("\t", " ").replace(/[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]/g, "");
  return options.oneLine ? out.replace(/\n+/g, " ⏎ ") : out;
}

/** A room's label: `#name` for a room, `@name` for a direct conversation. */
export function roomLabel(room: Pick<Room, "kind" | "name">): string {
  return (room.kind === "direct" ? "@" : "#") + clean(room.name, { oneLine: true });
}

/** `HH:MM` in local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * A message of the current conversation; lines after the first are indented
 * under the text.
 *
 * @example
 * ```ts
 * formatMessage(message); // "[14:02] bob: hello"
 * ```
 */
export function formatMessage(m: Message): string {
  const head = `[${clock(m.createdAt)}] ${clean(m.author.username, { oneLine: true })}: `;
  const indent = " ".repeat(head.length);
  return head + clean(m.text).split("\n").join("\n" + indent);
}

/**
 * A one-line notice of a message in another conversation, cut to `width`.
 *
 * @example
 * ```ts
 * formatNotice(room, message, 80); // "» #random · bob: hi there"
 * ```
 */
export function formatNotice(room: Room, m: Message, width = 100): string {
  const line = `» ${roomLabel(room)} · ${clean(m.author.username, { oneLine: true })}: ` +
    clean(m.text, { oneLine: true });
  return cut(line, width);
}

/** One line of `/rooms`: label, unread count, members. */
export function formatRoomLine(room: Room, current: boolean): string {
  const unread = room.unread > 0 ? `  ${room.unread} unread` : "";
  const extra = room.kind === "group"
    ? `  (${room.memberCount}/${room.capacity}${room.private ? ", private" : ""})`
    : "";
  return `${current ? ">" : " "} ${roomLabel(room)}${unread}${extra}`;
}

/** A one-line description of an error, never a stack trace. */
export function describe(error: unknown): string {
  if (error instanceof ApiFailure || error instanceof Unreachable) return error.message;
  if (error instanceof Error) return error.message.split("\n")[0];
  return String(error);
}

/** Cuts `text` to `width` characters, marking the cut. */
export function cut(text: string, width: number): string {
  const chars = Array.from(text);
  return chars.length <= width ? text : chars.slice(0, Math.max(1, width - 1)).join("") + "…";
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

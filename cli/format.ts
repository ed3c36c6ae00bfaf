/**
 * How the terminal client shows messages, rooms and notices. Everything that
 * came from other users passes through {@linkcode clean} first, so nobody can
 * send escape sequences to someone else's terminal.
 *
 * @module
 */
import type {
  Attachment,
  AuditEntry,
  Ban,
  Invitation,
  Message,
  ReplyQuote,
  Room,
  SessionInfo,
  User,
} from "../shared/api_types.ts";
import { COULD_NOT_DECRYPT } from "../shared/e2e.ts";
import { noticeText } from "../shared/e2e_notice.ts";
import { MENTION } from "../shared/limits.ts";
import { ApiFailure, type Mention, Unreachable } from "./api.ts";

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

/** What marks an end-to-end encrypted conversation. */
export const LOCK = "🔒";

/** " 🔒" after an end-to-end encrypted conversation's label; "" for any other. */
export function lockOf(room: Pick<Room, "encrypted">): string {
  return room.encrypted ? ` ${LOCK}` : "";
}

/** `HH:MM` in local time. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/**
 * How messages are shown to one user: whose mentions stand out, and whether
 * the terminal takes colour (`NO_COLOR` unset, output a terminal).
 */
export interface MessageStyle {
  /** The signed-in user: messages mentioning them are marked. */
  me?: User;
  /** Colour and weight through escape sequences; without it, plain markers. */
  color?: boolean;
}

/** What marks a line that mentions the user when there is no colour. */
export const MENTION_MARK = "@ ";

const DIM = ["\x1b[2m", "\x1b[22m"] as const;
const BOLD = ["\x1b[1m", "\x1b[22m"] as const;
const HIGHLIGHT = ["\x1b[1;7m", "\x1b[22;27m"] as const;

function paint(text: string, [on, off]: readonly [string, string], color = false): string {
  return color && text ? on + text + off : text;
}

/**
 * Whether a message mentions the user (the server lists whom it mentions),
 * and is by someone else.
 */
export function mentionsMe(m: Pick<Message, "author" | "mentions">, me?: User): boolean {
  return !!me && m.author.id !== me.id && (m.mentions?.includes(me.id) ?? false);
}

/**
 * A message of the current conversation: its seq (what `/reply` and
 * `/react` take), time, author and text; lines after the first are
 * indented under the text. Under it go the quote of the message it answers,
 * its files and its reactions. A message mentioning the user has the
 * mention highlighted, or the line marked `@ ` without colour. A notice
 * (encryption switched on or off) is a `* ` line; an envelope this device
 * could not decrypt says "could not decrypt", and one it could not decrypt
 * yet (no answer from the server) says so, both dimmed with colour.
 *
 * @example
 * ```ts
 * formatMessage(message); // "#12 [14:02] bob: hello"
 * formatMessage(reply);   // "#13 [14:03] bob: see above\n  ↳ #12 alice: what time…"
 * ```
 */
export function formatMessage(m: Message, style: MessageStyle = {}): string {
  const { color } = style;
  if (m.notice) return `* [${clock(m.createdAt)}] ${notice(m, style.me)}`;
  const mentioned = !m.deleted && mentionsMe(m, style.me);
  const mark = mentioned && !color ? MENTION_MARK : "";
  const seq = `#${m.seq}`;
  const rest = ` [${clock(m.createdAt)}] ${clean(m.author.username, { oneLine: true })}: `;
  const width = mark.length + seq.length + rest.length;
  const body = undecryptable(m)
    ? paint(COULD_NOT_DECRYPT, DIM, color)
    : notDecryptedYet(m)
    ? paint(clean(m.text, { oneLine: true }), DIM, color)
    : indented(messageText(m), width);
  const text = mark + paint(seq, DIM, color) + rest +
    (mentioned ? highlightMentions(body, style) : body);
  const files = m.deleted ? [] : m.attachments ?? [];
  const quote = m.replyTo ? [formatQuote(m.replyTo, color)] : [];
  const reactions = !m.deleted && m.reactions?.length ? [formatReactions(m.reactions, color)] : [];
  // A message of files alone ends at its author's name.
  const first = files.length && !m.text ? text.trimEnd() : text;
  return [first, ...quote, ...files.map(formatAttachment), ...reactions].join("\n");
}

/**
 * The line under a reply quoting what it answers: seq, author and the start
 * of its text on one line, or that it was deleted.
 *
 * @example
 * ```ts
 * formatQuote(quote); // "  ↳ #12 alice: what time do we…"
 * ```
 */
export function formatQuote(q: ReplyQuote, color = false): string {
  // An encrypted message's quote has no text until this client decrypted it.
  const text = q.encrypted && !q.text ? `${LOCK} encrypted message` : q.text;
  const what = q.deleted
    ? "(deleted)"
    : `${clean(q.author.username, { oneLine: true })}: ${clean(text, { oneLine: true })}`;
  return paint(cut(`  ↳ #${q.seq} ${what}`, QUOTE_SHOWN), DIM, color);
}

/** How many characters of a reply's quote line show. */
const QUOTE_SHOWN = 72;

/**
 * The line under a message with its reactions and their counts; with
 * colour, the user's own in bold.
 *
 * @example
 * ```ts
 * formatReactions([{ emoji: "👍", count: 2 }, { emoji: "🎉", count: 1 }]); // "  👍 2  🎉 1"
 * ```
 */
export function formatReactions(
  reactions: NonNullable<Message["reactions"]>,
  color = false,
): string {
  return "  " + reactions
    .map((r) => paint(`${clean(r.emoji, { oneLine: true })} ${r.count}`, BOLD, color && !!r.me))
    .join("  ");
}

/** The user's `@name` in `text` highlighted (with colour only). */
function highlightMentions(text: string, style: MessageStyle): string {
  if (!style.color || !style.me) return text;
  const name = style.me.username.toLowerCase();
  return text.replace(
    MENTION,
    (token, who: string) => who.toLowerCase() === name ? paint(token, HIGHLIGHT, true) : token,
  );
}

/**
 * The line under a message for one of its files: name, size, an image's
 * dimensions, and the id `/download` takes.
 *
 * @example
 * ```ts
 * formatAttachment(photo); // "  📎 photo.png · 1.2 MB · 640×480 · id 01HZX…"
 * ```
 */
export function formatAttachment(a: Attachment): string {
  const size = a.width && a.height ? ` · ${a.width}×${a.height}` : "";
  return `  📎 ${fileLabel(a.name)} · ${formatSize(a.size)}${size} · id ${clean(a.id)}`;
}

/** A file's name as the terminal shows it: on one line, cleaned, cut to 80 characters. */
export function fileLabel(name: string): string {
  return cut(clean(name, { oneLine: true }).trim() || "file", 80);
}

/**
 * A size in bytes for people: bytes, then KB, MB, GB (of 1,024), with one
 * decimal below 10.
 *
 * @example
 * ```ts
 * formatSize(1_258_291); // "1.2 MB"
 * formatSize(512);       // "512 B"
 * ```
 */
export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KB", "MB", "GB", "TB"];
  let value = bytes / 1024;
  let unit = 0;
  // Moved up once more when rounding would show 1024 of a unit.
  while (value >= 1023.5 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 9.95 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/**
 * What a message says as the terminal shows it: "(message deleted)" for a
 * tombstone, and "(edited)" after edited text.
 *
 * @example
 * ```ts
 * messageText({ ...message, text: "hi", editedAt: 5 }); // "hi (edited)"
 * ```
 */
export function messageText(m: Pick<Message, "text" | "editedAt" | "deleted">): string {
  if (m.deleted) return DELETED;
  return clean(m.text) + (m.editedAt ? " (edited)" : "");
}

/** What a deleted message shows in its place. */
const DELETED = "(message deleted)";

/** Whether an encrypted message could not be decrypted here (`cli/encryption.ts` marks it). */
export function undecryptable(m: Message): boolean {
  return (m as { undecryptable?: boolean }).undecryptable === true;
}

/** Whether an encrypted message waits to be decrypted, for want of the server (`cli/encryption.ts` marks it). */
export function notDecryptedYet(m: Message): boolean {
  return (m as { pending?: boolean }).pending === true;
}

/** A notice message in the shared words ({@linkcode noticeText}), names cleaned, a lock when on. */
function notice(m: Pick<Message, "notice" | "author">, me?: User): string {
  return noticeText(m, { meId: me?.id, name: (n) => clean(n, { oneLine: true }), lock: LOCK });
}

/** Lines after the first of `text` indented by `width` spaces, under the first line's text. */
export function indented(text: string, width: number): string {
  return text.split("\n").join("\n" + " ".repeat(width));
}

/**
 * A one-line notice of a message in another conversation, cut to `width`;
 * one mentioning the user is marked as in {@linkcode formatMessage}.
 *
 * @example
 * ```ts
 * formatNotice(room, message, 80); // "» #random · bob: hi there"
 * ```
 */
export function formatNotice(
  room: Room,
  m: Message,
  width = 100,
  style: MessageStyle = {},
): string {
  if (m.notice) return cut(`» ${roomLabel(room)} · ${notice(m, style.me)}`, width);
  const mentioned = mentionsMe(m, style.me);
  const mark = mentioned && !style.color ? MENTION_MARK : "";
  const line = cut(
    `${mark}» ${roomLabel(room)} · ${clean(m.author.username, { oneLine: true })}: ` +
      messageSummary(m),
    width,
  );
  return mentioned ? highlightMentions(line, style) : line;
}

/**
 * A message on one line: its text, then its files' names.
 *
 * @example
 * ```ts
 * messageSummary(message); // "look at this 📎 photo.png"
 * ```
 */
export function messageSummary(m: Message): string {
  if (m.notice) return notice(m);
  if (undecryptable(m)) return COULD_NOT_DECRYPT;
  const files = m.deleted ? [] : (m.attachments ?? []).map((a) => `📎 ${fileLabel(a.name)}`);
  const text = messageText(m).replace(/\n+/g, " ⏎ ");
  return [...(m.text || m.deleted ? [text] : []), ...files].join(" ");
}

/**
 * One line of `/rooms`: label (with a lock when end-to-end encrypted),
 * unread count and how many of those mention the user, members, and
 * whether it is muted.
 *
 * @example
 * ```ts
 * formatRoomLine(room, true); // "> #den  3 unread, 1 mention  (4/100, muted)"
 * ```
 */
export function formatRoomLine(room: Room, current: boolean): string {
  const counts = [
    ...(room.unread > 0 ? [`${room.unread} unread`] : []),
    ...(room.mentions > 0 ? [`${room.mentions} mention${room.mentions === 1 ? "" : "s"}`] : []),
  ];
  const notes = [
    ...(room.kind === "group" ? [`${room.memberCount}/${room.capacity}`] : []),
    ...(room.kind === "group" && room.private ? ["private"] : []),
    ...(room.muted ? ["muted"] : []),
  ];
  const unread = counts.length ? `  ${counts.join(", ")}` : "";
  const extra = notes.length ? `  (${notes.join(", ")})` : "";
  return `${current ? ">" : " "} ${roomLabel(room)}${lockOf(room)}${unread}${extra}`;
}

/**
 * One line of `/mentions`: when, where, the message's seq, who and what.
 *
 * @param room the room as the user's list has it, for its label (a direct conversation's name).
 * @example
 * ```ts
 * formatMention(mention); // "  14:02  #den  #12 bob: @alice lunch?"
 * ```
 */
export function formatMention(
  mention: Mention,
  room?: Pick<Room, "kind" | "name">,
  now = Date.now(),
  width = 120,
): string {
  const m = mention.message;
  const label = roomLabel(room ?? { kind: "group", name: mention.roomName });
  const author = clean(m.author.username, { oneLine: true });
  return cut(
    `  ${when(m.createdAt, now)}  ${label}  #${m.seq} ${author}: ${messageSummary(m)}`,
    width,
  );
}

/**
 * One line of `/bans`: who, by whom, until when, why.
 *
 * @example
 * ```ts
 * formatBan(ban); // "  bob · by alice · until 14:32 · spamming"
 * ```
 */
export function formatBan(ban: Ban, now = Date.now()): string {
  const until = ban.until === null ? "for good" : `until ${when(ban.until, now)}`;
  const why = ban.reason ? ` · ${clean(ban.reason, { oneLine: true })}` : "";
  return `  ${name(ban.user.username)} · by ${name(ban.by.username)} · ${until}${why}`;
}

/**
 * One line of `/audit`: when, who did what to whom, and why.
 *
 * @example
 * ```ts
 * formatAuditEntry(entry); // "  14:02  alice banned bob: spamming"
 * ```
 */
export function formatAuditEntry(entry: AuditEntry, now = Date.now()): string {
  const actor = name(entry.actor.username);
  const target = name(entry.target.username ?? entry.target.userId ?? "someone");
  const roles = { owner: "the owner", moderator: "a moderator", member: "a member" };
  const what: Record<AuditEntry["action"], string> = {
    role: entry.role === "owner"
      ? `handed the room to ${target}`
      : `made ${target} ${roles[entry.role ?? "member"]}`,
    kick: `removed ${target}`,
    ban: `banned ${target}`,
    unban: `lifted the ban on ${target}`,
    delete_message: `deleted message ${entry.seq ?? "?"} by ${target}`,
    delete_room: "deleted the room",
    suspend: `suspended ${target}`,
    unsuspend: `lifted the suspension of ${target}`,
  };
  const why = entry.reason ? `: ${clean(entry.reason, { oneLine: true })}` : "";
  return `  ${when(entry.at, now)}  ${actor} ${what[entry.action]}${why}`;
}

/**
 * `HH:MM` today, `YYYY-MM-DD HH:MM` on another day, in local time.
 *
 * @param now what "today" is measured from.
 */
export function when(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const today = new Date(now);
  const sameDay = d.getFullYear() === today.getFullYear() && d.getMonth() === today.getMonth() &&
    d.getDate() === today.getDate();
  if (sameDay) return clock(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${clock(ms)}`;
}

/**
 * An invitation, and how to answer it; `ref` is what names its room in
 * `/accept` (the room's name, or its id when the name is ambiguous).
 *
 * @example
 * ```ts
 * formatInvitation(invitation, "team");
 * // "alice invites you to #team — /accept team or /decline team"
 * ```
 */
export function formatInvitation(invitation: Invitation, ref: string): string {
  const room = roomLabel({ kind: "group", name: invitation.roomName });
  const by = clean(invitation.by.username, { oneLine: true });
  const how = `/accept ${ref} or /decline ${ref}`;
  return `${by} invites you to ${room}${invitation.private ? " (private)" : ""} — ${how}`;
}

/**
 * One line of `/sessions`: its number, device, address, when last used, and
 * whether it is this one.
 *
 * @example
 * ```ts
 * formatSession(session, 1);
 * // "  1. parley-cli (Deno 2.5.0; linux) · 127.0.0.1 · last used 14:02 · this one"
 * ```
 */
export function formatSession(session: SessionInfo, n: number, now = Date.now()): string {
  const mark = session.current ? " · this one" : "";
  return `  ${n}. ${sessionLabel(session)} · last used ${when(session.lastUsedAt, now)}${mark}`;
}

/** A session's device and address: `parley-cli (Deno 2.5.0; linux) · 127.0.0.1`. */
export function sessionLabel(session: SessionInfo): string {
  const device = cut(clean(session.device, { oneLine: true }) || "unknown device", 60);
  const address = clean(session.address, { oneLine: true }) || "unknown address";
  return `${device} · ${address}`;
}

/**
 * A one-line description of an error, never a stack trace. A rate limit
 * (429) always says when to try again.
 */
export function describe(error: unknown): string {
  if (error instanceof ApiFailure && error.rateLimited) return rateLimitText(error);
  if (error instanceof ApiFailure || error instanceof Unreachable) return error.message;
  if (error instanceof Error) return error.message.split("\n")[0];
  return String(error);
}

/**
 * What a 429 means, with when to try again: `what` names what there were
 * too many of; without it, the server's own words are kept.
 *
 * @example
 * ```ts
 * rateLimitText(failure, "messages"); // "Too many messages; try again in 3 s."
 * ```
 */
export function rateLimitText(error: ApiFailure, what?: string): string {
  // The server's message may say when already ("…; try again in 3 s."): the header is what counts.
  const lead = what ? `Too many ${what}` : withoutWhen(error.message);
  return `${lead || "Too many requests"}; try again in ${waitText(error.retryAfter ?? 1)}.`;
}

/**
 * A server's refusal without its own "try again in …" and final stop, so
 * the client can say when from the `Retry-After` it got.
 *
 * @example
 * ```ts
 * withoutWhen("Too many requests; try again in 3 s."); // "Too many requests"
 * ```
 */
export function withoutWhen(message: string): string {
  return message.replace(/[;.,]?\s*(wait and )?try again.*$/is, "").replace(/[.\s]+$/, "");
}

/**
 * A wait in words: seconds up to a minute and a half, then minutes, then hours.
 *
 * @example
 * ```ts
 * waitText(3);   // "3 s"
 * waitText(900); // "15 min"
 * ```
 */
export function waitText(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  if (s < 90) return `${s} s`;
  if (s < 90 * 60) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 3600)} h`;
}

/** Cuts `text` to `width` characters, marking the cut. */
export function cut(text: string, width: number): string {
  const chars = Array.from(text);
  return chars.length <= width ? text : chars.slice(0, Math.max(1, width - 1)).join("") + "…";
}

/** A username on one line, cleaned. */
function name(username: string): string {
  return clean(username, { oneLine: true });
}

function pad(n: number): string {
  return String(n).padStart(2, "0");
}

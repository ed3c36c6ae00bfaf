/**
 * What each slash command does in the terminal. Parsing is shared with the
 * web app (`shared/commands.ts`), and so are the actions behind `/join`,
 * `/history` and `/who` (`shared/client_actions.ts`); this module runs them
 * and prints the outcome. A few commands only the terminal has
 * (`/sessions end <n>`, `/logout-all`, `/delete`, `/bans`, `/audit`,
 * `/upload`, `/download`, `/reply`, `/react`, `/unreact`, `/mute`,
 * `/unmute`, `/mentions`, `/ok`) are parsed here.
 *
 * @module
 */
import type { Invitation, Member, Message, Room, SessionInfo, User } from "../shared/api_types.ts";
import { fetchHistory, fetchMembers, resolveRoom } from "../shared/client_actions.ts";
import {
  type ClientState,
  forgetRoom,
  sortedRooms,
  withMembers,
  withOnline,
  withRoom,
} from "../shared/client_state.ts";
import { type Command, commandHelp, parseCommand } from "../shared/commands.ts";
import type { Payload } from "../shared/e2e.ts";
import { EMOJI, HISTORY_PAGE_MAX, MESSAGE_MAX, USERS_PAGE_MAX } from "../shared/limits.ts";
import { ApiFailure, Unreachable } from "./api.ts";
import { downloadFile, takePath, uploadFile } from "./attachment_commands.ts";
import { type ChatView, width } from "./chat_view.ts";
import { DevicesChanged, type Encryption } from "./encryption.ts";
import {
  confirmDevices,
  listDevices,
  openEncrypted,
  seal,
  switchEncryption,
  verify,
} from "./encryption_commands.ts";
import {
  clean,
  cut,
  formatAuditEntry,
  formatBan,
  formatInvitation,
  formatMention,
  formatRoomLine,
  formatSession,
  messageSummary,
  rateLimitText,
  roomLabel,
  sessionLabel,
  when,
} from "./format.ts";
import {
  invitationRef,
  type MemberChange,
  sayAnswered,
  sayBlock,
  sayMember,
  sayUpdate,
  tellOwnReaction,
} from "./event_printer.ts";
import type { Outbox } from "./outbox.ts";
import { ask } from "./sign_in.ts";

/** How many messages `/history` shows when not told. */
const HISTORY_DEFAULT = 20;
/** How many entries `/audit` shows when not told, and at most (one page of the log). */
const AUDIT_DEFAULT = 20;
const AUDIT_MAX = 100;
/** How many mentions `/mentions` shows when not told, and at most (one page). */
const MENTIONS_DEFAULT = 20;
const MENTIONS_MAX = 100;
/** How far back `/edit` and `/delete` look for the user's last message. */
const OWN_MESSAGE_LOOKBACK = 500;

/** A command that ends the session: `/quit`, or `/logout` once the session is gone. */
export type CommandEnd = "quit" | "logout";

/** A line as the terminal runs it: a shared command, or one only the terminal has. */
export type TerminalCommand =
  | Command
  | { kind: "end-session"; n: number }
  | { kind: "logout-all" }
  | { kind: "delete"; seq?: number }
  | { kind: "bans" }
  | { kind: "audit"; count?: number }
  | { kind: "upload"; path: string; text: string }
  | { kind: "download"; id: string; path?: string }
  | { kind: "reply"; seq: number; text: string }
  | { kind: "react"; seq: number; emoji: string; add: boolean }
  | { kind: "mute"; muted: boolean }
  | { kind: "mentions"; count?: number }
  | { kind: "ok" };

/** Help for the terminal's own commands, shown after the shared command they go with. */
const terminalHelp: Record<string, [string, string][]> = {
  "/sessions": [["/sessions end <n>", "end session n of that list"]],
  "/edit <text>": [
    ["/delete [seq]", "delete your last message, or message seq (moderators)"],
    ["/reply <seq> <text>", "answer message seq (the #seq before each message)"],
    ["/react <seq> <emoji>", "react to message seq: an emoji, or :+1: :heart: :tada: …"],
    ["/unreact <seq> <emoji>", "take your reaction back"],
  ],
  "/unban <user>": [["/bans", "who is banned from the room (owner and moderators)"]],
  "/unmod <user>": [[
    "/audit [n]",
    "the room's last n moderation actions (owner and moderators)",
  ]],
  "/rooms": [
    ["/mute", "no bell for the current conversation (unread still counts)"],
    ["/unmute", "the bell again for the current conversation"],
    ["/mentions [n]", "your last n mentions (@you) across rooms"],
  ],
  "/history [n]": [
    ["/upload <path> [text]", 'send a file, with text (quote a path with spaces: "…")'],
    ["/download <id> [path]", "save a file (its id is under its message) here or at path"],
  ],
  "/logout": [["/logout-all", "sign out every session of yours, this one too"]],
  "/verify [yes]": [[
    "/ok",
    "after a device-change warning: send what waits, to the devices as they are now",
  ]],
};

/** An attachment's id, as the server makes them. */
const ATTACHMENT_ID = /^[\w-]{1,64}$/;

/**
 * Names for emoji that are hard to type in a terminal, as `/react` takes
 * them (`:+1:` or `+1`).
 */
export const EMOJI_NAMES: Readonly<Record<string, string>> = {
  "+1": "👍",
  thumbsup: "👍",
  "-1": "👎",
  thumbsdown: "👎",
  heart: "❤️",
  tada: "🎉",
  joy: "😂",
  laughing: "😆",
  smile: "😄",
  wink: "😉",
  thinking: "🤔",
  eyes: "👀",
  fire: "🔥",
  rocket: "🚀",
  clap: "👏",
  pray: "🙏",
  wave: "👋",
  ok: "👌",
  check: "✅",
  x: "❌",
  100: "💯",
  cry: "😢",
  open_mouth: "😮",
};

/** The emoji `/react` was given: one emoji, or a name from {@linkcode EMOJI_NAMES}. */
function emojiOf(word: string | undefined): string | null {
  if (!word) return null;
  if (EMOJI.test(word)) return word;
  return EMOJI_NAMES[word.replace(/^:(.*):$/, "$1").toLowerCase()] ?? null;
}

/** A message's seq as typed: `12` or `#12`. */
function seqOf(word: string | undefined): number | null {
  const seq = Number(word?.replace(/^#/, "") || NaN);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : null;
}

/**
 * Parses one line: the terminal's own commands here, the rest as the web
 * app does (`shared/commands.ts`).
 *
 * @example
 * ```ts
 * parseLine("/sessions end 2"); // { kind: "end-session", n: 2 }
 * parseLine("/join lobby");     // { kind: "join", room: "lobby" }
 * ```
 */
export function parseLine(line: string): TerminalCommand {
  const words = line.trim().split(/\s+/);
  const head = words[0].toLowerCase();
  if (head === "/sessions" && words.length > 1) {
    const n = Number(words[2]);
    const valid = words.length === 3 && words[1].toLowerCase() === "end" &&
      Number.isInteger(n) && n > 0;
    return valid ? { kind: "end-session", n } : {
      kind: "error",
      message: "Usage: /sessions, or /sessions end <n> to end session n of its list",
    };
  }
  if (head === "/logout-all") {
    return words.length === 1
      ? { kind: "logout-all" }
      : { kind: "error", message: "Usage: /logout-all" };
  }
  if (head === "/delete") {
    if (words.length === 1) return { kind: "delete" };
    const seq = Number(words[1]);
    return words.length === 2 && Number.isSafeInteger(seq) && seq > 0
      ? { kind: "delete", seq }
      : { kind: "error", message: "Usage: /delete, or /delete <seq> to delete message seq" };
  }
  if (head === "/bans") {
    return words.length === 1 ? { kind: "bans" } : { kind: "error", message: "Usage: /bans" };
  }
  if (head === "/audit") {
    if (words.length === 1) return { kind: "audit" };
    const count = Number(words[1]);
    return words.length === 2 && Number.isInteger(count) && count > 0 && count <= AUDIT_MAX
      ? { kind: "audit", count }
      : { kind: "error", message: `Usage: /audit [n], n from 1 to ${AUDIT_MAX}` };
  }
  if (head === "/upload") {
    const arg = takePath(line.trim().slice(words[0].length));
    return arg
      ? { kind: "upload", path: arg.path, text: arg.rest }
      : { kind: "error", message: 'Usage: /upload <path> [text] (quote a path with spaces: "…")' };
  }
  if (head === "/download") {
    const usage = {
      kind: "error",
      message: 'Usage: /download <id> [path] (quote a path with spaces: "…")',
    } as const;
    const id = words[1] ?? "";
    if (!ATTACHMENT_ID.test(id)) return usage;
    const rest = line.trim().slice(words[0].length).trimStart().slice(id.length);
    if (!rest.trim()) return { kind: "download", id };
    const arg = takePath(rest);
    return arg && !arg.rest ? { kind: "download", id, path: arg.path } : usage;
  }
  if (head === "/reply") {
    const seq = seqOf(words[1]);
    const text = words.length > 2 ? line.trim().replace(/^\S+\s+\S+\s+/, "").trim() : "";
    return seq && text
      ? { kind: "reply", seq, text }
      : { kind: "error", message: "Usage: /reply <seq> <text>, seq from the #seq of a message" };
  }
  if (head === "/react" || head === "/unreact") {
    const seq = seqOf(words[1]);
    const emoji = emojiOf(words[2]);
    if (seq && emoji && words.length === 3) {
      return { kind: "react", seq, emoji, add: head === "/react" };
    }
    const usage = `Usage: ${head} <seq> <emoji>, the emoji as itself or a name like :+1:`;
    return seq && words.length === 3
      ? { kind: "error", message: `Not one emoji: ${words[2]}. ${usage}` }
      : { kind: "error", message: usage };
  }
  if (head === "/mute" || head === "/unmute") {
    return words.length === 1
      ? { kind: "mute", muted: head === "/mute" }
      : { kind: "error", message: `Usage: ${head} (the current conversation)` };
  }
  if (head === "/ok") {
    return words.length === 1 ? { kind: "ok" } : { kind: "error", message: "Usage: /ok" };
  }
  if (head === "/mentions") {
    if (words.length === 1) return { kind: "mentions" };
    const count = Number(words[1]);
    return words.length === 2 && Number.isInteger(count) && count > 0 && count <= MENTIONS_MAX
      ? { kind: "mentions", count }
      : { kind: "error", message: `Usage: /mentions [n], n from 1 to ${MENTIONS_MAX}` };
  }
  return parseCommand(line);
}

/** What a 429 of each command was too many of, as "Too many …" says it. */
const limitedThings: Partial<Record<TerminalCommand["kind"], string>> = {
  create: "rooms created",
  dm: "direct conversations opened",
  invite: "invitations",
  password: "attempts",
  edit: "edits",
  delete: "deletions",
  upload: "uploads",
  download: "downloads",
  react: "reactions",
  mute: "changes",
  encrypt: "changes",
};

/** What the commands act on. */
export interface CommandContext {
  view: ChatView;
  outbox: Outbox;
  /** Forgets the saved session (on `/logout`). */
  forgetSession: () => Promise<void>;
}

/**
 * Runs one parsed line.
 *
 * @returns how the session ends, or `null` to read the next line.
 * @throws {Error} with a one-line message the caller prints, e.g. "No such room: x".
 */
export async function runCommand(
  cmd: TerminalCommand,
  ctx: CommandContext,
): Promise<CommandEnd | null> {
  try {
    return await run(cmd, ctx);
  } catch (error) {
    // A rate limit says what there were too many of, and when to try again.
    if (error instanceof ApiFailure && error.rateLimited) {
      throw new Error(rateLimitText(error, limitedThings[cmd.kind]));
    }
    throw error;
  }
}

async function run(cmd: TerminalCommand, ctx: CommandContext): Promise<CommandEnd | null> {
  const { view } = ctx;
  const { api } = view;
  switch (cmd.kind) {
    case "message":
      send(ctx, cmd.text);
      return null;
    case "reply":
      ctx.outbox.send(need(view), cmd.text, { replyTo: cmd.seq });
      return null;
    case "react":
      await react(ctx, cmd.seq, cmd.emoji, cmd.add);
      return null;
    case "mute": {
      const room = need(view);
      const label = roomLabel(room);
      if (room.muted === cmd.muted) {
        view.say(cmd.muted ? `* ${label} is muted already.` : `* ${label} is not muted.`);
        return null;
      }
      const updated = await api.setMuted(room.id, cmd.muted);
      // As its `room` event will: the room's place in the stream stays.
      view.apply({ type: "room", id: null, data: { room: updated } });
      view.say(
        cmd.muted
          ? `* Muted ${label}: no bell for it; its messages still count as unread.`
          : `* Unmuted ${label}`,
      );
      return null;
    }
    case "mentions": {
      const count = cmd.count ?? MENTIONS_DEFAULT;
      const { mentions, next } = await api.mentions(count);
      if (!mentions.length) {
        view.say("Nobody has mentioned you yet.");
        return null;
      }
      view.say("-- Your latest mentions, oldest first --");
      const now = Date.now();
      for (const mention of mentions.toReversed()) {
        view.say(formatMention(mention, view.state.rooms[mention.roomId], now, width()));
      }
      if (next && count < MENTIONS_MAX) view.say(`  (older ones: /mentions ${MENTIONS_MAX})`);
      return null;
    }
    case "error":
      view.say(`! ${cmd.message}`);
      return null;
    case "help":
      for (const [usage, what] of commandHelp) {
        view.say(`  ${usage.padEnd(44)}${what}`);
        for (const [own, does] of terminalHelp[usage] ?? []) view.say(`  ${own.padEnd(44)}${does}`);
      }
      view.say("  Anything else is sent to the current conversation.");
      return null;
    case "rooms": {
      const rooms = sortedRooms(view.state);
      if (!rooms.length) view.say("You are in no rooms yet.");
      for (const room of rooms) view.say(formatRoomLine(room, room.id === view.current));
      return null;
    }
    case "users": {
      const online = await api.users(true);
      // A whole list says who is not online too: whoever this client still
      // has online went offline unseen (a stream reset, say).
      const listed = new Set(online.map((u) => u.id));
      const gone = online.length < USERS_PAGE_MAX
        ? Object.keys(view.state.online).filter((id) => view.state.online[id] && !listed.has(id))
        : [];
      view.update(
        withOnline(view.state, [...online, ...gone.map((id) => ({ id, online: false }))]),
      );
      view.say(`Online (${online.length}): ${online.map((u) => clean(u.username)).join(", ")}`);
      return null;
    }
    case "who": {
      const room = need(view);
      view.update(withMembers(view.state, room.id, await fetchMembers(view.call, room.id)));
      const rank = { owner: 2, moderator: 1, member: 0 };
      const badge = { owner: " (owner)", moderator: " (mod)", member: "" };
      const members = [...view.state.members[room.id]].sort((a, b) =>
        rank[b.role] - rank[a.role] || Number(b.online) - Number(a.online) ||
        a.username.localeCompare(b.username)
      );
      const list = members.map((m) => clean(m.username) + badge[m.role] + (m.online ? " *" : ""));
      view.say(`Members of ${roomLabel(room)} (* online): ${list.join(", ")}`);
      return null;
    }
    case "ping": {
      const started = performance.now();
      await api.health();
      view.say(`pong: ${Math.round(performance.now() - started)} ms`);
      return null;
    }
    case "join":
      await join(view, cmd.room);
      return null;
    case "create": {
      const room = await api.createRoom(cmd.name, cmd);
      know(view, room);
      view.say(`* Created ${roomLabel(room)}${room.private ? " (private)" : ""}, id ${room.id}`);
      await view.enter(room);
      return null;
    }
    case "leave": {
      const room = need(view);
      await api.leave(room.id);
      view.update(forgetRoom(view.state, room.id));
      view.say(`* Left ${roomLabel(room)}`);
      return null;
    }
    case "dm": {
      const user = cmd.user.replace(/^@/, "");
      const room = await (cmd.encrypted ? openEncrypted(view, user) : api.direct(user))
        .catch(naming("user", cmd.user));
      know(view, room);
      await view.enter(view.state.rooms[room.id]);
      if (cmd.text) send(ctx, cmd.text);
      return null;
    }
    case "encrypt":
      await switchEncryption(view, cmd.on, cmd.confirmed);
      return null;
    case "verify":
      await verify(view, cmd.confirm);
      return null;
    case "devices":
      await listDevices(view, cmd.user).catch(naming("user", cmd.user ?? ""));
      return null;
    case "ok":
      if (!ctx.outbox.confirm()) await confirmDevices(view);
      return null;
    case "invite": {
      const room = need(view);
      const user = cmd.user.replace(/^@/, "");
      await api.invite(room.id, user).catch(naming("user", user));
      view.say(`* Invited ${clean(user)} to ${roomLabel(room)}; they join once they accept.`);
      return null;
    }
    case "invites": {
      const invitations = newestFirst(view);
      if (!invitations.length) view.say("No invitations are waiting for you.");
      else view.say(`Invitations (${invitations.length}):`);
      for (const i of invitations) {
        view.say(`  ${when(i.createdAt)}  ${formatInvitation(i, invitationRef(view, i))}`);
      }
      return null;
    }
    case "accept":
      await accept(view, cmd.room);
      return null;
    case "decline": {
      const invitation = pickInvitation(view, cmd.room);
      await view.api.declineInvitation(invitation.roomId).catch(gone(view, invitation));
      sayAnswered(view, invitation, "declined");
      return null;
    }
    case "block": {
      const name = cmd.user.replace(/^@/, "");
      const { user } = await api.block(name).catch(naming("user", name));
      sayBlock(view, user, true);
      return null;
    }
    case "unblock": {
      const name = cmd.user.replace(/^@/, "");
      const user = await blockedUser(view, name);
      await api.unblock(user.id);
      sayBlock(view, user, false);
      return null;
    }
    case "sessions": {
      const sessions = view.listedSessions = ordered(await api.sessions());
      view.say(`Your sessions (${sessions.length}):`);
      const now = Date.now();
      sessions.forEach((s, i) => view.say(formatSession(s, i + 1, now)));
      if (sessions.length > 1) view.say("End one with /sessions end <n>.");
      return null;
    }
    case "end-session": {
      const sessions = view.listedSessions ??= ordered(await api.sessions());
      const session = sessions[cmd.n - 1];
      if (!session) {
        throw new Error(`There is no session ${cmd.n}: /sessions lists them.`);
      }
      if (session.current) throw new Error(`Session ${cmd.n} is this one: /logout ends it.`);
      try {
        await api.endSession(session.id);
      } catch (error) {
        if (!(error instanceof ApiFailure && error.status === 404)) throw error;
      } finally {
        view.listedSessions = null; // the numbers change
      }
      view.say(`* Ended session ${cmd.n}: ${sessionLabel(session)}`);
      return null;
    }
    case "logout-all":
      return await logout(ctx, true);
    case "password":
      await changePassword(view);
      return null;
    case "presence":
      await api.setPresenceVisibility(cmd.visibility);
      view.say(
        cmd.visibility === "everyone"
          ? "* Everyone can now see when you are online."
          : "* Only people who share a room or a conversation with you can now see when you are online.",
      );
      return null;
    case "switch": {
      const room = findOwn(view.state, cmd.room);
      if (!room) {
        view.say(`! You are not in ${cmd.room}: try /join ${cmd.room} or /dm ${cmd.room}`);
      } else await view.enter(room);
      return null;
    }
    case "history": {
      const room = need(view);
      const count = cmd.count ?? HISTORY_DEFAULT;
      await view.exclusive(() => view.showHistory(room, count, "Last"));
      return null;
    }
    case "edit":
      await edit(ctx, cmd.text);
      return null;
    case "upload":
      await uploadFile(view, ctx.outbox, need(view), cmd.path, cmd.text);
      return null;
    case "download":
      await downloadFile(view, cmd.id, cmd.path);
      return null;
    case "delete":
      await remove(ctx, cmd.seq);
      return null;
    case "kick": {
      const room = group(view);
      const member = await memberNamed(view, room, cmd.user);
      await api.kick(room.id, member.id);
      sayMember(view, change(view, room, member, "removed"));
      return null;
    }
    case "ban": {
      const room = group(view);
      const name = cmd.user.replace(/^@/, "");
      const member = await memberNamed(view, room, name).catch(() => null);
      const { minutes, reason } = cmd;
      await api.ban(room.id, name, { minutes, reason }).catch(naming("user", name));
      const until = minutes ? ` until ${when(Date.now() + minutes * 60_000)}` : "";
      if (member) sayMember(view, change(view, room, member, "banned", reason), until);
      else {
        // Not a member, so no event: kept out all the same.
        const why = reason ? `: ${clean(reason, { oneLine: true })}` : "";
        view.say(`* ${clean(name)} is banned from ${roomLabel(room)}${until}${why}`);
      }
      return null;
    }
    case "unban": {
      const room = group(view);
      const name = cmd.user.replace(/^@/, "").toLowerCase();
      const ban = (await api.bans(room.id)).find((b) => b.user.username.toLowerCase() === name);
      if (!ban) throw new Error(`${cmd.user} is not banned from ${roomLabel(room)}.`);
      await api.unban(room.id, ban.user.id);
      view.say(`* Lifted the ban on ${clean(ban.user.username)} in ${roomLabel(room)}`);
      return null;
    }
    case "mod":
    case "unmod": {
      const room = group(view);
      const member = await memberNamed(view, room, cmd.user);
      const role = cmd.kind === "mod" ? "moderator" : "member";
      if (member.role === "owner") {
        throw new Error(`${clean(member.username)} owns ${roomLabel(room)}.`);
      }
      await api.setRole(room.id, member.id, role);
      if (member.role === role) {
        const what = role === "moderator" ? "a moderator" : "not a moderator";
        view.say(`* ${clean(member.username)} is ${what} already.`);
      } else sayMember(view, { ...change(view, room, member, "role"), role });
      return null;
    }
    case "bans": {
      const room = group(view);
      const bans = await api.bans(room.id);
      if (!bans.length) view.say(`Nobody is banned from ${roomLabel(room)}.`);
      else view.say(`Banned from ${roomLabel(room)} (${bans.length}):`);
      const now = Date.now();
      for (const ban of bans) view.say(formatBan(ban, now));
      return null;
    }
    case "audit": {
      const room = group(view);
      const entries = await api.audit(room.id, cmd.count ?? AUDIT_DEFAULT);
      if (!entries.length) view.say(`Nothing in the audit log of ${roomLabel(room)} yet.`);
      else view.say(`-- Audit log of ${roomLabel(room)}, oldest first --`);
      const now = Date.now();
      for (const entry of entries.toReversed()) view.say(formatAuditEntry(entry, now));
      return null;
    }
    case "logout":
      return await logout(ctx);
    case "quit":
      return "quit";
    default:
      return unknown(cmd);
  }
}

/** Makes the switch above exhaustive: a command kind added and not run here fails the check. */
function unknown(cmd: never): never {
  throw new Error(`Unknown command ${(cmd as { kind: string }).kind}`);
}

/** `/edit`: the user's last message in the current conversation gets `text`. */
async function edit(ctx: CommandContext, text: string): Promise<void> {
  const { view } = ctx;
  const room = need(view);
  if (text.length > MESSAGE_MAX) {
    throw new Error(
      `Not edited: ${text.length} characters; a message holds at most ${MESSAGE_MAX}.`,
    );
  }
  // A message typed just before is the last one once it is stored.
  await ctx.outbox.drained();
  const found = await lastOwnMessage(view, room);
  if (!found) throw new Error(`You have no message in ${roomLabel(room)} to edit.`);
  const last = await view.reveal(found);
  if (last.pending) {
    throw new Error("Not edited: your last message is not decrypted yet; try again once it is.");
  }
  if (last.undecryptable) {
    // Its new envelope could not carry the keys of its files: they would be lost.
    throw new Error("Not edited: this device could not decrypt your last message.");
  }
  if (last.text === text) {
    view.say("* Your last message says that already.");
    return;
  }
  const current = view.state.rooms[room.id] ?? room;
  if (found.envelope && !current.encrypted) {
    throw new Error(
      `Not edited: ${roomLabel(current)} is no longer encrypted, and the edit would put your ` +
        "encrypted message in plaintext on the server; send a new message instead.",
    );
  }
  const content = current.encrypted && view.encryption
    ? { envelope: await sealEdit(view, current, editedPayload(view.encryption, last, text)) }
    : text;
  const edited = await view.api.editMessage(room.id, last.seq, content).catch(missing(room));
  sayUpdate(view, await view.reveal(edited));
}

/** An edit's envelope; a device change waits for `/ok` before edits go out too. */
async function sealEdit(view: ChatView, room: Room, payload: Payload) {
  try {
    return await seal(view, room, payload);
  } catch (error) {
    if (!(error instanceof DevicesChanged)) throw error;
    throw new Error(
      `Not edited: ${error.message}. /ok accepts them, then /edit again; /verify compares ` +
        "safety numbers first.",
    );
  }
}

/**
 * What an edited encrypted message carries: the new text, and the keys of
 * the files it had (known once it was decrypted here).
 */
function editedPayload(encryption: Encryption, m: Message, text: string): Payload {
  const files = (m.attachments ?? []).flatMap((a) => encryption.fileKey(a.id) ?? []);
  return files.length ? { v: 1, text, files } : { v: 1, text };
}

/**
 * `/delete`: the user's last message in the current conversation, or the
 * message `seq` (moderators may delete anyone's), once the user confirms.
 */
async function remove(ctx: CommandContext, seq: number | undefined): Promise<void> {
  const { view } = ctx;
  const room = need(view);
  await ctx.outbox.drained();
  const found = seq ? await messageAt(view, room, seq) : await lastOwnMessage(view, room);
  const target = found && await view.reveal(found);
  if (!target) {
    throw new Error(
      seq
        ? `There is no message ${seq} in ${roomLabel(room)}.`
        : `You have no message in ${roomLabel(room)} to delete.`,
    );
  }
  if (target.deleted) throw new Error(`Message ${seq} is deleted already.`);
  const whose = target.author.id === view.me.id
    ? "your message"
    : `the message by ${clean(target.author.username, { oneLine: true })}`;
  const quoted = cut(messageSummary(target), 60);
  const answer = await view.screen.question(`Delete ${whose} "${quoted}"? (y/N) `);
  if (!/^\s*y(es)?\s*$/i.test(answer ?? "")) {
    view.say("* Not deleted.");
    return;
  }
  await view.api.deleteMessage(room.id, target.seq).catch(missing(room));
  const { id, roomId, author, createdAt } = target;
  sayUpdate(view, { id, roomId, seq: target.seq, author, text: "", createdAt, deleted: true });
}

/**
 * `/react` and `/unreact`: the message is looked up first, so a reaction
 * the user has (or has not) already is said without asking the server to
 * change nothing, and the change is said once with its event.
 */
async function react(ctx: CommandContext, seq: number, emoji: string, add: boolean) {
  const { view } = ctx;
  const room = need(view);
  // A message just typed may be the one reacted to.
  await ctx.outbox.drained();
  const target = await messageAt(view, room, seq);
  if (!target) throw new Error(`There is no message ${seq} in ${roomLabel(room)}.`);
  if (target.deleted) throw new Error(`Message ${seq} is deleted.`);
  const mine = target.reactions?.some((r) => r.emoji === emoji && r.me) ?? false;
  if (mine === add) {
    view.say(
      add
        ? `* You reacted ${emoji} to #${seq} already.`
        : `* You have no ${emoji} on #${seq} to take back.`,
    );
    return;
  }
  await view.api.react(room.id, seq, emoji, add).catch(missing(room));
  tellOwnReaction(view, view.state.rooms[room.id] ?? room, seq, emoji, add);
}

/** The user's last message in a room that is not deleted, looking back a few pages. */
async function lastOwnMessage(view: ChatView, room: Room): Promise<Message | undefined> {
  let before: number | undefined;
  for (let looked = 0; looked < OWN_MESSAGE_LOOKBACK; looked += HISTORY_PAGE_MAX) {
    const { messages, hasMore } = await fetchHistory(view.call, room.id, HISTORY_PAGE_MAX, before);
    // A notice (the user switched encryption) is theirs too, but no message to edit.
    const mine = messages.findLast((m) => m.author.id === view.me.id && !m.deleted && !m.notice);
    if (mine || !hasMore || !messages.length) return mine;
    before = messages[0].seq;
  }
}

/** The message `seq` of a room, if there is one. */
async function messageAt(view: ChatView, room: Room, seq: number): Promise<Message | undefined> {
  const { messages } = await view.call<{ messages: Message[] }>(
    "GET",
    `/api/rooms/${encodeURIComponent(room.id)}/messages?after=${seq - 1}&limit=1`,
  );
  return messages.find((m) => m.seq === seq);
}

/** Turns a 404 on a message (deleted meanwhile, or the room gone) into one line. */
function missing(room: Room) {
  return (error: unknown): never => {
    if (error instanceof ApiFailure && error.status === 404) {
      throw new Error(`That message is no longer in ${roomLabel(room)}.`);
    }
    throw error;
  };
}

/** The current conversation, when it is a room: direct conversations have no moderation. */
function group(view: ChatView): Room {
  const room = need(view);
  if (room.kind !== "group") {
    throw new Error("A direct conversation has no moderators: /block someone instead.");
  }
  return room;
}

/**
 * The member of a room called `name`, from its member list as it is now
 * (the state keeps it, so the command's event is said once).
 *
 * @throws {Error} when nobody by that name is in the room.
 */
async function memberNamed(view: ChatView, room: Room, name: string): Promise<Member> {
  view.update(withMembers(view.state, room.id, await fetchMembers(view.call, room.id)));
  const lower = name.replace(/^@/, "").toLowerCase();
  const member = view.state.members[room.id]?.find((m) => m.username.toLowerCase() === lower);
  if (!member) throw new Error(`${name.replace(/^@/, "")} is not in ${roomLabel(room)}.`);
  return member;
}

/** The `member` event a moderation command will cause, as the state stands now. */
function change(
  view: ChatView,
  room: Room,
  member: Member,
  action: MemberChange["action"],
  reason?: string,
): MemberChange {
  const known = view.state.rooms[room.id] ?? room;
  const listed = view.state.members[room.id]?.some((m) => m.id === member.id) ?? false;
  const leaves = action === "removed" || action === "banned";
  return {
    roomId: room.id,
    user: { id: member.id, username: member.username },
    action,
    reason: reason ?? null,
    memberCount: known.memberCount - (leaves && listed ? 1 : 0),
    ownerId: known.ownerId,
  };
}

function send(ctx: CommandContext, text: string): void {
  const room = ctx.view.currentRoom();
  if (!room) ctx.view.say("! No conversation yet: /join a room, /create one, or /dm someone.");
  else ctx.outbox.send(room, text);
}

/**
 * `/join`: one of the user's rooms is entered; anything else is found as the
 * web app finds it (a room id, or a public room by name through the whole
 * directory), then joined.
 */
async function join(view: ChatView, ref: string): Promise<void> {
  const own = findOwn(view.state, ref);
  if (own) return await view.enter(own);
  // A room the user is invited to is joined by accepting (a private one cannot be otherwise).
  if (findInvitation(view, ref)) return await accept(view, ref);
  const noSuchRoom = () => new Error(`No such room: ${ref}`);
  let target: { id: string; mine: boolean };
  try {
    target = await resolveRoom(view.call, view.state, ref.replace(/^#/, ""));
  } catch (error) {
    // A refusal or a network failure is worth its own words; anything else is "not found".
    if (error instanceof ApiFailure || error instanceof Unreachable) throw error;
    throw noSuchRoom();
  }
  if (target.mine) return await view.enter(view.state.rooms[target.id]);
  let room: Room;
  try {
    room = await view.api.join(target.id);
  } catch (error) {
    if (error instanceof ApiFailure && (error.status === 404 || error.status === 400)) {
      throw noSuchRoom();
    }
    throw error;
  }
  know(view, room);
  view.say(`* Joined ${roomLabel(room)}`);
  await view.enter(room);
}

async function logout(ctx: CommandContext, everywhere = false): Promise<CommandEnd> {
  const { view } = ctx;
  await ctx.outbox.drained();
  try {
    if (everywhere) await view.api.logoutAll();
    else await view.api.logout();
    view.say(everywhere ? "* Signed out everywhere." : "* Signed out.");
  } catch (error) {
    // A 401 means the session had ended already: signed out all the same.
    if (!(error instanceof ApiFailure && error.status === 401)) {
      view.error(error);
      view.say("* The saved session was removed here; the server may keep it until it expires.");
    }
  }
  await ctx.forgetSession();
  return "logout";
}

/**
 * Adds a room a command returned, unless the stream told of it first: the
 * stream's copy has the position the screen reached.
 */
function know(view: ChatView, room: Room): void {
  if (!view.state.rooms[room.id]) view.update(withRoom(view.state, room));
}

/** The room `ref` names among the user's: an id, `#name`, `@user` or a bare name. */
function findOwn(state: ClientState, ref: string): Room | undefined {
  if (state.rooms[ref]) return state.rooms[ref];
  const lower = ref.toLowerCase();
  const kind = lower.startsWith("@") ? "direct" : lower.startsWith("#") ? "group" : null;
  const name = kind ? lower.slice(1) : lower;
  return Object.values(state.rooms)
    .find((r) => r.name.toLowerCase() === name && (!kind || r.kind === kind));
}

function need(view: ChatView): Room {
  const room = view.currentRoom();
  if (!room) throw new Error("No current conversation: /switch to one first.");
  return room;
}

/** Turns a 404 about `what` into "No such user: bob". */
function naming(what: string, name: string) {
  return (error: unknown): never => {
    if (error instanceof ApiFailure && error.status === 404) {
      throw new Error(`No such ${what}: ${name}`);
    }
    throw error;
  };
}

/** `/accept`: the invitation goes, the room is joined and entered. */
async function accept(view: ChatView, ref: string | undefined): Promise<void> {
  const invitation = pickInvitation(view, ref);
  const room = await view.api.acceptInvitation(invitation.roomId)
    .catch(gone(view, invitation));
  sayAnswered(view, invitation, "accepted");
  know(view, room);
  view.say(`* Joined ${roomLabel(room)}`);
  await view.enter(view.state.rooms[room.id] ?? room);
}

/** Pending invitations, newest first. */
function newestFirst(view: ChatView): Invitation[] {
  return Object.values(view.state.invitations).sort((a, b) => b.createdAt - a.createdAt);
}

/**
 * The invitation `ref` names: its room's id or name (with or without `#`);
 * without `ref`, the newest.
 *
 * @throws {Error} when there is none.
 */
function pickInvitation(view: ChatView, ref: string | undefined): Invitation {
  const pending = newestFirst(view);
  if (!pending.length) throw new Error("No invitations are waiting for you.");
  if (!ref) return pending[0];
  const found = findInvitation(view, ref);
  if (!found) throw new Error(`No invitation to ${ref}: /invites lists them.`);
  return found;
}

/** The pending invitation to the room `ref` names by id or name (with or without `#`). */
function findInvitation(view: ChatView, ref: string): Invitation | undefined {
  const pending = newestFirst(view);
  const name = ref.replace(/^#/, "").toLowerCase();
  return pending.find((i) => i.roomId === ref) ??
    pending.find((i) => i.roomName.toLowerCase() === name);
}

/** An invitation the server no longer has (answered elsewhere, or the room is gone): forget it. */
function gone(view: ChatView, invitation: Invitation) {
  return (error: unknown): never => {
    if (error instanceof ApiFailure && error.status === 404) {
      view.apply({ type: "invite", id: null, data: { invitation, status: "declined" } });
      const room = roomLabel({ kind: "group", name: invitation.roomName });
      throw new Error(`The invitation to ${room} is no longer there.`);
    }
    throw error;
  };
}

/** A user the user blocks, by name; asks the server when the state does not know. */
async function blockedUser(view: ChatView, name: string): Promise<User> {
  const lower = name.toLowerCase();
  const find = () =>
    Object.values(view.state.blocked).find((u) => u.username.toLowerCase() === lower);
  let user = find();
  if (!user) {
    for (const b of await view.api.blocks()) {
      view.apply({ type: "block", id: null, data: { user: b.user, blocked: true } });
    }
    user = find();
  }
  if (!user) throw new Error(`You do not block ${name}.`);
  return user;
}

/** Sessions as `/sessions` numbers them: this one first, then by when last used. */
function ordered(sessions: SessionInfo[]): SessionInfo[] {
  return [...sessions].sort((a, b) =>
    Number(b.current) - Number(a.current) || b.lastUsedAt - a.lastUsedAt
  );
}

/** `/password`: asks for the current and the new password, unseen, and changes it. */
async function changePassword(view: ChatView): Promise<void> {
  const ended = "Input ended; the password was not changed.";
  const current = await ask(view.screen, "Current password: ", true, ended);
  const next = await ask(view.screen, "New password: ", true, ended);
  if (
    view.screen.interactive && await ask(view.screen, "Repeat new password: ", true, ended) !== next
  ) {
    throw new Error("The new passwords differ; the password was not changed.");
  }
  try {
    await view.api.changePassword(current, next);
  } catch (error) {
    if (error instanceof ApiFailure && error.code === "bad_credentials") {
      throw new Error("The current password is wrong; the password was not changed.");
    }
    throw error;
  }
  view.say("* Password changed; your other sessions were signed out.");
}

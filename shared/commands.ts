/**
 * The slash-command parser shared by the web app and the terminal client.
 * It imports nothing, so it runs in the browser, in the terminal and on the
 * server alike.
 *
 * @module
 */
import { CAPACITY_MAX, CAPACITY_MIN, HISTORY_COMMAND_MAX } from "./limits.ts";

/** A parsed line of the composer. */
export type Command =
  | { kind: "message"; text: string }
  | { kind: "join"; room: string }
  | { kind: "create"; name: string; private: boolean; capacity?: number }
  | { kind: "leave" }
  | { kind: "dm"; user: string; text?: string; encrypted?: true }
  | { kind: "encrypt"; on: boolean; confirmed: boolean }
  | { kind: "verify"; confirm: boolean }
  | { kind: "devices"; user?: string }
  | { kind: "invite"; user: string }
  | { kind: "invites" }
  | { kind: "accept"; room?: string }
  | { kind: "decline"; room?: string }
  | { kind: "block"; user: string }
  | { kind: "unblock"; user: string }
  | { kind: "sessions" }
  | { kind: "password" }
  | { kind: "presence"; visibility: "everyone" | "contacts" }
  | { kind: "edit"; text: string }
  | { kind: "kick"; user: string }
  | { kind: "ban"; user: string; minutes?: number; reason?: string }
  | { kind: "unban"; user: string }
  | { kind: "mod"; user: string }
  | { kind: "unmod"; user: string }
  | { kind: "users" }
  | { kind: "rooms" }
  | { kind: "switch"; room: string }
  | { kind: "history"; count?: number }
  | { kind: "who" }
  | { kind: "ping" }
  | { kind: "help" }
  | { kind: "logout" }
  | { kind: "quit" }
  | { kind: "error"; message: string };

/** One line of help per command, in the order `/help` shows them. */
export const commandHelp: readonly [string, string][] = [
  ["/join <room>", "join a room by id or name"],
  ["/create <name> [--private] [--capacity N]", "create a room"],
  ["/leave", "leave the current room"],
  ["/dm <user> [text]", "open a direct conversation (alias /pm)"],
  ["/dm <user> --encrypted [text]", "open an end-to-end encrypted one 🔒"],
  ["/encrypt on|off", "switch end-to-end encryption here (off asks you to confirm)"],
  ["/verify [yes]", "the safety number to compare; yes: it matched, mark them verified"],
  ["/devices [user]", "your devices, or someone's, that encrypted messages go to"],
  ["/invite <user>", "invite someone to the current room (owner only)"],
  ["/invites", "invitations waiting for your answer"],
  ["/accept [room]", "accept an invitation (the newest without a room)"],
  ["/decline [room]", "decline an invitation"],
  ["/block <user>", "no more messages, invitations, typing or presence from them"],
  ["/unblock <user>", "lift a block"],
  ["/sessions", "your signed-in sessions"],
  ["/password", "change your password (signs out your other sessions)"],
  ["/presence everyone|contacts", "who sees when you are online"],
  ["/edit <text>", "replace the text of your last message"],
  ["/kick <user>", "remove someone from the room (owner and moderators)"],
  ["/ban <user> [minutes] [reason]", "remove and keep out, for a while or for good"],
  ["/unban <user>", "lift a ban"],
  ["/mod <user>", "make someone a moderator (owner)"],
  ["/unmod <user>", "make a moderator a member again (owner)"],
  ["/users", "who is online"],
  ["/rooms", "your rooms with unread counts"],
  ["/switch <room>", "change the current conversation"],
  ["/history [n]", "show the last n messages"],
  ["/who", "members of the current room"],
  ["/ping", "round-trip time to the server"],
  ["/help", "this list"],
  ["/logout", "sign out and forget the saved session"],
  ["/quit", "leave the client"],
];

/**
 * Parses one line. A line not starting with `/` is a message; `//text` sends
 * `/text` as a message.
 *
 * @example
 * ```ts
 * parseCommand("/dm bob hi there"); // { kind: "dm", user: "bob", text: "hi there" }
 * parseCommand("hello");            // { kind: "message", text: "hello" }
 * ```
 */
export function parseCommand(line: string): Command {
  const trimmed = line.trim();
  if (!trimmed.startsWith("/")) return { kind: "message", text: trimmed };
  if (trimmed.startsWith("//")) return { kind: "message", text: trimmed.slice(1) };
  const [head, ...words] = trimmed.slice(1).split(/\s+/);
  const rest = trimmed.slice(1 + head.length).trim();
  const name = head.toLowerCase();
  const needs = (what: string) => ({
    kind: "error" as const,
    message: `Usage: /${name} <${what}>`,
  });
  switch (name) {
    // Room names may hold spaces ("team chat"); ids and @user never do.
    case "join":
      return rest ? { kind: "join", room: rest } : needs("room");
    case "switch":
      return rest ? { kind: "switch", room: rest } : needs("room");
    case "create":
      return parseCreate(words);
    case "leave":
    case "part":
      return { kind: "leave" };
    case "dm":
    case "pm":
    case "msg":
      return parseDirect(rest, name);
    case "encrypt":
      return parseEncrypt(words);
    case "verify":
      if (!words.length) return { kind: "verify", confirm: false };
      return words.length === 1 && words[0].toLowerCase() === "yes"
        ? { kind: "verify", confirm: true }
        : { kind: "error", message: "Usage: /verify, then /verify yes once the numbers match" };
    case "devices":
      if (words.length > 1) return { kind: "error", message: "Usage: /devices [user]" };
      return words[0] ? { kind: "devices", user: words[0] } : { kind: "devices" };
    case "invite":
    case "add":
      return words[0] ? { kind: "invite", user: words[0] } : needs("user");
    case "invites":
      return { kind: "invites" };
    case "accept":
      return rest ? { kind: "accept", room: rest } : { kind: "accept" };
    case "decline":
      return rest ? { kind: "decline", room: rest } : { kind: "decline" };
    case "block":
      return words[0] ? { kind: "block", user: words[0] } : needs("user");
    case "unblock":
      return words[0] ? { kind: "unblock", user: words[0] } : needs("user");
    case "sessions":
      return { kind: "sessions" };
    case "password":
      return { kind: "password" };
    case "edit":
      return rest ? { kind: "edit", text: rest } : needs("text");
    case "kick":
    case "unban":
    case "mod":
    case "unmod":
      return words[0] ? { kind: name, user: words[0] } : needs("user");
    case "ban":
      return parseBan(words, needs);
    case "presence":
      return words[0] === "everyone" || words[0] === "contacts"
        ? { kind: "presence", visibility: words[0] }
        : { kind: "error", message: "Usage: /presence everyone|contacts" };
    case "history": {
      if (!words[0]) return { kind: "history" };
      const count = Number(words[0]);
      return Number.isInteger(count) && count > 0 && count <= HISTORY_COMMAND_MAX
        ? { kind: "history", count }
        : { kind: "error", message: `Usage: /history [n], n from 1 to ${HISTORY_COMMAND_MAX}` };
    }
    case "users":
    case "online":
      return { kind: "users" };
    case "rooms":
      return { kind: "rooms" };
    case "who":
    case "members":
      return { kind: "who" };
    case "ping":
      return { kind: "ping" };
    case "help":
    case "?":
      return { kind: "help" };
    case "logout":
      return { kind: "logout" };
    case "quit":
    case "exit":
      return { kind: "quit" };
    default:
      return { kind: "error", message: `Unknown command /${head}. Try /help.` };
  }
}

/** `/dm <user> [--encrypted] [text]`; the flag may also come before the user. */
function parseDirect(rest: string, name: string): Command {
  let tail = rest;
  const take = () => {
    const word = /^(\S+)\s*/.exec(tail);
    tail = tail.slice(word?.[0].length ?? 0);
    return word?.[1];
  };
  let encrypted = false;
  let user = take();
  if (user === "--encrypted") {
    encrypted = true;
    user = take();
  }
  if (!user || user.startsWith("--")) {
    return { kind: "error", message: `Usage: /${name} <user> [--encrypted] [text]` };
  }
  if (!encrypted && /^--encrypted(\s|$)/.test(tail)) {
    encrypted = true;
    take();
  }
  // The text as typed, spaces and all.
  const text = tail.trim();
  return {
    kind: "dm",
    user,
    ...(text ? { text } : {}),
    ...(encrypted ? { encrypted: true as const } : {}),
  };
}

/** `/encrypt on`, `/encrypt off --yes` (switching off asks to be sure). */
function parseEncrypt(words: string[]): Command {
  const [state, ...more] = words.map((w) => w.toLowerCase());
  const confirmed = more.length === 1 && (more[0] === "--yes" || more[0] === "yes");
  if ((state === "on" || state === "off") && (!more.length || confirmed)) {
    return { kind: "encrypt", on: state === "on", confirmed };
  }
  return { kind: "error", message: "Usage: /encrypt on, or /encrypt off --yes" };
}

function parseBan(words: string[], needs: (what: string) => Command): Command {
  const [user, maybeMinutes, ...more] = words;
  if (!user) return needs("user");
  const minutes = Number(maybeMinutes);
  if (maybeMinutes && /^\d+$/.test(maybeMinutes) && minutes > 0) {
    const reason = more.join(" ");
    return { kind: "ban", user, minutes, ...(reason ? { reason } : {}) };
  }
  const reason = [maybeMinutes, ...more].filter(Boolean).join(" ");
  return reason ? { kind: "ban", user, reason } : { kind: "ban", user };
}

function parseCreate(words: string[]): Command {
  const name: string[] = [];
  let isPrivate = false;
  let capacity: number | undefined;
  for (let i = 0; i < words.length; i++) {
    const w = words[i];
    if (w === "--private") isPrivate = true;
    else if (w === "--capacity" || w.startsWith("--capacity=")) {
      const value = w.includes("=") ? w.split("=")[1] : words[++i];
      capacity = Number(value);
      if (!Number.isInteger(capacity) || capacity < CAPACITY_MIN || capacity > CAPACITY_MAX) {
        return {
          kind: "error",
          message: `--capacity takes a whole number from ${CAPACITY_MIN} to ${CAPACITY_MAX}`,
        };
      }
    } else name.push(w);
  }
  if (!name.length) {
    return { kind: "error", message: "Usage: /create <name> [--private] [--capacity N]" };
  }
  return {
    kind: "create",
    name: name.join(" "),
    private: isPrivate,
    ...(capacity ? { capacity } : {}),
  };
}

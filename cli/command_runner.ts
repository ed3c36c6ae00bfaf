/**
 * What each slash command does in the terminal. Parsing is shared with the
 * web app (`shared/commands.ts`), and so are the actions behind `/join`,
 * `/history` and `/who` (`shared/client_actions.ts`); this module runs them
 * and prints the outcome.
 *
 * @module
 */
import type { Room } from "../shared/api_types.ts";
import { fetchMembers, resolveRoom } from "../shared/client_actions.ts";
import {
  type ClientState,
  forgetRoom,
  sortedRooms,
  withMembers,
  withOnline,
  withRoom,
} from "../shared/client_state.ts";
import { type Command, commandHelp } from "../shared/commands.ts";
import { ApiFailure, Unreachable } from "./api.ts";
import type { ChatView } from "./chat_view.ts";
import { clean, formatRoomLine, roomLabel } from "./format.ts";
import type { Outbox } from "./outbox.ts";

/** How many messages `/history` shows when not told. */
const HISTORY_DEFAULT = 20;

/** A command that ends the session: `/quit`, or `/logout` once the session is gone. */
export type CommandEnd = "quit" | "logout";

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
export async function runCommand(cmd: Command, ctx: CommandContext): Promise<CommandEnd | null> {
  const { view } = ctx;
  const { api } = view;
  switch (cmd.kind) {
    case "message":
      send(ctx, cmd.text);
      return null;
    case "error":
      view.say(`! ${cmd.message}`);
      return null;
    case "help":
      for (const [usage, what] of commandHelp) view.say(`  ${usage.padEnd(44)}${what}`);
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
      view.update(withOnline(view.state, online));
      view.say(`Online (${online.length}): ${online.map((u) => clean(u.username)).join(", ")}`);
      return null;
    }
    case "who": {
      const room = need(view);
      view.update(withMembers(view.state, room.id, await fetchMembers(view.call, room.id)));
      const members = [...view.state.members[room.id]].sort((a, b) =>
        Number(b.role === "owner") - Number(a.role === "owner") ||
        Number(b.online) - Number(a.online) || a.username.localeCompare(b.username)
      );
      const list = members.map((m) =>
        clean(m.username) + (m.role === "owner" ? " (owner)" : "") + (m.online ? " *" : "")
      );
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
      const room = await api.direct(cmd.user.replace(/^@/, "")).catch(naming("user", cmd.user));
      know(view, room);
      await view.enter(view.state.rooms[room.id]);
      if (cmd.text) send(ctx, cmd.text);
      return null;
    }
    case "invite": {
      const room = need(view);
      await api.invite(room.id, cmd.user).catch(naming("user", cmd.user));
      view.say(`* Added ${clean(cmd.user)} to ${roomLabel(room)}`);
      return null;
    }
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
    case "logout":
      return await logout(ctx);
    case "quit":
      return "quit";
  }
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

async function logout(ctx: CommandContext): Promise<CommandEnd> {
  const { view } = ctx;
  await ctx.outbox.drained();
  try {
    await view.api.logout();
    view.say("* Signed out.");
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

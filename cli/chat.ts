/**
 * The terminal client's conversation loop: runs the user's commands, shows
 * live events, and keeps what it has shown consistent across reconnects
 * (every message is shown once: the highest seq shown per room is kept, a
 * gap is filled from history, a repeat is dropped).
 *
 * @module
 */
import { type Command, commandHelp, parseCommand } from "../shared/commands.ts";
import { type Api, ApiFailure, sendWithRetry, Unreachable } from "./api.ts";
import { clean, formatMessage, formatNotice, formatRoomLine, roomLabel } from "./format.ts";
import type { Screen } from "./screen.ts";
import { EventStream, type StreamEvent, type StreamState } from "./stream.ts";
import type { Message, Room, User } from "../shared/api_types.ts";
import { MESSAGE_MAX } from "../shared/limits.ts";

/** Why the loop ended. */
export type ChatEnd = "quit" | "logout" | "eof" | "unauthorized";

/** What the loop needs. */
export interface ChatOptions {
  api: Api;
  screen: Screen;
  me: User;
  /** Called on `/logout` after the server ended the session, and when the token is refused. */
  forgetSession: () => Promise<void>;
  /** Backoff bounds of the event stream, in milliseconds. */
  backoff?: { min: number; max: number };
}

const RECENT = 10;

/**
 * One signed-in session in the terminal.
 *
 * @example
 * ```ts
 * const chat = new Chat({ api, screen, me, forgetSession });
 * await chat.start();
 * const end = await chat.run(); // "quit", "logout", "eof" or "unauthorized"
 * await chat.close();
 * ```
 */
export class Chat {
  #o: ChatOptions;
  #rooms = new Map<string, Room>();
  /** Per room, the highest seq shown (or counted as already seen). */
  #shown = new Map<string, number>();
  #current: string | null = null;
  #online = new Map<string, boolean>();
  #stream: EventStream;
  #events: Promise<void> = Promise.resolve();
  #sends: Promise<void> = Promise.resolve();
  #down = false;
  /** While the user's own /join, /create or /dm runs, its room event is no news. */
  #joining = 0;
  #ended: ((end: ChatEnd) => void) | null = null;
  #endedEarly: ChatEnd | null = null;
  #readTimers = new Map<string, ReturnType<typeof setTimeout>>();
  #ready: () => void = () => {};

  constructor(options: ChatOptions) {
    this.#o = options;
    this.#stream = new EventStream({
      server: options.api.server,
      token: options.api.token!,
      onEvent: (event) => {
        // Outside the queue: start() waits for the first event before the queue runs.
        if (event.event === "ready" || event.event === "reset") this.#ready();
        this.#queue(() => this.#onEvent(event));
      },
      onState: (state) => this.#onState(state),
      minBackoffMs: options.backoff?.min,
      maxBackoffMs: options.backoff?.max,
    });
  }

  /**
   * Opens the event stream, then shows the rooms with unread counts and who
   * is online. Events wait until the rooms are loaded, so none is missed.
   */
  async start(): Promise<void> {
    const { promise: loaded, resolve: markLoaded } = Promise.withResolvers<void>();
    const ready = new Promise<void>((resolve) => this.#ready = resolve);
    this.#events = loaded;
    this.#stream.start();
    // The first event fixes the position; what the rooms show is at or after it.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([ready, new Promise((resolve) => timer = setTimeout(resolve, 3_000))]);
    clearTimeout(timer);
    try {
      const [rooms, online] = await Promise.all([this.#o.api.rooms(), this.#o.api.users(true)]);
      for (const room of rooms) this.#know(room, room.lastSeq);
      for (const user of online) this.#online.set(user.username, true);
      const p = this.#o.screen.print.bind(this.#o.screen);
      p(`Signed in as ${this.#o.me.username} on ${this.#o.api.server}`);
      if (rooms.length) {
        p("Your rooms:");
        for (const room of rooms) p(formatRoomLine(room, false));
      } else p("You are in no rooms yet: /join <room>, /create <name> or /dm <user>.");
      p(`Online (${online.length}): ${online.map((u) => clean(u.username)).join(", ")}`);
      p("Type /help for commands.");
      // Events wait for `loaded` here anyway, so this need not queue (it would deadlock).
      if (rooms[0]) await this.#enter(rooms[0], false);
    } finally {
      markLoaded();
    }
  }

  /** Reads and runs the user's lines until they quit, log out or input ends. */
  run(): Promise<ChatEnd> {
    const ended = new Promise<ChatEnd>((resolve) => this.#ended = resolve);
    if (this.#endedEarly) this.#end(this.#endedEarly);
    (async () => {
      for (;;) {
        const line = await this.#o.screen.readLine();
        if (line === null) return this.#end("eof");
        if (!line.trim()) continue;
        const cmd = parseCommand(line);
        const joins = cmd.kind === "join" || cmd.kind === "create" || cmd.kind === "dm";
        if (joins) this.#joining++;
        const end = await this.#command(cmd).catch((e) => {
          this.#error(e);
          return null;
        }).finally(() => joins && this.#joining--);
        if (end) return this.#end(end);
      }
    })();
    return ended;
  }

  /** Waits for sends in flight, then closes the event stream. */
  async close(): Promise<void> {
    await this.#sends;
    // Read markers are worth a moment, not a hang when the server is gone.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#flushReads(),
      new Promise((resolve) => timer = setTimeout(resolve, 2_000)),
    ]);
    clearTimeout(timer);
    await this.#stream.close();
  }

  #end(end: ChatEnd): void {
    // The stream can end the session before run() is called.
    if (!this.#ended) this.#endedEarly ??= end;
    this.#ended?.(end);
    this.#ended = null;
  }

  /** Runs one command; returns how the loop ends, if it does. */
  async #command(cmd: Command): Promise<ChatEnd | null> {
    const { api } = this.#o;
    switch (cmd.kind) {
      case "message":
        this.#send(cmd.text);
        return null;
      case "error":
        this.#say(`! ${cmd.message}`);
        return null;
      case "help":
        for (const [usage, what] of commandHelp) this.#say(`  ${usage.padEnd(44)}${what}`);
        this.#say("  Anything else is sent to the current conversation.");
        return null;
      case "rooms":
        return await this.#listRooms();
      case "users": {
        const online = await api.users(true);
        this.#say(`Online (${online.length}): ${online.map((u) => clean(u.username)).join(", ")}`);
        return null;
      }
      case "who": {
        const room = this.#need();
        const members = (await api.members(room.id)).sort((a, b) =>
          Number(b.role === "owner") - Number(a.role === "owner") ||
          Number(b.online) - Number(a.online) || a.username.localeCompare(b.username)
        );
        const list = members.map((m) =>
          clean(m.username) + (m.role === "owner" ? " (owner)" : "") + (m.online ? " *" : "")
        );
        this.#say(`Members of ${roomLabel(room)} (* online): ${list.join(", ")}`);
        return null;
      }
      case "ping": {
        const started = performance.now();
        await api.health();
        this.#say(`pong: ${Math.round(performance.now() - started)} ms`);
        return null;
      }
      case "join":
        await this.#join(cmd.room);
        return null;
      case "create": {
        const room = await api.createRoom(cmd.name, cmd);
        this.#know(room, room.lastSeq);
        this.#say(`* Created ${roomLabel(room)}${room.private ? " (private)" : ""}, id ${room.id}`);
        await this.#enter(room);
        return null;
      }
      case "leave": {
        const room = this.#need();
        await api.leave(room.id);
        this.#forget(room.id);
        this.#say(`* Left ${roomLabel(room)}`);
        return null;
      }
      case "dm":
        await this.#dm(cmd.user, cmd.text);
        return null;
      case "invite": {
        const room = this.#need();
        await api.invite(room.id, cmd.user).catch(this.#naming("user", cmd.user));
        this.#say(`* Added ${clean(cmd.user)} to ${roomLabel(room)}`);
        return null;
      }
      case "switch": {
        const room = this.#find(cmd.room);
        if (!room) {
          this.#say(`! You are not in ${cmd.room}: try /join ${cmd.room} or /dm ${cmd.room}`);
        } else await this.#enter(room);
        return null;
      }
      case "history": {
        const room = this.#need();
        await this.#exclusive(() => this.#showRecent(room, cmd.count ?? 20, "Last"));
        return null;
      }
      case "logout":
        await this.#sends;
        try {
          await api.logout();
          this.#say("* Signed out.");
        } catch (error) {
          if (!(error instanceof ApiFailure && error.status === 401)) {
            this.#error(error);
            this.#say(
              "* The saved session was removed here; the server may keep it until it expires.",
            );
          }
        }
        await this.#o.forgetSession();
        return "logout";
      case "quit":
        return "quit";
    }
  }

  #send(text: string): void {
    const room = this.#current && this.#rooms.get(this.#current);
    if (!room) {
      this.#say("! No conversation yet: /join a room, /create one, or /dm someone.");
      return;
    }
    if (text.length > MESSAGE_MAX) {
      this.#say(`! Not sent: ${text.length} characters; a message holds at most ${MESSAGE_MAX}.`);
      return;
    }
    const clientId = crypto.randomUUID();
    // Sends go one after another, so they arrive in the order typed.
    this.#sends = this.#sends.then(async () => {
      let warned = false;
      try {
        await sendWithRetry(this.#o.api, room.id, text, {
          clientId,
          onRetry: () => {
            if (!warned) this.#say("* Not delivered yet; retrying…");
            warned = true;
          },
        });
      } catch (error) {
        this.#error(error, `Not sent to ${roomLabel(room)}: `);
      }
    });
  }

  async #join(ref: string): Promise<void> {
    const known = this.#find(ref);
    if (known) return await this.#enter(known);
    const name = ref.replace(/^#/, "");
    const listed = await this.#findPublic(name);
    let room: Room;
    try {
      room = await this.#o.api.join(listed?.id ?? name);
    } catch (error) {
      if (error instanceof ApiFailure && (error.status === 404 || error.status === 400)) {
        throw new Error(`No such room: ${ref}`);
      }
      throw error;
    }
    this.#know(room, room.lastSeq);
    this.#say(`* Joined ${roomLabel(room)}`);
    await this.#enter(room);
  }

  /** A public room by name (case-insensitive), paging through the directory. */
  async #findPublic(name: string) {
    const wanted = name.toLowerCase();
    let after: string | undefined;
    for (let page = 0; page < 20; page++) {
      const rooms = await this.#o.api.publicRooms(after);
      const hit = rooms.find((r) => r.name.toLowerCase() === wanted || r.id === name);
      if (hit || rooms.length < 100) return hit ?? null;
      after = rooms.at(-1)!.id;
    }
    return null;
  }

  async #dm(user: string, text?: string): Promise<void> {
    const room = await this.#o.api.direct(user.replace(/^@/, ""))
      .catch(this.#naming("user", user));
    if (!this.#rooms.has(room.id)) this.#know(room, room.lastSeq);
    await this.#enter(this.#rooms.get(room.id)!);
    if (text) this.#send(text);
  }

  /**
   * Makes `room` the current conversation and shows its latest messages. It
   * runs between events, so a message arriving meanwhile is neither shown
   * before the history that holds it nor shown twice.
   */
  async #enter(room: Room, queued = true): Promise<void> {
    await this.#flushReads();
    const enter = async () => {
      this.#current = room.id;
      this.#o.screen.setPrompt(`${roomLabel(room)}> `);
      this.#say(`* Now in ${roomLabel(room)}`);
      await this.#showRecent(room, RECENT, "Recent");
    };
    await (queued ? this.#exclusive(enter) : enter());
  }

  /** Runs `task` in the event queue, between two events; its failure is the caller's. */
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#events.then(task);
    this.#events = result.then(() => {}, () => {});
    return result;
  }

  async #showRecent(room: Room, count: number, title: string): Promise<void> {
    const { messages } = await this.#o.api.messages(room.id, { limit: count });
    if (messages.length) this.#say(`-- ${title} messages in ${roomLabel(room)} --`);
    for (const m of messages) this.#say(formatMessage(m));
    const last = messages.at(-1)?.seq ?? 0;
    if (last > (this.#shown.get(room.id) ?? 0)) this.#shown.set(room.id, last);
    room.unread = 0;
    this.#markRead(room.id);
  }

  async #listRooms(): Promise<null> {
    await this.#flushReads();
    const rooms = await this.#o.api.rooms();
    for (const room of rooms) {
      if (!this.#rooms.has(room.id)) this.#know(room, room.lastSeq);
      else Object.assign(this.#rooms.get(room.id)!, room);
    }
    if (!rooms.length) this.#say("You are in no rooms yet.");
    for (const room of rooms) this.#say(formatRoomLine(room, room.id === this.#current));
    return null;
  }

  // -- events ----------------------------------------------------------------

  #queue(task: () => Promise<void> | void): void {
    this.#events = this.#events.then(task).catch((e) => this.#error(e));
  }

  async #onEvent(event: StreamEvent): Promise<void> {
    switch (event.event) {
      case "reset":
        return await this.#resync();
      case "message":
        return await this.#onMessage(event.data as Message);
      case "room":
        return this.#onRoom(event.data.room as Room);
      case "member": {
        const { roomId, user, action } = event.data as {
          roomId: string;
          user: User;
          action: "joined" | "left";
        };
        if (user.id === this.#o.me.id) {
          if (action === "left" && this.#rooms.has(roomId)) this.#forget(roomId);
          return;
        }
        const room = this.#rooms.get(roomId);
        if (room?.kind === "group") {
          room.memberCount += action === "joined" ? 1 : -1;
          this.#say(`* ${clean(user.username)} ${action} ${roomLabel(room)}`);
        }
        return;
      }
      case "presence": {
        const { username, online } = event.data as { username: string; online: boolean };
        // Only a change is news; someone never seen online may still go offline.
        if (this.#online.get(username) === online || username === this.#o.me.username) return;
        this.#online.set(username, online);
        this.#say(`* ${clean(username)} is ${online ? "online" : "offline"}`);
        return;
      }
      case "read": {
        const room = this.#rooms.get(event.data.roomId);
        if (room && event.data.seq >= room.lastSeq) room.unread = 0;
        return;
      }
    }
  }

  async #onMessage(m: Message): Promise<void> {
    let room = this.#rooms.get(m.roomId);
    if (!room) {
      const fetched = await this.#o.api.room(m.roomId).catch(() => null);
      if (!fetched) return;
      room = this.#know(fetched, m.seq - 1);
    }
    const shown = this.#shown.get(room.id) ?? 0;
    if (m.seq <= shown) return; // already shown: a replay, or history got there first
    if (room.id === this.#current && m.seq > shown + 1) {
      // A gap: fetch what is missing, so nothing is lost even if an event was.
      const missing = m.seq - shown - 1;
      const { messages } = await this.#o.api.messages(room.id, {
        after: shown,
        limit: Math.min(missing, 100),
      });
      for (const earlier of messages) if (earlier.seq < m.seq) this.#show(room, earlier);
    }
    this.#show(room, m);
  }

  #show(room: Room, m: Message): void {
    if (m.seq <= (this.#shown.get(room.id) ?? 0)) return;
    this.#shown.set(room.id, m.seq);
    room.lastSeq = Math.max(room.lastSeq, m.seq);
    room.lastMessage = m;
    if (room.id === this.#current) {
      this.#say(formatMessage(m));
      this.#markRead(room.id);
    } else {
      if (m.author.id !== this.#o.me.id) room.unread++;
      this.#say(formatNotice(room, m, this.#width()));
    }
  }

  #onRoom(room: Room): void {
    const known = this.#rooms.get(room.id);
    if (known) {
      const { unread: _, lastSeq: __, ...rest } = room;
      Object.assign(known, rest);
      return;
    }
    // What is unread was not shown: leave it to arrive as messages, or to /switch.
    this.#know(room, Math.max(0, room.lastSeq - room.unread));
    if (this.#joining) return;
    if (room.kind === "direct") {
      this.#say(`* ${clean(room.name)} opened a direct conversation: /switch @${clean(room.name)}`);
    } else this.#say(`* You are now in ${roomLabel(room)}: /switch ${roomLabel(room)}`);
  }

  /** After a `reset`: reload rooms and show what was missed. */
  async #resync(): Promise<void> {
    const rooms = await this.#o.api.rooms();
    for (const room of rooms) {
      const known = this.#rooms.get(room.id);
      if (!known) {
        this.#onRoom(room);
        continue;
      }
      const shown = this.#shown.get(room.id) ?? 0;
      if (room.lastSeq <= shown) continue;
      if (room.id === this.#current) {
        const { messages } = await this.#o.api.messages(room.id, { after: shown, limit: 100 });
        for (const m of messages) this.#show(known, m);
      } else {
        this.#say(`» ${roomLabel(known)} · ${room.lastSeq - shown} new messages`);
        known.unread += room.lastSeq - shown;
        this.#shown.set(room.id, room.lastSeq);
      }
    }
  }

  #onState(state: StreamState): void {
    if (state.state === "open" && this.#down) {
      this.#down = false;
      this.#say("* Reconnected.");
    } else if (state.state === "down" && !this.#down) {
      this.#down = true;
      this.#say(`* Connection lost (${state.reason}); reconnecting…`);
    } else if (state.state === "unauthorized") {
      this.#say("! The server ended this session; sign in again.");
      this.#o.forgetSession().finally(() => this.#end("unauthorized"));
    }
  }

  // -- helpers ---------------------------------------------------------------

  #know(room: Room, shown: number): Room {
    this.#rooms.set(room.id, room);
    this.#shown.set(room.id, Math.max(shown, this.#shown.get(room.id) ?? 0));
    return room;
  }

  #forget(roomId: string): void {
    this.#rooms.delete(roomId);
    this.#shown.delete(roomId);
    if (this.#current !== roomId) return;
    this.#current = null;
    this.#o.screen.setPrompt("> ");
  }

  /** The room `ref` names among the user's: an id, `#name`, `@user` or a bare name. */
  #find(ref: string): Room | null {
    const rooms = [...this.#rooms.values()];
    const byId = this.#rooms.get(ref);
    if (byId) return byId;
    const lower = ref.toLowerCase();
    const kind = lower.startsWith("@") ? "direct" : lower.startsWith("#") ? "group" : null;
    const name = kind ? lower.slice(1) : lower;
    return rooms.find((r) => r.name.toLowerCase() === name && (!kind || r.kind === kind)) ??
      null;
  }

  #need(): Room {
    const room = this.#current && this.#rooms.get(this.#current);
    if (!room) throw new Error("No current conversation: /switch to one first.");
    return room;
  }

  /** Turns a 404 about `what` into "No such user: bob". */
  #naming(what: string, name: string) {
    return (error: unknown): never => {
      if (error instanceof ApiFailure && error.status === 404) {
        throw new Error(`No such ${what}: ${name}`);
      }
      throw error;
    };
  }

  #markRead(roomId: string): void {
    // Debounced per room: a burst of messages moves the marker once.
    clearTimeout(this.#readTimers.get(roomId));
    this.#readTimers.set(roomId, setTimeout(() => this.#sendRead(roomId), 300));
  }

  /** Sends the read markers still waiting, so the server's unread counts are current. */
  async #flushReads(): Promise<void> {
    const waiting = [...this.#readTimers.keys()];
    await Promise.all(waiting.map((roomId) => this.#sendRead(roomId)));
  }

  async #sendRead(roomId: string): Promise<void> {
    clearTimeout(this.#readTimers.get(roomId));
    this.#readTimers.delete(roomId);
    const seq = this.#shown.get(roomId);
    if (seq) await this.#o.api.markRead(roomId, seq).catch(() => {});
  }

  #say(text: string): void {
    this.#o.screen.print(text);
  }

  #error(error: unknown, prefix = ""): void {
    this.#say(`! ${prefix}${describe(error)}`);
  }

  #width(): number {
    try {
      return Deno.stdout.isTerminal() ? Deno.consoleSize().columns : 120;
    } catch {
      return 120;
    }
  }
}

/** A one-line description of an error, never a stack trace. */
export function describe(error: unknown): string {
  if (error instanceof ApiFailure || error instanceof Unreachable) return error.message;
  if (error instanceof Error) return error.message.split("\n")[0];
  return String(error);
}

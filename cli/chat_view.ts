/**
 * What the terminal shows and the state it renders from. The state is the
 * shared client core's `ClientState`, moved only by `applyEvent` and the
 * core's `with*` helpers; this module adds the terminal's own part: the
 * current conversation, and printing each message once.
 *
 * A room's `lastSeq` doubles as "shown up to here": a message is news when
 * its seq is past it, and printing a message moves it (see {@linkcode ChatView.show}).
 *
 * @module
 */
import type { Message, Room, SessionInfo, User } from "../shared/api_types.ts";
import type { ApiCall } from "../shared/client_actions.ts";
import { fetchHistory } from "../shared/client_actions.ts";
import { applyEvent, type ClientState, emptyState, withRoom } from "../shared/client_state.ts";
import type { ParleyEvent } from "../shared/events.ts";
import type { Api } from "./api.ts";
import {
  describe,
  formatMessage,
  formatNotice,
  mentionsMe,
  type MessageStyle,
  roomLabel,
} from "./format.ts";
import { ReadMarkers } from "./read_markers.ts";
import type { Screen } from "./screen.ts";

/** How many messages entering a conversation shows. */
const RECENT = 10;

/**
 * One signed-in terminal: its state, its current conversation, its screen.
 *
 * @example
 * ```ts
 * const view = new ChatView(api, screen, me);
 * view.update(await fetchState(api.call, me));
 * await view.enter(view.state.rooms[id]);
 * ```
 */
export class ChatView {
  /** The client for this session. */
  readonly api: Api;
  /** The same client as the shared actions take it. */
  readonly call: ApiCall;
  /** Where lines go. */
  readonly screen: Screen;
  /** The signed-in user. */
  readonly me: User;
  /** Everything the client knows; replace it only through {@linkcode update} or {@linkcode apply}. */
  state: ClientState;
  /** While the user's own /join, /create or /dm runs, its `room` event is no news. */
  joining = 0;
  /** The sessions as `/sessions` last numbered them, for `/sessions end <n>`. */
  listedSessions: SessionInfo[] | null = null;
  /**
   * Changes to messages told already (`roomId/seq/editedAt`,
   * `roomId/seq/deleted`, or the user's own reaction
   * `reaction/roomId/seq/emoji/added`): a command's answer and its event say
   * one once.
   */
  readonly toldUpdates = new Set<string>();
  /** How messages show: mentions of the user marked, colour or not. */
  readonly style: MessageStyle;
  #current: string | null = null;
  /** The messages printed in this session, as `roomId/seq`. */
  #shown = new Set<string>();
  #events: Promise<void> = Promise.resolve();
  #reads: ReadMarkers;

  /** @param options.color whether the terminal takes colour (default: none). */
  constructor(api: Api, screen: Screen, me: User, options: { color?: boolean } = {}) {
    this.api = api;
    this.call = api.call;
    this.screen = screen;
    this.me = me;
    this.style = { me, color: options.color ?? false };
    this.state = emptyState(me);
    this.#reads = new ReadMarkers(
      (roomId, seq) => api.markRead(roomId, seq),
      (roomId) => this.state.rooms[roomId]?.lastSeq,
    );
  }

  /** The id of the conversation lines are sent to, if any. */
  get current(): string | null {
    return this.#current;
  }

  /** The current conversation's room, if any. */
  currentRoom(): Room | undefined {
    return this.#current ? this.state.rooms[this.#current] : undefined;
  }

  /**
   * Replaces the state. The current conversation has nothing unread (and no
   * unread mention), since the screen shows all of it; when it is gone
   * (left, here or elsewhere), there is no current conversation any more.
   */
  update(next: ClientState): void {
    const current = this.#current ? next.rooms[this.#current] : undefined;
    if (this.#current && !current) this.#setCurrent(null);
    this.state = current?.unread || current?.mentions
      ? withRoom(next, { ...current, unread: 0, mentions: 0 })
      : next;
  }

  /** Moves the state along with one event; returns the state before it. */
  apply(event: ParleyEvent): ClientState {
    const before = this.state;
    let next = applyEvent(before, event, Date.now());
    if (event.type === "room") {
      const { room } = event.data;
      next = withRoom(next, placeRoom(before.rooms[room.id], room));
    }
    this.update(next);
    return before;
  }

  /**
   * Prints a message unless it was shown already, and moves the state as the
   * message's event does, so that event, when it comes, finds it shown. In
   * the current conversation it is printed in full and marked read;
   * elsewhere it is a one-line notice.
   *
   * @returns whether it was shown and calls for the user (see
   * {@linkcode calls}): the caller rings the bell, once for all it showed.
   */
  show(m: Message): boolean {
    const room = this.state.rooms[m.roomId];
    if (!room || m.seq <= room.lastSeq) return false;
    this.apply({ type: "message", id: null, data: m });
    this.#shown.add(`${m.roomId}/${m.seq}`);
    if (m.roomId === this.#current) {
      this.say(formatMessage(m, this.style));
      this.#reads.mark(m.roomId);
    } else {
      this.say(formatNotice(this.state.rooms[m.roomId] ?? room, m, width(), this.style));
    }
    return this.calls(m);
  }

  /**
   * Whether a new message calls for the user's attention: a direct message
   * or a mention of them, from someone else they do not block, in a room
   * they did not mute.
   */
  calls(m: Message): boolean {
    const room = this.state.rooms[m.roomId];
    if (!room || room.muted || m.deleted) return false;
    if (m.author.id === this.me.id || this.state.blocked[m.author.id]) return false;
    return room.kind === "direct" || mentionsMe(m, this.me);
  }

  /** Rings the terminal bell. */
  bell(): void {
    this.screen.bell();
  }

  /** Whether the message `seq` of a room was printed in this session, in full or as a notice. */
  wasShown(roomId: string, seq: number): boolean {
    return this.#shown.has(`${roomId}/${seq}`);
  }

  /**
   * Prints the last `count` messages of the current conversation under a
   * title, fetched in pages (the server gives at most 100 a page), and marks
   * them read.
   */
  async showHistory(room: Room, count: number, title: string): Promise<void> {
    const { messages } = await fetchHistory(this.call, room.id, count);
    if (messages.length) this.say(`-- ${title} messages in ${roomLabel(room)} --`);
    for (const m of messages) {
      this.say(formatMessage(m, this.style));
      this.#shown.add(`${m.roomId}/${m.seq}`);
    }
    // What was printed is shown: its events, if still on the way, must not print it again.
    for (const m of messages) {
      const known = this.state.rooms[m.roomId];
      if (known && m.seq > known.lastSeq) this.apply({ type: "message", id: null, data: m });
    }
    this.#reads.mark(room.id);
  }

  /**
   * Makes `room` the current conversation and shows its latest messages. It
   * runs between events, so a message arriving meanwhile is neither shown
   * before the history that holds it nor shown twice.
   *
   * @param queued `false` only while events are held anyway (during start).
   */
  async enter(room: Room, queued = true): Promise<void> {
    await this.#reads.flush();
    const enter = async () => {
      this.#setCurrent(room);
      this.update(this.state); // entered, it has nothing unread

      this.say(`* Now in ${roomLabel(room)}`);
      await this.showHistory(room, RECENT, "Recent");
    };
    await (queued ? this.exclusive(enter) : enter());
  }

  /** Runs `task` after the events queued so far; a failure is printed, never thrown. */
  queue(task: () => Promise<void> | void): void {
    this.#events = this.#events.then(task).catch((e) => this.error(e));
  }

  /** Runs `task` in the event queue, between two events; its failure is the caller's. */
  exclusive<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#events.then(task);
    this.#events = result.then(() => {}, () => {});
    return result;
  }

  /** Holds every event queued from now on until `until` settles (the start-up fetch). */
  holdEventsUntil(until: Promise<void>): void {
    this.#events = until;
  }

  /** Sends the read markers still waiting. */
  flushReads(): Promise<void> {
    return this.#reads.flush();
  }

  /** Prints a line. */
  say(text: string): void {
    this.screen.print(text);
  }

  /** Prints an error as one line. */
  error(error: unknown, prefix = ""): void {
    this.say(`! ${prefix}${describe(error)}`);
  }

  #setCurrent(room: Room | null): void {
    this.#current = room?.id ?? null;
    this.screen.setPrompt(room ? `${roomLabel(room)}> ` : "> ");
  }
}

/**
 * Where a room from a `room` event stands. The event shows the room as it
 * was when delivered, so its `lastSeq` may count messages whose own events
 * are still on the way, and those must print. A room the client knew keeps
 * the position its messages reached; a room new to it starts at the user's
 * read marker, so what is unread arrives as messages.
 */
function placeRoom(known: Room | undefined, delivered: Room): Room {
  if (known) {
    const { lastSeq, lastMessage, lastActivityAt, unread, mentions } = known;
    return { ...delivered, lastSeq, lastMessage, lastActivityAt, unread, mentions };
  }
  return { ...delivered, lastSeq: delivered.lastSeq - delivered.unread, unread: 0, mentions: 0 };
}

/** How wide a one-line notice may be: the terminal's width, or 120 on a pipe. */
export function width(): number {
  try {
    return Deno.stdout.isTerminal() ? Deno.consoleSize().columns : 120;
  } catch {
    return 120;
  }
}

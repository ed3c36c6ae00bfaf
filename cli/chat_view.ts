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
import type { Encryption, RevealedMessage } from "./encryption.ts";
import {
  describe,
  formatMessage,
  formatNotice,
  lockOf,
  mentionsMe,
  type MessageStyle,
  roomLabel,
} from "./format.ts";
import { ReadMarkers } from "./read_markers.ts";
import type { Screen } from "./screen.ts";

/** How many messages entering a conversation shows. */
const RECENT = 10;
/** How soon a message not decrypted for want of the server is tried again (as the web app does). */
const DECRYPT_RETRY_MS = 3_000;

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
  /** This device's end-to-end encryption; `null` when it has none (its keys could not be made). */
  readonly encryption: Encryption | null;
  #current: string | null = null;
  /** The prompt as last set, so a change to the room (its lock) redraws it. */
  #prompt = "> ";
  /** The messages printed in this session, as `roomId/seq`. */
  #shown = new Set<string>();
  #events: Promise<void> = Promise.resolve();
  #reads: ReadMarkers;
  /** The timer of the next {@linkcode retryPending}, while messages wait to be decrypted. */
  #retry: ReturnType<typeof setTimeout> | null = null;
  #retryStopped = false;

  /**
   * @param options.color whether the terminal takes colour (default: none).
   * @param options.encryption this device's end-to-end encryption, to read encrypted conversations.
   */
  constructor(
    api: Api,
    screen: Screen,
    me: User,
    options: { color?: boolean; encryption?: Encryption | null } = {},
  ) {
    this.api = api;
    this.call = api.call;
    this.screen = screen;
    this.me = me;
    this.style = { me, color: options.color ?? false };
    this.encryption = options.encryption ?? null;
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
    // Encryption switched on or off shows in the prompt at once.
    if (current && this.#promptOf(current) !== this.#prompt) this.#setCurrent(current);
  }

  /**
   * A message as the screen shows it: an envelope decrypted (or marked
   * "could not decrypt"), anything else as it is.
   */
  async reveal(m: Message): Promise<RevealedMessage> {
    if (!this.encryption) {
      return m.envelope && !m.deleted ? { ...m, text: "", undecryptable: true } : m;
    }
    const shown = await this.encryption.reveal(m);
    if (shown.pending) this.#retrySoon();
    return shown;
  }

  /**
   * Decrypts again what could not be for want of the server, and prints what
   * now can be (or, for good, cannot): the screen cannot rewrite the line it
   * printed before.
   */
  async retryPending(): Promise<void> {
    const settled = await this.encryption?.retryPending() ?? [];
    if (settled.length) this.say("-- Decrypted now that the server answers --");
    for (const m of settled) {
      const room = this.state.rooms[m.roomId];
      if (!room) continue;
      this.say(
        m.roomId === this.#current
          ? formatMessage(m, this.style)
          : formatNotice(room, m, width(), this.style),
      );
    }
    if (this.encryption?.waiting) this.#retrySoon();
  }

  /** No more retries of {@linkcode retryPending} (the client is closing). */
  stopRetrying(): void {
    this.#retryStopped = true;
    if (this.#retry !== null) clearTimeout(this.#retry);
    this.#retry = null;
  }

  #retrySoon(): void {
    if (this.#retry !== null || this.#retryStopped) return;
    const timer = setTimeout(() => {
      this.#retry = null;
      this.queue(() => this.retryPending());
    }, DECRYPT_RETRY_MS);
    // A retry alone must not keep the client running.
    Deno.unrefTimer(timer);
    this.#retry = timer;
  }

  /** {@linkcode reveal} for each, in order. */
  revealAll(messages: Message[]): Promise<RevealedMessage[]> {
    return Promise.all(messages.map((m) => this.reveal(m)));
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
    if (m.notice) {
      // The switch itself, in order with the messages around it.
      const known = this.state.rooms[m.roomId];
      this.update(withRoom(this.state, { ...known, encrypted: m.notice === "encryption_on" }));
    }
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
    if (!room || room.muted || m.deleted || m.notice) return false;
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
    const messages = await this.revealAll((await fetchHistory(this.call, room.id, count)).messages);
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

      this.say(`* Now in ${roomLabel(room)}${lockOf(room)}`);
      await this.showHistory(room, RECENT, "Recent");
      const shown = this.state.rooms[room.id] ?? room;
      if (shown.encrypted && this.encryption) {
        const lines = await this.encryption.entered(shown).catch((e) => [
          `! Could not read the devices of ${roomLabel(shown)}: ${describe(e)}`,
        ]);
        for (const line of lines) this.say(line);
      }
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
    this.#prompt = room ? this.#promptOf(room) : "> ";
    this.screen.setPrompt(this.#prompt);
  }

  #promptOf(room: Room): string {
    return `${roomLabel(room)}${lockOf(room)}> `;
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

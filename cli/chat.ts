/**
 * The terminal client's conversation loop: it opens the event stream, reads
 * the user's lines and runs them as commands, until they quit, sign out or
 * input ends. What a command does is in `command_runner.ts`; what the
 * screen shows for an event, in `event_printer.ts`; the state both move, in
 * `chat_view.ts`.
 *
 * @module
 */
import type { User, UserPresence } from "../shared/api_types.ts";
import { fetchState } from "../shared/client_actions.ts";
import { sortedRooms, withOnline } from "../shared/client_state.ts";
import type { Api } from "./api.ts";
import { ChatView } from "./chat_view.ts";
import { type CommandEnd, parseLine, runCommand } from "./command_runner.ts";
import type { Encryption } from "./encryption.ts";
import { composer } from "./encryption_commands.ts";
import { printEvent, sayInvitation } from "./event_printer.ts";
import { clean, formatRoomLine, waitText } from "./format.ts";
import { Outbox } from "./outbox.ts";
import type { Screen } from "./screen.ts";
import { EventStream, type StreamState, toParleyEvent } from "./stream.ts";

/** Why the loop ended. */
export type ChatEnd = CommandEnd | "eof" | "unauthorized";

/** What the loop needs. */
export interface ChatOptions {
  api: Api;
  screen: Screen;
  me: User;
  /** Called on `/logout` after the server ended the session, and when the token is refused. */
  forgetSession: () => Promise<void>;
  /** Backoff bounds of the event stream, in milliseconds. */
  backoff?: { min: number; max: number };
  /** Whether the terminal takes colour: mentions of the user highlighted, seqs dimmed. */
  color?: boolean;
  /** This device's end-to-end encryption; without it encrypted conversations cannot be read. */
  encryption?: Encryption | null;
}

/** How long start waits for the stream's first event before loading anyway. */
const FIRST_EVENT_WAIT_MS = 3_000;
/** How long closing waits for read markers: worth a moment, not a hang when the server is gone. */
const CLOSE_READS_WAIT_MS = 2_000;

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
  #view: ChatView;
  #outbox: Outbox;
  #stream: EventStream;
  #down = false;
  #ended: ((end: ChatEnd) => void) | null = null;
  #endedEarly: ChatEnd | null = null;
  #ready: () => void = () => {};

  constructor(options: ChatOptions) {
    this.#o = options;
    const view = this.#view = new ChatView(options.api, options.screen, options.me, {
      color: options.color,
      encryption: options.encryption,
    });
    this.#outbox = new Outbox(options.api, (text) => view.say(text), composer(view));
    this.#stream = new EventStream({
      server: options.api.server,
      token: options.api.token!,
      onEvent: (streamed) => {
        const event = toParleyEvent(streamed);
        if (!event) return;
        // Outside the queue: start() waits for the first event before the queue runs.
        if (event.type === "ready" || event.type === "reset") this.#ready();
        view.queue(() => printEvent(view, event));
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
    const view = this.#view;
    const { promise: loaded, resolve: markLoaded } = Promise.withResolvers<void>();
    const ready = new Promise<void>((resolve) => this.#ready = resolve);
    view.holdEventsUntil(loaded);
    this.#stream.start();
    const warnings = await this.#publishDevice();
    // The first event fixes the position; what the rooms show is at or after it.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      ready,
      new Promise((resolve) => timer = setTimeout(resolve, FIRST_EVENT_WAIT_MS)),
    ]);
    clearTimeout(timer);
    try {
      const { api, me } = this.#o;
      const [state, online] = await Promise.all([fetchState(view.call, me), api.users(true)]);
      view.update(withOnline(state, online));
      this.#welcome(online);
      for (const warning of warnings) view.say(warning);
      // Events wait for `loaded` here anyway, so this need not queue (it would deadlock).
      const first = sortedRooms(view.state)[0];
      if (first) await view.enter(first, false);
    } finally {
      markLoaded();
    }
  }

  /** Reads and runs the user's lines until they quit, log out or input ends. */
  run(): Promise<ChatEnd> {
    const ended = new Promise<ChatEnd>((resolve) => this.#ended = resolve);
    if (this.#endedEarly) this.#end(this.#endedEarly);
    (async () => {
      const view = this.#view;
      const context = { view, outbox: this.#outbox, forgetSession: this.#o.forgetSession };
      for (;;) {
        const line = await this.#o.screen.readLine();
        if (line === null) return this.#end("eof");
        if (!line.trim()) continue;
        const cmd = parseLine(line);
        const joins = cmd.kind === "join" || cmd.kind === "create" || cmd.kind === "dm" ||
          cmd.kind === "accept";
        if (joins) view.joining++;
        const end = await runCommand(cmd, context).catch((e) => {
          view.error(e);
          return null;
        }).finally(() => joins && view.joining--);
        if (end) return this.#end(end);
      }
    })();
    return ended;
  }

  /**
   * Waits for sends in flight (one waiting for `/ok` is dropped, and said
   * so), then closes the event stream.
   */
  async close(): Promise<void> {
    this.#view.stopRetrying();
    await this.#outbox.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#view.flushReads(),
      new Promise((resolve) => timer = setTimeout(resolve, CLOSE_READS_WAIT_MS)),
    ]);
    clearTimeout(timer);
    await this.#stream.close();
  }

  /**
   * Publishes this device's keys, so encrypted messages are wrapped for it;
   * a failure is said, and only encrypted conversations miss it.
   *
   * @returns the warning to show when the user's own devices changed while away.
   */
  async #publishDevice(): Promise<string[]> {
    try {
      return await this.#o.encryption?.publish() ?? [];
    } catch (error) {
      this.#view.error(error, "End-to-end encryption is off on this device: ");
      return [];
    }
  }

  #welcome(online: UserPresence[]): void {
    const { api, me } = this.#o;
    const view = this.#view;
    const rooms = sortedRooms(view.state);
    view.say(`Signed in as ${me.username} on ${api.server}`);
    if (rooms.length) {
      view.say("Your rooms:");
      for (const room of rooms) view.say(formatRoomLine(room, false));
    } else view.say("You are in no rooms yet: /join <room>, /create <name> or /dm <user>.");
    view.say(`Online (${online.length}): ${online.map((u) => clean(u.username)).join(", ")}`);
    const invitations = Object.values(view.state.invitations)
      .sort((a, b) => b.createdAt - a.createdAt);
    for (const invitation of invitations) sayInvitation(view, invitation);
    view.say("Type /help for commands.");
  }

  #end(end: ChatEnd): void {
    // The stream can end the session before run() is called.
    if (!this.#ended) this.#endedEarly ??= end;
    this.#ended?.(end);
    this.#ended = null;
  }

  #onState(state: StreamState): void {
    const view = this.#view;
    if (state.state === "open" && this.#down) {
      this.#down = false;
      view.say("* Reconnected.");
      // What could not be decrypted for want of the server can be now.
      view.queue(() => view.retryPending());
    } else if (state.state === "down" && !this.#down) {
      this.#down = true;
      // A wait the server asked for (a rate limit) is worth saying; a short backoff is not.
      const when = state.retryInMs >= 2_000 ? ` in ${waitText(state.retryInMs / 1000)}` : "";
      view.say(`* Connection lost (${state.reason}); reconnecting${when}…`);
    } else if (state.state === "unauthorized") {
      view.say("! The server ended this session; sign in again.");
      this.#o.forgetSession().finally(() => this.#end("unauthorized"));
    }
  }
}

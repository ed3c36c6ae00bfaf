/**
 * The terminal client's outgoing messages: sent one after another, so they
 * arrive in the order typed, and retried with the same client id, so a
 * retry never duplicates one. A rate limit is said in one line: a short
 * wait is waited out and the message goes then; a long one refuses the
 * message, and those typed before it is over, without asking the server.
 * In an end-to-end encrypted conversation a message is encrypted once,
 * before its first attempt, and every retry sends that same envelope; one
 * typed encrypted never goes out in plaintext. A message the composer holds
 * (a device change to accept) waits for the user's `/ok`, and every message
 * typed after it waits behind it.
 *
 * @module
 */
import type { Room } from "../shared/api_types.ts";
import type { FileKey, Payload } from "../shared/e2e.ts";
import { MESSAGE_MAX } from "../shared/limits.ts";
import { type Api, ApiFailure, type MessageBody, retryAfterMs, sendWithRetry } from "./api.ts";
import { describe, roomLabel, waitText } from "./format.ts";

/** The longest rate-limit wait a message sits out before going; longer, it is refused. */
export const RATE_LIMIT_WAIT_MAX_MS = 10_000;

/**
 * Turns what the user typed into what is posted, once, just before the
 * first attempt: its text, or in an encrypted conversation an envelope
 * (every retry then sends that same envelope). It throws to refuse the
 * message, with why, or {@linkcode Held} to have it wait for `/ok`.
 */
export type Composer = (room: Room, payload: Payload, o: ComposeOptions) => Promise<MessageBody>;

/** What a {@linkcode Composer} is told besides the message. */
export interface ComposeOptions {
  /** Read the room again first: the server said its encryption is not what the client thought. */
  fresh: boolean;
  /**
   * Whether the conversation was encrypted when the user typed the message:
   * if it no longer is, the message must not go out in plaintext unasked.
   */
  typedEncrypted: boolean;
}

/**
 * What a {@linkcode Composer} throws to hold a message until the user types
 * `/ok`; the message says why, and `confirm` runs before it is composed again.
 */
export class Held extends Error {
  /** Accepts what held the message (the user typed `/ok`). */
  readonly confirm: () => Promise<void>;

  constructor(message: string, confirm: () => Promise<void>) {
    super(message);
    this.name = "Held";
    this.confirm = confirm;
  }
}

/** What goes with a message's text. */
export interface SendOptions {
  /** Ids of files uploaded for it. */
  attachments?: string[];
  /** The seq of the message in the room it answers. */
  replyTo?: number;
  /** The keys of its encrypted files, for the encrypted payload. */
  files?: FileKey[];
}

/** The server refused the body for the room's encryption: plaintext to an encrypted one, or back. */
const ENCRYPTION_MISMATCH = new Set(["encryption_required", "not_encrypted"]);

/**
 * The queue of messages typed and not yet stored.
 *
 * @example
 * ```ts
 * const outbox = new Outbox(api, (line) => screen.print(line));
 * outbox.send(room, "hello");
 * await outbox.drained(); // before signing out or closing
 * ```
 */
export class Outbox {
  #api: Api;
  #say: (text: string) => void;
  #compose: Composer;
  #sends: Promise<void> = Promise.resolve();
  /** Until when (ms) the server said it refuses messages. */
  #limitedUntil = 0;
  /** The message waiting for `/ok`: its room, and how to let it go (or drop it). */
  #held: { room: Room; release: (go: boolean) => void } | null = null;
  /** Settles when a message starts waiting for `/ok` (then a new one is made). */
  #holding = Promise.withResolvers<void>();
  /** Closing: nothing waits for `/ok` any more. */
  #closed = false;

  /**
   * @param say prints a line (the retry notice, a failure).
   * @param compose makes what is posted; by default the text itself.
   */
  constructor(api: Api, say: (text: string) => void, compose?: Composer) {
    this.#api = api;
    this.#say = say;
    this.#compose = compose ?? ((_, payload) => Promise.resolve({ text: payload.text }));
  }

  /**
   * Queues `text` for `room` (as the client state has it now: whether it is
   * encrypted is kept with the message), with the files uploaded for it
   * (their ids) and the seq of the message it answers; refuses at once what
   * the server would refuse for its length.
   */
  send(room: Room, text: string, options: SendOptions = {}): void {
    if (text.length > MESSAGE_MAX) {
      this.#say(`! Not sent: ${text.length} characters; a message holds at most ${MESSAGE_MAX}.`);
      return;
    }
    if (this.#held) {
      this.#say(
        `* Waits behind your message to ${roomLabel(this.#held.room)}: /ok sends them in order.`,
      );
    }
    const typedEncrypted = room.encrypted === true;
    this.#sends = this.#sends.then(() => this.#deliver(room, text, typedEncrypted, options));
  }

  /**
   * The user typed `/ok`: the message waiting for it goes, then those behind it.
   *
   * @returns whether a message was waiting.
   */
  confirm(): boolean {
    const held = this.#held;
    this.#held = null;
    held?.release(true);
    return held !== null;
  }

  /** The room of the message waiting for `/ok`, if one is. */
  get heldFor(): Room | null {
    return this.#held?.room ?? null;
  }

  async #deliver(room: Room, text: string, typedEncrypted: boolean, options: SendOptions) {
    const notSent = (why: string) => this.#say(`! Not sent to ${roomLabel(room)}: ${why}`);
    const tooMany = (ms: number) => `too many messages; try again in ${waitText(ms / 1000)}.`;
    if (Date.now() < this.#limitedUntil) {
      // Asking before the time the server gave would only be refused again.
      return notSent(tooMany(this.#limitedUntil - Date.now()));
    }
    const payload: Payload = options.files?.length
      ? { v: 1, text, files: options.files }
      : { v: 1, text };
    for (let fresh = false;;) {
      let body: MessageBody;
      try {
        body = await this.#compose(room, payload, { fresh, typedEncrypted });
      } catch (error) {
        if (!(error instanceof Held)) return notSent(describe(error));
        try {
          if (await this.#hold(room, error)) continue;
        } catch (failed) {
          return notSent(describe(failed));
        }
        return notSent("it was waiting for /ok when the client closed.");
      }
      const refused = await this.#post(room, body, options, notSent, tooMany);
      if (!refused) return;
      // The room's encryption changed under the message: once more, composed for it as it is.
      if (fresh) return notSent(describe(refused));
      fresh = true;
    }
  }

  /**
   * Keeps a message until the user types `/ok` (true: what held it is
   * accepted) or the client closes (false).
   */
  async #hold(room: Room, held: Held): Promise<boolean> {
    if (this.#closed) return false;
    this.#say(`* Not sent yet to ${roomLabel(room)}: ${held.message}`);
    const { promise, resolve } = Promise.withResolvers<boolean>();
    this.#held = { room, release: resolve };
    this.#holding.resolve();
    this.#holding = Promise.withResolvers<void>();
    if (!await promise) return false;
    await held.confirm();
    return true;
  }

  /**
   * Posts one message with retries; says why when it gives up. A refusal for
   * the room's encryption is returned instead, for the caller to decide.
   */
  async #post(
    room: Room,
    body: MessageBody,
    { attachments = [], replyTo }: SendOptions,
    notSent: (why: string) => void,
    tooMany: (ms: number) => string,
  ): Promise<ApiFailure | null> {
    let warned = false;
    try {
      await sendWithRetry(this.#api, room.id, body, {
        // Chosen before the first attempt, so every retry is recognised as the same message.
        clientId: crypto.randomUUID(),
        attachments,
        replyTo,
        rateLimitWaitMaxMs: RATE_LIMIT_WAIT_MAX_MS,
        onRetry: (_, { error, waitMs }) => {
          if (warned) return;
          warned = true;
          if (error instanceof ApiFailure && error.rateLimited) {
            this.#say(`! Too many messages; sending this one in ${waitText(waitMs / 1000)}…`);
          } else this.#say("* Not delivered yet; retrying…");
        },
      });
    } catch (error) {
      if (error instanceof ApiFailure && ENCRYPTION_MISMATCH.has(error.code)) return error;
      if (error instanceof ApiFailure && error.rateLimited) {
        this.#limitedUntil = Date.now() + retryAfterMs(error);
        notSent(tooMany(retryAfterMs(error)));
      } else notSent(describe(error));
    }
    return null;
  }

  /**
   * Resolves when every message queued so far was stored or given up on, or
   * one waits for `/ok` (those behind it wait with it).
   */
  drained(): Promise<void> {
    if (this.#held) return Promise.resolve();
    return Promise.race([this.#sends, this.#holding.promise]);
  }

  /**
   * Before the client ends: a message waiting for `/ok` is dropped (and said
   * so), as is any that would wait; the rest are sent.
   */
  async close(): Promise<void> {
    this.#closed = true;
    const held = this.#held;
    this.#held = null;
    held?.release(false);
    await this.#sends;
  }
}

/**
 * The terminal client's outgoing messages: sent one after another, so they
 * arrive in the order typed, and retried with the same client id, so a
 * retry never duplicates one. A rate limit is said in one line: a short
 * wait is waited out and the message goes then; a long one refuses the
 * message, and those typed before it is over, without asking the server.
 * In an end-to-end encrypted conversation a message is encrypted once,
 * before its first attempt, and every retry sends that same envelope.
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
 * (every retry then sends that same envelope). `fresh` asks it to read the
 * room again first: the server said its encryption is not what the client
 * thought. It throws to refuse the message, with why.
 */
export type Composer = (room: Room, payload: Payload, fresh: boolean) => Promise<MessageBody>;

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
   * Queues `text` for `room`, with the files uploaded for it (their ids) and
   * the seq of the message it answers; refuses at once what the server would
   * refuse for its length.
   */
  send(room: Room, text: string, options: SendOptions = {}): void {
    if (text.length > MESSAGE_MAX) {
      this.#say(`! Not sent: ${text.length} characters; a message holds at most ${MESSAGE_MAX}.`);
      return;
    }
    this.#sends = this.#sends.then(async () => {
      const notSent = (why: string) => this.#say(`! Not sent to ${roomLabel(room)}: ${why}`);
      const tooMany = (ms: number) => `too many messages; try again in ${waitText(ms / 1000)}.`;
      if (Date.now() < this.#limitedUntil) {
        // Asking before the time the server gave would only be refused again.
        return notSent(tooMany(this.#limitedUntil - Date.now()));
      }
      const payload: Payload = options.files?.length
        ? { v: 1, text, files: options.files }
        : { v: 1, text };
      for (let fresh = false;; fresh = true) {
        let body: MessageBody;
        try {
          body = await this.#compose(room, payload, fresh);
        } catch (error) {
          return notSent(describe(error));
        }
        const refused = await this.#post(room, body, options, notSent, tooMany);
        if (!refused) return;
        // The room's encryption changed under the message: once more, composed for it as it is.
        if (fresh) return notSent(describe(refused));
      }
    });
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

  /** Resolves when every message queued so far was stored or given up on. */
  drained(): Promise<void> {
    return this.#sends;
  }
}

/**
 * The terminal client's outgoing messages: sent one after another, so they
 * arrive in the order typed, and retried with the same client id, so a
 * retry never duplicates one. A rate limit is said in one line: a short
 * wait is waited out and the message goes then; a long one refuses the
 * message, and those typed before it is over, without asking the server.
 *
 * @module
 */
import type { Room } from "../shared/api_types.ts";
import { MESSAGE_MAX } from "../shared/limits.ts";
import { type Api, ApiFailure, retryAfterMs, sendWithRetry } from "./api.ts";
import { describe, roomLabel, waitText } from "./format.ts";

/** The longest rate-limit wait a message sits out before going; longer, it is refused. */
export const RATE_LIMIT_WAIT_MAX_MS = 10_000;

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
  #sends: Promise<void> = Promise.resolve();
  /** Until when (ms) the server said it refuses messages. */
  #limitedUntil = 0;

  /** @param say prints a line (the retry notice, a failure). */
  constructor(api: Api, say: (text: string) => void) {
    this.#api = api;
    this.#say = say;
  }

  /**
   * Queues `text` for `room`, with the files uploaded for it (their ids) and
   * the seq of the message it answers; refuses at once what the server would
   * refuse for its length.
   */
  send(room: Room, text: string, attachments: string[] = [], replyTo?: number): void {
    if (text.length > MESSAGE_MAX) {
      this.#say(`! Not sent: ${text.length} characters; a message holds at most ${MESSAGE_MAX}.`);
      return;
    }
    // Chosen before the first attempt, so every retry is recognised as the same message.
    const clientId = crypto.randomUUID();
    this.#sends = this.#sends.then(async () => {
      const notSent = (why: string) => this.#say(`! Not sent to ${roomLabel(room)}: ${why}`);
      const tooMany = (ms: number) => `too many messages; try again in ${waitText(ms / 1000)}.`;
      if (Date.now() < this.#limitedUntil) {
        // Asking before the time the server gave would only be refused again.
        return notSent(tooMany(this.#limitedUntil - Date.now()));
      }
      let warned = false;
      try {
        await sendWithRetry(this.#api, room.id, text, {
          clientId,
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
        if (error instanceof ApiFailure && error.rateLimited) {
          this.#limitedUntil = Date.now() + retryAfterMs(error);
          return notSent(tooMany(retryAfterMs(error)));
        }
        notSent(describe(error));
      }
    });
  }

  /** Resolves when every message queued so far was stored or given up on. */
  drained(): Promise<void> {
    return this.#sends;
  }
}

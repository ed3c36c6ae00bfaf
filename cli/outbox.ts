/**
 * The terminal client's outgoing messages: sent one after another, so they
 * arrive in the order typed, and retried with the same client id, so a
 * retry never duplicates one.
 *
 * @module
 */
import type { Room } from "../shared/api_types.ts";
import { MESSAGE_MAX } from "../shared/limits.ts";
import { type Api, sendWithRetry } from "./api.ts";
import { describe, roomLabel } from "./format.ts";

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

  /** @param say prints a line (the retry notice, a failure). */
  constructor(api: Api, say: (text: string) => void) {
    this.#api = api;
    this.#say = say;
  }

  /** Queues `text` for `room`; refuses at once what the server would refuse for its length. */
  send(room: Room, text: string): void {
    if (text.length > MESSAGE_MAX) {
      this.#say(`! Not sent: ${text.length} characters; a message holds at most ${MESSAGE_MAX}.`);
      return;
    }
    // Chosen before the first attempt, so every retry is recognised as the same message.
    const clientId = crypto.randomUUID();
    this.#sends = this.#sends.then(async () => {
      let warned = false;
      try {
        await sendWithRetry(this.#api, room.id, text, {
          clientId,
          onRetry: () => {
            if (!warned) this.#say("* Not delivered yet; retrying…");
            warned = true;
          },
        });
      } catch (error) {
        this.#say(`! Not sent to ${roomLabel(room)}: ${describe(error)}`);
      }
    });
  }

  /** Resolves when every message queued so far was stored or given up on. */
  drained(): Promise<void> {
    return this.#sends;
  }
}

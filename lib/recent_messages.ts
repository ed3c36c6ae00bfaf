/**
 * The messages this process just committed, kept briefly so delivering them
 * needs no read. Other processes' messages are read from KV: nothing here is
 * needed for delivery, it only saves the read.
 *
 * @module
 */
import type { Message } from "./messages.ts";

/** How many recently committed messages are kept. */
const MAX_RECENT = 20_000;

/**
 * A bounded memory of recent messages by room and seq.
 *
 * @example
 * ```ts
 * const recent = new RecentMessages();
 * recent.add(messages);
 * recent.take(roomId, 5, 7); // the messages 5, 6 and 7, or null if one is missing
 * ```
 */
export class RecentMessages {
  #byKey = new Map<string, Message>();

  /** Keeps messages; past the bound the oldest go (they are read from KV instead). */
  add(messages: Iterable<Message>): void {
    for (const m of messages) this.#byKey.set(`${m.roomId}\n${m.seq}`, m);
    for (const key of this.#byKey.keys()) {
      if (this.#byKey.size <= MAX_RECENT) break;
      this.#byKey.delete(key);
    }
  }

  /** Takes the messages `from`..`to` of a room out, if every one is here; else `null`. */
  take(roomId: string, from: number, to: number): Message[] | null {
    const found: Message[] = [];
    for (let seq = from; seq <= to; seq++) {
      const m = this.#byKey.get(`${roomId}\n${seq}`);
      if (!m) return null;
      found.push(m);
    }
    for (let seq = from; seq <= to; seq++) this.#byKey.delete(`${roomId}\n${seq}`);
    return found;
  }
}

/**
 * The terminal client's read markers: what the screen showed of a room is
 * read, and the server is told so, once per burst.
 *
 * @module
 */

/** How long a room's marker waits for more messages before it is sent. */
const DEBOUNCE_MS = 300;

/**
 * Sends each room's read marker a moment after the last message shown in it.
 *
 * @example
 * ```ts
 * const reads = new ReadMarkers((id, seq) => api.markRead(id, seq), (id) => lastShown(id));
 * reads.mark(roomId);  // sent 300 ms later, unless marked again meanwhile
 * await reads.flush(); // sends whatever still waits
 * ```
 */
export class ReadMarkers {
  #send: (roomId: string, seq: number) => Promise<void>;
  #position: (roomId: string) => number | undefined;
  #timers = new Map<string, ReturnType<typeof setTimeout>>();

  /**
   * @param send moves the marker on the server.
   * @param position the seq the screen has shown up to in a room, read when the marker is sent.
   */
  constructor(
    send: (roomId: string, seq: number) => Promise<void>,
    position: (roomId: string) => number | undefined,
  ) {
    this.#send = send;
    this.#position = position;
  }

  /** Schedules the room's marker; a burst of messages moves it once. */
  mark(roomId: string): void {
    clearTimeout(this.#timers.get(roomId));
    this.#timers.set(roomId, setTimeout(() => this.#sendNow(roomId), DEBOUNCE_MS));
  }

  /** Sends the markers still waiting, so the server's unread counts are current. */
  async flush(): Promise<void> {
    await Promise.all([...this.#timers.keys()].map((roomId) => this.#sendNow(roomId)));
  }

  async #sendNow(roomId: string): Promise<void> {
    clearTimeout(this.#timers.get(roomId));
    this.#timers.delete(roomId);
    const seq = this.#position(roomId);
    // A marker that does not land costs only an unread count, never worth an error line.
    if (seq) await this.#send(roomId, seq).catch(() => {});
  }
}

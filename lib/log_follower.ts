/**
 * Follows the event log in commit order and hands each new entry to a
 * handler, once. It wakes at once when this instance commits, through
 * `kv.watch` on the doorbell keys when another instance does (isolates,
 * workers, KV Connect clients), and, where watch does not cross processes
 * (separate processes on one local KV file), through a poll that backs off
 * while nothing happens.
 *
 * @module
 */
import {
  comparePositions,
  entrySpan,
  type FeedEntry,
  LOG_START,
  logEnd,
  type LogPosition,
  readLog,
} from "./feed.ts";
import { newId } from "./ids.ts";
import { doorbellKey, DOORBELLS, logEpochKey } from "./keys.ts";
import { retryLocked } from "./kv_retry.ts";

/** Delivers one entry's events past `done` positions, calling `delivered(k)` as it goes. */
export type EntryHandler = (
  vs: string,
  entry: FeedEntry,
  done: number,
  delivered: (k: number) => void,
) => Promise<void>;

/**
 * The log, followed from where it ends when the follower starts.
 *
 * @example
 * ```ts
 * const follower = new LogFollower(kv, null, async (vs, entry, done, delivered) => { ... });
 * await follower.ready;
 * follower.wake(); // after a commit of ours
 * ```
 */
export class LogFollower {
  #kv: Deno.Kv;
  #poll: { min: number; max: number } | null;
  #handle: EntryHandler;
  #epoch = "";
  #pos: LogPosition = LOG_START;
  #chain: Promise<void> = Promise.resolve();
  #waking = false;
  #pollTimer?: ReturnType<typeof setTimeout>;
  #pollDelay = 0;
  #watch?: ReadableStreamDefaultReader<unknown>;
  #closed = false;
  /** Resolves once the follower knows the log's epoch and end. */
  readonly ready: Promise<void>;

  /** @param poll the fallback poll's bounds, or `null` where watch reaches every instance. */
  constructor(kv: Deno.Kv, poll: { min: number; max: number } | null, handle: EntryHandler) {
    this.#kv = kv;
    this.#poll = poll;
    this.#handle = handle;
    this.ready = this.#start();
    this.ready.catch((e) => console.error("following the log could not start", e));
  }

  /** The log's epoch: random characters chosen by the first instance. */
  get epoch(): string {
    return this.#epoch;
  }

  /** The position up to which every entry has been handled. */
  get position(): LogPosition {
    return this.#pos;
  }

  /** Runs `task` in turn with the handling of entries, never beside it. */
  enqueue(task: () => Promise<void>): void {
    this.#chain = this.#chain.then(task).catch((e) => console.error("log task failed", e));
  }

  /** Looks for new entries now (queued behind what runs). */
  wake(): void {
    if (this.#waking || this.#closed) return;
    this.#waking = true;
    this.enqueue(async () => {
      this.#waking = false;
      await this.catchUp();
    });
  }

  /** Handles every entry past the position. Call it only from a task of {@linkcode enqueue}. */
  async catchUp(): Promise<void> {
    if (this.#closed) return;
    for await (const { vs, entry } of readLog(this.#kv, this.#pos)) {
      const done = vs === this.#pos.vs ? this.#pos.k : 0;
      if (done >= entrySpan(entry)) continue;
      // The position moves event by event, so an entry cut short by a failed
      // read resumes where it stopped and delivers nothing twice.
      await this.#handle(vs, entry, done, (k) => this.#pos = { vs, k });
      this.#pos = { vs, k: entrySpan(entry) };
    }
  }

  /** Stops following; waits for what is being handled. */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#pollTimer);
    await this.#watch?.cancel().catch(() => {});
    await this.ready.catch(() => {});
    await this.#chain;
  }

  async #start(): Promise<void> {
    this.#epoch = await logEpoch(this.#kv);
    this.#pos = await logEnd(this.#kv);
    if (this.#closed) return;
    this.#watchDoorbells();
    if (this.#poll) this.#schedulePoll(this.#poll.min);
  }

  /** Wakes whenever a doorbell changes: another instance committed. */
  #watchDoorbells(): void {
    const keys = Array.from({ length: DOORBELLS }, (_, i) => doorbellKey(i));
    const reader = this.#kv.watch(keys).getReader();
    this.#watch = reader;
    (async () => {
      while (!(await reader.read()).done) this.wake();
    })().catch((e) => {
      if (!this.#closed) console.error("watching the doorbells failed", e);
    });
  }

  /** The fallback poll: soon after something happened, then less and less often. */
  #schedulePoll(delay: number): void {
    this.#pollDelay = delay;
    this.#pollTimer = setTimeout(() => {
      const before = this.#pos;
      this.enqueue(async () => {
        await this.catchUp();
        if (this.#closed || !this.#poll) return;
        const moved = comparePositions(this.#pos, before) > 0;
        this.#schedulePoll(moved ? this.#poll.min : Math.min(this.#poll.max, this.#pollDelay * 2));
      });
    }, delay);
  }
}

/** This database's log epoch, created by the first instance that asks. */
export async function logEpoch(kv: Deno.Kv): Promise<string> {
  const epoch = newId().slice(0, 8).replace(/[^\w]/g, "x");
  await retryLocked(() =>
    kv.atomic().check({ key: logEpochKey(), versionstamp: null }).set(logEpochKey(), epoch)
      .commit()
  );
  return (await retryLocked(() => kv.get<string>(logEpochKey()))).value!;
}

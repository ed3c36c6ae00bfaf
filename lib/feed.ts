/**
 * The feed: one ordered log of everything that happened (messages, members,
 * rooms, read markers, presence, typing), and the writer that appends to it.
 *
 * Every change that produces an event goes through one {@linkcode FeedWriter}
 * per process. The writer groups whatever is pending into a single atomic
 * commit (group commit), which also writes one feed entry and moves the feed
 * head. Each commit checks the feed head's versionstamp, so two processes over
 * one KV never interleave: a commit that lost the race is planned again from
 * fresh reads. Positions in the feed are the stream's event ids.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import { ApiError, Errors } from "./errors.ts";
import { newId } from "./ids.ts";
import { feedEntryKey, feedHeadKey, feedPrefix } from "./keys.ts";
import { isLocked, retryLocked } from "./kv_retry.ts";

/** One thing that happened. A `message` event stands for a run of messages in one room. */
export type FeedEvent =
  | { type: "message"; roomId: string; from: number; to: number }
  | { type: "member"; roomId: string; user: User; action: "joined" | "left" }
  | { type: "room"; roomId: string; userIds: string[] }
  | { type: "read"; userId: string; roomId: string; seq: number }
  | { type: "typing"; roomId: string; user: User }
  | { type: "presence"; user: User; online: boolean; lastSeen: number };

/** The feed head: the last position written, the feed's identity, and how far it was trimmed. */
export interface FeedHead {
  pos: number;
  /** Random per feed, so ids from another database are recognised as unknown. */
  epoch: string;
  /** Positions up to and including this one have been trimmed away. */
  floor: number;
}

/** One commit's events, stored under the position of its last event. */
export interface FeedEntry {
  at: number;
  events: FeedEvent[];
}

/** How many positions an event takes: one per message, one for anything else. */
export function eventSpan(e: FeedEvent): number {
  return e.type === "message" ? e.to - e.from + 1 : 1;
}

/** What an operation decided to write, planned from reads guarded by the feed head. */
export interface Plan {
  /** Adds the operation's writes to the commit. */
  apply(op: Deno.AtomicOperation): void;
  /** How many mutations `apply` adds. */
  mutations: number;
  /** A generous estimate of the bytes `apply` writes. */
  bytes: number;
  /**
   * A generous estimate of the bytes of the keys `apply` sets (KV allows 80 KiB
   * of keys per commit); by default 128 per mutation.
   */
  keyBytes?: number;
  /** The events the commit appends to the feed. */
  events: FeedEvent[];
  /** Moves the feed's floor (only trimming does this). */
  floor?: number;
}

/** An operation submitted to the writer. */
export interface FeedOp {
  /**
   * An exclusive operation reads state that another operation in the same
   * commit could change, so it gets a commit to itself (with non-exclusive ones).
   */
  exclusive: boolean;
  /** Reads what it needs and plans its writes. May run again after a lost race. */
  plan(kv: Deno.Kv, now: number): Promise<Plan>;
  /** Called once the plan is committed. */
  done(plan: Plan): void;
  /** Called when the operation fails for good. */
  fail(error: unknown): void;
}

// Deno KV allows 1,000 mutations and 800 KiB per commit and 64 KiB per value.
const MAX_MUTATIONS = 990;
const MAX_BYTES = 640 * 1024;
const MAX_ENTRY_BYTES = 48 * 1024;
const MAX_KEY_BYTES = 72 * 1024;
const MAX_COMMIT_ATTEMPTS = 20;

/** Limits one plan must stay inside to fit in a commit. */
export const planLimits = {
  mutations: MAX_MUTATIONS - 10,
  bytes: MAX_BYTES - 64 * 1024,
  keyBytes: MAX_KEY_BYTES - 8 * 1024,
};

/** A generous size of a key as KV stores it. */
export function keySize(key: Deno.KvKey): number {
  return JSON.stringify(key).length + 8;
}

/**
 * Appends operations to the feed in group commits.
 *
 * @example
 * ```ts
 * const writer = new FeedWriter(kv, Date.now);
 * const value = await writer.run({ exclusive: false, plan: async () => ({ ... }) });
 * ```
 */
export class FeedWriter {
  #kv: Deno.Kv;
  #clock: () => number;
  #pending: FeedOp[] = [];
  #running = false;
  #listeners = new Set<(pos: number) => void>();
  #closed = false;

  constructor(kv: Deno.Kv, clock: () => number) {
    this.#kv = kv;
    this.#clock = clock;
  }

  /** Queues an operation; it is committed with whatever else is pending. */
  submit(op: FeedOp): void {
    if (this.#closed) return op.fail(new ApiError(Errors.unavailable));
    this.#pending.push(op);
    if (!this.#running) this.#drain();
  }

  /**
   * Plans, commits and resolves one operation.
   *
   * @param plan returns the plan and the value to resolve with once it is committed.
   */
  run<T>(exclusive: boolean, plan: (kv: Deno.Kv, now: number) => Promise<Plan & { value: T }>) {
    return new Promise<T>((resolve, reject) =>
      this.submit({
        exclusive,
        plan,
        done: (p) => resolve((p as Plan & { value: T }).value),
        fail: reject,
      })
    );
  }

  /** Calls `listener` with the new head position after every commit of this writer. */
  onCommit(listener: (pos: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops taking operations; pending ones still finish. */
  close(): void {
    this.#closed = true;
  }

  async #drain(): Promise<void> {
    this.#running = true;
    let failures = 0;
    try {
      while (this.#pending.length) {
        const outcome = await this.#commitBatch(this.#pending.splice(0));
        this.#pending.unshift(...outcome.retry);
        if (outcome.committed) {
          failures = 0;
        } else if (outcome.error && ++failures >= MAX_COMMIT_ATTEMPTS) {
          // The store keeps failing: give up on what waits rather than hang every request.
          console.error("feed commit failed", outcome.error);
          for (const op of this.#pending.splice(0)) op.fail(new ApiError(Errors.unavailable));
          failures = 0;
        } else {
          // Lost a race with another process, or the store failed (e.g. "database is
          // locked" with two processes on one file): back off a little and plan again.
          await sleep(Math.random() * Math.min(200, 2 ** ++failures));
        }
      }
    } finally {
      this.#running = false;
    }
  }

  /** Plans and commits what fits; returns the operations to try again. */
  async #commitBatch(
    batch: FeedOp[],
  ): Promise<{ committed: boolean; retry: FeedOp[]; error?: unknown }> {
    let headEntry: Deno.KvEntryMaybe<FeedHead>;
    try {
      headEntry = await this.#kv.get<FeedHead>(feedHeadKey());
    } catch (error) {
      return { committed: false, retry: batch, error };
    }
    if (!headEntry.value) {
      // A database nobody initialised yet: create the head, then plan against it.
      await initFeed(this.#kv).catch(() => {});
      return { committed: false, retry: batch };
    }
    const head = headEntry.value;
    const now = this.#clock();
    const retry: FeedOp[] = [];
    const taken: { op: FeedOp; plan: Plan }[] = [];
    let mutations = 2, bytes = 512, entryBytes = 64, keyBytes = 256;

    // Only one exclusive operation per commit: the others wait for the next one.
    const exclusive = batch.find((op) => op.exclusive);
    const planned = await Promise.all(
      batch.map((op) =>
        op.exclusive && op !== exclusive
          ? null
          : op.plan(this.#kv, now).then((plan) => ({ plan }), (error) => ({ error }))
      ),
    );
    for (let i = 0; i < batch.length; i++) {
      const op = batch[i], p = planned[i];
      if (p === null) {
        retry.push(op);
        continue;
      }
      if ("error" in p) {
        op.fail(p.error);
        continue;
      }
      const size = JSON.stringify(p.plan.events).length;
      const keys = p.plan.keyBytes ?? 128 * p.plan.mutations;
      const fits = mutations + p.plan.mutations <= MAX_MUTATIONS &&
        bytes + p.plan.bytes <= MAX_BYTES && entryBytes + size <= MAX_ENTRY_BYTES &&
        keyBytes + keys <= MAX_KEY_BYTES;
      if (!fits && taken.length) {
        retry.push(op);
        continue;
      }
      mutations += p.plan.mutations;
      bytes += p.plan.bytes;
      keyBytes += keys;
      entryBytes += size;
      taken.push({ op, plan: p.plan });
    }

    // Membership changes go before messages of the same commit, so someone who
    // joins in the same commit as a message also gets that message live.
    taken.sort((a, b) => Number(b.op.exclusive) - Number(a.op.exclusive));
    const events = taken.flatMap((t) => t.plan.events);
    if (!taken.some((t) => t.plan.mutations > 0 || t.plan.events.length > 0)) {
      for (const t of taken) t.op.done(t.plan);
      return { committed: true, retry };
    }
    const pos = head.pos + events.reduce((n, e) => n + eventSpan(e), 0);
    const floor = taken.reduce((f, t) => Math.max(f, t.plan.floor ?? 0), head.floor);
    const atomic = this.#kv.atomic().check(headEntry);
    for (const t of taken) t.plan.apply(atomic);
    if (events.length) atomic.set(feedEntryKey(pos), { at: now, events } satisfies FeedEntry);
    atomic.set(feedHeadKey(), { pos, epoch: head.epoch, floor } satisfies FeedHead);
    const again = [...taken.map((t) => t.op), ...retry];
    let result: Deno.KvCommitResult | Deno.KvCommitError;
    try {
      result = await atomic.commit();
    } catch (error) {
      if (isLocked(error)) return { committed: false, retry: again, error };
      // KV refused this commit itself (a limit the plans misjudged): retrying it
      // would only drag every later operation down with it. Fail these alone.
      console.error("feed commit refused", error);
      for (const t of taken) t.op.fail(new ApiError(Errors.unavailable));
      return { committed: true, retry };
    }
    if (!result.ok) return { committed: false, retry: again };
    for (const t of taken) t.op.done(t.plan);
    if (events.length) { for (const listener of this.#listeners) listener(pos); }
    return { committed: true, retry };
  }
}

/** Creates the feed head of an empty database; leaves an existing one alone. */
export async function initFeed(kv: Deno.Kv): Promise<FeedHead> {
  const head: FeedHead = { pos: 0, epoch: newId().slice(0, 8).replace(/[^\w]/g, "x"), floor: 0 };
  await retryLocked(() =>
    kv.atomic().check({ key: feedHeadKey(), versionstamp: null }).set(feedHeadKey(), head).commit()
  );
  return (await retryLocked(() => readFeedHead(kv)))!;
}

/** Reads the feed head; `null` before {@linkcode initFeed}. */
export async function readFeedHead(kv: Deno.Kv): Promise<FeedHead | null> {
  return (await kv.get<FeedHead>(feedHeadKey())).value;
}

/**
 * Lists the feed entries holding positions after `after` up to `until`, in order.
 *
 * @returns each entry with the position of its first event.
 */
export async function* readFeed(
  kv: Deno.Kv,
  after: number,
  until = Infinity,
): AsyncGenerator<{ first: number; last: number; entry: FeedEntry }> {
  const selector = Number.isFinite(until)
    ? { start: feedEntryKey(after + 1), end: feedEntryKey(until + 1) }
    : { prefix: feedPrefix(), start: feedEntryKey(after + 1) };
  for await (const item of kv.list<FeedEntry>(selector, { batchSize: 200 })) {
    const last = item.key[1] as number;
    const span = item.value.events.reduce((n, e) => n + eventSpan(e), 0);
    yield { first: last - span + 1, last, entry: item.value };
  }
}

/** How many feed entries one trimming commit deletes at most. */
export const TRIM_BATCH = 500;

/**
 * An operation that trims feed entries older than `before` (a time), so the
 * feed does not grow forever. Clients resuming from a trimmed position get a
 * reset instead of a silent gap.
 */
export function trimFeedPlan(before: number) {
  // One commit deletes at most TRIM_BATCH entries; callers repeat until fewer come back.
  return async (kv: Deno.Kv): Promise<Plan & { value: number }> => {
    const keys: Deno.KvKey[] = [];
    let floor = 0;
    for await (const e of kv.list<FeedEntry>({ prefix: feedPrefix() }, { limit: TRIM_BATCH })) {
      if (e.value.at >= before) break;
      keys.push(e.key);
      floor = e.key[1] as number;
    }
    return {
      apply: (op) => keys.forEach((k) => op.delete(k)),
      mutations: keys.length,
      bytes: keys.length * 32,
      events: [],
      floor: floor || undefined,
      value: keys.length,
    };
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

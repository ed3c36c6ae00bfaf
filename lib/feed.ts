/**
 * The feed: the ordered log of everything that happened (messages, members,
 * rooms, read markers, presence, typing), and the writer that appends to it.
 *
 * Every change that produces an event goes through one {@linkcode FeedWriter}
 * per app. An operation names its **conflict domain** (a room, a user, a pair
 * of users) and its plan checks only keys of that domain, so commits for
 * different rooms or users never conflict, on one instance or many. The
 * writer groups operations of distinct domains into one atomic commit (group
 * commit) and keeps a few commits in flight, one per domain at a time.
 *
 * A commit with events appends one log entry keyed by its own versionstamp
 * (`kv.commitVersionstamp()`), which needs no check, and bumps one of a few
 * doorbell keys with `sum`, which never conflicts: other instances watch the
 * doorbells and then read the log. No key is checked by every commit.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import type { Invitation, Message, Role } from "../shared/api_types.ts";

/** What happened to a member: they came, went, were removed or banned, or changed role. */
export type MemberAction = "joined" | "left" | "removed" | "banned" | "role";
import { ApiError, Errors } from "./errors.ts";
import { doorbellKey, DOORBELLS, logFloorKey, logKey, logPrefix } from "./keys.ts";
import { isLocked, retryLocked } from "./kv_retry.ts";
import { metrics } from "./metrics.ts";

/** One thing that happened. A `message` event stands for a run of messages in one room. */
export type FeedEvent =
  | { type: "message"; roomId: string; from: number; to: number }
  | {
    type: "member";
    roomId: string;
    user: User;
    action: MemberAction;
    memberCount: number;
    ownerId: string | null;
    /** The member's role now (joined, role). */
    role?: Role;
    /** Why they were removed or banned. */
    reason?: string | null;
  }
  | { type: "message_update"; roomId: string; message: Message }
  | {
    type: "reaction";
    roomId: string;
    seq: number;
    emoji: string;
    userId: string;
    added: boolean;
    count: number;
  }
  | { type: "room_deleted"; roomId: string; userIds: string[] }
  | { type: "room"; roomId: string; userIds: string[] }
  | { type: "read"; userId: string; roomId: string; seq: number; mentions: number }
  | { type: "typing"; roomId: string; user: User }
  | { type: "presence"; user: User; online: boolean; lastSeen: number }
  | {
    type: "invite";
    userId: string;
    invitation: Invitation;
    status: "pending" | "accepted" | "declined";
  }
  | { type: "block"; userId: string; user: User; blocked: boolean }
  /** `userId`'s active devices changed; for the members of one encrypted conversation of theirs. */
  | { type: "devices"; roomId: string; userId: string }
  /** Internal: sessions ended; every instance closes their streams. Never sent to clients. */
  | { type: "sessions_ended"; userId: string; sessionIds: string[] };

/** Events of the moment: delivered live, never replayed, kept in the log only briefly. */
export function isEphemeral(e: FeedEvent): boolean {
  return e.type === "typing" || e.type === "presence" || e.type === "sessions_ended";
}

/** One commit's events, stored under the commit's versionstamp. */
export interface FeedEntry {
  at: number;
  events: FeedEvent[];
}

/** How many positions an event takes inside its entry: one per message, one for anything else. */
export function eventSpan(e: FeedEvent): number {
  return e.type === "message" ? e.to - e.from + 1 : 1;
}

/** The writes a plan may make: the subset of `Deno.AtomicOperation` plans use. */
export interface Writes {
  set(key: Deno.KvKey, value: unknown): Writes;
  delete(key: Deno.KvKey): Writes;
  max(key: Deno.KvKey, n: bigint): Writes;
}

/** What an operation decided to write, planned from reads of its own domain. */
export interface Plan {
  /** The entries the plan read and relies on: the commit fails if any has changed. */
  checks: Deno.AtomicCheck[];
  /** Adds the operation's writes to the commit. */
  apply(writes: Writes): void;
  /** The events the commit appends to the log. */
  events: FeedEvent[];
}

/** The conflict domains operations name, each a few keys that only its own changes check. */
export const domainOf = {
  /** A room: its record (membership), its head (seq), its invitations. */
  room: (roomId: string) => `room:${roomId}`,
  /** A user: their presence. */
  user: (userId: string) => `user:${userId}`,
  /** Two users: their one direct conversation. */
  pair: (a: string, b: string) => a < b ? `pair:${a}:${b}` : `pair:${b}:${a}`,
  /** A scheduled job's own keys. */
  job: (name: string) => `job:${name}`,
};

/** An operation submitted to the writer. */
export interface FeedOp {
  /**
   * The conflict domain whose keys the plan checks (`room:<id>`, `user:<id>`,
   * …), or `null` for a plan that checks nothing. One operation per domain is
   * in flight at a time, so an instance never conflicts with itself.
   */
  domain: string | null;
  /** Reads what it needs and plans its writes. May run again after a lost race. */
  plan(kv: Deno.Kv, now: number): Promise<Plan>;
  /** Called once the plan is committed. */
  done(plan: Plan): void;
  /** Called when the operation fails for good. */
  fail(error: unknown): void;
  /** Commit it with no other operation (it keys something by the commit's versionstamp). */
  alone?: boolean;
}

// Deno KV allows 1,000 mutations, 800 KiB and 80 KiB of keys per commit, and
// 64 KiB per value.
const LIMITS = { mutations: 990, bytes: 640 * 1024, keyBytes: 72 * 1024 };

/**
 * Checks per commit: the Deno runtime's own KV (a local file, `:memory:`)
 * allows 100; the self-hosted denokv server allows 10, and so does this
 * writer anywhere else, Deno Deploy included, until measured there.
 */
export const MAX_CHECKS = { local: 100, remote: 10 } as const;
const MAX_ENTRY_BYTES = 48 * 1024;
const MAX_COMMIT_ATTEMPTS = 20;
/** Commits one writer keeps in flight; more only pays on a remote KV. */
const MAX_IN_FLIGHT = 4;
/** Ephemeral entries stay this long: enough for every instance to read them. */
const EPHEMERAL_MS = 60_000;

/** Limits one plan must stay inside to fit in a commit of its own. */
export const planLimits = {
  mutations: LIMITS.mutations - 10,
  bytes: LIMITS.bytes - 64 * 1024,
  keyBytes: LIMITS.keyBytes - 8 * 1024,
};

/** A generous size of a key as KV stores it. */
export function keySize(key: Deno.KvKey): number {
  // Counted part by part: this runs for every key of every commit.
  let n = 8;
  for (const part of key) {
    if (typeof part === "string") n += 3 + (ASCII.test(part) ? part.length : 3 * part.length);
    else if (part instanceof Uint8Array) n += 3 + 2 * part.byteLength;
    else n += 24;
  }
  return n;
}

/** Printable ASCII: one byte a character (anything else is counted at three). */
const ASCII = /^[ -~]*$/;

/** What a plan's writes add up to, measured by running `apply` against a counter. */
export interface PlanSize {
  mutations: number;
  bytes: number;
  keyBytes: number;
}

/**
 * Measures a plan by applying it to a recorder: sizes are computed, never
 * counted by hand.
 */
export function measurePlan(plan: Plan): PlanSize {
  const size: PlanSize = { mutations: 0, bytes: 0, keyBytes: 0 };
  const add = (key: Deno.KvKey, valueBytes: number) => {
    const bytes = keySize(key);
    size.mutations++;
    size.keyBytes += bytes;
    size.bytes += bytes + valueBytes;
  };
  const recorder: Writes = {
    set: (key, value) => (add(key, valueSize(value)), recorder),
    delete: (key) => (add(key, 0), recorder),
    max: (key) => (add(key, 8), recorder),
  };
  plan.apply(recorder);
  return size;
}

/** A generous size of a stored value: V8 may store text as two bytes a character. */
function valueSize(value: unknown): number {
  return 2 * (jsonLength(value) ?? 8) + 32;
}

/** JSON length without a replacer (which makes `JSON.stringify` several times slower) unless a bigint needs one. */
function jsonLength(value: unknown): number | undefined {
  try {
    return JSON.stringify(value)?.length;
  } catch {
    return JSON.stringify(value, (_, v) => typeof v === "bigint" ? 0 : v)?.length;
  }
}

/**
 * Appends operations to the log in group commits.
 *
 * @example
 * ```ts
 * const writer = new FeedWriter(kv, Date.now);
 * const value = await writer.run("room:abc", async (kv) => ({ checks: [], apply() {}, events: [], value: 1 }));
 * ```
 */
export class FeedWriter {
  #kv: Deno.Kv;
  #clock: () => number;
  #maxChecks: number;
  #pending: FeedOp[] = [];
  #busy = new Set<string>();
  #inFlight = 0;
  #idle: (() => void)[] = [];
  #listeners = new Set<() => void>();
  #closed = false;

  /**
   * @param maxChecks checks one commit may carry ({@linkcode MAX_CHECKS}): sends
   * to a room check two keys, so this is how many rooms share a commit, twice.
   */
  constructor(kv: Deno.Kv, clock: () => number, maxChecks: number = MAX_CHECKS.remote) {
    this.#kv = kv;
    this.#clock = clock;
    this.#maxChecks = maxChecks;
  }

  /** The KV the writer commits to, for reads made before an operation is submitted. */
  get kv(): Deno.Kv {
    return this.#kv;
  }

  /** Queues an operation; it is committed with whatever else is pending. */
  submit(op: FeedOp): void {
    if (this.#closed) return op.fail(new ApiError(Errors.unavailable));
    this.#pending.push(op);
    this.#pump();
  }

  /**
   * Plans, commits and resolves one operation.
   *
   * @param domain the conflict domain the plan checks keys of, or `null`.
   * @param plan returns the plan and the value to resolve with once it is committed.
   */
  run<T>(
    domain: string | null,
    plan: (kv: Deno.Kv, now: number) => Promise<Plan & { value: T }>,
    options: { alone?: boolean } = {},
  ): Promise<T> {
    return new Promise<T>((resolve, reject) =>
      this.submit({
        domain,
        alone: options.alone,
        plan,
        done: (p) => resolve((p as Plan & { value: T }).value),
        fail: reject,
      })
    );
  }

  /** Calls `listener` after every commit of this writer that appended events. */
  onCommit(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Stops taking operations; resolves when the pending ones have finished. */
  close(): Promise<void> {
    this.#closed = true;
    if (!this.#inFlight && !this.#pending.length) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #pump(): void {
    while (this.#inFlight < MAX_IN_FLIGHT && this.#pending.length) {
      const batch = this.#take();
      if (!batch.length) break;
      this.#inFlight++;
      this.#commit(batch).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
    if (!this.#inFlight && !this.#pending.length) { for (const f of this.#idle.splice(0)) f(); }
  }

  /** Takes pending operations of free, distinct domains (and any that check nothing). */
  #take(): FeedOp[] {
    const taken: FeedOp[] = [], kept: FeedOp[] = [];
    let domains = 0;
    for (const op of this.#pending) {
      // An operation that must be alone goes first in a commit of its own.
      if (op.alone || taken[0]?.alone) {
        if (taken.length || (op.domain !== null && this.#busy.has(op.domain))) kept.push(op);
        else {
          if (op.domain !== null) this.#busy.add(op.domain);
          taken.push(op);
        }
        continue;
      }
      if (op.domain === null) taken.push(op);
      else if (domains < this.#maxChecks && !this.#busy.has(op.domain)) {
        this.#busy.add(op.domain);
        domains++;
        taken.push(op);
      } else kept.push(op);
    }
    this.#pending = kept;
    return taken;
  }

  #release(ops: FeedOp[]): void {
    for (const op of ops) if (op.domain !== null) this.#busy.delete(op.domain);
  }

  /** Plans and commits a batch, planning again after a lost race, until it is settled. */
  async #commit(batch: FeedOp[]): Promise<void> {
    let ops = batch;
    for (let attempt = 1; ops.length; attempt++) {
      const outcome = await this.#attempt(ops);
      // What did not fit waits for a later commit.
      this.#release(outcome.later);
      this.#pending.unshift(...outcome.later);
      ops = outcome.again;
      if (!ops.length) break;
      if (attempt >= MAX_COMMIT_ATTEMPTS) {
        console.error("commit failed", outcome.error ?? "too many conflicts");
        for (const op of ops) op.fail(new ApiError(Errors.unavailable));
        break;
      }
      // Lost a race with another instance, or the store was busy: back off, plan again.
      await sleep(Math.random() * Math.min(200, 2 ** attempt));
    }
    this.#release(batch);
  }

  /**
   * One try: plans every operation, commits those that fit, settles them.
   *
   * @returns the operations to try again and those that did not fit.
   */
  async #attempt(ops: FeedOp[]): Promise<{ again: FeedOp[]; later: FeedOp[]; error?: unknown }> {
    const now = this.#clock();
    const planned = await Promise.all(
      // A plan that throws at once is one failed operation, not a failed writer.
      ops.map((op) =>
        Promise.resolve().then(() => op.plan(this.#kv, now))
          .then((plan) => ({ plan }), (error) => ({ error }))
      ),
    );
    const taken: { op: FeedOp; plan: Plan }[] = [], later: FeedOp[] = [];
    const total = { mutations: 2, bytes: 512, keyBytes: 256, checks: 0, entry: 64 };
    ops.forEach((op, i) => {
      const p = planned[i];
      if ("error" in p) return op.fail(p.error);
      const size = measurePlan(p.plan);
      const entry = JSON.stringify(p.plan.events).length;
      const fits = total.mutations + size.mutations <= LIMITS.mutations &&
        total.bytes + size.bytes <= LIMITS.bytes &&
        total.keyBytes + size.keyBytes <= LIMITS.keyBytes &&
        total.checks + p.plan.checks.length <= this.#maxChecks &&
        total.entry + entry <= MAX_ENTRY_BYTES;
      if (!fits && taken.length) return void later.push(op);
      total.mutations += size.mutations;
      total.bytes += size.bytes;
      total.keyBytes += size.keyBytes;
      total.checks += p.plan.checks.length;
      total.entry += entry;
      taken.push({ op, plan: p.plan });
    });
    const events = taken.flatMap((t) => t.plan.events);
    const atomic = this.#kv.atomic();
    let writes = 0;
    const recorder: Writes = {
      set: (k, v) => (writes++, atomic.set(k, v), recorder),
      delete: (k) => (writes++, atomic.delete(k), recorder),
      max: (k, n) => (writes++, atomic.max(k, n), recorder),
    };
    for (const t of taken) {
      atomic.check(...t.plan.checks);
      t.plan.apply(recorder);
    }
    if (!writes && !events.length) {
      for (const t of taken) t.op.done(t.plan);
      return { again: [], later };
    }
    if (events.length) {
      const ephemeral = events.every(isEphemeral);
      atomic.set(
        logKey(this.#kv.commitVersionstamp()),
        { at: now, events } satisfies FeedEntry,
        ephemeral ? { expireIn: EPHEMERAL_MS } : undefined,
      );
      atomic.sum(doorbellKey(Math.floor(Math.random() * DOORBELLS)), 1n);
    }
    let result: Deno.KvCommitResult | Deno.KvCommitError;
    try {
      result = await atomic.commit();
    } catch (error) {
      if (isLocked(error)) {
        metrics.lockRetries++;
        return { again: taken.map((t) => t.op), later, error };
      }
      // KV refused this commit itself (a limit the plans misjudged): retrying it
      // would only drag every later operation down with it. Fail these alone.
      console.error("commit refused", error);
      for (const t of taken) t.op.fail(new ApiError(Errors.unavailable));
      return { again: [], later };
    }
    if (!result.ok) {
      metrics.conflicts++;
      return { again: taken.map((t) => t.op), later };
    }
    metrics.commits++;
    for (const t of taken) t.op.done(t.plan);
    if (events.length) { for (const listener of this.#listeners) listener(); }
    return { again: [], later };
  }
}

/** A position in the log: an entry's versionstamp and how many positions of it are past. */
export interface LogPosition {
  vs: string;
  k: number;
}

/** The position before every entry. */
export const LOG_START: LogPosition = { vs: "0".repeat(20), k: 0 };

/** Orders two positions. */
export function comparePositions(a: LogPosition, b: LogPosition): number {
  return a.vs < b.vs ? -1 : a.vs > b.vs ? 1 : a.k - b.k;
}

/** The position just past the newest entry of the log. */
export async function logEnd(kv: Deno.Kv): Promise<LogPosition> {
  for await (const e of kv.list<FeedEntry>({ prefix: logPrefix() }, { limit: 1, reverse: true })) {
    return { vs: e.key[1] as string, k: entrySpan(e.value) };
  }
  return LOG_START;
}

/** How many positions an entry holds. */
export function entrySpan(entry: FeedEntry): number {
  return entry.events.reduce((n, e) => n + eventSpan(e), 0);
}

/**
 * Lists the log entries at and after `from.vs`, in commit order (the entry at
 * `from.vs` itself may be partly past: callers skip positions up to `from.k`).
 */
export async function* readLog(
  kv: Deno.Kv,
  from: LogPosition,
): AsyncGenerator<{ vs: string; entry: FeedEntry }> {
  const selector = { prefix: logPrefix(), start: logKey(from.vs) };
  for await (const item of kv.list<FeedEntry>(selector, { batchSize: 200 })) {
    yield { vs: item.key[1] as string, entry: item.value };
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** How many log entries one trimming commit deletes at most. */
export const TRIM_BATCH = 500;

/**
 * Deletes log entries written before `before` (a time), at most
 * {@linkcode TRIM_BATCH}, and raises the log's floor to the last one deleted,
 * so a client resuming from a trimmed position gets `reset` rather than a gap.
 *
 * @returns how many entries were deleted; call again while it is `TRIM_BATCH`.
 */
export async function trimLog(kv: Deno.Kv, before: number): Promise<number> {
  return await retryLocked(async () => {
    const floor = await kv.get<string>(logFloorKey());
    const keys: Deno.KvKey[] = [];
    for await (const e of kv.list<FeedEntry>({ prefix: logPrefix() }, { limit: TRIM_BATCH })) {
      if (e.value.at >= before) break;
      keys.push(e.key);
    }
    if (!keys.length) return 0;
    const op = kv.atomic().check(floor).set(logFloorKey(), keys.at(-1)![1] as string);
    for (const key of keys) op.delete(key);
    // Another instance trimming at the same moment: it did the work.
    return (await op.commit()).ok ? keys.length : 0;
  });
}

/** A plan that also carries the value its operation resolves with. */
export type Op<T> = Plan & { value: T };

/** A plan that changes nothing and resolves with `value`. */
export function noChange<T>(value: T): Op<T> {
  return { checks: [], events: [], apply() {}, value };
}

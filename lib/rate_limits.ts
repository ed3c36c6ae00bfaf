/**
 * Rate limits: token buckets kept as the GCRA's one number (the theoretical
 * arrival time), either in KV, so every instance shares them, or in this
 * instance's memory, where a KV write per request would cost more than the
 * limit saves (the README says which is which and why). `RATE_LIMITS=off`
 * turns them all off, for load tests and the benchmark.
 *
 * @module
 */
import { rateLimited } from "./errors.ts";
import { rateKey } from "./keys.ts";
import { isLocked } from "./kv_retry.ts";

/** A bucket: `burst` requests at once, refilled at one every `intervalMs`. */
export interface Limit {
  burst: number;
  intervalMs: number;
}

/** Every limit, by name. */
export interface Limits {
  /** Messages per user (in memory: the hot path). */
  messages: Limit;
  /** Rooms created per user (KV). */
  rooms: Limit;
  /** Direct conversations opened per user (KV). */
  directs: Limit;
  /** Invitations sent per user (KV). */
  invites: Limit;
  /** Typing signals per user and room (in memory; excess ones are dropped quietly). */
  typing: Limit;
  /** Registrations per client address (KV). */
  registrations: Limit;
  /** File uploads per user (KV). */
  uploads: Limit;
  /** Reactions added or taken back per user (in memory, like messages). */
  reactions: Limit;
  /** Devices published or retired per user (KV); publishing the same keys again is free. */
  devices: Limit;
}

const UNITS: Record<string, number> = { s: 1_000, min: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Reads a limit written as `<count>/<unit>[:<burst>]`, unit `s`, `min`, `h`
 * or `d`; the burst defaults to the count.
 *
 * @example
 * ```ts
 * parseLimit("5/s:20"); // { burst: 20, intervalMs: 200 }
 * parseLimit("5/h");    // { burst: 5, intervalMs: 720000 }
 * ```
 * @throws {Error} for anything else.
 */
export function parseLimit(spec: string): Limit {
  const m = spec.match(/^(\d+(?:\.\d+)?)\/(s|min|h|d)(?::(\d+))?$/);
  const count = m ? Number(m[1]) : 0;
  if (!m || count <= 0) {
    throw new Error(`"${spec}" is not a limit like 5/s:20 (count/unit[:burst], unit s|min|h|d)`);
  }
  return { intervalMs: UNITS[m[2]] / count, burst: m[3] ? Number(m[3]) : Math.ceil(count) };
}

/** The defaults. */
export const defaultLimits: Limits = {
  messages: parseLimit("5/s:20"),
  rooms: parseLimit("10/h:5"),
  directs: parseLimit("30/h:10"),
  invites: parseLimit("60/h:20"),
  typing: parseLimit("30/min:1"),
  registrations: parseLimit("5/h"),
  uploads: parseLimit("60/h:20"),
  reactions: parseLimit("5/s:30"),
  devices: parseLimit("30/h:10"),
};

/**
 * Takes tokens from buckets, or refuses with 429 `rate_limited` and a
 * `Retry-After`.
 *
 * @example
 * ```ts
 * const limiter = new RateLimiter(kv, Date.now, defaultLimits, true);
 * await limiter.take("rooms", user.id);   // shared through KV
 * limiter.takeHere("messages", user.id); // this instance only
 * ```
 */
export class RateLimiter {
  #kv: Deno.Kv;
  #clock: () => number;
  #limits: Limits;
  #enabled: boolean;
  #local = new Map<string, number>();

  constructor(kv: Deno.Kv, clock: () => number, limits: Limits, enabled: boolean) {
    this.#kv = kv;
    this.#clock = clock;
    this.#limits = limits;
    this.#enabled = enabled;
  }

  /** Whether limits are enforced at all. */
  get enabled(): boolean {
    return this.#enabled;
  }

  /**
   * Takes a token from `name`'s bucket for `id`, kept in KV so that every
   * instance counts against the same bucket.
   *
   * @throws {ApiError} `rate_limited`.
   */
  async take(name: keyof Limits, id: string): Promise<void> {
    if (!this.#enabled) return;
    const limit = this.#limits[name];
    const key = rateKey(name, id);
    for (let attempt = 0;; attempt++) {
      const entry = await this.#kv.get<number>(key);
      const now = this.#clock();
      const wait = waitFor(limit, entry.value, now);
      if (wait > 0) throw rateLimited(wait);
      const tat = Math.max(entry.value ?? now, now) + limit.intervalMs;
      try {
        const done = await this.#kv.atomic().check(entry)
          .set(key, tat, { expireIn: Math.ceil(tat - now) + 1_000 }).commit();
        if (done.ok) return;
      } catch (error) {
        if (!isLocked(error)) throw error;
      }
      // Another request of the same id took a token meanwhile: look again.
      if (attempt > 20) throw rateLimited(limit.intervalMs);
    }
  }

  /**
   * Takes a token from `name`'s bucket for `id` in this instance's memory.
   *
   * @throws {ApiError} `rate_limited`.
   */
  takeHere(name: keyof Limits, id: string): void {
    const wait = this.#takeLocal(name, id);
    if (wait > 0) throw rateLimited(wait);
  }

  /** Like {@linkcode RateLimiter.takeHere}, but says `false` instead of throwing. */
  tryHere(name: keyof Limits, id: string): boolean {
    return this.#takeLocal(name, id) === 0;
  }

  #takeLocal(name: keyof Limits, id: string): number {
    if (!this.#enabled) return 0;
    const limit = this.#limits[name];
    const key = `${name}\n${id}`;
    const now = this.#clock();
    const stored = this.#local.get(key);
    const wait = waitFor(limit, stored ?? null, now);
    if (wait > 0) return wait;
    // Full buckets are forgotten, so the map holds only active ids.
    if (this.#local.size > 100_000) this.#forgetFull(now);
    this.#local.set(key, Math.max(stored ?? now, now) + limit.intervalMs);
    return 0;
  }

  #forgetFull(now: number): void {
    for (const [key, tat] of this.#local) if (tat <= now) this.#local.delete(key);
  }
}

/** How long until a bucket whose theoretical arrival time is `tat` has a token; 0 if now. */
function waitFor(limit: Limit, tat: number | null, now: number): number {
  if (tat === null) return 0;
  return Math.max(0, tat - now - (limit.burst - 1) * limit.intervalMs);
}

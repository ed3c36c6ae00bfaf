/**
 * Slows down password guessing without handing anyone a way to lock others
 * out. Every attempt is counted before its password is checked (so a burst
 * of concurrent guesses cannot slip past the count), against two buckets:
 * the username from this address, and this address across all usernames.
 * Someone else's failures, from another address, never stop a user's
 * correct password.
 *
 * @module
 */
import { rateLimited } from "./errors.ts";
import { loginAttemptsKey } from "./keys.ts";
import { isLocked } from "./kv_retry.ts";

/** How attempts are counted. */
export const throttleLimits = {
  windowMs: 15 * 60 * 1000,
  /** Failed attempts at one username from one address. */
  perPair: 5,
  /** Failed attempts from one address, whatever the usernames. */
  perAddress: 30,
};

interface Attempts {
  count: number;
  windowStart: number;
}

/** A reserved attempt: settle it once the password has been checked. */
export interface LoginAttempt {
  /** The password was right: the attempt no longer counts, and the pair starts over. */
  succeeded(): Promise<void>;
}

/**
 * Counts an attempt for `username` from `address`, or refuses it with 429
 * when either bucket is full. Call before checking the password.
 *
 * @throws {ApiError} `rate_limited` with a `Retry-After` header.
 */
export async function reserveLoginAttempt(
  kv: Deno.Kv,
  username: string,
  address: string,
  now: number,
): Promise<LoginAttempt> {
  const pair = loginAttemptsKey("pair", `${username.toLowerCase()}\n${address}`);
  const addr = loginAttemptsKey("addr", address);
  for (;;) {
    const [p, a] = await kv.getMany<[Attempts, Attempts]>([pair, addr]);
    const blockedUntil = Math.max(
      until(p.value, throttleLimits.perPair, now),
      until(a.value, throttleLimits.perAddress, now),
    );
    if (blockedUntil > now) throw rateLimited(blockedUntil - now, "Too many failed logins.");
    const op = kv.atomic().check(p, a)
      .set(pair, bump(p.value, now), { expireIn: throttleLimits.windowMs })
      .set(addr, bump(a.value, now), { expireIn: throttleLimits.windowMs });
    try {
      if ((await op.commit()).ok) break;
    } catch (error) {
      if (!isLocked(error)) throw error;
    }
  }
  return { succeeded: () => forgive(kv, pair, addr) };
}

/** A right password: the pair starts over, and the address gets its attempt back. */
async function forgive(kv: Deno.Kv, pair: Deno.KvKey, addr: Deno.KvKey): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const a = await kv.get<Attempts>(addr);
    const op = kv.atomic().check(a).delete(pair);
    if (a.value && a.value.count > 0) {
      op.set(addr, { ...a.value, count: a.value.count - 1 }, {
        expireIn: throttleLimits.windowMs,
      });
    }
    try {
      if ((await op.commit()).ok) return;
    } catch (error) {
      if (!isLocked(error)) throw error;
    }
  }
}

function current(f: Attempts | null, now: number): Attempts | null {
  return f && now - f.windowStart < throttleLimits.windowMs ? f : null;
}

function until(f: Attempts | null, limit: number, now: number): number {
  const c = current(f, now);
  return c && c.count >= limit ? c.windowStart + throttleLimits.windowMs : 0;
}

function bump(f: Attempts | null, now: number): Attempts {
  const c = current(f, now);
  return c ? { count: c.count + 1, windowStart: c.windowStart } : { count: 1, windowStart: now };
}

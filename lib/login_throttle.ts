/**
 * Slows down password guessing: after too many failed logins for one username
 * or from one address, further attempts get 429 until the window passes.
 *
 * @module
 */
import { ApiError, Errors } from "./errors.ts";
import { loginFailuresKey } from "./keys.ts";
import { retryLocked } from "./kv_retry.ts";

/** How failures are counted. */
export const throttleLimits = {
  windowMs: 15 * 60 * 1000,
  perUsername: 5,
  perAddress: 50,
};

interface Failures {
  count: number;
  windowStart: number;
}

/**
 * Refuses a login attempt while its username or address is over the limit.
 *
 * @throws {ApiError} `too_many_requests` with a `Retry-After` header.
 */
export async function assertLoginAllowed(
  kv: Deno.Kv,
  username: string,
  address: string,
  now: number,
): Promise<void> {
  const [user, addr] = await kv.getMany<[Failures, Failures]>([
    loginFailuresKey("user", username.toLowerCase()),
    loginFailuresKey("addr", address),
  ]);
  const blockedUntil = Math.max(
    until(user.value, throttleLimits.perUsername, now),
    until(addr.value, throttleLimits.perAddress, now),
  );
  if (blockedUntil > now) {
    const retryAfter = String(Math.ceil((blockedUntil - now) / 1000));
    throw new ApiError(Errors.tooManyRequests, { retryAfter: Number(retryAfter) }, {
      headers: { "Retry-After": retryAfter },
    });
  }
}

/** Counts a failed login against both the username and the address. */
export async function recordLoginFailure(
  kv: Deno.Kv,
  username: string,
  address: string,
  now: number,
): Promise<void> {
  await Promise.all([
    bump(kv, loginFailuresKey("user", username.toLowerCase()), now),
    bump(kv, loginFailuresKey("addr", address), now),
  ]);
}

/** Forgets a username's failures after it signs in successfully. */
export async function clearLoginFailures(kv: Deno.Kv, username: string): Promise<void> {
  await retryLocked(() => kv.delete(loginFailuresKey("user", username.toLowerCase())));
}

function until(f: Failures | null, limit: number, now: number): number {
  if (!f || now - f.windowStart >= throttleLimits.windowMs) return 0;
  return f.count >= limit ? f.windowStart + throttleLimits.windowMs : 0;
}

async function bump(kv: Deno.Kv, key: Deno.KvKey, now: number): Promise<void> {
  // Check-and-set so concurrent failures are all counted.
  for (;;) {
    const entry = await kv.get<Failures>(key);
    const f = entry.value;
    const next = !f || now - f.windowStart >= throttleLimits.windowMs
      ? { count: 1, windowStart: now }
      : { count: f.count + 1, windowStart: f.windowStart };
    const ok = await retryLocked(() =>
      kv.atomic().check(entry).set(key, next, { expireIn: throttleLimits.windowMs }).commit()
    );
    if (ok.ok) return;
  }
}

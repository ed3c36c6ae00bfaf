/**
 * A short-lived memory of signed-in tokens, so a busy client is not looked up
 * in KV on every request.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import type { Session } from "./sessions.ts";

/** What a token signs in as. */
export interface SignedIn {
  session: Session;
  user: User;
}

/**
 * Remembers recently checked tokens for `maxAgeMs`. Logging out through this
 * process forgets the token at once; a token revoked through another process
 * over the same KV stops working here within `maxAgeMs`. Session expiry is
 * still checked against the app's clock on every request.
 *
 * @example
 * ```ts
 * const cache = new SessionCache();
 * cache.set(token, { session, user });
 * cache.get(token)?.user;
 * ```
 */
export class SessionCache {
  #entries = new Map<string, SignedIn & { until: number }>();
  #maxAgeMs: number;
  #maxEntries: number;

  constructor(maxAgeMs = 5_000, maxEntries = 10_000) {
    this.#maxAgeMs = maxAgeMs;
    this.#maxEntries = maxEntries;
  }

  /** The remembered sign-in of a token, if it is fresh. */
  get(token: string): SignedIn | undefined {
    const entry = this.#entries.get(token);
    if (entry && entry.until > performance.now()) return entry;
    if (entry) this.#entries.delete(token);
    return undefined;
  }

  /** Remembers a token's sign-in. */
  set(token: string, value: SignedIn): void {
    // Maps keep insertion order: past the cap, forget the oldest.
    if (this.#entries.size >= this.#maxEntries) {
      this.#entries.delete(this.#entries.keys().next().value!);
    }
    this.#entries.set(token, { ...value, until: performance.now() + this.#maxAgeMs });
  }

  /** Forgets a token (it was revoked). */
  delete(token: string): void {
    this.#entries.delete(token);
  }

  /** Forgets the tokens of sessions that were ended. */
  forgetSessions(ids: string[]): void {
    const ended = new Set(ids);
    for (const [token, entry] of this.#entries) {
      if (ended.has(entry.session.id)) this.#entries.delete(token);
    }
  }
}

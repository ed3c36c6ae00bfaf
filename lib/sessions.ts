/**
 * Sessions: bearer tokens that sign a user in until they expire or are revoked.
 *
 * @module
 */
import { base64url } from "./ids.ts";
import { sessionKey } from "./keys.ts";
import { retryLocked } from "./kv_retry.ts";

/** A stored session. The token itself is never stored, only its SHA-256. */
export interface Session {
  userId: string;
  createdAt: number;
  expiresAt: number;
}

/**
 * Starts a session for a user.
 *
 * @returns the token to hand to the client (256 random bits) and the session.
 */
export async function createSession(
  kv: Deno.Kv,
  userId: string,
  now: number,
  ttlMs: number,
): Promise<{ token: string; session: Session }> {
  const token = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const session: Session = { userId, createdAt: now, expiresAt: now + ttlMs };
  // expireIn only lets KV sweep old sessions; findSession checks expiresAt itself.
  const key = sessionKey(await hashToken(token));
  await retryLocked(() => kv.set(key, session, { expireIn: ttlMs }));
  return { token, session };
}

/** The live session for a token, or `null` when it is unknown, revoked or expired. */
export async function findSession(
  kv: Deno.Kv,
  token: string,
  now: number,
): Promise<Session | null> {
  const session = (await kv.get<Session>(sessionKey(await hashToken(token)))).value;
  return session && session.expiresAt > now ? session : null;
}

/** Ends the session of a token; later requests with it get 401. */
export async function revokeSession(kv: Deno.Kv, token: string): Promise<void> {
  const key = sessionKey(await hashToken(token));
  await retryLocked(() => kv.delete(key));
}

async function hashToken(token: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(token));
  return base64url(new Uint8Array(digest));
}

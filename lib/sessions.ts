/**
 * Sessions: bearer tokens that sign a user in until they expire or are
 * revoked. Each has a public id (the token itself is never stored, only its
 * SHA-256), the device and address it was started from, and when it was last
 * used, so a user can see their sessions and end any of them. Ending one
 * appends an internal event to the log, so every instance closes its streams
 * at once.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { FeedWriter } from "./feed.ts";
import { base64url, newId } from "./ids.ts";
import { sessionKey, userSessionKey, userSessionsPrefix } from "./keys.ts";
import { retryLocked } from "./kv_retry.ts";
import { getManyChunked } from "./get_many.ts";

/** A stored session. */
export interface Session {
  /** The public id, for listing and ending it; not the token. */
  id: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  lastUsedAt: number;
  /** The client's User-Agent, cut short. */
  device: string;
  /** The client's address when it signed in. */
  address: string;
}

/** Where a session starts from. */
export interface SessionOrigin {
  device: string;
  address: string;
}

/** Used sessions are written back at most this often. */
const TOUCH_MS = 60_000;

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
  origin: SessionOrigin,
): Promise<{ token: string; session: Session }> {
  const token = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const session: Session = {
    id: newId(),
    userId,
    createdAt: now,
    expiresAt: now + ttlMs,
    lastUsedAt: now,
    device: origin.device.slice(0, 200),
    address: origin.address,
  };
  const hash = hashToken(token);
  // expireIn only lets KV sweep old sessions; findSession checks expiresAt itself.
  await retryLocked(() =>
    kv.atomic()
      .set(sessionKey(hash), session, { expireIn: ttlMs })
      .set(userSessionKey(userId, session.id), hash, { expireIn: ttlMs })
      .commit()
  );
  return { token, session };
}

/** The live session for a token, or `null` when it is unknown, revoked or expired. */
export async function findSession(
  kv: Deno.Kv,
  token: string,
  now: number,
): Promise<Session | null> {
  const session = (await kv.get<Session>(sessionKey(hashToken(token)))).value;
  // A session stored before sessions had ids cannot be listed or ended: sign in again.
  return session && session.id && session.expiresAt > now ? session : null;
}

/** Records that a session was used now, at most once a minute (a write per request would cost). */
export async function touchSession(
  kv: Deno.Kv,
  token: string,
  session: Session,
  now: number,
): Promise<void> {
  if (now - session.lastUsedAt < TOUCH_MS) return;
  const key = sessionKey(hashToken(token));
  const entry = await kv.get<Session>(key);
  if (!entry.value) return;
  // Checked: a session ended meanwhile must not come back.
  await kv.atomic().check(entry).set(key, { ...entry.value, lastUsedAt: now }, {
    expireIn: Math.max(1, entry.value.expiresAt - now),
  }).commit().catch(() => {});
}

/** A user's live sessions, most recently used first. */
export async function listSessions(kv: Deno.Kv, userId: string, now: number): Promise<Session[]> {
  const hashes: string[] = [];
  for await (const e of kv.list<string>({ prefix: userSessionsPrefix(userId) })) {
    hashes.push(e.value);
  }
  const sessions = await getManyChunked<Session>(kv, hashes.map(sessionKey));
  return sessions.filter((s): s is Session => s !== null && s.expiresAt > now)
    .sort((a, b) => b.lastUsedAt - a.lastUsedAt);
}

/**
 * Ends sessions of a user: their tokens stop working, and every instance
 * closes their streams.
 *
 * @param which the session ids to end, or `{ allBut }` for all but one.
 * @returns the ids ended.
 */
export async function endSessions(
  feed: FeedWriter,
  userId: string,
  which: string[] | { allBut: string | null },
): Promise<string[]> {
  const found: { id: string; hash: string }[] = [];
  for await (const e of feed.kv.list<string>({ prefix: userSessionsPrefix(userId) })) {
    const id = e.key[2] as string;
    const wanted = Array.isArray(which) ? which.includes(id) : id !== which.allBut;
    if (wanted) found.push({ id, hash: e.value });
  }
  // Two deletions a session: a few hundred sessions a commit stay within KV's limits.
  for (let i = 0; i < found.length; i += 200) {
    const batch = found.slice(i, i + 200);
    await feed.run<void>(null, () =>
      Promise.resolve({
        checks: [],
        events: [{ type: "sessions_ended", userId, sessionIds: batch.map((f) => f.id) }],
        apply(op) {
          for (const f of batch) {
            op.delete(sessionKey(f.hash)).delete(userSessionKey(userId, f.id));
          }
        },
        value: undefined,
      }));
  }
  return found.map((f) => f.id);
}

function hashToken(token: string): string {
  // Synchronous: every request hashes its token, and node:crypto's one-shot
  // hash costs a fifth of a crypto.subtle.digest round trip (measured here).
  return base64url(createHash("sha256").update(token).digest());
}

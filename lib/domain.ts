/**
 * The domain, wired: the long-lived services (event writer, hub, presence,
 * scheduled jobs) built over one KV, and every operation the routes may call,
 * bound to them. Routes receive this and never the KV handle.
 *
 * @module
 */
import { authenticate, createUser, getUser } from "./accounts.ts";
import type { Config } from "./config.ts";
import { needsPoll } from "./config.ts";
import { openDirect } from "./directs.ts";
import { FeedWriter, TRIM_BATCH, trimLog } from "./feed.ts";
import { pingKv } from "./health.ts";
import { defaultHubOptions, Hub } from "./hub.ts";
import { newId } from "./ids.ts";
import { Jobs } from "./jobs.ts";
import { assertLoginAllowed, clearLoginFailures, recordLoginFailure } from "./login_throttle.ts";
import { addMember, assertMember, joinRoom, leaveRoom, listMembers } from "./members.ts";
import { listMessages, MessageSender } from "./messages.ts";
import { defaultPresenceOptions, listUsersWithPresence, Presence } from "./presence.ts";
import { markRead } from "./read_markers.ts";
import { createRoom, getRoomView, listPublicRooms, listRoomsOf, unreadTotal } from "./rooms.ts";
import { SessionCache, type SignedIn } from "./session_cache.ts";
import { createSession, findSession, revokeSession } from "./sessions.ts";
import { sendTyping } from "./typing.ts";

/** Milliseconds since the epoch; injected so tests can move time. */
export type Clock = () => number;

/** What the domain is built from. */
export interface Deps {
  kv: Deno.Kv;
  clock: Clock;
  config: Config;
}

/** Drops the first argument of a function. */
type Bound<F> = F extends (first: never, ...rest: infer A) => infer R ? (...rest: A) => R
  : never;

/** Binds the first argument (a KV, a writer) of each function. */
function bind<T, F extends Record<string, (first: T, ...rest: never[]) => unknown>>(
  first: T,
  fns: F,
): { [K in keyof F]: Bound<F[K]> } {
  return Object.fromEntries(
    Object.entries(fns).map(([name, fn]) => [name, (...rest: never[]) => fn(first, ...rest)]),
  ) as { [K in keyof F]: Bound<F[K]> };
}

/**
 * Builds the domain over `deps` and starts its timers.
 *
 * @example
 * ```ts
 * const domain = createDomain({ kv, clock: Date.now, config });
 * await domain.rooms.create(user, { name: "general" });
 * await domain.close();
 * ```
 */
export function createDomain(deps: Deps) {
  const { kv, clock, config } = deps;
  const instanceId = newId();
  const feed = new FeedWriter(kv, clock);
  const presence = new Presence(kv, feed, clock, instanceId, {
    ...defaultPresenceOptions,
    graceMs: config.presenceGraceMs,
  });
  const hub = new Hub(kv, feed, presence, clock, {
    ...defaultHubOptions,
    pollMs: needsPoll(config) ? defaultHubOptions.pollMs : null,
    maxBufferedBytes: config.streamBufferBytes,
  });
  const sender = new MessageSender(feed, (messages) => hub.remember(messages));
  const heartbeatMs = defaultPresenceOptions.leaseMs / 3;
  const jobs = new Jobs(kv, clock, instanceId, [
    { name: "presence_sweep", everyMs: heartbeatMs, run: () => presence.sweep() },
    {
      name: "log_trim",
      everyMs: 60_000,
      run: async () => {
        while (await trimLog(kv, clock() - config.resumeWindowMs) === TRIM_BATCH);
      },
    },
  ]);
  // On Deno Deploy, main.ts ticks the jobs from Deno.cron instead.
  if (!config.onDeploy) jobs.start();
  const heartbeat = setInterval(() => {
    presence.renew().catch((e) => console.error("presence heartbeat failed", e));
  }, heartbeatMs);
  const signedIn = new SessionCache();

  return {
    config,
    clock,
    feed,
    hub,
    presence,
    jobs,
    health: bind(kv, { ping: pingKv }),
    accounts: {
      register: (username: string, password: string) => createUser(kv, username, password, clock()),
      ...bind(kv, { authenticate }),
    },
    loginThrottle: {
      assertAllowed: (username: string, address: string) =>
        assertLoginAllowed(kv, username, address, clock()),
      recordFailure: (username: string, address: string) =>
        recordLoginFailure(kv, username, address, clock()),
      ...bind(kv, { clear: clearLoginFailures }),
    },
    sessions: {
      start: (userId: string) => createSession(kv, userId, clock(), config.sessionTtlMs),
      /** The live session and user of a token (cached briefly); `null` if it is not live. */
      async signIn(token: string): Promise<SignedIn | null> {
        const cached = signedIn.get(token);
        if (cached) return cached.session.expiresAt > clock() ? cached : null;
        const session = await findSession(kv, token, clock());
        const user = session && await getUser(kv, session.userId);
        if (!session || !user) return null;
        signedIn.set(token, { session, user });
        return { session, user };
      },
      /** Ends a session: its token stops working and its streams here end. */
      async end(token: string): Promise<void> {
        await revokeSession(kv, token);
        signedIn.delete(token);
        hub.endSession(token);
      },
    },
    rooms: {
      ...bind(feed, { create: createRoom, join: joinRoom, leave: leaveRoom, invite: addMember }),
      ...bind(kv, {
        view: getRoomView,
        mine: listRoomsOf,
        directory: listPublicRooms,
        unreadTotal,
        assertMember,
        members: listMembers,
      }),
    },
    directs: bind(feed, { open: openDirect }),
    messages: {
      send: sender.send.bind(sender),
      ...bind(kv, { history: listMessages }),
    },
    readMarkers: bind(feed, { mark: markRead }),
    typing: bind(feed, { send: sendTyping }),
    users: bind(kv, { withPresence: listUsersWithPresence }),
    /** Ends every stream cleanly, stops the timers, drops presence leases, lets commits finish. */
    async close(): Promise<void> {
      clearInterval(heartbeat);
      jobs.stop();
      await hub.close();
      await presence.close();
      await feed.close();
    },
  };
}

/** The built domain: what routes are given. */
export type Domain = ReturnType<typeof createDomain>;

/**
 * The domain, wired: the long-lived services (event writer, hub, presence,
 * scheduled jobs) built over one KV, and every operation the routes may call,
 * bound to them. Routes receive this and never the KV handle.
 *
 * @module
 */
import {
  authenticate,
  changePassword,
  createUser,
  getSettings,
  getUser,
  updateSettings,
} from "./accounts.ts";
import { deleteRoom, listAccounts, setSuspension, suspensionOf } from "./admin.ts";
import {
  findAttachment,
  readBytes,
  type StoredAttachment,
  storeUpload,
  sweepAttachments,
  usage,
} from "./attachments.ts";
import { listAudit } from "./audit.ts";
import { blockUser, listBlocks, unblockUser } from "./blocks.ts";
import { ContentFilter } from "./content_filter.ts";
import { ApiError, Errors } from "./errors.ts";
import { deleteMessage, editMessage, type MessageChange } from "./message_edits.ts";
import {
  type Actor,
  assertModerates,
  banUser,
  listBans,
  removeMember,
  setRole,
  unbanUser,
} from "./moderation.ts";
import type { Config } from "./config.ts";
import { kvIsLocal, needsPoll } from "./config.ts";
import { openDirect } from "./directs.ts";
import {
  type DeviceInput,
  getDevice,
  listDevices,
  publishDevice,
  retireDevice,
  sameKeys,
} from "./devices.ts";
import { FeedWriter, MAX_CHECKS, TRIM_BATCH, trimLog } from "./feed.ts";
import { pingKv } from "./health.ts";
import { defaultHubOptions, Hub } from "./hub.ts";
import { newId } from "./ids.ts";
import { Jobs } from "./jobs.ts";
import { declineInvitation, inviteUser, listInvitations } from "./invitations.ts";
import { reserveLoginAttempt } from "./login_throttle.ts";
import { assertMember, joinRoom, leaveRoom, listMembers } from "./members.ts";
import { setHashConcurrency } from "./password.ts";
import { RateLimiter } from "./rate_limits.ts";
import { listMentions } from "./mentions.ts";
import { MessageSender, readHistory } from "./messages.ts";
import { type SendRequest, SendRouting } from "./send_routing.ts";
import { logEpoch } from "./log_follower.ts";
import { react } from "./reactions.ts";
import { defaultPresenceOptions, listUsersWithPresence, Presence } from "./presence.ts";
import { markRead } from "./read_markers.ts";
import {
  createRoom,
  getRoomView,
  listPublicRooms,
  listRoomsOf,
  setRoomSettings,
  unreadTotal,
} from "./rooms.ts";
import { SessionCache, type SignedIn } from "./session_cache.ts";
import { getUsers, type User } from "./accounts.ts";
import { memberKey } from "./keys.ts";
import type { StoredMember } from "./members.ts";
import type { Envelope, Role } from "../shared/api_types.ts";
import {
  createSession,
  endSessions,
  findSession,
  listSessions,
  type SessionOrigin,
  touchSession,
} from "./sessions.ts";
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
  const feed = new FeedWriter(kv, clock, kvIsLocal(config) ? MAX_CHECKS.local : MAX_CHECKS.remote);
  const presence = new Presence(kv, feed, clock, instanceId, {
    ...defaultPresenceOptions,
    graceMs: config.presenceGraceMs,
  });
  const hub = new Hub(kv, feed, presence, clock, {
    ...defaultHubOptions,
    pollMs: needsPoll(config) ? defaultHubOptions.pollMs : null,
    maxBufferedBytes: config.streamBufferBytes,
    maxStreamsPerUser: config.rateLimitsOn ? config.maxStreamsPerUser : Infinity,
    stallMs: config.streamStallMs,
    keepAliveMs: config.keepAliveMs,
  });
  const limiter = new RateLimiter(kv, clock, config.limits, config.rateLimitsOn);
  setHashConcurrency(config.hashConcurrency);
  const sender = new MessageSender(feed, (messages) => hub.remember(messages));
  const sendHere = (r: SendRequest) =>
    sender.send(r.roomId, r.author, r.text, r.clientId, r.attachmentIds, r.replyTo, r.envelope);
  // Workers on one local file send each room's messages from one of them. They
  // find each other by the database's log epoch, which names that database and
  // no other (a path would not: tests open many databases beside the configured one).
  let routing: SendRouting | null = null;
  let closed = false;
  if (needsPoll(config)) {
    logEpoch(kv).then((epoch) => {
      if (!closed) routing = new SendRouting(`parley-sends:${epoch}`, sendHere);
    }, (e) => closed || console.error("send routing not started", e));
  }
  const heartbeatMs = defaultPresenceOptions.leaseMs / 3;
  const jobs = new Jobs(kv, clock, instanceId, [
    { name: "presence_sweep", everyMs: heartbeatMs, run: () => presence.sweep() },
    {
      name: "attachment_sweep",
      everyMs: 10 * 60_000,
      run: async () => void await sweepAttachments(kv, clock()),
    },
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
  const filter = new ContentFilter(config.contentFilterTerms);
  const admins = new Set(config.admins);
  const isAdmin = (user: User) => admins.has(user.username.toLowerCase());
  const actor = (user: User): Actor => ({ user, isAdmin: isAdmin(user) });
  /** Requires an administrator. */
  const asAdmin = (user: User) => {
    if (!isAdmin(user)) throw new ApiError(Errors.notAdmin);
  };
  // A session ended on any instance stops working here at once, not after the cache's age.
  hub.onSessionsEnded((ids) => signedIn.forgetSessions(ids));

  return {
    /** This instance's id: it names its presence leases and answers `X-Parley-Instance`. */
    instanceId,
    config,
    clock,
    feed,
    hub,
    presence,
    jobs,
    health: bind(kv, { ping: pingKv }),
    accounts: {
      /** Registers, counting against the address's registrations (shared through KV). */
      async register(username: string, password: string, address: string) {
        await limiter.take("registrations", address);
        return await createUser(kv, username, password, clock());
      },
      /**
       * Checks a password, counting the attempt before the check.
       *
       * @throws {ApiError} `rate_limited` when the username from this address,
       * or this address, has failed too often.
       */
      async logIn(username: string, password: string, address: string) {
        const attempt = await reserveLoginAttempt(kv, username, address, clock());
        const user = await authenticate(kv, username, password);
        if (!user) return null;
        await attempt.succeeded();
        // Only someone who knows the password learns that the account is suspended.
        const suspended = await suspensionOf(kv, user.id);
        if (suspended) throw new ApiError(Errors.suspended, { reason: suspended.reason });
        return user;
      },
      settings: async (user: User) => ({
        ...await getSettings(kv, user.id),
        admin: isAdmin(user),
        storage: { used: await usage(kv, user.id), quota: config.uploadQuotaBytes },
      }),
      ...bind(kv, { updateSettings }),
      /** Changes the password and ends every other session of the user. */
      async changePassword(user: User, current: string, next: string, keepSessionId: string) {
        await changePassword(kv, user.id, current, next);
        await endSessions(feed, user.id, { allBut: keepSessionId });
      },
    },
    sessions: {
      start: (userId: string, origin: SessionOrigin) =>
        createSession(kv, userId, clock(), config.sessionTtlMs, origin),
      /** The live session and user of a token (cached briefly); `null` if it is not live. */
      async signIn(token: string): Promise<SignedIn | null> {
        const cached = signedIn.get(token);
        if (cached) return cached.session.expiresAt > clock() ? cached : null;
        const session = await findSession(kv, token, clock());
        const user = session && await getUser(kv, session.userId);
        if (!session || !user) return null;
        signedIn.set(token, { session, user });
        touchSession(kv, token, session, clock()).catch(() => {});
        return { session, user };
      },
      list: (userId: string) => listSessions(kv, userId, clock()),
      /** Ends sessions of a user: their tokens stop working and their streams end everywhere. */
      async end(userId: string, which: string[] | { allBut: string | null }) {
        const ids = await endSessions(feed, userId, which);
        // Here at once; other instances when the log reaches them.
        signedIn.forgetSessions(ids);
        return ids;
      },
    },
    rooms: {
      async create(owner: User, input: Parameters<typeof createRoom>[2]) {
        filter.check(input.name);
        await limiter.take("rooms", owner.id);
        return await createRoom(feed, owner, input);
      },
      setRole: (user: User, roomId: string, userId: string, role: Role) =>
        setRole(feed, actor(user), roomId, userId, role),
      async kick(user: User, roomId: string, userId: string) {
        const [target] = await getUsers(kv, [userId]);
        if (!target) throw new ApiError(Errors.userNotFound);
        await removeMember(feed, actor(user), roomId, target);
      },
      ban: (
        user: User,
        roomId: string,
        body: { username: string; reason?: string; minutes?: number },
      ) => banUser(feed, actor(user), roomId, body.username, body, clock()),
      unban: (user: User, roomId: string, userId: string) =>
        unbanUser(feed, actor(user), roomId, userId),
      bans: (user: User, roomId: string) => listBans(kv, actor(user), roomId, clock()),
      async audit(user: User, roomId: string, page: { limit: number; before?: string }) {
        const member = (await kv.get<StoredMember>(memberKey(roomId, user.id))).value;
        assertModerates(actor(user), member);
        return await listAudit(kv, roomId, page);
      },
      delete: (user: User, roomId: string) => deleteRoom(feed, actor(user), roomId),
      async settings(user: User, roomId: string, settings: { muted: boolean }) {
        await setRoomSettings(feed, user.id, roomId, settings);
        return await getRoomView(kv, roomId, user.id);
      },
      /**
       * Switches a direct conversation's end-to-end encryption; a real switch
       * is a notice message, so it counts against the author's messages.
       */
      async setEncryption(user: User, roomId: string, encrypted: boolean) {
        limiter.takeHere("messages", user.id);
        await sender.switchEncryption(roomId, user, encrypted);
        return await getRoomView(kv, roomId, user.id);
      },
      ...bind(feed, { join: joinRoom, leave: leaveRoom }),
      ...bind(kv, {
        view: getRoomView,
        mine: listRoomsOf,
        directory: listPublicRooms,
        unreadTotal,
        assertMember,
        members: listMembers,
      }),
    },
    invitations: {
      async send(inviter: User, roomId: string, username: string) {
        await limiter.take("invites", inviter.id);
        return await inviteUser(feed, inviter, roomId, username);
      },
      accept: (user: User, roomId: string) => joinRoom(feed, user, roomId, true),
      ...bind(feed, { decline: declineInvitation }),
      ...bind(kv, { list: listInvitations }),
    },
    blocks: {
      ...bind(feed, { block: blockUser, unblock: unblockUser }),
      ...bind(kv, { list: listBlocks }),
    },
    directs: {
      async open(user: User, username: string, encrypted?: boolean) {
        await limiter.take("directs", user.id);
        return await openDirect(feed, user, username, encrypted);
      },
    },
    devices: {
      /** Publishes a device; only a change (a new device) counts against the user's bucket. */
      async publish(user: User, deviceId: string, input: DeviceInput) {
        const known = await getDevice(kv, user.id, deviceId);
        if (!known || !sameKeys(known, input)) await limiter.take("devices", user.id);
        return await publishDevice(feed, user, deviceId, input);
      },
      async retire(user: User, deviceId: string) {
        await limiter.take("devices", user.id);
        await retireDevice(feed, user, deviceId);
      },
      list: (username: string) => listDevices(kv, username),
    },
    messages: {
      /** Sends; a user's messages count against a bucket on this instance (the hot path). */
      send(
        roomId: string,
        author: User,
        body: {
          text: string;
          clientId?: string;
          attachments?: string[];
          replyTo?: number;
          envelope?: Envelope;
        },
      ) {
        // An envelope's text is "": the server cannot read what it carries.
        if (!body.envelope) filter.check(body.text);
        limiter.takeHere("messages", author.id);
        const request: SendRequest = {
          roomId,
          author,
          text: body.text,
          clientId: body.clientId,
          attachmentIds: body.attachments ?? [],
          replyTo: body.replyTo,
          envelope: body.envelope,
        };
        return routing ? routing.send(request) : sendHere(request);
      },
      /** Adds or takes back a reaction; reactions count against a bucket here, like messages. */
      react(user: User, roomId: string, seq: number, emoji: string, add: boolean) {
        limiter.takeHere("reactions", user.id);
        return react(feed, user, roomId, seq, emoji, add);
      },
      history: (userId: string, roomId: string, page: Parameters<typeof readHistory>[3]) =>
        readHistory(kv, userId, roomId, page),
      mentions: (userId: string, page: { limit: number; before?: string }) =>
        listMentions(kv, userId, page),
      edit: (author: User, roomId: string, seq: number, change: MessageChange) =>
        editMessage(feed, filter, author, roomId, seq, change),
      delete: (user: User, roomId: string, seq: number) =>
        deleteMessage(feed, user, roomId, seq, isAdmin(user)),
    },
    readMarkers: bind(feed, { mark: markRead }),
    typing: {
      /** Tells the room; signals past the limit are dropped quietly. */
      async send(roomId: string, user: User) {
        if (limiter.tryHere("typing", `${user.id}\n${roomId}`)) {
          await sendTyping(feed, roomId, user);
        }
      },
    },
    users: bind(kv, { withPresence: listUsersWithPresence }),
    attachments: {
      /** Stores an upload to a room of the user's, counting against their uploads. */
      async upload(
        user: User,
        roomId: string,
        file: { name: string; contentType: string; body: AsyncIterable<Uint8Array> },
      ) {
        await assertMember(kv, roomId, user.id);
        await limiter.take("uploads", user.id);
        const limits = { maxBytes: config.maxUploadBytes, quotaBytes: config.uploadQuotaBytes };
        return await storeUpload(kv, user, roomId, file, limits, clock());
      },
      /** An attachment, for members of its room; anyone else is told it does not exist. */
      async find(user: User, id: string) {
        const attachment = await findAttachment(kv, id);
        try {
          await assertMember(kv, attachment.roomId, user.id);
        } catch (error) {
          throw error instanceof ApiError && error.kind === Errors.notMember
            ? new ApiError(Errors.attachmentNotFound)
            : error;
        }
        return attachment;
      },
      /** Bytes `start`..`end` of a file found with `find`. */
      read: (attachment: StoredAttachment, start?: number, end?: number) =>
        readBytes(kv, attachment, start, end),
      limits: { maxBytes: config.maxUploadBytes, quotaBytes: config.uploadQuotaBytes },
    },
    admin: {
      isAdmin,
      /** Suspends an account: its sessions and streams end, its logins are refused. */
      async suspend(user: User, username: string, reason: string | null) {
        asAdmin(user);
        const target = await setSuspension(feed, user, username, { reason });
        await endSessions(feed, target.id, { allBut: null });
      },
      async unsuspend(user: User, username: string) {
        asAdmin(user);
        await setSuspension(feed, user, username, null);
      },
      async accounts(user: User, page: { limit: number; after?: string }) {
        asAdmin(user);
        return await listAccounts(kv, page);
      },
      async audit(user: User, page: { limit: number; before?: string }) {
        asAdmin(user);
        return await listAudit(kv, null, page);
      },
    },
    /** Ends every stream cleanly, stops the timers, drops presence leases, lets commits finish. */
    async close(): Promise<void> {
      closed = true;
      routing?.close();
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

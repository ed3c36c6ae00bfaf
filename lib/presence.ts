/**
 * Presence: who is online and when they were last seen.
 *
 * A user is online while any instance holds an open stream of theirs. Each
 * instance keeps a lease per user in KV and renews it on a heartbeat; a lease
 * that is not renewed (a crashed process, a vanished network) expires, and
 * the next sweep marks the user offline. Closing the last stream marks them
 * offline only after a grace period, so a page reload does not flap.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import { domainOf, type FeedWriter, type Plan } from "./feed.ts";
import {
  presenceKey,
  presenceLeaseKey,
  presenceLeasesPrefix,
  presencePrefix,
  usernamesPrefix,
} from "./keys.ts";
import { getUsers, presenceVisibilityOf } from "./accounts.ts";
import { contactsOf } from "./members.ts";
import { getManyChunked } from "./get_many.ts";
import { retryLocked } from "./kv_retry.ts";

/** A user's presence as stored and as the API shows it. */
export interface PresenceState {
  online: boolean;
  lastSeen: number | null;
}

/** Timings of presence. */
export interface PresenceOptions {
  /** How long after the last stream closes a user goes offline. */
  graceMs: number;
  /** How long a lease lasts without renewal. */
  leaseMs: number;
}

/** The defaults: 5 s of grace; leases of 45 s renewed every 15 s, so offline within 60 s. */
export const defaultPresenceOptions: PresenceOptions = { graceMs: 5_000, leaseMs: 45_000 };

interface Lease {
  expiresAt: number;
}

/** Tracks this instance's connected users and publishes their presence. */
export class Presence {
  #kv: Deno.Kv;
  #feed: FeedWriter;
  #clock: () => number;
  #instanceId: string;
  #options: PresenceOptions;
  #sweeping = false;
  #local = new Map<
    string,
    { user: User; streams: number; offlineTimer?: ReturnType<typeof setTimeout> }
  >();

  constructor(
    kv: Deno.Kv,
    feed: FeedWriter,
    clock: () => number,
    instanceId: string,
    options: PresenceOptions,
  ) {
    this.#kv = kv;
    this.#feed = feed;
    this.#clock = clock;
    this.#instanceId = instanceId;
    this.#options = options;
  }

  /**
   * A stream of `user` opened here. The lease is written behind the stream:
   * opening a stream never waits for a commit.
   */
  connect(user: User): void {
    const local = this.#local.get(user.id);
    if (local) {
      local.streams++;
      clearTimeout(local.offlineTimer);
      local.offlineTimer = undefined;
      return;
    }
    this.#local.set(user.id, { user, streams: 1 });
    this.#settle(user.id, user).catch(logFailure);
  }

  /** A stream of `user` closed here; after the grace period with none open, they go offline. */
  disconnect(userId: string): void {
    const local = this.#local.get(userId);
    if (!local || --local.streams > 0) return;
    local.offlineTimer = setTimeout(() => {
      this.#local.delete(userId);
      this.#settle(userId).catch(logFailure);
    }, this.#options.graceMs);
  }

  /**
   * The heartbeat: renews this instance's leases, and puts back online any
   * user of ours that someone swept while our heartbeat was late. Every
   * instance runs it for its own users.
   */
  async renew(): Promise<void> {
    const expiresAt = this.#clock() + this.#options.leaseMs;
    const held = [...this.#local.values()].filter((l) => l.offlineTimer === undefined);
    for (let i = 0; i < held.length; i += 500) {
      // Leases are this instance's own keys: a plain write, no check.
      await retryLocked(() => {
        const op = this.#kv.atomic();
        for (const l of held.slice(i, i + 500)) {
          op.set(presenceLeaseKey(l.user.id, this.#instanceId), { expiresAt } satisfies Lease);
        }
        return op.commit();
      });
    }
    const states = await getManyChunked<PresenceState>(
      this.#kv,
      held.map((l) => presenceKey(l.user.id)),
    );
    await Promise.all(
      held.filter((_, i) => !states[i]?.online).map((l) => this.#settle(l.user.id, l.user)),
    );
  }

  /**
   * Marks offline every user shown online whose leases have all expired (their
   * instance died). One instance of a deployment runs it at a time.
   */
  async sweep(): Promise<void> {
    // A slow sweep is not overlapped by the next tick's.
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const now = this.#clock();
      for await (const e of this.#kv.list<PresenceState>({ prefix: presencePrefix() })) {
        const userId = e.key[1] as string;
        if (!e.value.online || this.#local.has(userId)) continue;
        // Only a user whose every lease has run out needs a commit.
        if (await this.#anyLeaseLive(userId, now)) continue;
        await this.#settle(userId).catch(logFailure);
      }
    } finally {
      this.#sweeping = false;
    }
  }

  async #anyLeaseLive(userId: string, now: number): Promise<boolean> {
    for await (const e of this.#kv.list<Lease>({ prefix: presenceLeasesPrefix(userId) })) {
      if (e.value.expiresAt > now) return true;
    }
    return false;
  }

  /**
   * A graceful shutdown: drops this instance's leases without announcing
   * anything, so users whose clients reconnect to another instance do not
   * flap offline; those who do not come back are swept when the grace ends.
   */
  async close(): Promise<void> {
    const ids = [...this.#local.keys()];
    for (const l of this.#local.values()) clearTimeout(l.offlineTimer);
    this.#local.clear();
    for (let i = 0; i < ids.length; i += 500) {
      await retryLocked(() => {
        const op = this.#kv.atomic();
        for (const id of ids.slice(i, i + 500)) op.delete(presenceLeaseKey(id, this.#instanceId));
        return op.commit();
      }).catch(logFailure);
    }
  }

  /**
   * Writes this instance's lease (held) or drops it, then publishes a change
   * of the user's presence, if there is one. The commit checks and rewrites
   * the user's presence key, so settles from several instances take turns.
   */
  #settle(userId: string, held?: User): Promise<void> {
    const leaseMs = this.#options.leaseMs;
    return this.#feed.run(domainOf.user(userId), async (kv, now) => {
      const stored = await kv.get<PresenceState>(presenceKey(userId));
      const leases: [Deno.KvKey, Lease][] = [];
      for await (const e of kv.list<Lease>({ prefix: presenceLeasesPrefix(userId) })) {
        leases.push([e.key, e.value]);
      }
      const mine = presenceLeaseKey(userId, this.#instanceId);
      const stale = leases.filter(([k, l]) => l.expiresAt <= now || (!held && k[2] === mine[2]));
      const online = !!held || leases.length > stale.length;
      const changed = online !== (stored.value?.online === true);
      const user = held ?? (changed ? (await getUsers(kv, [userId]))[0] : null);
      const publish = changed && user;
      const state: PresenceState = publish
        ? { online, lastSeen: now }
        : stored.value ?? { online: false, lastSeen: null };
      return {
        checks: [stored],
        events: publish ? [{ type: "presence", user, online, lastSeen: now }] : [],
        apply(op) {
          for (const [k] of stale) op.delete(k);
          if (held) op.set(mine, { expiresAt: now + leaseMs } satisfies Lease);
          op.set(presenceKey(userId), state);
        },
        value: undefined,
      } satisfies Plan & { value: void };
    });
  }
}

/** The presence of many users, in the order asked. */
export async function getPresence(kv: Deno.Kv, userIds: string[]): Promise<PresenceState[]> {
  const states = await getManyChunked<PresenceState>(kv, userIds.map(presenceKey));
  return states.map((s) => s ?? { online: false, lastSeen: null });
}

/**
 * Users with their presence as `viewerId` may see it, alphabetically;
 * `onlineOnly` keeps those online. Someone who shows their presence to
 * contacts only is shown offline, never seen, to everyone else.
 */
export async function listUsersWithPresence(
  kv: Deno.Kv,
  viewerId: string,
  options: { onlineOnly: boolean; limit: number },
): Promise<(User & PresenceState)[]> {
  const result: (User & PresenceState)[] = [];
  let batch: string[] = [];
  let contacts: Set<string> | undefined;
  const hidden: PresenceState = { online: false, lastSeen: null };
  const flush = async () => {
    const [users, states, visibility] = await Promise.all([
      getUsers(kv, batch),
      getPresence(kv, batch),
      presenceVisibilityOf(kv, batch),
    ]);
    if (!contacts && visibility.includes("contacts")) contacts = await contactsOf(kv, viewerId);
    users.forEach((u, i) => {
      const shown = visibility[i] === "everyone" || u?.id === viewerId || contacts?.has(u!.id)
        ? states[i]
        : hidden;
      if (u && (!options.onlineOnly || shown.online)) result.push({ ...u, ...shown });
    });
    batch = [];
  };
  for await (const e of kv.list<string>({ prefix: usernamesPrefix() })) {
    batch.push(e.value);
    if (batch.length === 100) await flush();
    if (result.length >= options.limit) break;
  }
  if (batch.length) await flush();
  return result.slice(0, options.limit);
}

function logFailure(error: unknown): void {
  console.error("presence update failed", error);
}

/**
 * The user's account: whom they block, their sessions, their password and
 * who sees their presence.
 *
 * @module
 */
import { applyEvent, stopTyping } from "../shared/client_state.ts";
import { api } from "./client_api.ts";
import type { RoomActions } from "./room_actions.ts";
import type { StoreCore } from "./store_core.ts";
import type { Block, PresenceVisibility, SessionInfo, User } from "./types.ts";

/** `GET /api/me` and `PATCH /api/me`. */
interface MeResult {
  user: User;
  unread: number;
  presenceVisibility: PresenceVisibility;
  /** Bytes the user's attachments take, and may take. */
  storage: StorageUse;
}

/** What the user's files take of their quota, in bytes. */
export interface StorageUse {
  used: number;
  quota: number;
}

/** Builds the account actions. */
export function createAccount(core: StoreCore, actions: RoomActions) {
  const { state, update, blocked, refreshAccount } = core;
  const { signedOut } = actions;

  function setBlocked(user: User, isBlocked: boolean) {
    update((s) => {
      let next = applyEvent(s, { type: "block", id: null, data: { user, blocked: isBlocked } }, 0);
      // What they were typing goes at once; the server sends no more of it.
      if (isBlocked) { for (const roomId in next.typing) next = stopTyping(next, roomId, user.id); }
      return next;
    });
  }

  /** Blocks a user by name. */
  async function block(username: string): Promise<User> {
    const { block: created } = await api<{ block: Block }>("POST", "/api/me/blocks", {
      username,
    });
    setBlocked(created.user, true);
    return created.user;
  }

  /** Lifts a block: of a user, or of the blocked user with that name. */
  async function unblock(who: User | string): Promise<User> {
    let user = typeof who === "string" ? blockedNamed(who) : who;
    if (!user && typeof who === "string") {
      await refreshAccount();
      user = blockedNamed(who);
    }
    if (!user) throw new Error(`You do not block ${who}.`);
    await api("DELETE", `/api/me/blocks/${user.id}`);
    setBlocked(user, false);
    return user;
  }

  function blockedNamed(username: string): User | undefined {
    const lower = username.toLowerCase();
    return Object.values(state.value.blocked).find((u) => u.username.toLowerCase() === lower);
  }

  function isBlocked(userId: string): boolean {
    return userId in blocked.value;
  }

  /** The user's sessions, this one first, then by last use. */
  async function sessions(): Promise<SessionInfo[]> {
    const { sessions: list } = await api<{ sessions: SessionInfo[] }>("GET", "/api/me/sessions");
    return list.sort((a, b) =>
      Number(b.current) - Number(a.current) || b.lastUsedAt - a.lastUsedAt
    );
  }

  /** Ends one session; ending this one signs out here. */
  async function endSession(session: SessionInfo) {
    await api("DELETE", `/api/me/sessions/${session.id}`);
    if (session.current) signedOut();
  }

  /** Ends every session, this one too. */
  async function logoutAll() {
    await api("POST", "/api/me/logout-all");
    signedOut();
  }

  /** Changes the password; every other session ends. */
  async function changePassword(current: string, next: string) {
    await api("POST", "/api/me/password", { current, new: next });
  }

  async function presence(): Promise<PresenceVisibility> {
    return (await api<MeResult>("GET", "/api/me")).presenceVisibility;
  }

  /** What the user's files take of their quota. */
  async function storage(): Promise<StorageUse> {
    return (await api<MeResult>("GET", "/api/me")).storage;
  }

  async function setPresence(visibility: PresenceVisibility): Promise<PresenceVisibility> {
    const me = await api<MeResult>("PATCH", "/api/me", { presenceVisibility: visibility });
    return me.presenceVisibility;
  }

  return {
    block,
    unblock,
    isBlocked,
    sessions,
    endSession,
    logoutAll,
    changePassword,
    presence,
    setPresence,
    storage,
  };
}

/** The account actions. */
export type Account = ReturnType<typeof createAccount>;

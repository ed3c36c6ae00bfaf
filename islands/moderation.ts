/**
 * The life of a message and the tools of moderation: editing and deleting
 * messages, who may do what in a room (roles), kick, ban and unban, the
 * room's audit log, deleting a room, and the administrators' accounts list,
 * suspensions and server audit log.
 *
 * @module
 */
import { computed } from "@preact/signals";
import { applyEvent } from "../shared/client_state.ts";
import { api } from "./client_api.ts";
import type { Encryption } from "./encryption.ts";
import type { StoreCore } from "./store_core.ts";
import type { AdminUser, AuditEntry, Ban, Member, Message, Role } from "./types.ts";

/** A page of an audit log, newest first; `next` goes further back. */
export interface AuditPage {
  entries: AuditEntry[];
  next: string | null;
}

/** A page of accounts, by name; `next` goes on. */
export interface AdminUserPage {
  users: AdminUser[];
  next: string | null;
}

/** How roles rank: nobody acts on someone of their own rank or higher. */
const RANK: Record<Role, number> = { member: 0, moderator: 1, owner: 2 };
/** An administrator outranks every role but the owner's, which nobody acts on. */
const ADMIN_RANK = 3;

/** Builds the moderation actions on the store's core; `e2e` seals edits in encrypted conversations. */
export function createModeration(core: StoreCore, e2e: Encryption) {
  const { me, admin, state, update, editing, currentId, current } = core;
  const base = (roomId: string) => `/api/rooms/${roomId}`;

  /** The user's role in a group room, once its members are loaded. */
  function roleIn(roomId: string): Role | null {
    const room = state.value.rooms[roomId];
    if (!room || room.kind !== "group") return null;
    if (room.ownerId === me.value?.id) return "owner";
    return state.value.members[roomId]?.find((m) => m.id === me.value?.id)?.role ?? null;
  }

  /**
   * The user's rank in the open conversation (-1: none). A signal of its
   * own, so what renders from it renders again only when it changes, not
   * at every event.
   */
  const rankHere = computed(() => {
    if (admin.value) return ADMIN_RANK;
    const role = currentId.value ? roleIn(currentId.value) : null;
    return role ? RANK[role] : -1;
  });

  const inGroup = () => current.value?.kind === "group";

  /** Whether the user moderates the open room: its owner, a moderator, or an administrator. */
  function moderates(): boolean {
    return inGroup() && rankHere.value >= RANK.moderator;
  }

  /** Whether the user gives roles in the open room: its owner, or an administrator. */
  function givesRoles(): boolean {
    return inGroup() && rankHere.value >= RANK.owner;
  }

  /**
   * Whether the user may kick or ban a member of the open room: never its
   * owner, nor someone of an equal or higher role.
   */
  function outranks(member: Member): boolean {
    return moderates() && member.role !== "owner" && rankHere.value > RANK[member.role];
  }

  /** Whether the user may delete a message of the open conversation. */
  function mayDelete(m: Message): boolean {
    return !m.deleted && (m.author.id === me.value?.id || rankHere.value >= RANK.moderator);
  }

  /**
   * Whether the user may edit a message: their own, not deleted, not a
   * notice, and sealed if and only if the conversation is encrypted now (an
   * edit is sent the way a new message would be).
   */
  function mayEdit(m: Message): boolean {
    const encrypted = state.value.rooms[m.roomId]?.encrypted ?? false;
    return m.author.id === me.value?.id && !m.deleted && !m.notice &&
      Boolean(m.envelope) === encrypted;
  }

  /** The user's last message in a loaded conversation that can still be edited. */
  function lastOwn(roomId: string): Message | null {
    const messages = state.value.conversations[roomId]?.messages ?? [];
    for (let i = messages.length - 1; i >= 0; i--) {
      if (mayEdit(messages[i])) return messages[i];
    }
    return null;
  }

  function replaced(m: Message) {
    update((s) => applyEvent(s, { type: "message_update", id: null, data: m }, Date.now()));
  }

  /** Replaces the text of one of the user's messages; an encrypted one gets a new envelope. */
  async function edit(roomId: string, seq: number, text: string) {
    const old = state.value.conversations[roomId]?.messages.find((m) => m.seq === seq);
    const body = old?.envelope ? { envelope: await e2e.sealEdit(old, text) } : { text };
    const { message } = await api<{ message: Message }>(
      "PATCH",
      `${base(roomId)}/messages/${seq}`,
      body,
    );
    replaced(message);
  }

  /** Edits the user's last message (`/edit`). */
  async function editLast(roomId: string, text: string) {
    const last = lastOwn(roomId);
    if (!last) throw new Error("You have no message here to edit.");
    await edit(roomId, last.seq, text);
  }

  /** Deletes a message: it stays as a tombstone, "message deleted". */
  async function remove(m: Message) {
    await api("DELETE", `${base(m.roomId)}/messages/${m.seq}`);
    const e = editing.value;
    if (e?.roomId === m.roomId && e.seq === m.seq) editing.value = null;
    replaced({ ...m, text: "", deleted: true });
  }

  /** A member of a room by name, from its loaded member list. */
  function memberNamed(roomId: string, username: string): Member {
    const lower = username.toLowerCase();
    const found = state.value.members[roomId]?.find((m) => m.username.toLowerCase() === lower);
    if (!found) throw new Error(`No member called ${username} in this room.`);
    return found;
  }

  async function setRole(roomId: string, userId: string, role: Role) {
    await api("PUT", `${base(roomId)}/members/${userId}/role`, { role });
  }

  async function kick(roomId: string, userId: string) {
    await api("DELETE", `${base(roomId)}/members/${userId}`);
  }

  /** Bans someone by name; without `minutes`, until the ban is lifted. */
  async function ban(roomId: string, username: string, reason?: string, minutes?: number) {
    await api("POST", `${base(roomId)}/bans`, {
      username,
      ...(reason ? { reason } : {}),
      ...(minutes ? { minutes } : {}),
    });
  }

  async function bans(roomId: string): Promise<Ban[]> {
    return (await api<{ bans: Ban[] }>("GET", `${base(roomId)}/bans`)).bans;
  }

  async function unban(roomId: string, userId: string) {
    await api("DELETE", `${base(roomId)}/bans/${userId}`);
  }

  /** Lifts the ban of the user with that name. */
  async function unbanNamed(roomId: string, username: string): Promise<Ban> {
    const lower = username.toLowerCase();
    const found = (await bans(roomId)).find((b) => b.user.username.toLowerCase() === lower);
    if (!found) throw new Error(`${username} is not banned here.`);
    await unban(roomId, found.user.id);
    return found;
  }

  /** Deletes a room for everyone in it. */
  async function deleteRoom(roomId: string) {
    await api("DELETE", base(roomId));
  }

  const page = (before?: string | null) => "?limit=50" + (before ? `&before=${before}` : "");

  /** A page of a room's audit log, newest first. */
  function audit(roomId: string, before?: string | null): Promise<AuditPage> {
    return api<AuditPage>("GET", `${base(roomId)}/audit${page(before)}`);
  }

  /** A page of the server's audit log (administrators). */
  function serverAudit(before?: string | null): Promise<AuditPage> {
    return api<AuditPage>("GET", `/api/admin/audit${page(before)}`);
  }

  /** A page of the accounts (administrators). */
  function accounts(after?: string | null): Promise<AdminUserPage> {
    const query = "?limit=50" + (after ? `&after=${encodeURIComponent(after)}` : "");
    return api<AdminUserPage>("GET", `/api/admin/users${query}`);
  }

  async function suspend(username: string, reason?: string) {
    await api("POST", `/api/admin/users/${encodeURIComponent(username)}/suspend`, {
      ...(reason ? { reason } : {}),
    });
  }

  async function unsuspend(username: string) {
    await api("DELETE", `/api/admin/users/${encodeURIComponent(username)}/suspend`);
  }

  return {
    roleIn,
    rankHere,
    moderates,
    givesRoles,
    outranks,
    mayDelete,
    mayEdit,
    lastOwn,
    edit,
    editLast,
    remove,
    memberNamed,
    setRole,
    kick,
    ban,
    bans,
    unban,
    unbanNamed,
    deleteRoom,
    audit,
    serverAudit,
    accounts,
    suspend,
    unsuspend,
  };
}

/** The moderation actions. */
export type Moderation = ReturnType<typeof createModeration>;

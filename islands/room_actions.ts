/**
 * What buttons and slash commands do to rooms: join (by id or by name,
 * through the whole public directory), create, leave, open a direct
 * conversation, invite, answer an invitation, and sign out.
 *
 * @module
 */
import { resolveRoom } from "../shared/client_actions.ts";
import { api, ApiFailure, rateLimitedAs } from "./client_api.ts";
import type { Navigation } from "./navigation.ts";
import type { Outbox } from "./outbox.ts";
import type { StoreCore } from "./store_core.ts";
import type { Invitation, Room } from "./types.ts";

/** Builds the room actions. */
export function createRoomActions(core: StoreCore, nav: Navigation, outbox: Outbox) {
  const { state, update, invitations, upsertRoom, stream } = core;
  const { openRoom, leaveView } = nav;
  const { send } = outbox;

  async function joinByNameOrId(ref: string, mustBeMine: boolean) {
    const mine = Object.values(state.value.rooms).find((r) =>
      r.id === ref || r.name.toLowerCase() === ref.toLowerCase()
    );
    if (mine) return openRoom(mine.id);
    if (mustBeMine) throw new Error(`You have no room called ${ref}.`);
    const found = await resolveRoom(api, state.value, ref);
    if (found.mine) return openRoom(found.id);
    await joinRoom(found.id);
  }

  async function joinRoom(roomId: string) {
    const { room } = await api<{ room: Room }>("POST", `/api/rooms/${roomId}/join`);
    upsertRoom(room);
    await openRoom(room.id);
  }

  async function createRoom(name: string, isPrivate: boolean, capacity?: number) {
    const { room } = await api<{ room: Room }>("POST", "/api/rooms", {
      name,
      private: isPrivate,
      ...(capacity ? { capacity } : {}),
    }).catch(rateLimitedAs("new rooms"));
    upsertRoom(room);
    await openRoom(room.id);
  }

  async function leaveRoom(roomId: string) {
    await api("POST", `/api/rooms/${roomId}/leave`);
    leaveView(roomId);
  }

  /**
   * Opens the direct conversation with `username` (creating it, encrypted if
   * asked); asked for encryption, an existing conversation is switched to it.
   */
  async function openDirect(username: string, text?: string, encrypted = false) {
    let { room } = await api<{ room: Room }>(
      "POST",
      `/api/direct/${encodeURIComponent(username)}`,
      encrypted ? { encrypted: true } : undefined,
    ).catch(rateLimitedAs("new conversations"));
    if (encrypted && !room.encrypted) {
      const res = await api<{ room?: Room }>("PUT", `/api/rooms/${room.id}/encryption`, {
        encrypted: true,
      });
      room = { ...res?.room ?? room, encrypted: true };
    }
    upsertRoom(room);
    await openRoom(room.id);
    if (text) send(room.id, text);
  }

  /** Invites someone: they join when they accept. */
  async function invite(roomId: string, username: string): Promise<Invitation> {
    const { invitation } = await api<{ invitation: Invitation }>(
      "POST",
      `/api/rooms/${roomId}/members`,
      { username },
    ).catch(rateLimitedAs("invitations"));
    return invitation;
  }

  function dropInvitation(roomId: string) {
    update((s) => {
      const { [roomId]: _, ...rest } = s.invitations;
      return { ...s, invitations: rest };
    });
  }

  /** Accepts the invitation into a room and opens it. */
  async function acceptInvitation(roomId: string) {
    let room: Room;
    try {
      room = (await api<{ room: Room }>("POST", `/api/invites/${roomId}/accept`)).room;
    } catch (e) {
      // Taken back, or the room is gone: nothing to answer any more.
      if (e instanceof ApiFailure && e.status === 404) dropInvitation(roomId);
      throw e;
    }
    dropInvitation(roomId);
    upsertRoom(room);
    await openRoom(room.id);
  }

  async function declineInvitation(roomId: string) {
    try {
      await api("POST", `/api/invites/${roomId}/decline`);
    } catch (e) {
      if (!(e instanceof ApiFailure && e.status === 404)) throw e;
    }
    dropInvitation(roomId);
  }

  /** The invitation `ref` names (a room's name or id), or the newest one without `ref`. */
  function findInvitation(ref?: string): Invitation {
    const list = invitations.value;
    const lower = ref?.toLowerCase();
    const found = lower === undefined
      ? list[0]
      : list.find((i) => i.roomId === ref || i.roomName.toLowerCase() === lower);
    if (found) return found;
    throw new Error(ref ? `You have no invitation to ${ref}.` : "You have no invitations.");
  }

  async function logout() {
    await api("POST", "/api/auth/logout").catch(() => {});
    signedOut();
  }

  /** This session is over: every tab goes to the sign-in page. */
  function signedOut() {
    stream.current?.announceLogout();
    stream.current?.close();
    location.assign("/login");
  }

  return {
    joinByNameOrId,
    joinRoom,
    createRoom,
    leaveRoom,
    openDirect,
    invite,
    acceptInvitation,
    declineInvitation,
    findInvitation,
    logout,
    signedOut,
  };
}

/** The room actions. */
export type RoomActions = ReturnType<typeof createRoomActions>;

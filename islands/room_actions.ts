/**
 * What buttons and slash commands do to rooms: join (by id or by name,
 * through the whole public directory), create, leave, open a direct
 * conversation, invite, and sign out.
 *
 * @module
 */
import { resolveRoom } from "../shared/client_actions.ts";
import { api } from "./client_api.ts";
import type { Navigation } from "./navigation.ts";
import type { Outbox } from "./outbox.ts";
import type { StoreCore } from "./store_core.ts";
import type { Room } from "./types.ts";

/** Builds the room actions. */
export function createRoomActions(core: StoreCore, nav: Navigation, outbox: Outbox) {
  const { state, upsertRoom, stream } = core;
  const { openRoom, loadMembers, leaveView } = nav;
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
    });
    upsertRoom(room);
    await openRoom(room.id);
  }

  async function leaveRoom(roomId: string) {
    await api("POST", `/api/rooms/${roomId}/leave`);
    leaveView(roomId);
  }

  async function openDirect(username: string, text?: string) {
    const { room } = await api<{ room: Room }>(
      "POST",
      `/api/direct/${encodeURIComponent(username)}`,
    );
    upsertRoom(room);
    await openRoom(room.id);
    if (text) send(room.id, text);
  }

  async function invite(roomId: string, username: string) {
    const { room } = await api<{ room: Room }>("POST", `/api/rooms/${roomId}/members`, {
      username,
    });
    upsertRoom(room);
    await loadMembers(roomId);
  }

  async function logout() {
    await api("POST", "/api/auth/logout").catch(() => {});
    stream.current?.announceLogout();
    stream.current?.close();
    location.assign("/login");
  }

  return { joinByNameOrId, joinRoom, createRoom, leaveRoom, openDirect, invite, logout };
}

/** The room actions. */
export type RoomActions = ReturnType<typeof createRoomActions>;

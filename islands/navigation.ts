/**
 * Moving around the web app: opening a conversation (its history, members
 * and read marker), going home, paging history, leaving a view.
 *
 * @module
 */
import { batch } from "@preact/signals";
import { fetchAfter, fetchHistory, fetchMembers } from "../shared/client_actions.ts";
import { forgetRoom, withHistory, withMembers } from "../shared/client_state.ts";
import { HISTORY_PAGE_MAX } from "../shared/limits.ts";
import { api, ApiFailure } from "./client_api.ts";
import { message, type RoomProblem, type StoreCore } from "./store_core.ts";
import type { Room } from "./types.ts";

/** How many messages a conversation loads at first and per page back. */
export const HISTORY_PAGE = 50;

/** Builds the navigation actions on the store's core. */
export function createNavigation(core: StoreCore) {
  const {
    state,
    update,
    currentId,
    problem,
    dialog,
    editing,
    conversations,
    conversation,
    upsertRoom,
    patchRoom,
    notify,
  } = core;

  function isViewing(roomId: string): boolean {
    return currentId.value === roomId && document.visibilityState === "visible";
  }

  /** Opens a conversation, changing the URL unless told not to. */
  async function openRoom(roomId: string, push = true) {
    if (push && location.pathname !== `/rooms/${roomId}`) {
      history.pushState(null, "", `/rooms/${roomId}`);
    }
    batch(() => {
      if (editing.value?.roomId !== roomId) editing.value = null;
      currentId.value = roomId;
      problem.value = null;
      dialog.value = null;
    });
    let room = state.value.rooms[roomId];
    if (!room) {
      try {
        room = (await api<{ room: Room }>("GET", `/api/rooms/${roomId}`)).room;
        upsertRoom(room);
      } catch (e) {
        if (currentId.value === roomId) problem.value = roomProblem(roomId, e);
        return;
      }
    }
    const conv = conversation(roomId);
    conv.dividerSeq.value = room.unread > 0 ? room.lastSeq - room.unread + 1 : null;
    await Promise.all([
      conv.loaded.value ? fillGap(roomId) : loadLatest(roomId, room.unread),
      loadMembers(roomId),
    ]).catch((e) => notify("error", "Could not load the conversation", [message(e)]));
    markRead(roomId);
  }

  function goHome(push = true) {
    if (push && location.pathname !== "/") history.pushState(null, "", "/");
    batch(() => {
      currentId.value = null;
      problem.value = null;
    });
  }

  function roomProblem(roomId: string, e: unknown): RoomProblem {
    const code = e instanceof ApiFailure ? e.code : "network";
    return { roomId, code, message: message(e) };
  }

  async function loadLatest(roomId: string, unread = 0) {
    const conv = conversation(roomId);
    const limit = Math.min(HISTORY_PAGE_MAX, Math.max(HISTORY_PAGE, unread + 10));
    // An empty conversation first, so messages arriving while the page loads are kept.
    if (!state.value.conversations[roomId]) {
      update((s) => withHistory(s, roomId, { messages: [], hasMore: false }, "newer"));
    }
    const page = await fetchHistory(api, roomId, limit);
    batch(() => {
      update((s) => withHistory(s, roomId, page, "latest"));
      conv.loaded.value = true;
    });
    if (state.value.conversations[roomId]?.gap) await fillGap(roomId);
  }

  async function loadOlder(roomId: string) {
    const conv = conversation(roomId);
    const first = conv.messages.value[0];
    if (!first || !conv.hasMore.value || conv.loadingOlder.value) return;
    conv.loadingOlder.value = true;
    try {
      const page = await fetchHistory(api, roomId, HISTORY_PAGE, first.seq);
      update((s) => withHistory(s, roomId, page, "older"));
    } finally {
      conv.loadingOlder.value = false;
    }
  }

  /** Loads what came after the last loaded message, page by page. */
  async function fillGap(roomId: string) {
    const last = state.value.conversations[roomId]?.messages.at(-1)?.seq ?? 0;
    const page = await fetchAfter(api, roomId, last);
    update((s) => withHistory(s, roomId, page, "newer"));
  }

  async function loadMembers(roomId: string) {
    const list = await fetchMembers(api, roomId);
    update((s) => withMembers(s, roomId, list));
  }

  /** Moves the read marker to the room's last message when the user is looking at it. */
  function markRead(roomId: string) {
    const room = state.value.rooms[roomId];
    if (!room || room.unread === 0 || !isViewing(roomId)) return;
    patchRoom(roomId, (r) => ({ ...r, unread: 0, mentions: 0 }));
    api("POST", `/api/rooms/${roomId}/read`, { seq: room.lastSeq }).catch(() => {});
  }

  function leaveView(roomId: string) {
    update((s) => forgetRoom(s, roomId));
    conversations.delete(roomId);
    if (currentId.value === roomId) goHome();
  }

  return {
    isViewing,
    openRoom,
    goHome,
    loadLatest,
    loadOlder,
    fillGap,
    loadMembers,
    markRead,
    leaveView,
  };
}

/** The navigation actions. */
export type Navigation = ReturnType<typeof createNavigation>;

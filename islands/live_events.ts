/**
 * Live events: every event of the stream moves the shared state with
 * `applyEvent`; what only the page does about one (refetching an unknown
 * room, filling a gap, marking read, leaving a view) happens here too.
 *
 * @module
 */
import { batch } from "@preact/signals";
import { applyEvent, TYPING_SHOWN_MS, withoutExpiredTyping } from "../shared/client_state.ts";
import type { ParleyEvent } from "../shared/events.ts";
import type { Navigation } from "./navigation.ts";
import type { StoreCore } from "./store_core.ts";
import type { StreamEvent } from "./stream.ts";
import type { Message, Role } from "./types.ts";

const ROLE_NAMES: Record<Role, string> = {
  owner: "the owner",
  moderator: "a moderator",
  member: "a member",
};

/** "You were banned from #room: spam", what a removed user is told. */
function removedTitle(
  room: string,
  action: "removed" | "banned",
  reason?: string | null,
): string {
  const what = action === "banned" ? "banned from" : "removed from";
  return `You were ${what} #${room}` + (reason ? `: ${reason}` : "");
}

function removedLines(action: "removed" | "banned"): string[] {
  return action === "banned"
    ? ["You cannot rejoin it, be invited or post there until the ban ends or is lifted."]
    : ["A moderator took you out of the room. You may rejoin it if it is public."];
}

/**
 * Builds the event handlers on the store's core and navigation; `onNew`
 * hears of every message of someone else's that is new to this page.
 */
export function createLiveEvents(
  core: StoreCore,
  nav: Navigation,
  onNew: (m: Message) => void = () => {},
) {
  const {
    me,
    state,
    update,
    currentId,
    problem,
    people,
    conversations,
    refreshRooms,
    refreshAccount,
    notify,
  } = core;
  const { openRoom, fillGap, markRead, leaveView } = nav;

  /** A message from the stream, or the answer to our own send. */
  function receiveMessage(m: Message) {
    const mine = m.author.id === me.value?.id;
    const known = state.value.rooms[m.roomId];
    const fresh = !mine && (!known || m.seq > known.lastSeq);
    batch(() => {
      update((s) => applyEvent(s, { type: "message", id: null, data: m }, Date.now()));
      // Encryption switched on or off: the notice is the news, whoever switched.
      if (m.notice && known && m.seq > known.lastSeq) {
        core.patchRoom(m.roomId, (r) => ({ ...r, encrypted: m.notice === "encryption_on" }));
      }
      if (mine && m.clientId) {
        const conv = conversations.get(m.roomId);
        if (conv) conv.pending.value = conv.pending.value.filter((p) => p.clientId !== m.clientId);
      }
    });
    // A conversation new to this page is fetched before anyone hears of its message.
    if (!known) refreshRooms().then(() => fresh && onNew(m), () => {});
    else if (fresh) onNew(m);
    if (state.value.conversations[m.roomId]?.gap) fillGap(m.roomId).catch(() => {});
    if (!mine) markRead(m.roomId);
  }

  function onEvent(e: StreamEvent) {
    // The server encodes every event through the contract in shared/events.ts.
    const event = e as unknown as ParleyEvent;
    switch (event.type) {
      case "message":
        return receiveMessage(event.data);
      case "reset":
        return resync();
      case "typing":
        update((s) => applyEvent(s, event, Date.now()));
        setTimeout(
          () => update((s) => withoutExpiredTyping(s, Date.now())),
          TYPING_SHOWN_MS + 50,
        );
        return;
      case "member": {
        const { roomId, user, action, role, reason } = event.data;
        const room = state.value.rooms[roomId];
        const roleBefore = state.value.members[roomId]?.find((m) => m.id === user.id)?.role;
        update((s) => applyEvent(s, event, Date.now()));
        if (user.id !== me.value?.id) return;
        if (action === "left") leaveView(roomId);
        else if (action === "removed" || action === "banned") {
          leaveView(roomId);
          // Said as it happens; a replay after a reload finds the room gone and says nothing.
          if (room) notify("error", removedTitle(room.name, action, reason), removedLines(action));
        } else if (action === "role" && room && role && roleBefore && role !== roleBefore) {
          notify("info", `You are now ${ROLE_NAMES[role]} of #${room.name}`, []);
        }
        return;
      }
      case "room_deleted": {
        const room = state.value.rooms[event.data.roomId];
        update((s) => applyEvent(s, event, Date.now()));
        leaveView(event.data.roomId);
        if (room) notify("info", `#${room.name} was deleted`, []);
        return;
      }
      case "room":
        update((s) => applyEvent(s, event, Date.now()));
        if (currentId.value === event.data.room.id && problem.value) {
          openRoom(event.data.room.id, false);
        }
        return;
      case "presence": {
        const { userId, username, online: isOnline } = event.data;
        batch(() => {
          update((s) => applyEvent(s, event, Date.now()));
          if (!people.value.some((u) => u.id === userId)) {
            people.value = [...people.value, {
              id: userId,
              username,
              online: isOnline,
              lastSeen: null,
            }].sort((a, b) => a.username.localeCompare(b.username));
          }
        });
        return;
      }
      default:
        update((s) => applyEvent(s, event, Date.now()));
    }
  }

  /** After a `reset`, what we hold may be stale: load it all again. */
  async function resync() {
    await Promise.all([refreshRooms().catch(() => {}), refreshAccount().catch(() => {})]);
    for (const [roomId, conv] of conversations) {
      if (roomId !== currentId.value) {
        conversations.delete(roomId);
        update((s) => ({ ...s, conversations: without(s.conversations, roomId) }));
      } else await fillGap(roomId).catch(() => conv.loaded.value = false);
    }
  }

  return { receiveMessage, onEvent, resync };
}

function without<T>(map: Record<string, T>, key: string): Record<string, T> {
  const { [key]: _, ...rest } = map;
  return rest;
}

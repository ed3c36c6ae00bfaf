/**
 * The web app's store: its core (the shared client state in a signal, and
 * the signals derived from it) and its parts, put together. The components
 * read its signals and call its actions.
 *
 * @module
 */
import { createAccount } from "./account.ts";
import { createEncryption, type Whose } from "./encryption.ts";
import { createEssentials } from "./essentials.ts";
import { createLiveEvents } from "./live_events.ts";
import { createModeration } from "./moderation.ts";
import { createNavigation } from "./navigation.ts";
import { createNotifications } from "./notifications.ts";
import { createOutbox } from "./outbox.ts";
import { createRoomActions } from "./room_actions.ts";
import { createSlashCommands } from "./slash_commands.ts";
import { createCore } from "./store_core.ts";
import { connectSharedStream } from "./stream.ts";
import { createUploads } from "./uploads.ts";
import type { Boot } from "./types.ts";

export type { Conversation, Dialog, Editing, Notice, Pending, RoomProblem } from "./store_core.ts";

const PEOPLE_REFRESH_MS = 30_000;

/** Builds the store from what the server rendered into the page. */
export function createStore(boot: Boot) {
  const core = createCore(boot);
  const nav = createNavigation(core);
  const notifications = createNotifications(core, (roomId) => nav.openRoom(roomId));
  const live = createLiveEvents(core, nav, notifications.consider);
  const e2e = createEncryption(core);
  const outbox = createOutbox(core, e2e, live.receiveMessage);
  const actions = createRoomActions(core, nav, outbox);
  const account = createAccount(core, actions);
  const moderation = createModeration(core, e2e);
  const uploads = createUploads(core, boot.maxUploadBytes);
  const essentials = createEssentials(core);
  const { submit } = createSlashCommands(core, actions, account, outbox, moderation, e2e);
  const { me, status, currentId, stream, refreshRooms, refreshAccount, refreshPeople } = core;
  const { openRoom, goHome, markRead } = nav;
  /** Every event of the stream; `devices` is the encryption part's alone. */
  const onEvent: typeof live.onEvent = (e) => {
    if (e.type !== "devices") return live.onEvent(e);
    const data = e.data as { roomId?: unknown; userId?: unknown };
    if (typeof data?.roomId === "string" && typeof data.userId === "string") {
      e2e.onDevices({ roomId: data.roomId, userId: data.userId });
    }
  };

  /** The rooms whose conversation this page has loaded. */
  function openRooms() {
    const rooms = core.state.value.rooms;
    return [...core.conversations.keys()].flatMap((id) => rooms[id] ? [rooms[id]] : []);
  }

  /** Connects the live stream and the browser's events; call once, in the browser. */
  function start() {
    const user = me.value;
    if (!user) return;
    e2e.start();
    stream.current = connectSharedStream(user.id, {
      onEvent,
      onStatus: (s) => {
        const was = status.value;
        status.value = s;
        // Back after a drop: a `devices` event may be lost past the replay window.
        if (s === "live" && was === "reconnecting") e2e.recheck(openRooms()).catch(() => {});
      },
      onLogout: () => location.assign("/login"),
    });
    addEventListener("popstate", () => {
      const id = location.pathname.match(/^\/rooms\/([\w-]+)$/)?.[1];
      if (id) openRoom(id, false);
      else goHome(false);
    });
    document.addEventListener("visibilitychange", () => {
      notifications.refresh();
      if (!currentId.value || document.visibilityState !== "visible") return;
      markRead(currentId.value);
      notifications.seen(currentId.value);
    });
    // The page was rendered a moment ago; catch up on what changed since.
    refreshRooms().catch(() => {});
    refreshAccount().catch(() => {});
    refreshPeople().catch(() => {});
    // Presence events cover people who share a room with us; the rest, now and then.
    setInterval(() => refreshPeople().catch(() => {}), PEOPLE_REFRESH_MS);
    if (currentId.value) openRoom(currentId.value, false);
  }

  return {
    me: core.me,
    admin: core.admin,
    rooms: core.rooms,
    invitations: core.invitations,
    blocked: core.blocked,
    currentId: core.currentId,
    current: core.current,
    problem: core.problem,
    members: core.members,
    people: core.people,
    online: core.online,
    typing: core.typing,
    status: core.status,
    dialog: core.dialog,
    showMembers: core.showMembers,
    editing: core.editing,
    notices: core.notices,
    unreadTotal: core.unreadTotal,
    conversation: core.conversation,
    /** Opens a conversation; its notification, if one shows, has done its work. */
    openRoom: (roomId: string, push?: boolean) => {
      notifications.seen(roomId);
      return openRoom(roomId, push);
    },
    goHome,
    loadOlder: nav.loadOlder,
    submit,
    retry: outbox.retry,
    discard: outbox.discard,
    removeUpload: outbox.removeUpload,
    uploads,
    typed: outbox.typed,
    joinRoom: actions.joinRoom,
    createRoom: actions.createRoom,
    leaveRoom: actions.leaveRoom,
    /** Opens the direct conversation with someone, end-to-end encrypted if asked. */
    openDirect: async (username: string, text?: string, encrypted = false) => {
      // This device must exist for the other side to write to it.
      if (encrypted) await e2e.keys();
      return actions.openDirect(username, text, encrypted);
    },
    invite: actions.invite,
    acceptInvitation: actions.acceptInvitation,
    declineInvitation: actions.declineInvitation,
    logout: actions.logout,
    account,
    moderation,
    essentials,
    notifications,
    e2e,
    /** Accepts the other side's new devices, or the user's own, and sends what waited for that. */
    acceptDevices: async (roomId: string, whose: Whose = "peer") => {
      const room = core.state.value.rooms[roomId];
      if (!room) return;
      await e2e.accept(room, whose);
      outbox.releaseHeld(roomId);
    },
    /** Deletes a room for everyone and leaves it here at once. */
    deleteRoom: async (roomId: string) => {
      const room = core.state.value.rooms[roomId];
      await moderation.deleteRoom(roomId);
      // Unless its `room_deleted` event came first and said so.
      if (!room || !core.state.value.rooms[roomId]) return;
      nav.leaveView(roomId);
      core.notify("info", `#${room.name} was deleted`, []);
    },
    refreshPeople,
    notify: core.notify,
    dismiss: core.dismiss,
    start,
  };
}

/** The app's state and actions. */
export type Store = ReturnType<typeof createStore>;

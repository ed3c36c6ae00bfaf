/**
 * The web app's state, in @preact/signals, and everything that changes it:
 * API calls, live events, navigation. The components only read signals and
 * call these actions.
 *
 * @module
 */
import { batch, computed, type ReadonlySignal, type Signal, signal } from "@preact/signals";
import { commandHelp, parseCommand } from "../shared/commands.ts";
import { api, ApiFailure } from "./client_api.ts";
import { connectSharedStream, type SharedStream, type StreamEvent } from "./stream.ts";
import type { Boot, Member, Message, PublicRoom, Room, User, UserPresence } from "./types.ts";

/** A message shown before the server has taken it. */
export interface Pending {
  clientId: string;
  roomId: string;
  text: string;
  createdAt: number;
  state: "sending" | "failed";
  error?: string;
}

/** One conversation's loaded history. */
export interface Conversation {
  messages: Signal<Message[]>;
  pending: Signal<Pending[]>;
  /** Whether older messages exist before the first loaded one. */
  hasMore: Signal<boolean>;
  loaded: Signal<boolean>;
  loadingOlder: Signal<boolean>;
  /** The first unread message when the conversation was opened. */
  dividerSeq: Signal<number | null>;
}

/** A line of local output: command results and errors, never sent. */
export interface Notice {
  id: number;
  tone: "info" | "error";
  title: string;
  lines: string[];
}

/** Which dialog is open. */
export type Dialog = null | "create" | "browse" | "people";

/** Why the open conversation cannot be shown. */
export interface RoomProblem {
  roomId: string;
  code: string;
  message: string;
}

const HISTORY_PAGE = 50;
const TYPING_THROTTLE_MS = 3_000;
const TYPING_SHOWN_MS = 6_000;
const PEOPLE_REFRESH_MS = 30_000;

/** Builds the state from what the server rendered into the page. */
export function createStore(boot: Boot) {
  const me = signal<User | null>(boot.user);
  const rooms = signal<Room[]>(sortRooms(boot.rooms));
  const currentId = signal<string | null>(boot.roomId);
  const problem = signal<RoomProblem | null>(null);
  const members = signal<Member[]>([]);
  const people = signal<UserPresence[]>([]);
  const online = signal<Record<string, boolean>>({});
  const typing = signal<Record<string, Record<string, { username: string; until: number }>>>({});
  const status = signal<"connecting" | "live" | "reconnecting">("connecting");
  const dialog = signal<Dialog>(null);
  const showMembers = signal(false);
  const notices = signal<Notice[]>([]);
  const conversations = new Map<string, Conversation>();
  let stream: SharedStream | null = null;
  let lastTypingSent = 0;
  let noticeCounter = 0;

  const current: ReadonlySignal<Room | null> = computed(() =>
    rooms.value.find((r) => r.id === currentId.value) ?? null
  );
  const unreadTotal = computed(() => rooms.value.reduce((n, r) => n + r.unread, 0));

  function conversation(roomId: string): Conversation {
    let c = conversations.get(roomId);
    if (!c) {
      c = {
        messages: signal([]),
        pending: signal([]),
        hasMore: signal(false),
        loaded: signal(false),
        loadingOlder: signal(false),
        dividerSeq: signal(null),
      };
      conversations.set(roomId, c);
    }
    return c;
  }

  // ---- rooms -------------------------------------------------------------

  function upsertRoom(room: Room) {
    const others = rooms.value.filter((r) => r.id !== room.id);
    rooms.value = sortRooms([...others, room]);
  }

  function patchRoom(roomId: string, patch: (r: Room) => Room) {
    rooms.value = sortRooms(rooms.value.map((r) => r.id === roomId ? patch(r) : r));
  }

  async function refreshRooms() {
    const { rooms: list } = await api<{ rooms: Room[] }>("GET", "/api/rooms");
    rooms.value = sortRooms(list);
  }

  async function refreshPeople() {
    const { users } = await api<{ users: UserPresence[] }>("GET", "/api/users?limit=200");
    batch(() => {
      people.value = users;
      online.value = Object.fromEntries(users.map((u) => [u.id, u.online]));
    });
  }

  // ---- navigation --------------------------------------------------------

  function isViewing(roomId: string): boolean {
    return currentId.value === roomId && document.visibilityState === "visible";
  }

  /** Opens a conversation, changing the URL unless told not to. */
  async function openRoom(roomId: string, push = true) {
    if (push && location.pathname !== `/rooms/${roomId}`) {
      history.pushState(null, "", `/rooms/${roomId}`);
    }
    batch(() => {
      currentId.value = roomId;
      problem.value = null;
      members.value = [];
      dialog.value = null;
    });
    let room = rooms.value.find((r) => r.id === roomId);
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
      members.value = [];
    });
  }

  function roomProblem(roomId: string, e: unknown): RoomProblem {
    const code = e instanceof ApiFailure ? e.code : "network";
    return { roomId, code, message: message(e) };
  }

  // ---- history -----------------------------------------------------------

  async function loadLatest(roomId: string, unread = 0) {
    const conv = conversation(roomId);
    const limit = Math.min(100, Math.max(HISTORY_PAGE, unread + 10));
    const page = await api<{ messages: Message[]; hasMore: boolean }>(
      "GET",
      `/api/rooms/${roomId}/messages?limit=${limit}`,
    );
    batch(() => {
      // Keep what arrived live while this loaded; drop anything older than the page,
      // which could leave a gap.
      const newest = page.messages.at(-1)?.seq ?? 0;
      const live = conv.messages.value.filter((m) => m.seq > newest);
      conv.messages.value = mergeMessages(page.messages, live);
      conv.hasMore.value = page.hasMore;
      conv.loaded.value = true;
    });
  }

  async function loadOlder(roomId: string) {
    const conv = conversation(roomId);
    const first = conv.messages.value[0];
    if (!first || !conv.hasMore.value || conv.loadingOlder.value) return;
    conv.loadingOlder.value = true;
    try {
      const page = await api<{ messages: Message[]; hasMore: boolean }>(
        "GET",
        `/api/rooms/${roomId}/messages?before=${first.seq}&limit=${HISTORY_PAGE}`,
      );
      batch(() => {
        conv.messages.value = mergeMessages(page.messages, conv.messages.value);
        conv.hasMore.value = page.hasMore;
      });
    } finally {
      conv.loadingOlder.value = false;
    }
  }

  /** Loads what came after the last loaded message, page by page. */
  async function fillGap(roomId: string) {
    const conv = conversation(roomId);
    for (let i = 0; i < 20; i++) {
      const last = conv.messages.value.at(-1)?.seq ?? 0;
      const page = await api<{ messages: Message[]; hasMore: boolean }>(
        "GET",
        `/api/rooms/${roomId}/messages?after=${last}&limit=100`,
      );
      conv.messages.value = mergeMessages(conv.messages.value, page.messages);
      if (!page.hasMore || !page.messages.length) return;
    }
  }

  async function loadMembers(roomId: string) {
    const { members: list } = await api<{ members: Member[] }>(
      "GET",
      `/api/rooms/${roomId}/members`,
    );
    if (currentId.value !== roomId) return;
    batch(() => {
      members.value = sortMembers(list);
      online.value = { ...online.value, ...Object.fromEntries(list.map((m) => [m.id, m.online])) };
    });
  }

  /** Moves the read marker to the room's last message when the user is looking at it. */
  function markRead(roomId: string) {
    const room = rooms.value.find((r) => r.id === roomId);
    if (!room || room.unread === 0 || !isViewing(roomId)) return;
    patchRoom(roomId, (r) => ({ ...r, unread: 0 }));
    api("POST", `/api/rooms/${roomId}/read`, { seq: room.lastSeq }).catch(() => {});
  }

  // ---- sending -----------------------------------------------------------

  /** Handles one line of the composer: a message or a slash command. */
  async function submit(line: string) {
    const command = parseCommand(line);
    if (command.kind === "message") {
      if (command.text && currentId.value) send(currentId.value, command.text);
      return;
    }
    try {
      await runCommand(command);
    } catch (e) {
      notify("error", "That did not work", [message(e)]);
    }
  }

  function send(roomId: string, text: string) {
    const pending: Pending = {
      clientId: crypto.randomUUID(),
      roomId,
      text,
      createdAt: Date.now(),
      state: "sending",
    };
    const conv = conversation(roomId);
    conv.pending.value = [...conv.pending.value, pending];
    post(pending);
  }

  async function post(p: Pending) {
    const conv = conversation(p.roomId);
    try {
      const { message: m } = await api<{ message: Message }>(
        "POST",
        `/api/rooms/${p.roomId}/messages`,
        { text: p.text, clientId: p.clientId },
      );
      receiveMessage(m);
    } catch (e) {
      conv.pending.value = conv.pending.value.map((x) =>
        x.clientId === p.clientId ? { ...x, state: "failed", error: message(e) } : x
      );
    }
  }

  function retry(p: Pending) {
    const conv = conversation(p.roomId);
    const again = { ...p, state: "sending" as const, error: undefined };
    conv.pending.value = conv.pending.value.map((x) => x.clientId === p.clientId ? again : x);
    post(again);
  }

  function discard(p: Pending) {
    const conv = conversation(p.roomId);
    conv.pending.value = conv.pending.value.filter((x) => x.clientId !== p.clientId);
  }

  /** Tells the room this user is typing, at most once every three seconds. */
  function typed(roomId: string) {
    const now = Date.now();
    if (now - lastTypingSent < TYPING_THROTTLE_MS) return;
    lastTypingSent = now;
    api("POST", `/api/rooms/${roomId}/typing`).catch(() => {});
  }

  // ---- commands ----------------------------------------------------------

  async function runCommand(command: ReturnType<typeof parseCommand>) {
    const roomId = currentId.value;
    switch (command.kind) {
      case "join":
      case "switch":
        return await joinByNameOrId(command.room, command.kind === "switch");
      case "create":
        return await createRoom(command.name, command.private, command.capacity);
      case "leave":
        if (!roomId) throw new Error("Open a room to leave it.");
        return await leaveRoom(roomId);
      case "dm":
        return await openDirect(command.user, command.text);
      case "invite":
        if (!roomId) throw new Error("Open a room to invite someone to it.");
        await invite(roomId, command.user);
        return notify("info", `Added ${command.user}`, []);
      case "users": {
        await refreshPeople();
        const names = people.value.filter((u) => u.online).map((u) => u.username);
        dialog.value = "people";
        return notify("info", "Online now", names.length ? [names.join(", ")] : ["No one"]);
      }
      case "rooms":
        return notify(
          "info",
          "Your rooms",
          rooms.value.map((r) => `${r.name}${r.unread ? ` (${r.unread} unread)` : ""}`),
        );
      case "who":
        if (!roomId) throw new Error("Open a room first.");
        showMembers.value = true;
        return notify("info", "Members", members.value.map((m) => m.username));
      case "history":
        if (roomId) await loadOlder(roomId);
        return;
      case "ping": {
        const start = performance.now();
        await api("GET", "/api/health");
        return notify("info", `Pong: ${Math.round(performance.now() - start)} ms`, []);
      }
      case "help":
        return notify(
          "info",
          "Commands",
          commandHelpLines(),
        );
      case "logout":
        return await logout();
      case "quit":
        return notify("info", "Close the tab to quit; /logout signs you out.", []);
      case "error":
        return notify("error", command.message, []);
    }
  }

  async function joinByNameOrId(ref: string, mustBeMine: boolean) {
    const mine = rooms.value.find((r) =>
      r.id === ref || r.name.toLowerCase() === ref.toLowerCase()
    );
    if (mine) return openRoom(mine.id);
    if (mustBeMine) throw new Error(`You have no room called ${ref}.`);
    let id = ref;
    if (!/^[\w-]{1,64}$/.test(ref) || !(await exists(ref))) {
      const { rooms: list } = await api<{ rooms: PublicRoom[] }>(
        "GET",
        "/api/rooms/public?limit=100",
      );
      const found = list.find((r) => r.name.toLowerCase() === ref.toLowerCase());
      if (!found) throw new Error(`No public room called ${ref}.`);
      id = found.id;
    }
    await joinRoom(id);
  }

  async function exists(id: string): Promise<boolean> {
    try {
      await api("GET", `/api/rooms/${id}`);
      return true;
    } catch (e) {
      return e instanceof ApiFailure && e.status === 403;
    }
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
    forgetRoom(roomId);
  }

  function forgetRoom(roomId: string) {
    rooms.value = rooms.value.filter((r) => r.id !== roomId);
    conversations.delete(roomId);
    if (currentId.value === roomId) goHome();
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
    stream?.announceLogout();
    stream?.close();
    location.assign("/login");
  }

  function notify(tone: Notice["tone"], title: string, lines: string[]) {
    notices.value = [...notices.value.slice(-4), { id: ++noticeCounter, tone, title, lines }];
  }

  function dismiss(id: number) {
    notices.value = notices.value.filter((n) => n.id !== id);
  }

  // ---- live events -------------------------------------------------------

  function receiveMessage(m: Message) {
    const mine = m.author.id === me.value?.id;
    const known = rooms.value.find((r) => r.id === m.roomId);
    if (!known) {
      refreshRooms().catch(() => {});
    } else if (m.seq > known.lastSeq) {
      const unread = mine || isViewing(m.roomId)
        ? known.unread
        : known.unread + (m.seq - known.lastSeq);
      patchRoom(m.roomId, (r) => ({
        ...r,
        lastSeq: m.seq,
        lastMessage: m,
        lastActivityAt: Math.max(r.lastActivityAt, m.createdAt),
        unread: mine ? 0 : unread,
      }));
    }
    const conv = conversations.get(m.roomId);
    if (conv) {
      batch(() => {
        const last = conv.messages.value.at(-1)?.seq ?? 0;
        if (!conv.loaded.value || m.seq <= last + 1) {
          // Before the history has loaded, keep the message: the load merges around it.
          conv.messages.value = mergeMessages(conv.messages.value, [m]);
        } else {
          fillGap(m.roomId).catch(() => {});
        }
        if (mine && m.clientId) {
          conv.pending.value = conv.pending.value.filter((p) => p.clientId !== m.clientId);
        }
      });
    }
    stopTyping(m.roomId, m.author.id);
    if (!mine) markRead(m.roomId);
  }

  function onEvent(e: StreamEvent) {
    // deno-lint-ignore no-explicit-any
    const d = e.data as any;
    switch (e.type) {
      case "message":
        return receiveMessage(d as Message);
      case "room":
        upsertRoom(d.room as Room);
        if (currentId.value === d.room.id && problem.value) openRoom(d.room.id, false);
        return;
      case "member":
        return onMember(d.roomId, d.user as User, d.action);
      case "read":
        return patchRoom(d.roomId, (r) => ({ ...r, unread: Math.max(0, r.lastSeq - d.seq) }));
      case "presence":
        return onPresence(d.userId, d.username, d.online);
      case "typing":
        return onTyping(d.roomId, d.user as User);
      case "reset":
        return resync();
    }
  }

  function onMember(roomId: string, user: User, action: "joined" | "left") {
    if (user.id === me.value?.id) {
      if (action === "left") forgetRoom(roomId);
      else refreshRooms().catch(() => {});
      return;
    }
    // Ask rather than count: our own invite's answer may already include this member.
    api<{ room: Room }>("GET", `/api/rooms/${roomId}`).then(
      ({ room }) => patchRoom(roomId, (r) => ({ ...r, memberCount: room.memberCount })),
      () => {},
    );
    if (currentId.value !== roomId) return;
    if (action === "left") members.value = members.value.filter((m) => m.id !== user.id);
    else loadMembers(roomId).catch(() => {});
  }

  function onPresence(userId: string, username: string, isOnline: boolean) {
    batch(() => {
      online.value = { ...online.value, [userId]: isOnline };
      members.value = members.value.map((m) => m.id === userId ? { ...m, online: isOnline } : m);
      if (!people.value.some((u) => u.id === userId)) {
        people.value = [...people.value, { id: userId, username, online: isOnline, lastSeen: null }]
          .sort((a, b) => a.username.localeCompare(b.username));
      }
    });
  }

  function onTyping(roomId: string, user: User) {
    const until = Date.now() + TYPING_SHOWN_MS;
    typing.value = {
      ...typing.value,
      [roomId]: { ...typing.value[roomId], [user.id]: { username: user.username, until } },
    };
    setTimeout(() => {
      if ((typing.value[roomId]?.[user.id]?.until ?? 0) <= Date.now()) stopTyping(roomId, user.id);
    }, TYPING_SHOWN_MS + 50);
  }

  function stopTyping(roomId: string, userId: string) {
    if (!typing.value[roomId]?.[userId]) return;
    const { [userId]: _, ...rest } = typing.value[roomId];
    typing.value = { ...typing.value, [roomId]: rest };
  }

  /** After a `reset`, what we hold may be stale: load it all again. */
  async function resync() {
    await refreshRooms().catch(() => {});
    for (const [roomId, conv] of conversations) {
      if (roomId !== currentId.value) conversations.delete(roomId);
      else await fillGap(roomId).catch(() => conv.loaded.value = false);
    }
  }

  // ---- start-up ----------------------------------------------------------

  /** Connects the live stream and the browser's events; call once, in the browser. */
  function start() {
    const user = me.value;
    if (!user) return;
    stream = connectSharedStream(user.id, {
      onEvent,
      onStatus: (s) => status.value = s,
      onLogout: () => location.assign("/login"),
    });
    addEventListener("popstate", () => {
      const id = location.pathname.match(/^\/rooms\/([\w-]+)$/)?.[1];
      if (id) openRoom(id, false);
      else goHome(false);
    });
    document.addEventListener("visibilitychange", () => {
      if (currentId.value) markRead(currentId.value);
    });
    // The page was rendered a moment ago; catch up on what changed since.
    refreshRooms().catch(() => {});
    refreshPeople().catch(() => {});
    // Presence events cover people who share a room with us; the rest, now and then.
    setInterval(() => refreshPeople().catch(() => {}), PEOPLE_REFRESH_MS);
    if (currentId.value) openRoom(currentId.value, false);
  }

  return {
    me,
    rooms,
    currentId,
    current,
    problem,
    members,
    people,
    online,
    typing,
    status,
    dialog,
    showMembers,
    notices,
    unreadTotal,
    conversation,
    openRoom,
    goHome,
    loadOlder,
    submit,
    retry,
    discard,
    typed,
    joinRoom,
    createRoom,
    leaveRoom,
    openDirect,
    invite,
    logout,
    refreshPeople,
    notify,
    dismiss,
    start,
  };
}

/** The app's state and actions. */
export type Store = ReturnType<typeof createStore>;

/** Rooms by most recent activity. */
export function sortRooms(rooms: Room[]): Room[] {
  return [...rooms].sort((a, b) =>
    b.lastActivityAt - a.lastActivityAt || a.name.localeCompare(b.name)
  );
}

function sortMembers(list: Member[]): Member[] {
  return [...list].sort((a, b) =>
    Number(b.online) - Number(a.online) || a.username.localeCompare(b.username)
  );
}

/** Merges two runs of messages by seq, each seq once. */
export function mergeMessages(a: Message[], b: Message[]): Message[] {
  const bySeq = new Map<number, Message>();
  for (const m of a) bySeq.set(m.seq, m);
  for (const m of b) bySeq.set(m.seq, m);
  return [...bySeq.values()].sort((x, y) => x.seq - y.seq);
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function commandHelpLines(): string[] {
  // /quit means nothing in a browser tab.
  return commandHelp.filter(([c]) => !c.startsWith("/quit")).map(([c, d]) => `${c}: ${d}`);
}

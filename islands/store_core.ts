/**
 * The web app's state: the shared client state (`shared/client_state.ts`)
 * in one signal, the signals derived from it, and what only the page has
 * (the open conversation, dialogs, notices, messages still being sent). The
 * store's other parts (navigation, live events, the outbox, room actions,
 * slash commands) are built on this core.
 *
 * @module
 */
import { batch, computed, type ReadonlySignal, type Signal, signal } from "@preact/signals";
import {
  type ClientState,
  emptyState,
  sortedRooms,
  unreadTotal as unreadOf,
  withOnline,
  withRoom,
  withRooms,
} from "../shared/client_state.ts";
import type { Envelope } from "../shared/e2e.ts";
import { USERS_PAGE_MAX } from "../shared/limits.ts";
import { api, failureText } from "./client_api.ts";
import type { SharedStream } from "./stream.ts";
import type { Upload } from "./uploads.ts";
import type {
  Block,
  Boot,
  Invitation,
  Member,
  Message,
  ReplyQuote,
  Room,
  User,
  UserPresence,
} from "./types.ts";

/** A message shown before the server has taken it. */
export interface Pending {
  clientId: string;
  roomId: string;
  text: string;
  createdAt: number;
  /** `uploading`: waiting for its files to be stored before it is sent. */
  state: "uploading" | "sending" | "failed";
  error?: string;
  /** Its files; once stored, a retry sends their ids again without uploading them again. */
  uploads?: Upload[];
  /** The message it answers. */
  replyTo?: ReplyQuote;
  /** In an encrypted conversation: what was sealed for it, sent again as it is by a retry. */
  envelope?: Envelope;
  /** Held back because the other side's devices changed; sent when the user says OK. */
  held?: boolean;
  /**
   * Whether the conversation was end-to-end encrypted when the user sent it:
   * such a message goes sealed or not at all, unless the user says otherwise.
   */
  encrypted: boolean;
  /**
   * Not sent because encryption was turned off since: the user's own retry
   * (and only that) sends it unencrypted.
   */
  encryptionOff?: boolean;
}

/** One conversation as the page shows it. */
export interface Conversation {
  /** The loaded history, from the shared state. */
  messages: ReadonlySignal<Message[]>;
  pending: Signal<Pending[]>;
  /** Whether older messages exist before the first loaded one. */
  hasMore: ReadonlySignal<boolean>;
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

/**
 * Which dialog is open; `password` is the account dialog with the password
 * form focused; `bans` and `audit` are about the open room; `ban` asks how
 * to ban someone from a room; `safety` shows a conversation's safety number.
 */
export type Dialog =
  | null
  | "create"
  | "browse"
  | "people"
  | "account"
  | "password"
  | "bans"
  | "audit"
  | "admin"
  | { kind: "ban"; roomId: string; username: string }
  | { kind: "safety"; roomId: string };

/** The message being edited in place. */
export interface Editing {
  roomId: string;
  seq: number;
}

/** Why the open conversation cannot be shown. */
export interface RoomProblem {
  roomId: string;
  code: string;
  message: string;
}

/** Builds the core from what the server rendered into the page. */
export function createCore(boot: Boot) {
  const me = signal<User | null>(boot.user);
  /** Whether the user administers the server. */
  const admin = signal(boot.admin ?? false);
  const state = signal<ClientState>({
    ...withRooms(emptyState(boot.user ?? { id: "", username: "" }), boot.rooms),
    invitations: Object.fromEntries((boot.invitations ?? []).map((i) => [i.roomId, i])),
    blocked: Object.fromEntries((boot.blocked ?? []).map((u) => [u.id, u])),
  });
  const rooms = computed(() => sortedRooms(state.value));
  /** Invitations waiting for an answer, newest first. */
  const invitations = computed(() =>
    Object.values(state.value.invitations).sort((a, b) => b.createdAt - a.createdAt)
  );
  /** The users this user blocks, by id. */
  const blocked = computed(() => state.value.blocked);
  const currentId = signal<string | null>(boot.roomId);
  const problem = signal<RoomProblem | null>(null);
  const members = computed(() =>
    sortMembers(currentId.value ? state.value.members[currentId.value] ?? [] : [])
  );
  const people = signal<UserPresence[]>([]);
  const online = computed(() => state.value.online);
  const typing = computed(() => state.value.typing);
  const status = signal<"connecting" | "live" | "reconnecting">("connecting");
  const dialog = signal<Dialog>(null);
  const showMembers = signal(false);
  const editing = signal<Editing | null>(null);
  const notices = signal<Notice[]>([]);
  const conversations = new Map<string, Conversation>();
  /** The live stream, once started. */
  const stream: { current: SharedStream | null } = { current: null };
  let noticeCounter = 0;

  const current: ReadonlySignal<Room | null> = computed(() =>
    currentId.value ? state.value.rooms[currentId.value] ?? null : null
  );
  const unreadTotal = computed(() => unreadOf(state.value));

  /** Moves the shared state along. */
  function update(f: (s: ClientState) => ClientState) {
    state.value = f(state.value);
  }

  function conversation(roomId: string): Conversation {
    let c = conversations.get(roomId);
    if (!c) {
      c = {
        messages: computed(() => state.value.conversations[roomId]?.messages ?? []),
        pending: signal([]),
        hasMore: computed(() => state.value.conversations[roomId]?.hasMore ?? false),
        loaded: signal(false),
        loadingOlder: signal(false),
        dividerSeq: signal(null),
      };
      conversations.set(roomId, c);
    }
    return c;
  }

  function upsertRoom(room: Room) {
    update((s) => withRoom(s, room));
  }

  function patchRoom(roomId: string, patch: (r: Room) => Room) {
    const room = state.value.rooms[roomId];
    if (room) upsertRoom(patch(room));
  }

  async function refreshRooms() {
    const { rooms: list } = await api<{ rooms: Room[] }>("GET", "/api/rooms");
    update((s) => withRooms(s, list));
  }

  /** Loads the invitations and blocks, which events then keep current. */
  async function refreshAccount() {
    const [{ invitations: list }, { blocks }] = await Promise.all([
      api<{ invitations: Invitation[] }>("GET", "/api/invites"),
      api<{ blocks: Block[] }>("GET", "/api/me/blocks"),
    ]);
    update((s) => ({
      ...s,
      invitations: Object.fromEntries(list.map((i) => [i.roomId, i])),
      blocked: Object.fromEntries(blocks.map((b) => [b.user.id, b.user])),
    }));
  }

  async function refreshPeople() {
    const { users } = await api<{ users: UserPresence[] }>(
      "GET",
      `/api/users?limit=${USERS_PAGE_MAX}`,
    );
    batch(() => {
      people.value = users;
      update((s) => withOnline(s, users));
    });
  }

  function notify(tone: Notice["tone"], title: string, lines: string[]) {
    notices.value = [...notices.value.slice(-4), { id: ++noticeCounter, tone, title, lines }];
  }

  function dismiss(id: number) {
    notices.value = notices.value.filter((n) => n.id !== id);
  }

  return {
    me,
    admin,
    state,
    update,
    rooms,
    invitations,
    blocked,
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
    editing,
    notices,
    unreadTotal,
    conversations,
    conversation,
    stream,
    upsertRoom,
    patchRoom,
    refreshRooms,
    refreshAccount,
    refreshPeople,
    notify,
    dismiss,
  };
}

/** The store's core: its signals and the helpers every part uses. */
export type StoreCore = ReturnType<typeof createCore>;

/** The text of an error, for a notice (a 429 says when to try again). */
export function message(e: unknown): string {
  return failureText(e);
}

function sortMembers(list: Member[]): Member[] {
  return [...list].sort((a, b) =>
    Number(b.online) - Number(a.online) || a.username.localeCompare(b.username)
  );
}

/**
 * The state of a signed-in client and the one pure function that moves it
 * along with the event stream. The web app and the terminal client both
 * keep their state in this shape and render from it; each keeps only its
 * own presentation. It imports nothing server-only (types only), so it runs
 * in the browser and the terminal alike.
 *
 * @module
 */
import type { Invitation, Member, Message, Room, User } from "./api_types.ts";
import type { ParleyEvent } from "./events.ts";
import { QUOTE_MAX } from "./limits.ts";

/** How long a typing indicator shows after its last signal. */
export const TYPING_SHOWN_MS = 6_000;

/** One room's loaded history. */
export interface ConversationState {
  /** Loaded messages, ascending by seq, with no gap. */
  messages: Message[];
  /** Whether older messages exist before the first loaded one. */
  hasMore: boolean;
  /** A message arrived past a gap: fetch what follows the last loaded one. */
  gap: boolean;
}

/** What a signed-in client knows. */
export interface ClientState {
  me: User;
  /** Rooms and direct conversations, by id. */
  rooms: Record<string, Room>;
  /** Member lists of the rooms whose members were loaded, each sorted by user id. */
  members: Record<string, Member[]>;
  /** Whether each user the client has heard of is online, by user id. */
  online: Record<string, boolean>;
  /** Loaded history, by room. */
  conversations: Record<string, ConversationState>;
  /** Who is typing where, and until when (ms). */
  typing: Record<string, Record<string, { username: string; until: number }>>;
  /** Invitations waiting for the user's answer, by room. */
  invitations: Record<string, Invitation>;
  /** The users the user blocks, by id. */
  blocked: Record<string, User>;
}

/** The state of a client that knows nothing yet. */
export function emptyState(me: User): ClientState {
  return {
    me,
    rooms: {},
    members: {},
    online: {},
    conversations: {},
    typing: {},
    invitations: {},
    blocked: {},
  };
}

/**
 * Applies one event of the stream. Pure: returns a new state (sharing what
 * did not change) and leaves `state` as it was. Applying the events a stream
 * delivered after a state was fetched gives the state a fresh fetch gives.
 *
 * @param now the time, for how long typing shows.
 * @example
 * ```ts
 * state = applyEvent(state, { type: "read", id: "…", data: { roomId, seq: 7 } }, Date.now());
 * ```
 */
export function applyEvent(state: ClientState, event: ParleyEvent, now: number): ClientState {
  switch (event.type) {
    case "message":
      return applyMessage(state, event.data);
    case "room":
      return { ...state, rooms: { ...state.rooms, [event.data.room.id]: event.data.room } };
    case "member": {
      const { roomId, user, action, memberCount, ownerId, role } = event.data;
      const gone = action === "left" || action === "removed" || action === "banned";
      if (user.id === state.me.id && gone) return forgetRoom(state, roomId);
      const room = state.rooms[roomId];
      const next = room ? withRoom(state, { ...room, memberCount, ownerId }) : state;
      const loaded = next.members[roomId];
      if (!loaded) return next;
      // An owner who left handed the room to someone; a handover makes the old owner a moderator.
      const list = loaded.map((m) =>
        m.id === ownerId && m.role !== "owner" ? { ...m, role: "owner" as const } : m
      );
      if (action === "role") {
        const changed = list.map((m) => m.id === user.id && role ? { ...m, role } : m);
        return { ...next, members: { ...next.members, [roomId]: changed } };
      }
      if (user.id === state.me.id) return next;
      const others = list.filter((m) => m.id !== user.id);
      if (gone) return { ...next, members: { ...next.members, [roomId]: others } };
      const online = state.online[user.id] ?? false;
      const members = sortById([...others, { ...user, role: role ?? "member", online }]);
      return {
        ...next,
        online: { ...next.online, [user.id]: online },
        members: { ...next.members, [roomId]: members },
      };
    }
    case "read": {
      const room = state.rooms[event.data.roomId];
      if (!room) return state;
      const unread = Math.max(0, room.lastSeq - event.data.seq);
      return withRoom(state, { ...room, unread, mentions: event.data.mentions });
    }
    case "reaction":
      return applyReaction(state, event.data);
    case "presence": {
      const { userId, online } = event.data;
      const members = mapValues(
        state.members,
        (list) =>
          list.some((m) => m.id === userId)
            ? list.map((m) => m.id === userId ? { ...m, online } : m)
            : list,
      );
      return { ...state, online: { ...state.online, [userId]: online }, members };
    }
    case "typing": {
      const { roomId, user } = event.data;
      const inRoom = { ...state.typing[roomId] };
      inRoom[user.id] = { username: user.username, until: now + TYPING_SHOWN_MS };
      return { ...state, typing: { ...state.typing, [roomId]: inRoom } };
    }
    case "message_update":
      return applyUpdate(state, event.data);
    case "room_deleted":
      return forgetRoom(state, event.data.roomId);
    case "invite": {
      const { invitation, status } = event.data;
      const { [invitation.roomId]: _, ...rest } = state.invitations;
      const invitations = status === "pending"
        ? { ...rest, [invitation.roomId]: invitation }
        : rest;
      return { ...state, invitations };
    }
    case "block": {
      const { user, blocked } = event.data;
      const { [user.id]: _, ...rest } = state.blocked;
      return { ...state, blocked: blocked ? { ...rest, [user.id]: user } : rest };
    }
    case "ready":
    case "reset":
    // Device changes matter to the encryption layer, not to this state.
    case "devices":
      return state;
  }
}

function applyMessage(state: ClientState, m: Message): ClientState {
  let next = stopTyping(state, m.roomId, m.author.id);
  const room = next.rooms[m.roomId];
  if (room && m.seq > room.lastSeq) {
    // Your own messages count as read: the server raised your marker with them.
    const mine = m.author.id === state.me.id;
    next = withRoom(next, {
      ...room,
      lastSeq: m.seq,
      lastMessage: m,
      lastActivityAt: Math.max(room.lastActivityAt, m.createdAt),
      unread: mine ? 0 : room.unread + (m.seq - room.lastSeq),
      mentions: mine ? 0 : room.mentions + (m.mentions?.includes(state.me.id) ? 1 : 0),
    });
  }
  const conv = next.conversations[m.roomId];
  if (!conv) return next;
  const last = conv.messages.at(-1)?.seq ?? 0;
  if (m.seq <= last && conv.messages.length) return next; // seen already
  const follows = m.seq === last + 1 || (!conv.messages.length && !conv.hasMore);
  const updated = follows ? { ...conv, messages: [...conv.messages, m] } : { ...conv, gap: true };
  return { ...next, conversations: { ...next.conversations, [m.roomId]: updated } };
}

/**
 * An edited or deleted message replaces the one with its seq, wherever it
 * shows, keeping which reactions are the reader's; quotes of it change too.
 */
function applyUpdate(state: ClientState, m: Message): ClientState {
  let next = state;
  const room = state.rooms[m.roomId];
  if (room?.lastMessage?.seq === m.seq) next = withRoom(next, { ...room, lastMessage: m });
  const conv = next.conversations[m.roomId];
  if (!conv) return next;
  const quote = quoteOf(m);
  const messages = conv.messages.map((x) => {
    if (x.seq === m.seq) return keepOwnReactions(m, x);
    return x.replyTo?.seq === m.seq ? { ...x, replyTo: quote } : x;
  });
  return { ...next, conversations: { ...next.conversations, [m.roomId]: { ...conv, messages } } };
}

/** The short quote a reply shows of `m`: its author and the start of its text, or deleted. */
export function quoteOf(m: Message): NonNullable<Message["replyTo"]> {
  return m.deleted
    ? { seq: m.seq, author: m.author, text: "", deleted: true }
    : { seq: m.seq, author: m.author, text: m.text.slice(0, QUOTE_MAX) };
}

function keepOwnReactions(m: Message, before: Message): Message {
  if (!m.reactions?.length) return m;
  const mine = new Set(before.reactions?.filter((r) => r.me).map((r) => r.emoji));
  return { ...m, reactions: m.reactions.map((r) => ({ ...r, me: mine.has(r.emoji) })) };
}

/** A reaction moves a message's count (and marks the reader's own). */
function applyReaction(
  state: ClientState,
  r: { roomId: string; seq: number; emoji: string; userId: string; added: boolean; count: number },
): ClientState {
  const mine = r.userId === state.me.id;
  const change = (m: Message, withMe: boolean): Message => {
    const others = (m.reactions ?? []).filter((x) => x.emoji !== r.emoji);
    const old = m.reactions?.find((x) => x.emoji === r.emoji);
    const me = mine ? r.added : old?.me ?? false;
    const entry = withMe
      ? { emoji: r.emoji, count: r.count, me }
      : { emoji: r.emoji, count: r.count };
    const reactions = r.count ? [...others, entry] : others;
    const { reactions: _, ...rest } = m;
    return reactions.length ? { ...rest, reactions } : rest;
  };
  let next = state;
  const room = state.rooms[r.roomId];
  if (room?.lastMessage?.seq === r.seq) {
    next = withRoom(next, { ...room, lastMessage: change(room.lastMessage, false) });
  }
  const conv = next.conversations[r.roomId];
  if (!conv?.messages.some((m) => m.seq === r.seq)) return next;
  const messages = conv.messages.map((m) => m.seq === r.seq ? change(m, true) : m);
  return { ...next, conversations: { ...next.conversations, [r.roomId]: { ...conv, messages } } };
}

/** The state with a room replaced. */
export function withRoom(state: ClientState, room: Room): ClientState {
  return { ...state, rooms: { ...state.rooms, [room.id]: room } };
}

/** The state with the rooms a fetch returned, in place of all it knew. */
export function withRooms(state: ClientState, rooms: Room[]): ClientState {
  const byId = Object.fromEntries(rooms.map((r) => [r.id, r]));
  const keep = <T>(map: Record<string, T>) =>
    Object.fromEntries(Object.entries(map).filter(([id]) => id in byId));
  return {
    ...state,
    rooms: byId,
    members: keep(state.members),
    conversations: keep(state.conversations),
    typing: keep(state.typing),
  };
}

/** The state with a room's member list, as fetched. */
export function withMembers(state: ClientState, roomId: string, members: Member[]): ClientState {
  const online = { ...state.online };
  for (const m of members) online[m.id] = m.online;
  return {
    ...state,
    online,
    members: { ...state.members, [roomId]: sortById(members) },
  };
}

/** The state with whether users are online, as fetched. */
export function withOnline(
  state: ClientState,
  users: { id: string; online: boolean }[],
): ClientState {
  const online = { ...state.online };
  for (const u of users) online[u.id] = u.online;
  return { ...state, online };
}

/**
 * The state with a page of a room's history merged in.
 *
 * @param page `latest` replaces what was loaded (keeping newer messages that
 * arrived live), `older` goes before it, `newer` after it.
 */
export function withHistory(
  state: ClientState,
  roomId: string,
  page: { messages: Message[]; hasMore: boolean },
  where: "latest" | "older" | "newer",
): ClientState {
  const conv = state.conversations[roomId] ?? { messages: [], hasMore: false, gap: false };
  let next: ConversationState;
  if (where === "older") {
    next = { ...conv, messages: merge(page.messages, conv.messages), hasMore: page.hasMore };
  } else if (where === "newer") {
    next = { ...conv, messages: merge(conv.messages, page.messages), gap: page.hasMore };
  } else {
    // What arrived live while this loaded stays; anything older than the page
    // could leave a gap, so it goes.
    const newest = page.messages.at(-1)?.seq ?? 0;
    const live = conv.messages.filter((m) => m.seq > newest);
    const messages = merge(page.messages, live);
    next = { messages, hasMore: page.hasMore, gap: !contiguous(messages) };
  }
  return { ...state, conversations: { ...state.conversations, [roomId]: next } };
}

/** The state without a room: it was left, or it is gone. */
export function forgetRoom(state: ClientState, roomId: string): ClientState {
  const drop = <T>(map: Record<string, T>) => {
    const { [roomId]: _, ...rest } = map;
    return rest;
  };
  return {
    ...state,
    rooms: drop(state.rooms),
    members: drop(state.members),
    conversations: drop(state.conversations),
    typing: drop(state.typing),
  };
}

/** The state without a user's typing indicator in a room. */
export function stopTyping(state: ClientState, roomId: string, userId: string): ClientState {
  if (!state.typing[roomId]?.[userId]) return state;
  const { [userId]: _, ...rest } = state.typing[roomId];
  return { ...state, typing: { ...state.typing, [roomId]: rest } };
}

/** The state without the typing indicators that have run out by `now`. */
export function withoutExpiredTyping(state: ClientState, now: number): ClientState {
  let next = state;
  for (const [roomId, users] of Object.entries(state.typing)) {
    for (const [userId, t] of Object.entries(users)) {
      if (t.until <= now) next = stopTyping(next, roomId, userId);
    }
  }
  return next;
}

/** Who is typing in a room at `now`, other than the user. */
export function typingIn(state: ClientState, roomId: string, now: number): string[] {
  return Object.entries(state.typing[roomId] ?? {})
    .filter(([id, t]) => id !== state.me.id && t.until > now)
    .map(([, t]) => t.username);
}

/** Rooms by most recent activity, then by name. */
export function sortedRooms(state: ClientState): Room[] {
  return Object.values(state.rooms).sort((a, b) =>
    b.lastActivityAt - a.lastActivityAt || a.name.localeCompare(b.name)
  );
}

/** The unread count over every room. */
export function unreadTotal(state: ClientState): number {
  return Object.values(state.rooms).reduce((n, r) => n + r.unread, 0);
}

/** Finds one of the user's rooms by id or by name, ignoring case. */
export function findRoom(state: ClientState, ref: string): Room | undefined {
  const lower = ref.toLowerCase();
  return state.rooms[ref] ??
    Object.values(state.rooms).find((r) => r.name.toLowerCase() === lower);
}

/** Merges two runs of messages by seq, each seq once. */
export function merge(a: Message[], b: Message[]): Message[] {
  const bySeq = new Map<number, Message>();
  for (const m of a) bySeq.set(m.seq, m);
  for (const m of b) bySeq.set(m.seq, m);
  return [...bySeq.values()].sort((x, y) => x.seq - y.seq);
}

function contiguous(messages: Message[]): boolean {
  return messages.every((m, i) => i === 0 || m.seq === messages[i - 1].seq + 1);
}

function sortById(members: Member[]): Member[] {
  return [...members].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}

function mapValues<T>(map: Record<string, T>, f: (v: T) => T): Record<string, T> {
  return Object.fromEntries(Object.entries(map).map(([k, v]) => [k, f(v)]));
}

/**
 * What both clients do over the API when a slash command or a button asks:
 * fetch the state to start from, find a room by name, load history in pages.
 * Written once, so the web app and the terminal client cannot drift apart.
 * It takes the API as a function, so each client brings its own transport.
 *
 * @module
 */
import type {
  Block,
  Invitation,
  Member,
  Message,
  PublicRoom,
  Room,
  User,
  UserPresence,
} from "./api_types.ts";
import {
  type ClientState,
  emptyState,
  findRoom,
  withHistory,
  withMembers,
  withOnline,
  withRooms,
} from "./client_state.ts";
import {
  HISTORY_PAGE_MAX,
  PUBLIC_ROOMS_PAGE_MAX,
  ROOM_ID_PATTERN,
  USERS_PAGE_MAX,
} from "./limits.ts";

/** Calls the API: the method, the path, a JSON body; resolves with the parsed answer. */
export type ApiCall = <T>(method: string, path: string, body?: unknown) => Promise<T>;

/** A page of history as the API answers it. */
export interface HistoryPage {
  messages: Message[];
  hasMore: boolean;
}

/**
 * Fetches the state a client starts from (and starts over from after a
 * `reset`): its rooms; with `details`, each room's members and latest history.
 */
export async function fetchState(
  api: ApiCall,
  me: User,
  options: { details?: boolean; historyLimit?: number } = {},
): Promise<ClientState> {
  const [{ rooms }, { invitations }, { blocks }] = await Promise.all([
    api<{ rooms: Room[] }>("GET", "/api/rooms"),
    api<{ invitations: Invitation[] }>("GET", "/api/invites"),
    api<{ blocks: Block[] }>("GET", "/api/me/blocks"),
  ]);
  let state: ClientState = {
    ...withRooms(emptyState(me), rooms),
    invitations: Object.fromEntries(invitations.map((i) => [i.roomId, i])),
    blocked: Object.fromEntries(blocks.map((b) => [b.user.id, b.user])),
  };
  if (!options.details) return state;
  const limit = options.historyLimit ?? 50;
  const loaded = await Promise.all(rooms.map(async (r) => ({
    id: r.id,
    members: await fetchMembers(api, r.id),
    page: await api<HistoryPage>("GET", `/api/rooms/${r.id}/messages?limit=${limit}`),
  })));
  for (const { id, members, page } of loaded) {
    state = withHistory(withMembers(state, id, members), id, page, "latest");
  }
  return state;
}

/** A room's members. */
export async function fetchMembers(api: ApiCall, roomId: string): Promise<Member[]> {
  return (await api<{ members: Member[] }>("GET", `/api/rooms/${roomId}/members`)).members;
}

/** The state with who is online among everyone the server lists. */
export async function fetchOnline(api: ApiCall, state: ClientState): Promise<ClientState> {
  const { users } = await api<{ users: UserPresence[] }>(
    "GET",
    `/api/users?limit=${USERS_PAGE_MAX}`,
  );
  return withOnline(state, users);
}

/**
 * Finds the room `ref` names: one of the user's rooms by id or name, a room
 * id the server knows, or a public room by name, paging through the whole
 * directory.
 *
 * @returns the room's id and whether the user is in it already.
 * @throws {Error} when nothing by that name exists.
 */
export async function resolveRoom(
  api: ApiCall,
  state: ClientState,
  ref: string,
): Promise<{ id: string; mine: boolean }> {
  const mine = findRoom(state, ref);
  if (mine) return { id: mine.id, mine: true };
  if (ROOM_ID_PATTERN.test(ref) && await roomExists(api, ref)) return { id: ref, mine: false };
  const lower = ref.toLowerCase();
  let after: string | undefined;
  for (;;) {
    const query = `limit=${PUBLIC_ROOMS_PAGE_MAX}` + (after ? `&after=${after}` : "");
    const { rooms } = await api<{ rooms: PublicRoom[] }>("GET", `/api/rooms/public?${query}`);
    const found = rooms.find((r) => r.name.toLowerCase() === lower);
    if (found) return { id: found.id, mine: false };
    if (rooms.length < PUBLIC_ROOMS_PAGE_MAX) throw new Error(`No public room called ${ref}.`);
    after = rooms.at(-1)!.id;
  }
}

/** Whether a room id exists: a member sees it, anyone else is refused with 403. */
async function roomExists(api: ApiCall, id: string): Promise<boolean> {
  try {
    await api("GET", `/api/rooms/${id}`);
    return true;
  } catch (e) {
    return (e as { status?: number }).status === 403;
  }
}

/**
 * The last `count` messages of a room (or those before seq `before`), in
 * pages of at most {@linkcode HISTORY_PAGE_MAX}.
 */
export async function fetchHistory(
  api: ApiCall,
  roomId: string,
  count: number,
  before?: number,
): Promise<HistoryPage> {
  let messages: Message[] = [];
  let hasMore = true;
  while (messages.length < count && hasMore) {
    const limit = Math.min(HISTORY_PAGE_MAX, count - messages.length);
    const cursor = messages[0]?.seq ?? before;
    const query = `limit=${limit}` + (cursor !== undefined ? `&before=${cursor}` : "");
    const page = await api<HistoryPage>("GET", `/api/rooms/${roomId}/messages?${query}`);
    messages = [...page.messages, ...messages];
    hasMore = page.hasMore;
    if (!page.messages.length) break;
  }
  return { messages, hasMore };
}

/** Everything after seq `after` in a room, page by page (at most `maxPages`). */
export async function fetchAfter(
  api: ApiCall,
  roomId: string,
  after: number,
  maxPages = 20,
): Promise<HistoryPage> {
  let messages: Message[] = [];
  for (let i = 0; i < maxPages; i++) {
    const last = messages.at(-1)?.seq ?? after;
    const page = await api<HistoryPage>(
      "GET",
      `/api/rooms/${roomId}/messages?after=${last}&limit=${HISTORY_PAGE_MAX}`,
    );
    messages = [...messages, ...page.messages];
    if (!page.hasMore || !page.messages.length) return { messages, hasMore: false };
  }
  return { messages, hasMore: true };
}

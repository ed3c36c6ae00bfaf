/**
 * What the terminal shows for each event of the stream. Every event moves
 * the client state through {@linkcode ChatView.apply}; what is printed
 * comes from comparing the state before and after. Every message is shown
 * once: one the screen has shown already is dropped, and a gap before one
 * is filled from history.
 *
 * @module
 */
import type { Invitation, Message, Role, Room, User } from "../shared/api_types.ts";
import { fetchAfter, fetchMembers } from "../shared/client_actions.ts";
import { type ClientState, withMembers, withRoom, withRooms } from "../shared/client_state.ts";
import type { EventData, ParleyEvent } from "../shared/events.ts";
import type { ChatView } from "./chat_view.ts";
import { clean, formatInvitation, indented, roomLabel } from "./format.ts";

/** Applies one event and prints what it means to the user, if anything. */
export async function printEvent(view: ChatView, event: ParleyEvent): Promise<void> {
  switch (event.type) {
    case "message":
      return await printMessage(view, event);
    case "reset":
      return await catchUp(view);
    case "room": {
      const before = view.apply(event);
      if (!before.rooms[event.data.room.id]) announceRoom(view, event.data.room);
      return;
    }
    case "member":
      return sayMember(view, event.data);
    case "message_update": {
      // The terminal cannot rewrite its scrollback: a change to a message on screen gets a line.
      const m = await view.reveal(event.data);
      if (view.wasShown(m.roomId, m.seq)) return sayUpdate(view, m);
      view.apply({ ...event, data: m });
      return;
    }
    case "devices":
      return await sayDevices(view, event.data);
    case "room_deleted": {
      const room = view.apply(event).rooms[event.data.roomId];
      if (room) view.say(`! ${roomLabel(room)} was deleted`);
      return;
    }
    case "invite": {
      const { invitation, status } = event.data;
      if (status !== "pending") return sayAnswered(view, invitation, status);
      const before = view.apply(event);
      if (!before.invitations[invitation.roomId]) sayInvitation(view, invitation);
      return;
    }
    case "block":
      return sayBlock(view, event.data.user, event.data.blocked);
    case "reaction":
      return await sayReaction(view, event.data);
    case "presence": {
      const { userId, username, online } = event.data;
      // Only a change is news; someone never seen online may still go offline.
      const was = view.apply(event).online[userId];
      if (was !== online && userId !== view.me.id) {
        view.say(`* ${clean(username)} is ${online ? "online" : "offline"}`);
      }
      return;
    }
    default:
      // ready, read, typing: the state moves, the screen stays.
      view.apply(event);
  }
}

async function printMessage(
  view: ChatView,
  event: Extract<ParleyEvent, { type: "message" }>,
): Promise<void> {
  const raw = event.data;
  if (!view.state.rooms[raw.roomId]) {
    // No room event told of it, or the room was just left: is the user in it?
    const room = await view.api.room(raw.roomId).catch(() => null);
    if (!room) return;
    // Placed as its room event would have placed it.
    view.apply({ type: "room", id: null, data: { room } });
  }
  const room = view.state.rooms[raw.roomId];
  if (raw.seq <= room.lastSeq) {
    // Shown already (a replay, or history got there first); it still ends its author's typing.
    view.apply(event);
    return;
  }
  const m = await view.reveal(raw);
  let calls = false;
  if (room.id === view.current && m.seq > room.lastSeq + 1) {
    // A gap: fetch what is missing, so nothing is lost even if an event was.
    const { messages } = await fetchAfter(view.call, room.id, room.lastSeq);
    const missing = await view.revealAll(messages.filter((earlier) => earlier.seq < m.seq));
    for (const earlier of missing) calls = view.show(earlier) || calls;
  }
  // One bell for what this event showed, however many messages that was.
  if (view.show(m) || calls) view.bell();
}

/**
 * A `devices` event: someone's devices changed in an encrypted
 * conversation. The other side's change and the user's own are each a
 * warning, once per new device set; the user's next encrypted message
 * waits for `/ok`.
 */
async function sayDevices(view: ChatView, change: EventData<"devices">): Promise<void> {
  view.apply({ type: "devices", id: null, data: change });
  const room = view.state.rooms[change.roomId];
  if (!room || !view.encryption) return;
  for (const line of await view.encryption.devicesChanged(room, change.userId)) view.say(line);
}

/** Tells of an invitation waiting for the user's answer. */
export function sayInvitation(view: ChatView, invitation: Invitation): void {
  view.say(`* ${formatInvitation(invitation, invitationRef(view, invitation))}`);
}

/** What names an invitation's room in `/accept`: its name, or its id when another has the name. */
export function invitationRef(view: ChatView, invitation: Invitation): string {
  const name = clean(invitation.roomName, { oneLine: true });
  const clash = Object.values(view.state.invitations).some((i) =>
    i.roomId !== invitation.roomId && i.roomName.toLowerCase() === invitation.roomName.toLowerCase()
  );
  return clash || name !== invitation.roomName ? invitation.roomId : name;
}

/**
 * Tells the state an invitation was answered, and says so once: whichever of
 * this command and its `invite` event gets there first.
 */
export function sayAnswered(
  view: ChatView,
  invitation: Invitation,
  status: "accepted" | "declined",
): void {
  const before = view.apply({ type: "invite", id: null, data: { invitation, status } });
  if (status === "declined" && before.invitations[invitation.roomId]) {
    view.say(
      `* Declined the invitation to ${roomLabel({ kind: "group", name: invitation.roomName })}`,
    );
  }
}

/**
 * Tells the state of a block or its end, and says so once: whichever of
 * this command and its `block` event gets there first.
 */
export function sayBlock(view: ChatView, user: User, blocked: boolean): void {
  const before = view.apply({ type: "block", id: null, data: { user, blocked } });
  if (Boolean(before.blocked[user.id]) === blocked) return;
  const name = clean(user.username, { oneLine: true });
  view.say(
    blocked
      ? `* Blocked ${name}: no direct messages or invitations from them, and no typing or presence.`
      : `* Unblocked ${name}`,
  );
}

/** What a `member` event carries. */
export type MemberChange = EventData<"member">;

/**
 * Tells the state of a change to a room's members, and says what it means
 * once: whichever of a command (`/kick`, `/ban`, `/mod`) and its event gets
 * there first. When the room's member list is loaded, only a change to it is
 * news; the user's own joins and leaves are told by the command that made
 * them; a user removed or banned learns why, and the room leaves their list.
 *
 * @param detail added after the room on a ban (how long), when the command says it.
 */
export function sayMember(view: ChatView, change: MemberChange, detail = ""): void {
  const { roomId, user, action, role, reason, ownerId } = change;
  const before = view.apply({ type: "member", id: null, data: change });
  const room = before.rooms[roomId];
  if (!room) return; // not the user's, or gone already (a replay)
  const label = roomLabel(room);
  const why = reason ? `: ${clean(reason, { oneLine: true })}` : "";
  const mine = user.id === view.me.id;
  if (mine && (action === "removed" || action === "banned")) {
    view.say(`! You were ${action} from ${label}${why}`);
  } else if (room.kind === "group" && (!mine || action === "role") && isNews(before, change)) {
    const who = mine ? "You" : clean(user.username, { oneLine: true });
    const line = {
      joined: `${who} joined ${label}`,
      left: `${who} left ${label}`,
      removed: `${who} was removed from ${label}${why}`,
      banned: `${who} was banned from ${label}${detail}${why}`,
      role: roleLine(who, mine, role, label),
    }[action];
    if (line) view.say(`* ${line}`);
  }
  // An owner who leaves hands the room to the longest-standing member; an owner may hand it on.
  if (ownerId === view.me.id && room.ownerId !== view.me.id) view.say(`* You now own ${label}`);
}

/** Whether a member event changes what the user knows of the room's members. */
function isNews(before: ClientState, { roomId, user, action, role }: MemberChange): boolean {
  const list = before.members[roomId];
  if (!list) return true;
  const was = list.find((m) => m.id === user.id);
  if (action === "joined") return !was;
  if (action === "role") return was?.role !== role;
  return !!was;
}

/** "bob is now a moderator of #team"; `null` for the user's own ownership (said apart). */
function roleLine(who: string, mine: boolean, role: Role | undefined, label: string) {
  if (role === "owner") return mine ? null : `${who} now owns ${label}`;
  if (role === "moderator") return `${who} ${mine ? "are" : "is"} now a moderator of ${label}`;
  return `${who} ${mine ? "are" : "is"} no longer a moderator of ${label}`;
}

/**
 * Tells the state a message was edited or deleted, and says so in one line
 * once: whichever of the user's own `/edit` or `/delete` and its
 * `message_update` event gets there first.
 *
 * @example
 * ```ts
 * sayUpdate(view, edited); // "~ bob edited: the new text"
 * ```
 */
export function sayUpdate(view: ChatView, m: Message): void {
  const before = view.apply({ type: "message_update", id: null, data: m });
  const room = before.rooms[m.roomId];
  if (!room) return;
  const key = `${m.roomId}/${m.seq}/${m.deleted ? "deleted" : m.editedAt ?? ""}`;
  if (view.toldUpdates.delete(key)) return; // the other of the two said it
  view.toldUpdates.add(key);
  const mine = m.author.id === view.me.id;
  const author = clean(m.author.username, { oneLine: true });
  const where = m.roomId === view.current ? "" : ` in ${roomLabel(room)}`;
  if (m.deleted) {
    view.say(
      mine ? `~ Your message was deleted${where}` : `~ a message by ${author} was deleted${where}`,
    );
    return;
  }
  const head = `~ ${mine ? "You" : author} edited${where}: `;
  const text = where ? clean(m.text, { oneLine: true }) : indented(clean(m.text), head.length);
  view.say(head + text);
}

/** What a `reaction` event carries. */
export type ReactionChange = EventData<"reaction">;

/**
 * Tells the state of a reaction, and says it in one line: someone else's
 * only on a message shown on this screen (and never a blocked user's); the
 * user's own once, whichever of their `/react` and its event gets there
 * first.
 *
 * @example
 * ```ts
 * await sayReaction(view, event.data); // "~ bob reacted 👍 to #12"
 * ```
 */
export async function sayReaction(view: ChatView, r: ReactionChange): Promise<void> {
  const before = view.apply({ type: "reaction", id: null, data: r });
  const room = before.rooms[r.roomId];
  if (!room) return;
  if (r.userId === view.me.id) return tellOwnReaction(view, room, r.seq, r.emoji, r.added);
  if (!view.wasShown(r.roomId, r.seq) || before.blocked[r.userId]) return;
  const who = clean(await nameOf(view, room, r.userId), { oneLine: true });
  view.say(reactionLine(view, room, who, r.seq, r.emoji, r.added));
}

/** Says the user's own reaction (or its end) once: from their command or from its event. */
export function tellOwnReaction(
  view: ChatView,
  room: Room,
  seq: number,
  emoji: string,
  added: boolean,
): void {
  const key = `reaction/${room.id}/${seq}/${emoji}/${added}`;
  if (view.toldUpdates.delete(key)) return; // the other of the two said it
  view.toldUpdates.add(key);
  view.say(reactionLine(view, room, "You", seq, emoji, added));
}

/** "~ bob reacted 👍 to #12", "~ You took back 👍 on #12 in #den". */
function reactionLine(
  view: ChatView,
  room: Room,
  who: string,
  seq: number,
  emoji: string,
  added: boolean,
): string {
  const where = room.id === view.current ? "" : ` in ${roomLabel(room)}`;
  const shown = clean(emoji, { oneLine: true });
  return added
    ? `~ ${who} reacted ${shown} to #${seq}${where}`
    : `~ ${who} took back ${shown} on #${seq}${where}`;
}

/**
 * A user's name, for an event that gives only their id: from the room's
 * members (fetched once, then kept up to date by the stream), the other
 * side of a direct conversation, or the users the user blocks.
 */
async function nameOf(view: ChatView, room: Room, userId: string): Promise<string> {
  const known = () =>
    view.state.members[room.id]?.find((m) => m.id === userId)?.username ??
      (room.peer?.id === userId ? room.peer.username : undefined) ??
      view.state.blocked[userId]?.username;
  let name = known();
  if (name === undefined && !view.state.members[room.id]) {
    try {
      const members = await fetchMembers(view.call, room.id);
      if (view.state.rooms[room.id]) {
        view.update(withMembers(view.state, room.id, members));
      }
      name = known() ?? members.find((m) => m.id === userId)?.username;
    } catch {
      // Not worth an error line: the reaction is told all the same.
    }
  }
  return name ?? "someone";
}

/** Tells of a room the user is now in, unless their own command put them there. */
function announceRoom(view: ChatView, room: Room): void {
  if (view.joining) return;
  if (room.kind === "direct") {
    view.say(`* ${clean(room.name)} opened a direct conversation: /switch @${clean(room.name)}`);
  } else view.say(`* You are now in ${roomLabel(room)}: /switch ${roomLabel(room)}`);
}

/**
 * After a `reset` (the stream could not resume): reload the rooms, the
 * invitations and the blocks, print what the current conversation missed,
 * and count what the others did.
 */
async function catchUp(view: ChatView): Promise<void> {
  // A `devices` event may be among what was lost: every device list is read again.
  view.encryption?.directory.invalidate();
  const [rooms, invitations, blocks] = await Promise.all([
    view.api.rooms(),
    view.api.invitations(),
    view.api.blocks(),
  ]);
  const before = view.state;
  view.update({
    ...withRooms(before, rooms),
    invitations: Object.fromEntries(invitations.map((i) => [i.roomId, i])),
    blocked: Object.fromEntries(blocks.map((b) => [b.user.id, b.user])),
  });
  for (const invitation of invitations) {
    if (!before.invitations[invitation.roomId]) sayInvitation(view, invitation);
  }
  let calls = false;
  for (const room of rooms) {
    const known = before.rooms[room.id];
    if (!known) {
      announceRoom(view, room);
      continue;
    }
    if (room.lastSeq <= known.lastSeq) continue;
    if (room.id !== view.current) {
      view.say(`» ${roomLabel(room)} · ${room.lastSeq - known.lastSeq} new messages`);
      // Counted, not shown: a new direct message or mention among them still calls.
      const direct = room.kind === "direct" && room.unread > known.unread;
      calls ||= !room.muted && (direct || room.mentions > known.mentions);
      continue;
    }
    // Back to where the screen was, then forward through what it missed.
    const { lastSeq, lastMessage } = known;
    view.update(withRoom(view.state, { ...room, lastSeq, lastMessage }));
    const { messages } = await fetchAfter(view.call, room.id, lastSeq);
    for (const m of await view.revealAll(messages)) calls = view.show(m) || calls;
  }
  if (calls) view.bell();
}

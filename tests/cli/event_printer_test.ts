import assert from "node:assert/strict";
import { Api } from "../../cli/api.ts";
import { ChatView } from "../../cli/chat_view.ts";
import { printEvent, tellOwnReaction } from "../../cli/event_printer.ts";
import { Screen } from "../../cli/screen.ts";
import type { Message, Room, User } from "../../shared/api_types.ts";
import { withMembers, withRooms } from "../../shared/client_state.ts";
import type { ParleyEvent } from "../../shared/events.ts";

const me: User = { id: "u-me", username: "alice" };
const bob: User = { id: "u-bob", username: "bob" };

/** A view on a pipe-like screen that records what it prints; its API is never called here. */
function testView(): { view: ChatView; printed: string[] } {
  const printed: string[] = [];
  const screen = new Screen({
    input: new ReadableStream({ start: (c) => c.close() }),
    write: (text) => printed.push(text.replace(/\n$/, "")),
    interactive: false,
  });
  const api = new Api("http://127.0.0.1:9");
  api.token = "unused";
  return { view: new ChatView(api, screen, me), printed };
}

function room(over: Partial<Room> = {}): Room {
  return {
    id: "r-den",
    name: "den",
    kind: "group",
    capacity: 100,
    private: false,
    ownerId: bob.id,
    createdAt: 1,
    memberCount: 2,
    lastSeq: 0,
    lastMessage: null,
    lastActivityAt: 1,
    unread: 0,
    mentions: 0,
    muted: false,
    encrypted: false,
    ...over,
  };
}

function message(seq: number): ParleyEvent {
  const data: Message = {
    id: `m${seq}`,
    roomId: "r-den",
    seq,
    author: bob,
    text: `den ${seq}`,
    createdAt: 1000 + seq,
  };
  return { type: "message", id: `e${seq}`, data };
}

Deno.test("printEvent() shows the messages a room event counted before they arrived", async () => {
  const { view, printed } = testView();
  // Delivered after two messages were posted: they are unread, and their events follow.
  await printEvent(view, {
    type: "room",
    id: "e0",
    data: { room: room({ lastSeq: 2, unread: 2 }) },
  });
  for (const seq of [1, 2, 2]) await printEvent(view, message(seq));
  assert.deepEqual(printed, [
    "* You are now in #den: /switch #den",
    "» #den · bob: den 1",
    "» #den · bob: den 2",
  ]);
  assert.equal(view.state.rooms["r-den"].lastSeq, 2);
  assert.equal(view.state.rooms["r-den"].unread, 2);
});

Deno.test("printEvent() keeps a known room where its messages reached, and tells only changes", async () => {
  const { view, printed } = testView();
  view.update(withRooms(view.state, [room({ lastSeq: 1 })]));
  // The room event read the room after message 2 was stored; message 2's own event comes next.
  const renamed = room({ name: "lair", lastSeq: 2, unread: 1 });
  await printEvent(view, { type: "room", id: "e1", data: { room: renamed } });
  await printEvent(view, message(2));
  const presence = (online: boolean): ParleyEvent => ({
    type: "presence",
    id: null,
    data: { userId: bob.id, username: bob.username, online, lastSeen: 5 },
  });
  for (const online of [true, true, false]) await printEvent(view, presence(online));
  assert.deepEqual(printed, ["» #lair · bob: den 2", "* bob is online", "* bob is offline"]);
  assert.equal(view.state.rooms["r-den"].name, "lair");
  assert.equal(view.state.rooms["r-den"].unread, 1);
});

Deno.test("printEvent() tells of invitations and blocks once, replays and echoes aside", async () => {
  const { view, printed } = testView();
  const invitation = { roomId: "r-team", roomName: "team", private: false, by: bob, createdAt: 5 };
  const invite = (status: "pending" | "accepted" | "declined"): ParleyEvent => ({
    type: "invite",
    id: null,
    data: { invitation, status },
  });
  const block = (blocked: boolean): ParleyEvent => ({
    type: "block",
    id: null,
    data: { user: bob, blocked },
  });
  for (
    const event of [invite("pending"), invite("pending"), invite("declined"), invite("declined")]
  ) {
    await printEvent(view, event);
  }
  await printEvent(view, invite("pending"));
  await printEvent(view, invite("accepted"));
  for (const event of [block(true), block(true), block(false), block(false)]) {
    await printEvent(view, event);
  }
  assert.deepEqual(printed, [
    "* bob invites you to #team — /accept team or /decline team",
    "* Declined the invitation to #team",
    "* bob invites you to #team — /accept team or /decline team",
    "* Blocked bob: no direct messages or invitations from them, and no typing or presence.",
    "* Unblocked bob",
  ]);
  assert.deepEqual(view.state.invitations, {});
  assert.deepEqual(view.state.blocked, {});
});

Deno.test("printEvent() tells the user they own a room its owner left", async () => {
  const { view, printed } = testView();
  view.update(withRooms(view.state, [room()]));
  await printEvent(view, {
    type: "member",
    id: "e1",
    data: { roomId: "r-den", user: bob, action: "left", memberCount: 1, ownerId: me.id },
  });
  assert.deepEqual(printed, ["* bob left #den", "* You now own #den"]);
  assert.equal(view.state.rooms["r-den"].ownerId, me.id);
});

Deno.test("printEvent() tells of edits and deletions of messages on screen, once each", async () => {
  const { view, printed } = testView();
  view.update(withRooms(view.state, [room()]));
  for (const seq of [1, 2]) await printEvent(view, message(seq));
  const update = (seq: number, over: Partial<Message>): ParleyEvent => ({
    type: "message_update",
    id: `u${seq}`,
    data: { ...(message(seq).data as Message), ...over },
  });
  await printEvent(view, update(1, { text: "den one, fixed", editedAt: 5 }));
  await printEvent(view, update(2, { text: "", deleted: true }));
  // Not on screen (before this session): the state moves, nothing is printed.
  await printEvent(view, update(7, { text: "old, fixed", editedAt: 6 }));
  // Shown as notices, outside the current conversation: the lines name the room.
  assert.deepEqual(printed, [
    "» #den · bob: den 1",
    "» #den · bob: den 2",
    "~ bob edited in #den: den one, fixed",
    "~ a message by bob was deleted in #den",
  ]);
  assert.equal(view.state.rooms["r-den"].lastMessage?.deleted, true);
});

Deno.test("printEvent() tells a removed or banned user why, and forgets the room", async () => {
  const { view, printed } = testView();
  view.update(withRooms(view.state, [room(), room({ id: "r-lab", name: "lab" })]));
  const member = (action: "removed" | "banned", roomId: string, reason: string | null) => ({
    type: "member" as const,
    id: `e-${roomId}`,
    data: { roomId, user: me, action, reason, memberCount: 1, ownerId: bob.id },
  });
  await printEvent(view, member("banned", "r-den", "spamming"));
  await printEvent(view, member("banned", "r-den", "spamming")); // a replay
  await printEvent(view, member("removed", "r-lab", null));
  assert.deepEqual(printed, [
    "! You were banned from #den: spamming",
    "! You were removed from #lab",
  ]);
  assert.deepEqual(view.state.rooms, {});
});

Deno.test("printEvent() tells of roles and removals of others, and of a deleted room", async () => {
  const { view, printed } = testView();
  view.update(withRooms(view.state, [room()]));
  const carol: User = { id: "u-carol", username: "carol" };
  const event = (
    user: User,
    action: "joined" | "removed" | "banned" | "role",
    extra: { role?: "owner" | "moderator" | "member"; reason?: string | null; ownerId?: string },
  ): ParleyEvent => ({
    type: "member",
    id: null,
    data: { roomId: "r-den", user, action, memberCount: 2, ownerId: bob.id, ...extra },
  });
  await printEvent(view, event(carol, "role", { role: "moderator" }));
  await printEvent(view, event(me, "role", { role: "moderator" }));
  await printEvent(view, event(carol, "role", { role: "member" }));
  await printEvent(view, event(carol, "removed", { reason: null }));
  await printEvent(view, event(carol, "joined", { role: "member" }));
  await printEvent(view, event(carol, "banned", { reason: "spam" }));
  await printEvent(view, event(me, "role", { role: "owner", ownerId: me.id }));
  await printEvent(view, { type: "room_deleted", id: "e9", data: { roomId: "r-den" } });
  await printEvent(view, { type: "room_deleted", id: "e9", data: { roomId: "r-den" } });
  assert.deepEqual(printed, [
    "* carol is now a moderator of #den",
    "* You are now a moderator of #den",
    "* carol is no longer a moderator of #den",
    "* carol was removed from #den",
    "* carol joined #den",
    "* carol was banned from #den: spam",
    "* You now own #den",
    "! #den was deleted",
  ]);
  assert.deepEqual(view.state.rooms, {});
});

Deno.test("printEvent() tells of reactions to messages on screen, and the user's own once", async () => {
  const { view, printed } = testView();
  const carol: User = { id: "u-carol", username: "carol" };
  view.update(withRooms(view.state, [room()]));
  view.update(
    withMembers(view.state, "r-den", [
      { ...me, role: "member", online: true },
      { ...bob, role: "owner", online: true },
    ]),
  );
  view.apply({ type: "block", id: null, data: { user: carol, blocked: true } });
  await printEvent(view, message(1));
  const reaction = (seq: number, userId: string, emoji: string, added: boolean): ParleyEvent => ({
    type: "reaction",
    id: null,
    data: { roomId: "r-den", seq, emoji, userId, added, count: added ? 1 : 0 },
  });
  await printEvent(view, reaction(1, bob.id, "👍", true));
  await printEvent(view, reaction(1, bob.id, "👍", false));
  // Not on this screen, or from someone blocked: the state moves, nothing is said.
  await printEvent(view, reaction(7, bob.id, "🎉", true));
  await printEvent(view, reaction(1, carol.id, "🎉", true));
  // The user's own: said by the command or by its event, whichever comes first, once.
  tellOwnReaction(view, view.state.rooms["r-den"], 1, "🎉", true);
  await printEvent(view, reaction(1, me.id, "🎉", true));
  await printEvent(view, reaction(1, me.id, "🎉", false));
  tellOwnReaction(view, view.state.rooms["r-den"], 1, "🎉", false);
  assert.deepEqual(printed, [
    "» #den · bob: den 1",
    "~ bob reacted 👍 to #1 in #den",
    "~ bob took back 👍 on #1 in #den",
    "~ You reacted 🎉 to #1 in #den",
    "~ You took back 🎉 on #1 in #den",
  ]);
  assert.equal(view.toldUpdates.size, 0);
});

Deno.test("printEvent() rings the bell for a mention or a direct message, unless muted or own", async () => {
  const { view, printed } = testView();
  const dm = room({ id: "r-dm", name: "bob", kind: "direct", ownerId: null, peer: bob });
  view.update(withRooms(view.state, [room(), room({ id: "r-lab", name: "lab", muted: true }), dm]));
  const post = (roomId: string, seq: number, text: string, over: Partial<Message> = {}) =>
    printEvent(view, {
      type: "message",
      id: null,
      data: { ...(message(seq).data as Message), roomId, text, ...over },
    });
  await post("r-den", 1, "plain");
  await post("r-den", 2, "hey @alice", { mentions: [me.id] });
  await post("r-lab", 1, "muted @alice", { mentions: [me.id] });
  await post("r-dm", 1, "psst");
  await post("r-dm", 2, "mine", { author: me });
  assert.deepEqual(printed, [
    "» #den · bob: plain",
    "@ » #den · bob: hey @alice",
    "\x07",
    "@ » #lab · bob: muted @alice",
    "» @bob · bob: psst",
    "\x07",
    "» @bob · alice: mine",
  ]);
  assert.deepEqual(
    [view.state.rooms["r-den"].mentions, view.state.rooms["r-lab"].mentions],
    [1, 1],
  );
});

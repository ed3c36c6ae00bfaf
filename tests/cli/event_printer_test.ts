import assert from "node:assert/strict";
import { Api } from "../../cli/api.ts";
import { ChatView } from "../../cli/chat_view.ts";
import { printEvent } from "../../cli/event_printer.ts";
import { Screen } from "../../cli/screen.ts";
import type { Message, Room, User } from "../../shared/api_types.ts";
import { withRooms } from "../../shared/client_state.ts";
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

/**
 * The proof that events are complete, in the style of Zulip's: start from a
 * state fetched over HTTP, make a change through the API, apply every event
 * the stream delivered with `applyEvent`, and compare with a state fetched
 * afresh. A real server on a socket, real SSE parsing, real KV.
 */
import assert from "node:assert/strict";
import { type ApiCall, fetchState } from "../../shared/client_actions.ts";
import type { Message, Room } from "../../shared/api_types.ts";
import {
  applyEvent,
  type ClientState,
  emptyState,
  merge,
  sortedRooms,
  typingIn,
  withRooms,
} from "../../shared/client_state.ts";
import type { ParleyEvent } from "../../shared/events.ts";
import { call, post, registerUser, roomWith, serve, testApp } from "../helpers.ts";
import { SseClient } from "../sse_client.ts";

type TestUser = { id: string; username: string; token: string };

function apiFor(url: string, user: TestUser): ApiCall {
  return async <T>(method: string, path: string, body?: unknown) => {
    const res = await call(url, path, { token: user.token, method, body });
    if (res.status >= 400) throw Object.assign(new Error(res.body.error.message), res);
    return res.body as T;
  };
}

/**
 * What the two states are compared on. Every room record (unread counts,
 * last messages, member counts) in full. Member lists and history for the
 * rooms whose details the client had loaded: a client loads them when it
 * opens a room, so a room that appeared through an event has its record
 * only. Online flags of the users in those member lists (the server tells a
 * client of presence only for people it shares a room with). No typing,
 * which is of the moment.
 */
function comparable(state: ClientState, loaded: string[]) {
  const pick = <T>(map: Record<string, T>) =>
    Object.fromEntries(Object.entries(map).filter(([id]) => loaded.includes(id)));
  const members = pick(state.members);
  const seen = new Set(Object.values(members).flat().map((m) => m.id));
  const online = Object.fromEntries(Object.entries(state.online).filter(([id]) => seen.has(id)));
  return { ...state, members, conversations: pick(state.conversations), online, typing: {} };
}

/**
 * Fetches `viewer`'s state with its stream open, runs `change`, waits for
 * `settled` on the stream, applies every event after the fetch began, and
 * asserts the result equals a fresh fetch.
 */
async function assertEventsComplete(
  url: string,
  viewer: TestUser,
  change: () => Promise<unknown>,
  settled: (stream: SseClient) => Promise<unknown>,
) {
  const api = apiFor(url, viewer);
  const me = { id: viewer.id, username: viewer.username };
  const stream = await SseClient.connect(url, viewer);
  try {
    await stream.next("ready");
    const from = stream.events.length;
    let state = await fetchState(api, me, { details: true });
    await change();
    await settled(stream);
    await new Promise((r) => setTimeout(r, 150)); // anything else in flight
    const delivered = stream.events.slice(from);
    for (const e of delivered) {
      state = applyEvent(state, { type: e.event, id: e.id, data: e.data } as ParleyEvent, 0);
    }
    const fresh = await fetchState(api, me, { details: true });
    const loaded = Object.keys(state.members);
    assert.deepEqual(comparable(state, loaded), comparable(fresh, loaded));
    return delivered;
  } finally {
    await stream.close();
  }
}

async function setup() {
  const t = await testApp({ presenceGraceMs: 50 });
  const server = serve(t.app.fetch);
  const [viewer, ann, ben] = await Promise.all([
    registerUser(server.url),
    registerUser(server.url),
    registerUser(server.url),
  ]);
  const room = await roomWith(server.url, viewer, [ann], { name: "shared" });
  await post(server.url, ann.token, room, "before the fetch");
  return {
    url: server.url,
    viewer,
    ann,
    ben,
    room,
    async [Symbol.asyncDispose]() {
      await server[Symbol.asyncDispose]();
      await t[Symbol.asyncDispose]();
    },
  };
}

Deno.test("applyEvent() after others send equals a fresh fetch (messages, unread, last message)", async () => {
  await using s = await setup();
  await assertEventsComplete(s.url, s.viewer, async () => {
    for (const text of ["one", "two", "three"]) await post(s.url, s.ann.token, s.room, text);
  }, (st) => st.until(() => st.of("message").length >= 3, 5000, "three messages"));
});

Deno.test("applyEvent() after the user's own send equals a fresh fetch (own messages count as read)", async () => {
  await using s = await setup();
  await assertEventsComplete(
    s.url,
    s.viewer,
    () => post(s.url, s.viewer.token, s.room, "mine"),
    (st) => st.next("message"),
  );
});

Deno.test("applyEvent() after someone joins and then leaves equals a fresh fetch (member counts)", async () => {
  await using s = await setup();
  const events = await assertEventsComplete(
    s.url,
    s.viewer,
    () => call(s.url, `/api/rooms/${s.room}/join`, { token: s.ben.token, method: "POST" }),
    (st) => st.next("member", (e) => e.action === "joined"),
  );
  assert.ok(events.some((e) => e.event === "member" && e.data.memberCount === 3));
  await assertEventsComplete(
    s.url,
    s.viewer,
    () => call(s.url, `/api/rooms/${s.room}/leave`, { token: s.ben.token, method: "POST" }),
    (st) => st.next("member", (e) => e.action === "left"),
  );
});

Deno.test("applyEvent() after being invited, and after accepting, equals a fresh fetch", async () => {
  await using s = await setup();
  const secret = await roomWith(s.url, s.ann, [], { name: "secret", private: true });
  await assertEventsComplete(
    s.url,
    s.viewer,
    () =>
      call(s.url, `/api/rooms/${secret}/members`, {
        token: s.ann.token,
        body: { username: s.viewer.username },
      }),
    (st) => st.next("invite", (e) => e.status === "pending"),
  );
  await assertEventsComplete(
    s.url,
    s.viewer,
    () => call(s.url, `/api/invites/${secret}/accept`, { token: s.viewer.token, method: "POST" }),
    (st) => st.next("room", (e) => e.room.id === secret),
  );
});

Deno.test("applyEvent() after declining an invitation equals a fresh fetch", async () => {
  await using s = await setup();
  const secret = await roomWith(s.url, s.ann, [], { name: "secret", private: true });
  await call(s.url, `/api/rooms/${secret}/members`, {
    token: s.ann.token,
    body: { username: s.viewer.username },
  });
  await assertEventsComplete(
    s.url,
    s.viewer,
    () => call(s.url, `/api/invites/${secret}/decline`, { token: s.viewer.token, method: "POST" }),
    (st) => st.next("invite", (e) => e.status === "declined"),
  );
});

Deno.test("applyEvent() after blocking and unblocking equals a fresh fetch", async () => {
  await using s = await setup();
  await assertEventsComplete(
    s.url,
    s.viewer,
    () =>
      call(s.url, "/api/me/blocks", { token: s.viewer.token, body: { username: s.ben.username } }),
    (st) => st.next("block", (e) => e.blocked),
  );
  await assertEventsComplete(
    s.url,
    s.viewer,
    () => call(s.url, `/api/me/blocks/${s.ben.id}`, { token: s.viewer.token, method: "DELETE" }),
    (st) => st.next("block", (e) => !e.blocked),
  );
});

Deno.test("applyEvent() after the owner leaves equals a fresh fetch (ownership passes on)", async () => {
  await using s = await setup();
  await call(s.url, `/api/rooms/${s.room}/join`, { token: s.ben.token, method: "POST" });
  await assertEventsComplete(
    s.url,
    s.ann,
    () => call(s.url, `/api/rooms/${s.room}/leave`, { token: s.viewer.token, method: "POST" }),
    (st) => st.next("member", (e) => e.action === "left"),
  );
});

Deno.test("applyEvent() after someone the user invited accepts equals a fresh fetch", async () => {
  await using s = await setup();
  await assertEventsComplete(
    s.url,
    s.viewer,
    async () => {
      await call(s.url, `/api/rooms/${s.room}/members`, {
        token: s.viewer.token,
        body: { username: s.ben.username },
      });
      await call(s.url, `/api/invites/${s.room}/accept`, { token: s.ben.token, method: "POST" });
    },
    (st) => st.next("member", (e) => e.user.id === s.ben.id),
  );
});

Deno.test("applyEvent() after someone opens a direct conversation equals a fresh fetch", async () => {
  await using s = await setup();
  await assertEventsComplete(
    s.url,
    s.viewer,
    async () => {
      const opened = await call(s.url, `/api/direct/${s.viewer.username}`, {
        token: s.ben.token,
        method: "POST",
      });
      await post(s.url, s.ben.token, opened.body.room.id, "hello there");
    },
    (st) => st.next("message", (m) => m.text === "hello there"),
  );
});

Deno.test("applyEvent() after the read marker moves on another device equals a fresh fetch", async () => {
  await using s = await setup();
  await post(s.url, s.ann.token, s.room, "unread one");
  await assertEventsComplete(
    s.url,
    s.viewer,
    () => call(s.url, `/api/rooms/${s.room}/read`, { token: s.viewer.token, body: { seq: 2 } }),
    (st) => st.next("read"),
  );
});

Deno.test("applyEvent() after the user leaves a room equals a fresh fetch", async () => {
  await using s = await setup();
  await assertEventsComplete(
    s.url,
    s.viewer,
    () => call(s.url, `/api/rooms/${s.room}/leave`, { token: s.viewer.token, method: "POST" }),
    (st) => st.next("member", (e) => e.user.id === s.viewer.id),
  );
});

Deno.test("applyEvent() after presence changes equals a fresh fetch (online, then offline)", async () => {
  await using s = await setup();
  let annStream: SseClient | undefined;
  await assertEventsComplete(
    s.url,
    s.viewer,
    async () => annStream = await SseClient.connect(s.url, s.ann),
    (st) => st.next("presence", (p) => p.userId === s.ann.id && p.online),
  );
  await assertEventsComplete(
    s.url,
    s.viewer,
    () => annStream!.close(),
    (st) => st.next("presence", (p) => p.userId === s.ann.id && !p.online, 5000),
  );
});

Deno.test("applyEvent() shows typing for a while, and a message from the typist ends it", async () => {
  await using s = await setup();
  const stream = await SseClient.connect(s.url, s.viewer);
  try {
    await stream.next("ready");
    let state = await fetchState(apiFor(s.url, s.viewer), s.viewer, { details: true });
    await call(s.url, `/api/rooms/${s.room}/typing`, { token: s.ann.token, method: "POST" });
    const typing = await stream.next("typing");
    state = applyEvent(state, { type: "typing", id: null, data: typing }, 1_000);
    assert.deepEqual(typingIn(state, s.room, 1_000), [s.ann.username]);
    assert.deepEqual(typingIn(state, s.room, 1_000 + 60_000), [], "it fades");
    await post(s.url, s.ann.token, s.room, "done typing");
    const message = await stream.next("message");
    state = applyEvent(state, { type: "message", id: "x", data: message }, 1_000);
    assert.deepEqual(typingIn(state, s.room, 1_000), []);
  } finally {
    await stream.close();
  }
});

const message = (seq: number, text = `m${seq}`): Message => ({
  id: `id${seq}`,
  roomId: "r",
  seq,
  author: { id: "u", username: "u" },
  text,
  createdAt: seq,
});

Deno.test("merge() orders by seq and keeps each seq once", () => {
  const merged = merge([message(3), message(1)], [message(2), message(3, "again")]);
  assert.deepEqual(merged.map((m) => [m.seq, m.text]), [[1, "m1"], [2, "m2"], [3, "again"]]);
});

Deno.test("sortedRooms() puts the most recent activity first", () => {
  const room = (id: string, lastActivityAt: number) => ({ id, name: id, lastActivityAt }) as Room;
  const state = withRooms(emptyState({ id: "me", username: "me" }), [
    room("a", 1),
    room("b", 3),
    room("c", 2),
  ]);
  assert.deepEqual(sortedRooms(state).map((r) => r.id), ["b", "c", "a"]);
});

Deno.test("applyEvent() after an edit and a deletion equals a fresh fetch", async () => {
  await using s = await setup();
  await assertEventsComplete(
    s.url,
    s.viewer,
    async () => {
      await call(s.url, `/api/rooms/${s.room}/messages/1`, {
        token: s.ann.token,
        method: "PATCH",
        body: { text: "edited later" },
      });
      await post(s.url, s.ann.token, s.room, "soon gone");
      await call(s.url, `/api/rooms/${s.room}/messages/2`, {
        token: s.ann.token,
        method: "DELETE",
      });
    },
    (st) => st.next("message_update", (m) => m.deleted),
  );
});

Deno.test("applyEvent() after a role change, a kick and a ban equals a fresh fetch", async () => {
  await using s = await setup();
  await call(s.url, `/api/rooms/${s.room}/join`, { token: s.ben.token, method: "POST" });
  await assertEventsComplete(
    s.url,
    s.ann,
    async () => {
      await call(s.url, `/api/rooms/${s.room}/members/${s.ann.id}/role`, {
        token: s.viewer.token,
        method: "PUT",
        body: { role: "moderator" },
      });
      await call(s.url, `/api/rooms/${s.room}/members/${s.ben.id}`, {
        token: s.viewer.token,
        method: "DELETE",
      });
    },
    (st) => st.next("member", (e) => e.action === "removed"),
  );
  await call(s.url, `/api/rooms/${s.room}/join`, { token: s.ben.token, method: "POST" });
  await assertEventsComplete(
    s.url,
    s.ben,
    () =>
      call(s.url, `/api/rooms/${s.room}/bans`, {
        token: s.viewer.token,
        body: { username: s.ben.username, reason: "testing" },
      }),
    (st) => st.next("member", (e) => e.action === "banned"),
  );
});

Deno.test("applyEvent() after the room is deleted equals a fresh fetch", async () => {
  await using s = await setup();
  await assertEventsComplete(
    s.url,
    s.ann,
    () => call(s.url, `/api/rooms/${s.room}`, { token: s.viewer.token, method: "DELETE" }),
    (st) => st.next("room_deleted"),
  );
});

Deno.test("applyEvent() after replies, reactions and mentions equals a fresh fetch", async () => {
  await using s = await setup();
  await assertEventsComplete(
    s.url,
    s.viewer,
    async () => {
      await call(s.url, `/api/rooms/${s.room}/messages`, {
        token: s.ann.token,
        body: { text: `@${s.viewer.username} answering`, replyTo: 1 },
      });
      const react = (token: string, emoji: string, method = "PUT") =>
        call(s.url, `/api/rooms/${s.room}/messages/1/reactions/${encodeURIComponent(emoji)}`, {
          token,
          method,
        });
      await react(s.ann.token, "👍");
      await react(s.viewer.token, "👍");
      await react(s.viewer.token, "🎉");
      await react(s.viewer.token, "🎉", "DELETE");
      await call(s.url, `/api/rooms/${s.room}/messages/1`, {
        token: s.ann.token,
        method: "PATCH",
        body: { text: "the original, edited" },
      });
    },
    (st) => st.next("message_update"),
  );
  await assertEventsComplete(
    s.url,
    s.viewer,
    () => call(s.url, `/api/rooms/${s.room}/read`, { token: s.viewer.token, body: { seq: 2 } }),
    (st) => st.next("read"),
  );
});

/**
 * The outbox: messages being sent, shown at once and marked failed (with a
 * retry) when the server does not take them; each carries a client id, so a
 * retry never sends twice. Also the throttled typing signal.
 *
 * @module
 */
import { api, failureText } from "./client_api.ts";
import type { Pending, StoreCore } from "./store_core.ts";
import type { Message } from "./types.ts";

const TYPING_THROTTLE_MS = 3_000;

/** Builds the sending actions; `receiveMessage` takes what the server stored. */
export function createOutbox(core: StoreCore, receiveMessage: (m: Message) => void) {
  const { conversation } = core;
  let lastTypingSent = 0;

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
        x.clientId === p.clientId ? { ...x, state: "failed", error: failureText(e, "messages") } : x
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

  return { send, retry, discard, typed };
}

/** The sending actions. */
export type Outbox = ReturnType<typeof createOutbox>;

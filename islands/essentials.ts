/**
 * The small things of a conversation: answering a message (the quote the
 * composer carries, jumping to the original), reactions, who `@` may name,
 * and muting a room.
 *
 * @module
 */
import { signal } from "@preact/signals";
import { fetchHistory } from "../shared/client_actions.ts";
import { quoteOf, withHistory } from "../shared/client_state.ts";
import { api, rateLimitedAs } from "./client_api.ts";
import type { StoreCore } from "./store_core.ts";
import type { Member, Message, ReplyQuote, Room } from "./types.ts";

/** The reactions the picker offers, with the names read out for them. */
export const REACTIONS: readonly (readonly [emoji: string, name: string])[] = [
  ["👍", "thumbs up"],
  ["❤️", "heart"],
  ["😂", "laughing"],
  ["🎉", "party"],
  ["😮", "surprised"],
  ["😢", "sad"],
  ["🙏", "thank you"],
  ["👀", "eyes"],
];

const ORDER = new Map(REACTIONS.map(([emoji], i) => [emoji, i]));

/**
 * A message's reactions in an order that does not move as counts change:
 * the picker's, then any other emoji by code point.
 */
export function reactionOrder<T extends { emoji: string }>(list: T[]): T[] {
  const rank = (e: string) => ORDER.get(e) ?? REACTIONS.length;
  return [...list].sort((a, b) =>
    rank(a.emoji) - rank(b.emoji) || (a.emoji < b.emoji ? -1 : a.emoji > b.emoji ? 1 : 0)
  );
}

/** How many names the mention list offers at most. */
const MENTION_CHOICES = 8;

/**
 * The members `@query` may mean, other than `me`: names starting with it
 * first, then names containing it, each alphabetical.
 */
export function mentionChoices(members: Member[], query: string, meId: string): Member[] {
  const q = query.toLowerCase();
  const others = members.filter((m) => m.id !== meId);
  const byName = (a: Member, b: Member) => a.username.localeCompare(b.username);
  const starts = others.filter((m) => m.username.toLowerCase().startsWith(q)).sort(byName);
  const contains = others
    .filter((m) => !m.username.toLowerCase().startsWith(q) && m.username.toLowerCase().includes(q))
    .sort(byName);
  return [...starts, ...contains].slice(0, MENTION_CHOICES);
}

/** The message a jump brings into view and flashes. */
export interface Jump {
  roomId: string;
  seq: number;
}

/** Builds replies, reactions, jumps and muting on the store's core. */
export function createEssentials(core: StoreCore) {
  const { state, update, conversation, upsertRoom } = core;
  /** The message each room's composer answers, by room. */
  const replying = signal<Record<string, ReplyQuote>>({});
  /** The last jump asked for (a new object each time, so the same one twice jumps twice). */
  const jump = signal<Jump | null>(null);

  /** Answers `m`: its quote goes above the composer of its room. */
  function reply(m: Message) {
    replying.value = { ...replying.value, [m.roomId]: quoteOf(m) };
  }

  function cancelReply(roomId: string) {
    if (!(roomId in replying.value)) return;
    const { [roomId]: _, ...rest } = replying.value;
    replying.value = rest;
  }

  /** Adds the user's `emoji` to `m`, or takes it back when it is theirs; the event moves the count. */
  async function toggleReaction(m: Message, emoji: string) {
    const mine = m.reactions?.some((r) => r.emoji === emoji && r.me) ?? false;
    await api(
      mine ? "DELETE" : "PUT",
      `/api/rooms/${m.roomId}/messages/${m.seq}/reactions/${encodeURIComponent(emoji)}`,
    ).catch(rateLimitedAs("reactions"));
  }

  /** Mutes or unmutes a room for this user: it still counts unread but never notifies. */
  async function setMuted(roomId: string, muted: boolean) {
    const { room } = await api<{ room: Room }>("PUT", `/api/rooms/${roomId}/settings`, { muted });
    upsertRoom(room);
  }

  /** Brings message `seq` of a room into view, loading the history before it if need be. */
  async function jumpTo(roomId: string, seq: number) {
    const conv = conversation(roomId);
    const first = conv.messages.value[0]?.seq;
    if (first !== undefined && seq < first && conv.hasMore.value) {
      conv.loadingOlder.value = true;
      try {
        // The original and a few before it, for context.
        const page = await fetchHistory(api, roomId, first - seq + 5, first);
        update((s) => withHistory(s, roomId, page, "older"));
      } finally {
        conv.loadingOlder.value = false;
      }
    }
    if (state.value.conversations[roomId]?.messages.some((m) => m.seq === seq)) {
      jump.value = { roomId, seq };
    }
  }

  return { replying, reply, cancelReply, toggleReaction, setMuted, jump, jumpTo };
}

/** Replies, reactions, jumps and muting. */
export type Essentials = ReturnType<typeof createEssentials>;

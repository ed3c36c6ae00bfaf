/**
 * Typing indicators: an event for the room's other members, never stored
 * beyond the feed's short memory.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import type { FeedWriter } from "./feed.ts";

/** Tells a room's other members that `user` is typing. The caller has checked membership. */
export function sendTyping(feed: FeedWriter, roomId: string, user: User): Promise<void> {
  return feed.run(false, () =>
    Promise.resolve({
      mutations: 0,
      bytes: 0,
      events: [{ type: "typing" as const, roomId, user }],
      apply() {},
      value: undefined,
    }));
}

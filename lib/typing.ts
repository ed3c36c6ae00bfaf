/**
 * Typing indicators: an ephemeral event for the room's other members online
 * now. Its log entry expires within a minute and is never replayed.
 *
 * @module
 */
import type { User } from "./accounts.ts";
import type { FeedWriter } from "./feed.ts";

/** Tells a room's other members that `user` is typing. The caller has checked membership. */
export function sendTyping(feed: FeedWriter, roomId: string, user: User): Promise<void> {
  return feed.run(null, () =>
    Promise.resolve({
      checks: [],
      events: [{ type: "typing" as const, roomId, user }],
      apply() {},
      value: undefined,
    }));
}

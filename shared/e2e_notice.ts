/**
 * What a notice of end-to-end encryption switched on or off says, in both
 * clients (docs/encryption.md: switching off is never silent, so both say
 * what it means).
 *
 * @module
 */
import type { Message } from "./api_types.ts";

/**
 * "bob turned on end-to-end encryption: only your devices and theirs can
 * read new messages", with "You" when the user `meId` switched.
 *
 * @param o.name a username as the client prints it (the terminal strips control characters).
 * @param o.lock a mark put after "end-to-end encryption" when it was turned on.
 *
 * @example
 * ```ts
 * noticeText(m, { meId: me.id }); // "You turned off end-to-end encryption: the server can read new messages"
 * noticeText(m, { lock: "🔒" }); // "bob turned on end-to-end encryption 🔒: only your devices and theirs can read new messages"
 * ```
 */
export function noticeText(
  m: Pick<Message, "notice" | "author">,
  o: { meId?: string; name?: (username: string) => string; lock?: string } = {},
): string {
  const who = m.author.id === o.meId ? "You" : o.name?.(m.author.username) ?? m.author.username;
  return m.notice === "encryption_on"
    ? `${who} turned on end-to-end encryption${o.lock ? ` ${o.lock}` : ""}: only your devices ` +
      "and theirs can read new messages"
    : `${who} turned off end-to-end encryption: the server can read new messages`;
}

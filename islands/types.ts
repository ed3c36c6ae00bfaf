/**
 * The shapes the web app reads: the API's types (inferred from the server's
 * zod schemas, imported as types only, so the bundle carries no zod) and
 * what the server renders into the page.
 *
 * @module
 */
import type { Room, User } from "../shared/api_types.ts";

export type { Member, Message, PublicRoom, Room, User, UserPresence } from "../shared/api_types.ts";

/** What the server renders into the page for the islands to start from. */
export interface Boot {
  /** The signed-in user, or null on the sign-in pages. */
  user: User | null;
  /** The user's rooms, most recent first. */
  rooms: Room[];
  /** The conversation named by the URL, if any. */
  roomId: string | null;
  /** Which sign-in form to show when signed out. */
  auth: "login" | "register";
  /** Where to go after signing in. */
  next: string;
}

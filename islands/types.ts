/**
 * The shapes the web app reads: the API's types (inferred from the server's
 * zod schemas, imported as types only, so the bundle carries no zod) and
 * what the server renders into the page.
 *
 * @module
 */
import type { Invitation, Room, User } from "../shared/api_types.ts";

export type {
  AdminUser,
  Attachment,
  AuditEntry,
  Ban,
  Block,
  Invitation,
  Member,
  Message,
  PublicRoom,
  ReplyQuote,
  Role,
  Room,
  SessionInfo,
  User,
  UserPresence,
} from "../shared/api_types.ts";

/** Who sees the user's presence. */
export type PresenceVisibility = "everyone" | "contacts";

/** What the server renders into the page for the islands to start from. */
export interface Boot {
  /** The signed-in user, or null on the sign-in pages. */
  user: User | null;
  /** The user's rooms, most recent first. */
  rooms: Room[];
  /** The invitations waiting for the user's answer (signed in only). */
  invitations?: Invitation[];
  /** The users the user blocks (signed in only). */
  blocked?: User[];
  /** The largest file an upload may be, in bytes (signed in only). */
  maxUploadBytes?: number;
  /** Whether the user administers the server (signed in only). */
  admin?: boolean;
  /** The conversation named by the URL, if any. */
  roomId: string | null;
  /** Which sign-in form to show when signed out. */
  auth: "login" | "register";
  /** Where to go after signing in. */
  next: string;
}

/**
 * The shapes the web app reads from the public HTTP and SSE API. Kept apart
 * from `lib/schemas.ts` so the browser bundle does not carry zod.
 *
 * @module
 */

/** A user as everyone may see them. */
export interface User {
  id: string;
  username: string;
}

/** A stored message. */
export interface Message {
  id: string;
  roomId: string;
  seq: number;
  author: User;
  text: string;
  createdAt: number;
  clientId?: string;
}

/** A room as the signed-in user sees it. */
export interface Room {
  id: string;
  name: string;
  kind: "group" | "direct";
  capacity: number;
  private: boolean;
  ownerId: string | null;
  createdAt: number;
  memberCount: number;
  lastSeq: number;
  lastMessage: Message | null;
  lastActivityAt: number;
  unread: number;
  peer?: User;
}

/** A room in the public directory. */
export interface PublicRoom {
  id: string;
  name: string;
  capacity: number;
  memberCount: number;
  createdAt: number;
}

/** A member of a room. */
export interface Member {
  id: string;
  username: string;
  role: "owner" | "member";
  online: boolean;
}

/** A user with presence. */
export interface UserPresence {
  id: string;
  username: string;
  online: boolean;
  lastSeen: number | null;
}

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

/**
 * The shapes the terminal client reads from the API. Kept here, small and
 * plain, so the client imports nothing from the server (lib/schemas.ts holds
 * the authoritative zod schemas these mirror).
 *
 * @module
 */

/** A user as the API names them. */
export interface User {
  id: string;
  username: string;
}

/** A user with presence, from `GET /api/users`. */
export interface UserPresence extends User {
  online: boolean;
  lastSeen: number | null;
}

/** A message. */
export interface Message {
  id: string;
  roomId: string;
  seq: number;
  author: User;
  text: string;
  createdAt: number;
  clientId?: string;
}

/** A room (or DM) as the signed-in user sees it. */
export interface Room {
  id: string;
  name: string;
  kind: "group" | "direct";
  capacity: number;
  private: boolean;
  ownerId: string | null;
  memberCount: number;
  lastSeq: number;
  lastMessage: Message | null;
  unread: number;
  peer?: User;
}

/** A room in the public directory. */
export interface PublicRoom {
  id: string;
  name: string;
  capacity: number;
  memberCount: number;
}

/** A member of a room. */
export interface RoomMember extends User {
  role: "owner" | "member";
  online: boolean;
}

/**
 * The API's data shapes as TypeScript types, inferred from the zod schemas
 * that validate and document them. Only types are imported, so clients (the
 * web app's bundle, the terminal client) use these without carrying zod or
 * anything of the server.
 *
 * @module
 */
import type { z } from "@hono/zod-openapi";
import type {
  AdminUserSchema,
  AttachmentSchema,
  AuditEntrySchema,
  BanSchema,
  BlockSchema,
  DeviceSchema,
  EnvelopeSchema,
  InvitationSchema,
  MemberSchema,
  MessageSchema,
  PublicRoomSchema,
  ReplyQuoteSchema,
  RoleSchema,
  RoomSchema,
  SessionSchema,
  UserPresenceSchema,
  UserSchema,
} from "./schemas.ts";

/** A user as everyone may see them. */
export type User = z.infer<typeof UserSchema>;
/** A message, as sending returns it and the `message` event carries it. */
export type Message = z.infer<typeof MessageSchema>;
/** A room or direct conversation as the signed-in user sees it. */
export type Room = z.infer<typeof RoomSchema>;
/** A room in the public directory. */
export type PublicRoom = z.infer<typeof PublicRoomSchema>;
/** A member of a room, with presence. */
export type Member = z.infer<typeof MemberSchema>;
/** A user with presence, from `GET /api/users`. */
export type UserPresence = z.infer<typeof UserPresenceSchema>;
/** An invitation into a room, waiting for its invitee. */
export type Invitation = z.infer<typeof InvitationSchema>;
/** A user someone has blocked. */
export type Block = z.infer<typeof BlockSchema>;
/** A session, as its user sees it. */
export type SessionInfo = z.infer<typeof SessionSchema>;
/** One moderation or administration action on record. */
export type AuditEntry = z.infer<typeof AuditEntrySchema>;
/** A ban from a room. */
export type Ban = z.infer<typeof BanSchema>;
/** An account as administrators see it. */
export type AdminUser = z.infer<typeof AdminUserSchema>;
/** A member's role in a room. */
export type Role = z.infer<typeof RoleSchema>;
/** A file attached to a message. */
export type Attachment = z.infer<typeof AttachmentSchema>;
/** A device of a user: its public keys for end-to-end encryption. */
export type Device = z.infer<typeof DeviceSchema>;
/** An end-to-end encrypted message as the server stores and relays it. */
export type Envelope = z.infer<typeof EnvelopeSchema>;
/** The quote of the message a reply answers. */
export type ReplyQuote = z.infer<typeof ReplyQuoteSchema>;

/**
 * The API's request and response schemas. The same zod schemas validate
 * requests and generate the OpenAPI document; clients import the types.
 * Nothing here touches the server (no KV), so the web app and the terminal
 * client can share it.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";
import {
  ATTACHMENTS_MAX,
  BAN_MINUTES_MAX,
  CAPACITY_MAX,
  CAPACITY_MIN,
  CLIENT_ID_PATTERN,
  DEVICE_ID_PATTERN,
  DEVICE_NAME_MAX,
  EMOJI,
  ENVELOPE_CIPHERTEXT_MAX,
  ENVELOPE_IV_LENGTH,
  ENVELOPE_KEYS_MAX,
  ENVELOPE_SIGNATURE_MAX,
  ENVELOPE_WRAPPED_KEY_MAX,
  EVENT_ID_MAX,
  HISTORY_PAGE_MAX,
  MESSAGE_MAX,
  NAME_FORBIDDEN,
  PUBLIC_ROOMS_PAGE_MAX,
  REASON_MAX,
  ROOM_ID_PATTERN,
  ROOM_NAME_MAX,
  USERNAME_PATTERN,
  USERS_PAGE_MAX,
  VISIBLE,
} from "./limits.ts";

/** 3–32 letters, digits, `_` or `-`. */
export const Username = z.string().regex(USERNAME_PATTERN, {
  message: "Usernames are 3–32 letters, digits, _ or -",
}).openapi({ example: "alice" });

/** 8–128 characters. */
export const Password = z.string().min(8).max(128).openapi({ example: "correct horse" });

/** Body of register and login. */
export const Credentials = z.object({ username: Username, password: Password })
  .openapi("Credentials");

/** A user as everyone may see them. */
export const UserSchema = z.object({ id: z.string(), username: z.string() }).openapi("User");

/** What register and login answer. */
export const AuthResult = z.object({
  user: UserSchema,
  token: z.string().openapi({ description: "Send as `Authorization: Bearer <token>`." }),
}).openapi("AuthResult");

/** Who may see a user's presence: everyone, or only people who share a room with them. */
export const PresenceVisibility = z.enum(["everyone", "contacts"]).openapi({
  description: "`contacts`: only people who share a room or a direct conversation with you.",
});

/** What `GET /api/me` answers. */
export const MeResult = z.object({
  user: UserSchema,
  unread: z.number().int().openapi({ description: "Unread messages over all rooms." }),
  presenceVisibility: PresenceVisibility,
  admin: z.boolean().openapi({ description: "Whether you administer this server." }),
  storage: z.object({
    used: z.number().int().openapi({ description: "Bytes your attachments take." }),
    quota: z.number().int().openapi({ description: "Bytes they may take (UPLOAD_QUOTA_MB)." }),
  }),
}).openapi("Me");

/** Body of `PATCH /api/me`. */
export const MeUpdateBody = z.object({ presenceVisibility: PresenceVisibility })
  .openapi("MeUpdate");

/** A session as its user sees it in the list of their sessions. */
export const SessionSchema = z.object({
  id: z.string(),
  device: z.string().openapi({ description: "The User-Agent it signed in with." }),
  address: z.string(),
  createdAt: z.number().int(),
  lastUsedAt: z.number().int().openapi({ description: "Updated at most once a minute." }),
  current: z.boolean().openapi({ description: "The session of this request." }),
}).openapi("Session");

/** `{sessions}`. */
export const SessionList = z.object({ sessions: z.array(SessionSchema) }).openapi("SessionList");

/** Path parameter of routes on one session. */
export const SessionParams = z.object({
  id: z.string().regex(/^[\w-]{1,64}$/, { message: "Not a session id" })
    .openapi({ param: { name: "id", in: "path" } }),
});

/** Body of `POST /api/me/password`. */
export const PasswordChangeBody = z.object({ current: z.string().min(1).max(128), new: Password })
  .openapi("PasswordChange");

/** A user someone has blocked. */
export const BlockSchema = z.object({
  user: UserSchema,
  createdAt: z.number().int(),
}).openapi("Block");

/** `{blocks}`. */
export const BlockList = z.object({ blocks: z.array(BlockSchema) }).openapi("BlockList");

/** Body of `POST /api/me/blocks`. */
export const BlockBody = z.object({ username: Username }).openapi("BlockUser");

/** Path parameter of `DELETE /api/me/blocks/:userId`. */
export const UserIdParams = z.object({
  userId: z.string().regex(/^[\w-]{1,64}$/, { message: "Not a user id" })
    .openapi({ param: { name: "userId", in: "path" } }),
});

/** The error shape of every failure. */
export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: "invalid_input" }),
    message: z.string(),
    details: z.unknown().optional(),
  }),
}).openapi("Error");

/** What `GET /api/health` answers. */
export const HealthResult = z.object({ status: z.literal("ok") }).openapi("Health");

/** A room id as it appears in paths. */
export const RoomId = z.string().regex(ROOM_ID_PATTERN, { message: "Not a room id" })
  .openapi({ param: { name: "id", in: "path" }, example: "q3Vb9x0LkT2mWcA_" });

/** Path parameters of routes under `/rooms/:id`. */
export const RoomParams = z.object({ id: RoomId });

/** Body of `POST /api/rooms`. */
export const CreateRoomBody = z.object({
  name: z.string().trim().min(1).max(ROOM_NAME_MAX)
    .refine((n) => !NAME_FORBIDDEN.test(n), {
      message: "Room names cannot contain control characters or direction overrides",
    })
    .refine((n) => VISIBLE.test(n), { message: "A room name needs a visible character" })
    .openapi({ example: "general" }),
  capacity: z.number().int().min(CAPACITY_MIN).max(CAPACITY_MAX).optional()
    .openapi({ description: "Most members; default 100, at most 1,000." }),
  private: z.boolean().optional().openapi({ description: "Only invited users may join." }),
}).openapi("CreateRoom");

/** A file attached to a message, as messages, history and events carry it. */
export const AttachmentSchema = z.object({
  id: z.string(),
  roomId: z.string(),
  name: z.string(),
  size: z.number().int(),
  contentType: z.string(),
  sha256: z.string().openapi({ description: "Hex SHA-256 of the bytes." }),
  createdAt: z.number().int(),
  width: z.number().int().optional().openapi({ description: "Images: pixels." }),
  height: z.number().int().optional(),
}).openapi("Attachment");

/** `{attachment}`. */
export const AttachmentResult = z.object({ attachment: AttachmentSchema })
  .openapi("AttachmentResult");

/** Path parameter of `GET /api/attachments/:id`. */
export const AttachmentParams = z.object({
  id: z.string().regex(/^[\w-]{1,64}$/, { message: "Not an attachment id" })
    .openapi({ param: { name: "id", in: "path" } }),
});

/** Standard base64 (RFC 4648, section 4), padded. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A base64 string of at most `max` characters, named in its error messages. */
const base64 = (name: string, max: number) =>
  z.string().min(1, { message: `${name} is empty` }).max(max, {
    message: `${name} is longer than ${max} characters`,
  }).regex(BASE64, { message: `${name} is not standard base64` });

/** A device id: 8–64 letters, digits, `_` or `-`. */
export const DeviceId = z.string().regex(DEVICE_ID_PATTERN, {
  message: "A device id is 8–64 letters, digits, _ or -",
});

/**
 * An end-to-end encrypted message as the server stores and relays it,
 * unchanged: it cannot read it (docs/encryption.md).
 */
export const EnvelopeSchema = z.object({
  ciphertext: base64("ciphertext", ENVELOPE_CIPHERTEXT_MAX).openapi({
    description: "The AES-256-GCM encrypted payload.",
  }),
  iv: base64("iv", ENVELOPE_IV_LENGTH).length(ENVELOPE_IV_LENGTH, {
    message: "iv is 12 bytes: 16 base64 characters",
  }),
  keys: z.record(DeviceId, base64("a wrapped key", ENVELOPE_WRAPPED_KEY_MAX))
    .refine((k) => {
      const n = Object.keys(k).length;
      return n >= 1 && n <= ENVELOPE_KEYS_MAX;
    }, { message: `An envelope carries 1–${ENVELOPE_KEYS_MAX} wrapped keys` })
    .openapi({ description: "The message key wrapped for each recipient device, by device id." }),
  senderDevice: DeviceId.openapi({ description: "An active device of the sender." }),
  signature: base64("signature", ENVELOPE_SIGNATURE_MAX).openapi({
    description: "ECDSA P-256 / SHA-256 by the sender device, raw r‖s.",
  }),
}).openapi("Envelope");

/** A public EC P-256 key as a JWK: the server only ever takes public keys. */
export const PublicJwkSchema = z.looseObject({
  kty: z.literal("EC"),
  crv: z.literal("P-256"),
  x: z.string().regex(/^[A-Za-z0-9_-]{43}$/, { message: "x is the base64url of 32 bytes" }),
  y: z.string().regex(/^[A-Za-z0-9_-]{43}$/, { message: "y is the base64url of 32 bytes" }),
}).refine((jwk) => !("d" in jwk), {
  message: "A device publishes only public keys: a JWK with d (a private key) is refused",
  path: ["d"],
}).openapi("PublicJwk");

/** A device of a user: its public keys for end-to-end encryption. */
export const DeviceSchema = z.object({
  id: z.string(),
  userId: z.string(),
  name: z.string(),
  publicKey: PublicJwkSchema,
  signingKey: PublicJwkSchema,
  createdAt: z.number().int(),
  retiredAt: z.number().int().nullable().openapi({
    description: "When it was retired; null while active. Retired devices stay listed: their " +
      "old messages still verify.",
  }),
}).openapi("Device");

/** `{device}`. */
export const DeviceResult = z.object({ device: DeviceSchema }).openapi("DeviceResult");

/** `{devices}`. */
export const DeviceList = z.object({ devices: z.array(DeviceSchema) }).openapi("DeviceList");

/** Path parameter of the routes on one of your devices. */
export const DeviceParams = z.object({
  deviceId: DeviceId.openapi({ param: { name: "deviceId", in: "path" } }),
});

/** Body of `PUT /api/me/devices/:deviceId`. */
export const PublishDeviceBody = z.object({
  publicKey: PublicJwkSchema,
  signingKey: PublicJwkSchema,
  name: z.string().trim().max(DEVICE_NAME_MAX)
    .refine((n) => !NAME_FORBIDDEN.test(n), {
      message: "Device names cannot contain control characters or direction overrides",
    }).optional().openapi({ example: "Firefox on laptop" }),
}).openapi("PublishDevice");

/** Body of `PUT /api/rooms/:id/encryption`. */
export const EncryptionBody = z.object({ encrypted: z.boolean() }).openapi("SetEncryption");

/** The short quote of the message a reply answers. */
export const ReplyQuoteSchema = z.object({
  seq: z.number().int(),
  author: UserSchema,
  text: z.string().openapi({
    description: "The first 200 characters; empty once deleted, or when encrypted.",
  }),
  deleted: z.literal(true).optional(),
  encrypted: z.literal(true).optional().openapi({
    description: "The message is end-to-end encrypted: there is no text to quote.",
  }),
}).openapi("ReplyQuote");

/** A reaction's count on a message, and whether the reader reacted so. */
export const ReactionSchema = z.object({
  emoji: z.string(),
  count: z.number().int(),
  me: z.boolean().optional().openapi({
    description: "Whether you reacted so: in history and answers; events say who reacted instead.",
  }),
}).openapi("Reaction");

/** A message, as sending returns it and the `message` event carries it. */
export const MessageSchema = z.object({
  id: z.string(),
  roomId: z.string(),
  seq: z.number().int().openapi({ description: "1, 2, 3, … per room, no gaps." }),
  author: UserSchema,
  text: z.string().openapi({ description: 'Empty ("") when it carries an envelope, or a notice.' }),
  envelope: EnvelopeSchema.optional().openapi({
    description: "In an end-to-end encrypted conversation: the message, which only the " +
      "participants' devices can read.",
  }),
  notice: z.enum(["encryption_on", "encryption_off"]).optional().openapi({
    description: "Not a message but a notice: its author switched end-to-end encryption on or off.",
  }),
  createdAt: z.number().int().openapi({ description: "Milliseconds since the epoch." }),
  clientId: z.string().optional(),
  editedAt: z.number().int().optional().openapi({ description: "When its author last edited it." }),
  attachments: z.array(AttachmentSchema).optional(),
  replyTo: ReplyQuoteSchema.optional(),
  reactions: z.array(ReactionSchema).optional(),
  mentions: z.array(z.string()).optional().openapi({
    description: "Ids of the members its text mentions with @username.",
  }),
  deleted: z.literal(true).optional().openapi({
    description: 'A deleted message keeps its seq with no text: show "message deleted".',
  }),
}).openapi("Message");

/** A member's role in a room: the owner, moderators, members. */
export const RoleSchema = z.enum(["owner", "moderator", "member"]).openapi("Role");

/** Path parameters of routes on one message. */
export const MessageParams = z.object({
  id: RoomId,
  seq: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER)
    .openapi({ param: { name: "seq", in: "path" } }),
});

/** Path parameters of the reaction routes. */
export const ReactionParams = z.object({
  id: RoomId,
  seq: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER)
    .openapi({ param: { name: "seq", in: "path" } }),
  emoji: z.string().max(64).refine((e) => EMOJI.test(e), {
    message: "Not one emoji",
  }).openapi({ param: { name: "emoji", in: "path" }, example: "👍" }),
});

/** Body of `PUT /api/rooms/:id/settings`. */
export const RoomSettingsBody = z.object({ muted: z.boolean() }).openapi("RoomSettings");

/** One mention of you, for `GET /api/me/mentions`. */
export const MentionSchema = z.object({
  roomId: z.string(),
  roomName: z.string(),
  message: z.lazy(() => MessageSchema),
}).openapi("Mention");

/** Query of `GET /api/me/mentions`. */
export const MentionsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50)
    .openapi({ param: { name: "limit", in: "query" } }),
  before: z.string().regex(/^\d{1,16}-[\w-]{1,64}-\d{1,16}$/, { message: "Not a cursor" })
    .optional().openapi({ param: { name: "before", in: "query" } }),
});

/** Body of `PATCH /api/rooms/:id/messages/:seq`: new text, or a new envelope. */
export const EditBody = z.object({
  text: z.string().trim().min(1).max(MESSAGE_MAX)
    .refine((t) => VISIBLE.test(t), { message: "A message needs at least one visible character" })
    .optional(),
  envelope: EnvelopeSchema.optional().openapi({
    description: "In an end-to-end encrypted conversation, instead of text.",
  }),
}).refine((b) => (b.text === undefined) !== (b.envelope === undefined), {
  message: "Send either text or an envelope",
  path: ["text"],
}).openapi("EditMessage");

/** Path parameters of routes on one member of a room. */
export const MemberParams = z.object({
  id: RoomId,
  userId: z.string().regex(/^[\w-]{1,64}$/, { message: "Not a user id" })
    .openapi({ param: { name: "userId", in: "path" } }),
});

/** Body of `PUT /api/rooms/:id/members/:userId/role`. */
export const RoleBody = z.object({ role: RoleSchema }).openapi("SetRole");

/** Body of `POST /api/rooms/:id/bans`. */
export const BanBody = z.object({
  username: Username,
  reason: z.string().trim().max(REASON_MAX).optional(),
  minutes: z.number().int().min(1).max(BAN_MINUTES_MAX).optional()
    .openapi({ description: "How long; for good without it." }),
}).openapi("Ban");

/** A ban as moderators see it. */
export const BanSchema = z.object({
  user: UserSchema,
  by: UserSchema,
  reason: z.string().nullable(),
  createdAt: z.number().int(),
  until: z.number().int().nullable().openapi({ description: "null: until lifted." }),
}).openapi("BanRecord");

/** `{bans}`. */
export const BanList = z.object({ bans: z.array(BanSchema) }).openapi("BanList");

/** One moderation or administration action on record. */
export const AuditEntrySchema = z.object({
  id: z.string(),
  action: z.enum([
    "role",
    "kick",
    "ban",
    "unban",
    "delete_message",
    "delete_room",
    "suspend",
    "unsuspend",
  ]),
  actor: UserSchema,
  target: z.object({ userId: z.string().optional(), username: z.string().optional() })
    .openapi({ description: "Whom it was done to, or the message's author." }),
  roomId: z.string().nullable(),
  seq: z.number().int().optional(),
  role: RoleSchema.optional(),
  reason: z.string().nullable(),
  at: z.number().int(),
}).openapi("AuditEntry");

/** A page of the audit log, newest first. */
export const AuditPage = z.object({
  entries: z.array(AuditEntrySchema),
  next: z.string().nullable().openapi({ description: "Pass as `before` for the next page." }),
}).openapi("AuditPage");

/** Query of the audit log routes. */
export const AuditQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50)
    .openapi({ param: { name: "limit", in: "query" } }),
  before: z.string().regex(/^[0-9a-f]{20}$/, { message: "Not an audit cursor" }).optional()
    .openapi({ param: { name: "before", in: "query" } }),
});

/** Body of `POST /api/admin/users/:username/suspend`. */
export const SuspendBody = z.object({ reason: z.string().trim().max(REASON_MAX).optional() })
  .openapi("Suspend");

/** An account as administrators see it. */
export const AdminUserSchema = z.object({
  id: z.string(),
  username: z.string(),
  createdAt: z.number().int(),
  status: z.enum(["active", "suspended"]),
  suspendedReason: z.string().nullable(),
  rooms: z.number().int(),
  lastSeen: z.number().int().nullable(),
}).openapi("AdminUser");

/** A page of accounts. */
export const AdminUserPage = z.object({
  users: z.array(AdminUserSchema),
  next: z.string().nullable().openapi({ description: "Pass as `after` for the next page." }),
}).openapi("AdminUserPage");

/** Query of `GET /api/admin/users`. */
export const AdminUsersQuery = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50)
    .openapi({ param: { name: "limit", in: "query" } }),
  after: z.string().max(64).optional().openapi({ param: { name: "after", in: "query" } }),
});

/** Path parameter of the admin routes on one account. */
export const UsernameParams = z.object({
  username: Username.openapi({ param: { name: "username", in: "path" } }),
});

/** A room as one user sees it. */
export const RoomSchema = z.object({
  id: z.string(),
  name: z.string().openapi({ description: "For a direct conversation, the other user's name." }),
  kind: z.enum(["group", "direct"]),
  capacity: z.number().int(),
  private: z.boolean(),
  ownerId: z.string().nullable(),
  createdAt: z.number().int(),
  memberCount: z.number().int(),
  lastSeq: z.number().int(),
  lastMessage: MessageSchema.nullable(),
  lastActivityAt: z.number().int(),
  unread: z.number().int(),
  mentions: z.number().int().openapi({ description: "Unread messages that mention you." }),
  muted: z.boolean().openapi({ description: "You muted it: it counts unread but notifies not." }),
  peer: UserSchema.optional(),
  encrypted: z.boolean().openapi({
    description: "An end-to-end encrypted direct conversation: its messages carry envelopes. " +
      "Always false for a group room.",
  }),
}).openapi("Room");

/** `{room}`. */
export const RoomResult = z.object({ room: RoomSchema }).openapi("RoomResult");

/** `{rooms}`. */
export const RoomList = z.object({ rooms: z.array(RoomSchema) }).openapi("RoomList");

/** A public room in the directory. */
export const PublicRoomSchema = z.object({
  id: z.string(),
  name: z.string(),
  capacity: z.number().int(),
  memberCount: z.number().int(),
  createdAt: z.number().int(),
}).openapi("PublicRoom");

/** Query of `GET /api/rooms/public`. */
export const PublicRoomsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(PUBLIC_ROOMS_PAGE_MAX).default(50),
  after: RoomId.optional().openapi({ param: { name: "after", in: "query" } }),
});

/** `{rooms}` of the directory. */
export const PublicRoomList = z.object({ rooms: z.array(PublicRoomSchema) })
  .openapi("PublicRoomList");

/** A member of a room. */
export const MemberSchema = z.object({
  id: z.string(),
  username: z.string(),
  role: RoleSchema,
  online: z.boolean(),
}).openapi("Member");

/** `{members}`. */
export const MemberList = z.object({ members: z.array(MemberSchema) }).openapi("MemberList");

/** Body of `POST /api/rooms/:id/members`: the invitation of a user. */
export const AddMemberBody = z.object({ username: Username }).openapi("AddMember");

/** An invitation into a room, waiting for its invitee to accept or decline it. */
export const InvitationSchema = z.object({
  roomId: z.string(),
  roomName: z.string(),
  private: z.boolean(),
  by: UserSchema,
  createdAt: z.number().int(),
}).openapi("Invitation");

/** `{invitation}`. */
export const InvitationResult = z.object({ invitation: InvitationSchema })
  .openapi("InvitationResult");

/** `{invitations}`. */
export const InvitationList = z.object({ invitations: z.array(InvitationSchema) })
  .openapi("InvitationList");

/** Body of `POST /api/rooms/:id/messages`. */
export const SendBody = z.object({
  text: z.string().trim().max(MESSAGE_MAX).default("").openapi({
    description: "May be empty when there are attachments; none with an envelope.",
  }),
  envelope: EnvelopeSchema.optional().openapi({
    description: "In an end-to-end encrypted conversation, instead of text (docs/encryption.md).",
  }),
  attachments: z.array(z.string().regex(/^[\w-]{1,64}$/)).max(ATTACHMENTS_MAX).optional()
    .openapi({ description: "Ids of files you uploaded to this room, at most 10." }),
  replyTo: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional()
    .openapi({ description: "The seq of an earlier message of this room this one answers." }),
  clientId: z.string().regex(CLIENT_ID_PATTERN, {
    message: "clientId is 1–64 letters, digits, _ . : or -",
  }).optional()
    .openapi({
      description: "Chosen by the client (a UUID, say); sending it again returns the original.",
    }),
}).refine((b) => !b.envelope || b.text === "", {
  message: "Send either text or an envelope, not both",
  path: ["text"],
}).refine((b) => b.envelope || VISIBLE.test(b.text) || (b.attachments?.length ?? 0) > 0, {
  message: "A message needs at least one visible character, or an attachment",
  path: ["text"],
}).openapi("SendMessage");

/** `{message}`. */
export const MessageResult = z.object({ message: MessageSchema }).openapi("MessageResult");

const Seq = z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/** Query of `GET /api/rooms/:id/messages`. */
export const HistoryQuery = z.object({
  before: Seq.optional().openapi({ param: { name: "before", in: "query" } }),
  after: Seq.optional().openapi({ param: { name: "after", in: "query" } }),
  limit: z.coerce.number().int().min(1).max(HISTORY_PAGE_MAX).default(50)
    .openapi({ param: { name: "limit", in: "query" } }),
});

/** A page of history. */
export const HistoryPage = z.object({
  messages: z.array(MessageSchema),
  hasMore: z.boolean(),
}).openapi("HistoryPage");

/** Body of `POST /api/rooms/:id/read`. */
export const ReadBody = z.object({ seq: z.number().int().min(0) }).openapi("MarkRead");

/** Path parameter of `POST /api/direct/:username`. */
export const DirectParams = z.object({
  username: Username.openapi({ param: { name: "username", in: "path" } }),
});

/** Optional body of `POST /api/direct/:username`. */
export const DirectBody = z.object({
  encrypted: z.boolean().optional().openapi({
    description: "Create it end-to-end encrypted; opening an existing one does not change it.",
  }),
}).openapi("OpenDirect");

/** A user with presence. */
export const UserPresenceSchema = z.object({
  id: z.string(),
  username: z.string(),
  online: z.boolean(),
  lastSeen: z.number().int().nullable(),
}).openapi("UserPresence");

/** Query of `GET /api/users`. */
export const UsersQuery = z.object({
  online: z.enum(["true", "false"]).optional()
    .openapi({ param: { name: "online", in: "query" }, description: "`true`: only those online." }),
  limit: z.coerce.number().int().min(1).max(USERS_PAGE_MAX).default(100)
    .openapi({ param: { name: "limit", in: "query" } }),
});

/** `{users}`. */
export const UserList = z.object({ users: z.array(UserPresenceSchema) }).openapi("UserList");

/** Query of `GET /api/events`. */
export const EventsQuery = z.object({
  lastEventId: z.string().max(EVENT_ID_MAX).optional().openapi({
    param: { name: "lastEventId", in: "query" },
    description: "For clients that cannot send the `Last-Event-ID` header.",
  }),
});

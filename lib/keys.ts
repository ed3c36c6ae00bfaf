/**
 * The Deno KV key schema: every key Parley reads or writes is built here, and
 * nowhere else. `docs/kv_schema.md` explains how the keys work together.
 *
 * @module
 */

/** `["health"]`: never written; the health check reads it to see that KV answers. */
export const healthKey = () => ["health"] as const;

/** `["users", userId]` → {@linkcode import("./accounts.ts").StoredUser} */
export const userKey = (userId: string) => ["users", userId] as const;

/** `["usernames", lowercased name]` → user id; unique ignoring case. */
export const usernameKey = (username: string) => ["usernames", username.toLowerCase()] as const;

/** Prefix of every username index entry, in alphabetical order. */
export const usernamesPrefix = () => ["usernames"] as const;

/** `["sessions", sha256(token)]` → session; the token itself is never stored. */
export const sessionKey = (tokenHash: string) => ["sessions", tokenHash] as const;

/** `["user_sessions", userId, sessionId]` → sha256(token); a user's sessions. */
export const userSessionKey = (userId: string, sessionId: string) =>
  ["user_sessions", userId, sessionId] as const;

/** Prefix of one user's sessions. */
export const userSessionsPrefix = (userId: string) => ["user_sessions", userId] as const;

/**
 * `["login_attempts", scope, id]` → failed logins counted for a username
 * from one address (`pair`), or for one address across usernames (`addr`).
 */
export const loginAttemptsKey = (scope: "pair" | "addr", id: string) =>
  ["login_attempts", scope, id] as const;

/** `["rate", limitName, id]` → the bucket's theoretical arrival time (GCRA), ms. */
export const rateKey = (name: string, id: string) => ["rate", name, id] as const;

/** `["rooms", roomId]` → room record (name, kind, capacity, owner, member count). */
export const roomKey = (roomId: string) => ["rooms", roomId] as const;

/** `["public_rooms", roomId]` → `true`; the index behind browsing public rooms. */
export const publicRoomKey = (roomId: string) => ["public_rooms", roomId] as const;

/** Prefix of the public room index. */
export const publicRoomsPrefix = () => ["public_rooms"] as const;

/** `["room_heads", roomId]` → the room's last seq and last message. */
export const roomHeadKey = (roomId: string) => ["room_heads", roomId] as const;

/** `["messages", roomId, seq]` → message; seq runs 1, 2, 3, … per room. */
export const messageKey = (roomId: string, seq: number) => ["messages", roomId, seq] as const;

/** Prefix of a room's messages, ordered by seq. */
export const messagesPrefix = (roomId: string) => ["messages", roomId] as const;

/** `["client_ids", roomId, authorId, clientId]` → seq; makes a retried send idempotent. */
export const clientIdKey = (roomId: string, authorId: string, clientId: string) =>
  ["client_ids", roomId, authorId, clientId] as const;

/** `["members", roomId, userId]` → membership (role, joinedAt). */
export const memberKey = (roomId: string, userId: string) => ["members", roomId, userId] as const;

/** Prefix of a room's members. */
export const membersPrefix = (roomId: string) => ["members", roomId] as const;

/** `["memberships", userId, roomId]` → joinedAt; the rooms of one user. */
export const membershipKey = (userId: string, roomId: string) =>
  ["memberships", userId, roomId] as const;

/** Prefix of one user's rooms. */
export const membershipsPrefix = (userId: string) => ["memberships", userId] as const;

/** `["invites", roomId, userId]` → invitation waiting for its invitee to accept or decline. */
export const inviteKey = (roomId: string, userId: string) => ["invites", roomId, userId] as const;

/** `["user_invites", userId, roomId]` → `true`; the index of one user's invitations. */
export const userInviteKey = (userId: string, roomId: string) =>
  ["user_invites", userId, roomId] as const;

/** Prefix of one user's invitations. */
export const userInvitesPrefix = (userId: string) => ["user_invites", userId] as const;

/** `["blocks", blockerId, blockedId]` → the block (the blocked user, when). */
export const blockKey = (blockerId: string, blockedId: string) =>
  ["blocks", blockerId, blockedId] as const;

/** Prefix of the users one user has blocked. */
export const blocksPrefix = (blockerId: string) => ["blocks", blockerId] as const;

/** `["read_markers", userId, roomId]` → `Deno.KvU64` of the last seq read; only ever raised. */
export const readMarkerKey = (userId: string, roomId: string) =>
  ["read_markers", userId, roomId] as const;

/** `["directs", lowerId, higherId]` → room id of the one DM between two users. */
export const directKey = (userA: string, userB: string) =>
  (userA < userB ? ["directs", userA, userB] : ["directs", userB, userA]) as readonly [
    "directs",
    string,
    string,
  ];

/**
 * `["log", versionstamp]` → one commit's events. The key's last part is the
 * commit's own versionstamp (`kv.commitVersionstamp()`), so entries list in
 * commit order and appending checks nothing.
 */
export const logKey = (versionstamp: string | symbol) => ["log", versionstamp] as const;

/** Prefix of the whole event log, in commit order. */
export const logPrefix = () => ["log"] as const;

/** `["log_epoch"]` → random characters naming this database's log in event ids. */
export const logEpochKey = () => ["log_epoch"] as const;

/** `["log_floor"]` → the versionstamp of the newest log entry trimmed away; older ids reset. */
export const logFloorKey = () => ["log_floor"] as const;

/** How many doorbell keys commits spread their bumps over (`kv.watch` takes at most 10). */
export const DOORBELLS = 8;

/** `["doorbell", shard]` → `Deno.KvU64` that every commit with events bumps with `sum`. */
export const doorbellKey = (shard: number) => ["doorbell", shard] as const;

/** `["jobs", name]` → which instance runs a scheduled job until when. */
export const jobKey = (name: string) => ["jobs", name] as const;

/** `["presence", userId]` → whether the user is online and when they were last seen. */
export const presenceKey = (userId: string) => ["presence", userId] as const;

/** Prefix of every user's presence. */
export const presencePrefix = () => ["presence"] as const;

/** `["presence_leases", userId, instanceId]` → until when an instance holds the user online. */
export const presenceLeaseKey = (userId: string, instanceId: string) =>
  ["presence_leases", userId, instanceId] as const;

/** Prefix of one user's presence leases. */
export const presenceLeasesPrefix = (userId: string) => ["presence_leases", userId] as const;

/** `["attachments", id]` → an attachment's manifest: written last, once every chunk is stored. */
export const attachmentKey = (id: string) => ["attachments", id] as const;

/** `["attachment_chunks", id, index]` → up to 60 KiB of the file's bytes. */
export const attachmentChunkKey = (id: string, index: number) =>
  ["attachment_chunks", id, index] as const;

/** Prefix of one attachment's chunks. */
export const attachmentChunksPrefix = (id: string) => ["attachment_chunks", id] as const;

/** `["room_attachments", roomId, id]` → `true`; a room's files, deleted with the room. */
export const roomAttachmentKey = (roomId: string, id: string) =>
  ["room_attachments", roomId, id] as const;

/** Prefix of one room's files. */
export const roomAttachmentsPrefix = (roomId: string) => ["room_attachments", roomId] as const;

/** `["attachment_uploads", id]` → an upload in progress (swept if it never finishes). */
export const uploadKey = (id: string) => ["attachment_uploads", id] as const;

/** Prefix of the uploads in progress. */
export const uploadsPrefix = () => ["attachment_uploads"] as const;

/** `["unattached", id]` → when an attachment was stored; gone once a message uses it. */
export const unattachedKey = (id: string) => ["unattached", id] as const;

/** Prefix of the attachments no message uses yet. */
export const unattachedPrefix = () => ["unattached"] as const;

/** `["attachment_garbage", id]` → an attachment whose chunks are to be deleted. */
export const garbageKey = (id: string) => ["attachment_garbage", id] as const;

/** Prefix of the attachments waiting to be deleted. */
export const garbagePrefix = () => ["attachment_garbage"] as const;

/** `["upload_usage", userId]` → `Deno.KvU64`, the bytes a user's attachments take. */
export const uploadUsageKey = (userId: string) => ["upload_usage", userId] as const;

/** `["bans", roomId, userId]` → the ban (by whom, why, until when). */
export const banKey = (roomId: string, userId: string) => ["bans", roomId, userId] as const;

/** Prefix of a room's bans. */
export const bansPrefix = (roomId: string) => ["bans", roomId] as const;

/**
 * `["audit", "room", roomId, versionstamp]` or `["audit", "all", "", versionstamp]`
 * → one moderation or administration action, keyed by the commit that did it
 * (an audited operation gets a commit of its own, so no two share a key).
 */
export const auditKey = (scope: "room" | "all", roomId: string, stamp: string | symbol) =>
  ["audit", scope, roomId, stamp] as const;

/** Prefix of one room's audit log. */
export const auditRoomPrefix = (roomId: string) => ["audit", "room", roomId] as const;

/** Prefix of the server's audit log. */
export const auditAllPrefix = () => ["audit", "all", ""] as const;

/** `["reactions", roomId, seq, emoji, userId]` → when `userId` reacted so. */
export const reactionKey = (roomId: string, seq: number, emoji: string, userId: string) =>
  ["reactions", roomId, seq, emoji, userId] as const;

/** Prefix of one message's reactions. */
export const reactionsPrefix = (roomId: string, seq: number) => ["reactions", roomId, seq] as const;

/** `["user_reactions", userId, roomId, seq, emoji]` → `true`: what one user reacted, by room and seq. */
export const userReactionKey = (userId: string, roomId: string, seq: number, emoji: string) =>
  ["user_reactions", userId, roomId, seq, emoji] as const;

/** Prefix of one user's reactions in one room. */
export const userReactionsPrefix = (userId: string, roomId: string) =>
  ["user_reactions", userId, roomId] as const;

/** `["mentions", userId, roomId, seq]` → when; unread mentions are those past the read marker. */
export const mentionKey = (userId: string, roomId: string, seq: number) =>
  ["mentions", userId, roomId, seq] as const;

/** Prefix of one user's mentions in one room. */
export const mentionsPrefix = (userId: string, roomId: string) =>
  ["mentions", userId, roomId] as const;

/** `["mention_feed", userId, at, roomId, seq]` → `true`; one user's mentions across rooms, by time. */
export const mentionFeedKey = (userId: string, at: number, roomId: string, seq: number) =>
  ["mention_feed", userId, at, roomId, seq] as const;

/** Prefix of one user's mention feed. */
export const mentionFeedPrefix = (userId: string) => ["mention_feed", userId] as const;

/** `["devices", userId, deviceId]` → a device's public keys (end-to-end encryption). */
export const deviceKey = (userId: string, deviceId: string) =>
  ["devices", userId, deviceId] as const;

/** Prefix of one user's devices, retired ones too. */
export const devicesPrefix = (userId: string) => ["devices", userId] as const;

/** `["device_count", userId]` → how many active devices the user has; every device change checks it. */
export const deviceCountKey = (userId: string) => ["device_count", userId] as const;

/** `["room_settings", userId, roomId]` → one member's settings of a room (muted). */
export const roomSettingsKey = (userId: string, roomId: string) =>
  ["room_settings", userId, roomId] as const;

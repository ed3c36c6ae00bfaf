/**
 * Every limit of the API, written once. The schemas that validate requests,
 * the web app and the terminal client all import them from here. It imports
 * nothing, so it runs in the browser, the terminal and the server alike.
 *
 * @module
 */

/** The most different reactions one message carries. */
export const REACTIONS_MAX = 20;
/** How much of a replied-to message its quote shows. */
export const QUOTE_MAX = 200;
/**
 * One emoji: a pictographic character with its variation selector, skin
 * tone or keycap, or several joined with zero-width joiners, or a flag.
 */
export const EMOJI: RegExp =
  /^(?:[\u{1F1E6}-\u{1F1FF}]{2}|[0-9#*]\uFE0F?\u20E3|\p{Extended_Pictographic}\uFE0F?[\u{1F3FB}-\u{1F3FF}]?(?:\u200D\p{Extended_Pictographic}\uFE0F?[\u{1F3FB}-\u{1F3FF}]?)*)$/u;
/** Mentions in a message's text: `@username`. */
export const MENTION: RegExp = /(?<![\w@])@([A-Za-z0-9_-]{3,32})\b/g;

/** The most files one message carries. */
export const ATTACHMENTS_MAX = 10;
/** The most characters in a message. */
export const MESSAGE_MAX = 4000;
/** The most characters in a room's name. */
export const ROOM_NAME_MAX = 80;
/** The fewest members a group room can be made for. */
export const CAPACITY_MIN = 2;
/** The most members a group room can hold. */
export const CAPACITY_MAX = 1000;
/** How many members a group room holds when its creator does not say. */
export const CAPACITY_DEFAULT = 100;
/** The longest reason a ban or a suspension may give. */
export const REASON_MAX = 500;
/** The longest ban with an end, in minutes (a year); longer is for good. */
export const BAN_MINUTES_MAX = 525_600;
/** The most messages one page of history holds. */
export const HISTORY_PAGE_MAX = 100;
/** The most messages `/history n` fetches (in pages of {@linkcode HISTORY_PAGE_MAX}). */
export const HISTORY_COMMAND_MAX = 1000;
/** The most rooms one page of the public directory holds. */
export const PUBLIC_ROOMS_PAGE_MAX = 100;
/** The most users one page of `GET /api/users` holds. */
export const USERS_PAGE_MAX = 500;
/** The most characters in an event id a client sends back. */
export const EVENT_ID_MAX = 100;

/** The most active devices (keys for end-to-end encryption) one user may have. */
export const DEVICES_MAX = 20;
/** The longest name a device may be given. */
export const DEVICE_NAME_MAX = 64;
/** A device id: 8–64 letters, digits, `_` or `-`. */
export const DEVICE_ID_PATTERN: RegExp = /^[A-Za-z0-9_-]{8,64}$/;
/** The most base64 characters of an envelope's ciphertext. */
export const ENVELOPE_CIPHERTEXT_MAX = 24_000;
/** The base64 characters of an envelope's 12-byte iv. */
export const ENVELOPE_IV_LENGTH = 16;
/** The most wrapped keys an envelope carries: every active device of both participants. */
export const ENVELOPE_KEYS_MAX = 2 * DEVICES_MAX;
/** The most base64 characters of one wrapped key. */
export const ENVELOPE_WRAPPED_KEY_MAX = 200;
/** The most base64 characters of an envelope's signature. */
export const ENVELOPE_SIGNATURE_MAX = 100;

/** A room id: 1–64 letters, digits, `_` or `-`. */
export const ROOM_ID_PATTERN: RegExp = /^[\w-]{1,64}$/;
/** A username: 3–32 letters, digits, `_` or `-`. */
export const USERNAME_PATTERN: RegExp = /^[A-Za-z0-9_-]{3,32}$/;
/** A client id: 1–64 ASCII letters, digits, `_ . : -` (small keys, see docs/kv_schema.md). */
export const CLIENT_ID_PATTERN: RegExp = /^[\w.:-]{1,64}$/;

/** Refused in names: control characters, and the marks and overrides that reorder text. */
export const NAME_FORBIDDEN: RegExp = /[\p{Cc}\u200E\u200F\u202A-\u202E\u2066-\u2069]/u;
/**
 * A character that shows: not white space, a control or format character, a
 * combining mark alone, or one of the fillers that render as nothing.
 */
export const VISIBLE: RegExp =
  /[^\p{White_Space}\p{Cc}\p{Cf}\p{Mn}\p{Me}\u115F\u1160\u3164\uFFA0\u2800]/u;

/**
 * The project's error shape and the table of errors the API can answer with.
 *
 * Every failure leaves the server as
 * `{"error": {"code": "...", "message": "...", "details": ...}}` with the
 * status from this table, so clients can branch on `code`.
 *
 * @module
 */

/** One row of the error table: a stable code, its HTTP status and a default message. */
export interface ErrorKind {
  readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 | 500 | 503;
  readonly code: string;
  readonly message: string;
}

/** Every error the API can answer with. */
export const Errors = {
  invalidInput: { status: 400, code: "invalid_input", message: "The request is not valid." },
  malformedJson: { status: 400, code: "malformed_json", message: "The body is not valid JSON." },
  encryptionRequired: {
    status: 400,
    code: "encryption_required",
    message: "This conversation is end-to-end encrypted: send an envelope, not text.",
  },
  notEncrypted: {
    status: 400,
    code: "not_encrypted",
    message: "This conversation is not end-to-end encrypted: send text, not an envelope.",
  },
  unauthorized: { status: 401, code: "unauthorized", message: "Sign in first." },
  badCredentials: {
    status: 401,
    code: "bad_credentials",
    message: "Wrong username or password.",
  },
  crossOrigin: {
    status: 403,
    code: "cross_origin",
    message: "Cookie-authenticated changes must come from this site.",
  },
  notMember: { status: 403, code: "not_member", message: "You are not a member of this room." },
  privateRoom: {
    status: 403,
    code: "private_room",
    message: "This room is private; ask its owner for an invitation.",
  },
  notOwner: { status: 403, code: "not_owner", message: "Only the room's owner can do that." },
  blocked: { status: 403, code: "blocked", message: "This user does not accept that from you." },
  banned: { status: 403, code: "banned", message: "You are banned from this room." },
  suspended: { status: 403, code: "suspended", message: "This account is suspended." },
  forbidden: { status: 403, code: "forbidden", message: "You may not do that here." },
  notAdmin: { status: 403, code: "not_admin", message: "Only administrators can do that." },
  messageNotFound: { status: 404, code: "message_not_found", message: "No such message." },
  contentBlocked: {
    status: 422,
    code: "content_blocked",
    message: "That contains a term this server does not allow.",
  },
  notInvited: { status: 404, code: "no_invitation", message: "No such invitation." },
  notFound: { status: 404, code: "not_found", message: "Nothing is here." },
  roomNotFound: { status: 404, code: "room_not_found", message: "No such room." },
  userNotFound: { status: 404, code: "user_not_found", message: "No such user." },
  usernameTaken: { status: 409, code: "username_taken", message: "That username is taken." },
  roomFull: { status: 409, code: "room_full", message: "The room is full." },
  conflict: { status: 409, code: "conflict", message: "That conflicts with the current state." },
  tooLarge: { status: 413, code: "body_too_large", message: "The body is too large." },
  fileTooLarge: { status: 413, code: "file_too_large", message: "The file is too large." },
  quotaExceeded: {
    status: 413,
    code: "quota_exceeded",
    message: "Your uploads have used up your storage quota.",
  },
  attachmentNotFound: { status: 404, code: "attachment_not_found", message: "No such file." },
  unsupportedMediaType: {
    status: 415,
    code: "unsupported_media_type",
    message: "Send the body as application/json.",
  },
  rateLimited: {
    status: 429,
    code: "rate_limited",
    message: "Too many requests; wait and try again.",
  },
  internal: { status: 500, code: "internal", message: "Something went wrong on the server." },
  unavailable: { status: 503, code: "unavailable", message: "The server cannot answer now." },
} as const satisfies Record<string, ErrorKind>;

/**
 * An error that maps to one API error response.
 *
 * @example
 * ```ts
 * throw new ApiError(Errors.roomFull, { capacity: 50 });
 * ```
 */
export class ApiError extends Error {
  /** The table row this error answers with. */
  readonly kind: ErrorKind;
  /** Extra, machine-readable facts about the failure. */
  readonly details?: unknown;
  /** Extra response headers, such as `Retry-After`. */
  readonly headers?: Record<string, string>;

  constructor(
    kind: ErrorKind,
    details?: unknown,
    options?: { message?: string; headers?: Record<string, string> },
  ) {
    super(options?.message ?? kind.message);
    this.name = "ApiError";
    this.kind = kind;
    this.details = details;
    this.headers = options?.headers;
  }
}

/** The JSON body of an error response. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/** Builds the JSON body for an error response. */
export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

/**
 * A 429 that says when to try again: `Retry-After` in whole seconds, and the
 * same in the details.
 *
 * @example
 * ```ts
 * throw rateLimited(1_500, "Too many messages."); // "… Try again in 2 s.", Retry-After: 2
 * ```
 */
export function rateLimited(retryAfterMs: number, message?: string): ApiError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new ApiError(Errors.rateLimited, { retryAfter: seconds }, {
    message: `${message ?? "Too many requests."} Try again in ${seconds} s.`,
    headers: { "Retry-After": String(seconds) },
  });
}

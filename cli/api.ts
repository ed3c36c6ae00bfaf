/**
 * The terminal client's HTTP client for Parley's public API, with the
 * server's error shape turned into one-line errors.
 *
 * @module
 */
import { USERS_PAGE_MAX } from "../shared/limits.ts";
import type {
  Attachment,
  AuditEntry,
  Ban,
  Block,
  Envelope,
  Invitation,
  Message,
  Role,
  Room,
  SessionInfo,
  User,
  UserPresence,
} from "../shared/api_types.ts";
import type { ApiCall } from "../shared/client_actions.ts";
import {
  contentDispositionName,
  FileChanged,
  postStream,
  uploadBody,
  type UploadSource,
} from "./transfer.ts";

/** The server answered with an error (`{"error": {code, message}}`). */
export class ApiFailure extends Error {
  /** HTTP status. */
  readonly status: number;
  /** The server's stable error code, e.g. `room_full`. */
  readonly code: string;
  /** On a 429: how many seconds to wait before trying again (`Retry-After`), else `null`. */
  readonly retryAfter: number | null;
  /** The error's `details`, e.g. `{maxBytes}` of a 413 `file_too_large`, when it has them. */
  readonly details: unknown;

  constructor(
    status: number,
    code: string,
    message: string,
    retryAfter: number | null = null,
    details?: unknown,
  ) {
    super(message);
    this.name = "ApiFailure";
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
    this.details = details;
  }

  /** Whether the server refused because of a rate limit (429). */
  get rateLimited(): boolean {
    return this.status === 429;
  }
}

/** The server could not be reached, or did not answer in time. */
export class Unreachable extends Error {
  constructor(server: string, cause: unknown) {
    super(`Cannot reach the server at ${server} (${networkReason(cause)})`);
    this.name = "Unreachable";
  }
}

/** Options of one request. */
export interface RequestOptions {
  body?: unknown;
  /** Abort after this long; default the client's timeout. */
  timeoutMs?: number;
}

/** What signing in or registering returns. */
export interface SignedIn {
  user: User;
  token: string;
}

/** A message that mentions the user, and the room it is in (`GET /api/me/mentions`). */
export interface Mention {
  roomId: string;
  roomName: string;
  message: Message;
}

/**
 * What a message is posted as: its text, or in an end-to-end encrypted
 * conversation an envelope in its place.
 */
export type MessageBody = { text: string } | { envelope: Envelope };

/** Who sees the user's presence: everyone, or only people who share a room with them. */
export type PresenceVisibility = "everyone" | "contacts";

/** How this client names itself, so the user's list of sessions says which one it is. */
const USER_AGENT = `parley-cli (Deno ${Deno.version.deno}; ${Deno.build.os})`;

/**
 * A client for one server, signed in once `token` is set.
 *
 * @example
 * ```ts
 * const api = new Api("http://localhost:8000");
 * const { token } = await api.login("alice", "correct horse");
 * api.token = token;
 * const rooms = await api.rooms();
 * ```
 */
export class Api {
  /** The server's origin, e.g. `http://localhost:8000`. */
  readonly server: string;
  /** The bearer token, once signed in. */
  token: string | null = null;
  /** How long a request may take before it counts as failed. */
  timeoutMs: number;

  constructor(server: string, options: { timeoutMs?: number } = {}) {
    this.server = new URL(server).origin;
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  /**
   * Sends one request and returns the parsed JSON (or `null` for 204).
   *
   * @throws {ApiFailure} when the server answers with an error.
   * @throws {Unreachable} when it does not answer.
   */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const headers = this.#headers("application/json");
    if (options.body !== undefined) headers["content-type"] = "application/json";
    let res: Response;
    try {
      res = await fetch(this.server + path, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(options.timeoutMs ?? this.timeoutMs),
      });
    } catch (cause) {
      throw new Unreachable(this.server, cause);
    }
    let text: string;
    try {
      text = await res.text();
    } catch (cause) {
      throw new Unreachable(this.server, cause);
    }
    if (!res.ok) throw failureOf(res.status, text, res.headers.get("retry-after"));
    return (text ? JSON.parse(text) : null) as T;
  }

  /**
   * This client as the shared actions (`shared/client_actions.ts`) take it,
   * so the terminal and the web app run the same `/join` and `/history`.
   */
  readonly call: ApiCall = <T>(method: string, path: string, body?: unknown) =>
    this.request<T>(method, path, { body });

  /** Signs in; does not set `token`. */
  login(username: string, password: string): Promise<SignedIn> {
    return this.request("POST", "/api/auth/login", { body: { username, password } });
  }

  /** Creates an account and signs in; does not set `token`. */
  register(username: string, password: string): Promise<SignedIn> {
    return this.request("POST", "/api/auth/register", { body: { username, password } });
  }

  /** Ends the session on the server. */
  async logout(): Promise<void> {
    await this.request("POST", "/api/auth/logout");
  }

  /** Who the token belongs to. */
  me(): Promise<{ user: User; unread: number }> {
    return this.request("GET", "/api/me");
  }

  /** The user's rooms and DMs, most recent first. */
  async rooms(): Promise<Room[]> {
    return (await this.request<{ rooms: Room[] }>("GET", "/api/rooms")).rooms;
  }

  /** One room, as the user sees it. */
  async room(id: string): Promise<Room> {
    return (await this.request<{ room: Room }>("GET", `/api/rooms/${enc(id)}`)).room;
  }

  /** Creates a room. */
  async createRoom(name: string, options: { private?: boolean; capacity?: number }) {
    const body = { name, private: options.private ?? false, capacity: options.capacity };
    return (await this.request<{ room: Room }>("POST", "/api/rooms", { body })).room;
  }

  /** Joins a room. */
  async join(id: string): Promise<Room> {
    return (await this.request<{ room: Room }>("POST", `/api/rooms/${enc(id)}/join`)).room;
  }

  /** Leaves a room. */
  async leave(id: string): Promise<void> {
    await this.request("POST", `/api/rooms/${enc(id)}/leave`);
  }

  /** Invites a user into a room (its owner only); they join once they accept. */
  async invite(id: string, username: string): Promise<Invitation> {
    const path = `/api/rooms/${enc(id)}/members`;
    const body = { username };
    return (await this.request<{ invitation: Invitation }>("POST", path, { body })).invitation;
  }

  /** The user's pending invitations, newest first. */
  async invitations(): Promise<Invitation[]> {
    return (await this.request<{ invitations: Invitation[] }>("GET", "/api/invites")).invitations;
  }

  /** Accepts the invitation into a room: the user joins it. */
  async acceptInvitation(roomId: string): Promise<Room> {
    const path = `/api/invites/${enc(roomId)}/accept`;
    return (await this.request<{ room: Room }>("POST", path)).room;
  }

  /** Declines the invitation into a room. */
  async declineInvitation(roomId: string): Promise<void> {
    await this.request("POST", `/api/invites/${enc(roomId)}/decline`);
  }

  /** Blocks a user. */
  async block(username: string): Promise<Block> {
    const body = { username };
    return (await this.request<{ block: Block }>("POST", "/api/me/blocks", { body })).block;
  }

  /** The users the user blocks. */
  async blocks(): Promise<Block[]> {
    return (await this.request<{ blocks: Block[] }>("GET", "/api/me/blocks")).blocks;
  }

  /** Lifts a block. */
  async unblock(userId: string): Promise<void> {
    await this.request("DELETE", `/api/me/blocks/${enc(userId)}`);
  }

  /** The user's sessions, this one marked `current`. */
  async sessions(): Promise<SessionInfo[]> {
    return (await this.request<{ sessions: SessionInfo[] }>("GET", "/api/me/sessions")).sessions;
  }

  /** Ends one of the user's sessions. */
  async endSession(id: string): Promise<void> {
    await this.request("DELETE", `/api/me/sessions/${enc(id)}`);
  }

  /** Ends every session of the user, this one too. */
  async logoutAll(): Promise<void> {
    await this.request("POST", "/api/me/logout-all");
  }

  /** Changes the password; the server ends every other session. */
  async changePassword(current: string, next: string): Promise<void> {
    await this.request("POST", "/api/me/password", { body: { current, new: next } });
  }

  /** Chooses who sees the user's presence. */
  async setPresenceVisibility(presenceVisibility: PresenceVisibility): Promise<void> {
    await this.request("PATCH", "/api/me", { body: { presenceVisibility } });
  }

  /**
   * Opens (or finds) the direct conversation with `username`; `encrypted`
   * creates it end-to-end encrypted (an existing one stays as it is).
   */
  async direct(username: string, options: { encrypted?: boolean } = {}): Promise<Room> {
    const body = options.encrypted ? { encrypted: true } : undefined;
    const path = `/api/direct/${enc(username)}`;
    return (await this.request<{ room: Room }>("POST", path, { body })).room;
  }

  /**
   * Switches end-to-end encryption of a direct conversation on or off; both
   * sides get a notice message. Returns the room as it now is.
   */
  async setEncryption(id: string, encrypted: boolean): Promise<Room> {
    const path = `/api/rooms/${enc(id)}/encryption`;
    return (await this.request<{ room: Room }>("PUT", path, { body: { encrypted } })).room;
  }

  /**
   * Posts one message (its text, or an envelope), with the files uploaded
   * for it; the same `clientId` again returns the original.
   */
  async send(
    id: string,
    content: string | MessageBody,
    clientId: string,
    timeoutMs?: number,
    attachments: string[] = [],
    replyTo?: number,
  ): Promise<Message> {
    const path = `/api/rooms/${enc(id)}/messages`;
    const body = {
      ...(typeof content === "string" ? { text: content } : content),
      clientId,
      ...(attachments.length ? { attachments } : {}),
      ...(replyTo !== undefined ? { replyTo } : {}),
    };
    return (await this.request<{ message: Message }>("POST", path, { body, timeoutMs })).message;
  }

  /**
   * Uploads a file to a room, streaming it (`multipart/form-data`, field
   * `file`, with an exact `Content-Length`); attach it with the next
   * message. `onProgress` is told the file's bytes sent so far.
   *
   * @param options.idleTimeoutMs give up when nothing moves for this long (default 30 s).
   * @throws {ApiFailure} e.g. 413 `file_too_large` (details `{maxBytes}`) or `quota_exceeded`.
   * @throws {Unreachable} when the connection fails or stalls.
   * @throws {FileChanged} when the file's size changed while it was being sent.
   */
  async upload(
    roomId: string,
    source: UploadSource,
    options: { onProgress?: (sent: number) => void; signal?: AbortSignal; idleTimeoutMs?: number } =
      {},
  ): Promise<Attachment> {
    const { contentType, length, body } = uploadBody(source, options.onProgress);
    const headers = { ...this.#headers("application/json"), "content-type": contentType };
    let res;
    try {
      res = await postStream(
        new URL(`/api/rooms/${enc(roomId)}/attachments`, this.server),
        headers,
        body,
        length,
        { signal: options.signal, idleTimeoutMs: options.idleTimeoutMs ?? 30_000 },
      );
    } catch (cause) {
      if (options.signal?.aborted || cause instanceof FileChanged) throw cause;
      throw new Unreachable(this.server, cause);
    }
    if (res.status < 200 || res.status > 299) {
      throw failureOf(res.status, res.text, res.retryAfter);
    }
    return (JSON.parse(res.text) as { attachment: Attachment }).attachment;
  }

  /**
   * Starts downloading a file: its name (from `Content-Disposition`), its
   * size (`Content-Length`), its sha256 (the `ETag`) and its bytes, streaming.
   *
   * @param signal cancels the download, the body's reading too.
   * @throws {ApiFailure} e.g. 404 when there is no such file or it is not in the user's rooms.
   */
  async download(id: string, signal?: AbortSignal): Promise<Download> {
    let res: Response;
    // The timeout is for the answer to start; the body takes as long as the file needs.
    const answer = new AbortController();
    const timer = setTimeout(
      () => answer.abort(new DOMException("no answer", "TimeoutError")),
      this.timeoutMs,
    );
    try {
      res = await fetch(`${this.server}/api/attachments/${enc(id)}`, {
        headers: this.#headers("*/*"),
        signal: signal ? AbortSignal.any([signal, answer.signal]) : answer.signal,
      });
    } catch (cause) {
      if (signal?.aborted) throw cause;
      throw new Unreachable(this.server, answer.signal.aborted ? answer.signal.reason : cause);
    } finally {
      clearTimeout(timer);
    }
    if (!res.ok || !res.body) {
      const text = await res.text().catch(() => "");
      throw failureOf(res.status, text, res.headers.get("retry-after"));
    }
    const length = res.headers.get("content-length");
    return {
      name: contentDispositionName(res.headers.get("content-disposition")),
      size: length && /^\d+$/.test(length) ? Number(length) : null,
      sha256: res.headers.get("etag")?.match(/^(?:W\/)?"?([0-9a-f]{64})"?$/i)?.[1] ?? null,
      body: res.body,
    };
  }

  /**
   * Replaces the text (or, encrypted, the envelope) of one of the user's
   * messages; returns it as it now is.
   */
  async editMessage(id: string, seq: number, content: string | MessageBody): Promise<Message> {
    const path = `/api/rooms/${enc(id)}/messages/${seq}`;
    const body = typeof content === "string" ? { text: content } : content;
    return (await this.request<{ message: Message }>("PATCH", path, { body })).message;
  }

  /** Deletes a message (its author, the room's moderators): it stays as a tombstone. */
  async deleteMessage(id: string, seq: number): Promise<void> {
    await this.request("DELETE", `/api/rooms/${enc(id)}/messages/${seq}`);
  }

  /**
   * Reacts to message `seq` with one emoji (`add`), or takes the reaction
   * back; either twice changes nothing. Members get a `reaction` event.
   *
   * @throws {ApiFailure} 404 when there is no such message, 409 past 20 kinds of reaction.
   */
  async react(id: string, seq: number, emoji: string, add: boolean): Promise<void> {
    const path = `/api/rooms/${enc(id)}/messages/${seq}/reactions/${enc(emoji)}`;
    await this.request(add ? "PUT" : "DELETE", path);
  }

  /** Mutes a room or unmutes it, for the user alone; returns the room as they now see it. */
  async setMuted(id: string, muted: boolean): Promise<Room> {
    const path = `/api/rooms/${enc(id)}/settings`;
    return (await this.request<{ room: Room }>("PUT", path, { body: { muted } })).room;
  }

  /** The user's latest mentions across rooms, newest first, and where the next page starts. */
  async mentions(
    limit: number,
    before?: string,
  ): Promise<{ mentions: Mention[]; next: string | null }> {
    const query = `?limit=${limit}` + (before ? `&before=${enc(before)}` : "");
    return await this.request("GET", `/api/me/mentions${query}`);
  }

  /** Gives a member a role (the owner only); `owner` hands the room over. */
  async setRole(id: string, userId: string, role: Role): Promise<void> {
    const path = `/api/rooms/${enc(id)}/members/${enc(userId)}/role`;
    await this.request("PUT", path, { body: { role } });
  }

  /** Removes a member from a room (the owner and moderators); they may rejoin a public one. */
  async kick(id: string, userId: string): Promise<void> {
    await this.request("DELETE", `/api/rooms/${enc(id)}/members/${enc(userId)}`);
  }

  /** Bans a user from a room, for `minutes` or for good. */
  async ban(id: string, username: string, options: { minutes?: number; reason?: string }) {
    const body = { username, minutes: options.minutes, reason: options.reason };
    await this.request("POST", `/api/rooms/${enc(id)}/bans`, { body });
  }

  /** Lifts a ban. */
  async unban(id: string, userId: string): Promise<void> {
    await this.request("DELETE", `/api/rooms/${enc(id)}/bans/${enc(userId)}`);
  }

  /** A room's bans in force, newest first (the owner and moderators). */
  async bans(id: string): Promise<Ban[]> {
    return (await this.request<{ bans: Ban[] }>("GET", `/api/rooms/${enc(id)}/bans`)).bans;
  }

  /** The newest `limit` entries of a room's audit log, newest first (the owner and moderators). */
  async audit(id: string, limit: number): Promise<AuditEntry[]> {
    const path = `/api/rooms/${enc(id)}/audit?limit=${limit}`;
    return (await this.request<{ entries: AuditEntry[] }>("GET", path)).entries;
  }

  /** Moves the user's read marker in a room forward. */
  async markRead(id: string, seq: number): Promise<void> {
    await this.request("POST", `/api/rooms/${enc(id)}/read`, { body: { seq } });
  }

  /** Users, alphabetically; only those online when asked. */
  async users(onlineOnly: boolean): Promise<UserPresence[]> {
    const query = `?limit=${USERS_PAGE_MAX}${onlineOnly ? "&online=true" : ""}`;
    return (await this.request<{ users: UserPresence[] }>("GET", `/api/users${query}`)).users;
  }

  /** Asks the server whether it is healthy. */
  async health(): Promise<void> {
    await this.request("GET", "/api/health");
  }

  #headers(accept: string): Record<string, string> {
    const headers: Record<string, string> = { accept, "user-agent": USER_AGENT };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    return headers;
  }
}

/** A download under way, as {@linkcode Api.download} starts it. */
export interface Download {
  /** The file's name as the server gives it (not yet fit for a path), if it does. */
  name: string | null;
  /** Its size in bytes (`Content-Length`), if said. */
  size: number | null;
  /** Its hex SHA-256 (the `ETag`), if said. */
  sha256: string | null;
  /** Its bytes; read them to the end, or cancel. */
  body: ReadableStream<Uint8Array>;
}

/** Told before each retry of a send: why, and how long until it. */
export interface RetryNotice {
  /** What the failed attempt threw. */
  error: unknown;
  /** How long until the next attempt. */
  waitMs: number;
}

/**
 * Posts a message (its text, or an envelope: the same one every attempt),
 * retrying with the same `clientId` after a timeout, a
 * network failure or a 5xx answer, so a retry never duplicates it. A 429 is
 * retried only after the server's `Retry-After`, and only when that is at
 * most `options.rateLimitWaitMaxMs` away; otherwise it is thrown at once.
 *
 * @param options.deadlineMs give up after this long in all.
 * @param options.attemptTimeoutMs how long one attempt may take (default 8 s).
 * @param options.rateLimitWaitMaxMs the longest `Retry-After` waited out (default 10 s).
 * @param options.onRetry told before each retry, e.g. to say "retrying".
 */
export async function sendWithRetry(
  api: Api,
  roomId: string,
  content: string | MessageBody,
  options: {
    clientId?: string;
    /** Ids of files uploaded for this message. */
    attachments?: string[];
    /** The seq of the message in the room this one answers. */
    replyTo?: number;
    deadlineMs?: number;
    attemptTimeoutMs?: number;
    rateLimitWaitMaxMs?: number;
    onRetry?: (attempt: number, notice: RetryNotice) => void;
  } = {},
): Promise<Message> {
  const clientId = options.clientId ?? crypto.randomUUID();
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  let backoffs = 0;
  for (let attempt = 1;; attempt++) {
    try {
      const timeoutMs = options.attemptTimeoutMs ?? 8_000;
      const { attachments, replyTo } = options;
      return await api.send(roomId, content, clientId, timeoutMs, attachments, replyTo);
    } catch (error) {
      let wait: number;
      if (error instanceof ApiFailure && error.rateLimited) {
        // The server says when; sooner would only be refused again.
        wait = retryAfterMs(error);
        if (wait > (options.rateLimitWaitMaxMs ?? 10_000)) throw error;
      } else if (
        error instanceof Unreachable || (error instanceof ApiFailure && error.status >= 500)
      ) {
        wait = Math.min(250 * 2 ** backoffs++, 4_000);
      } else throw error;
      if (Date.now() + wait > deadline) throw error;
      options.onRetry?.(attempt, { error, waitMs: wait });
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** How long a 429 asks to wait, in milliseconds: its `Retry-After`, at least a second. */
export function retryAfterMs(error: ApiFailure): number {
  return Math.max(1, error.retryAfter ?? 1) * 1_000;
}

function failureOf(status: number, text: string, retryAfterHeader: string | null): ApiFailure {
  let details: unknown;
  try {
    const { error } = JSON.parse(text);
    details = error?.details;
    if (error?.code && error?.message) {
      const retryAfter = status === 429 ? parseRetryAfter(retryAfterHeader, details) : null;
      const { code, message } = error;
      return new ApiFailure(status, String(code), String(message), retryAfter, details);
    }
  } catch {
    // not the server's error shape: a proxy's page, say
  }
  if (status === 429) {
    const retryAfter = parseRetryAfter(retryAfterHeader, details);
    return new ApiFailure(429, "rate_limited", "Too many requests.", retryAfter);
  }
  return new ApiFailure(status, "http_" + status, `The server answered ${status}`);
}

/**
 * Seconds to wait, from a `Retry-After` header (seconds or an HTTP date) or
 * else the error's `details.retryAfter`; `null` when neither says.
 *
 * @example
 * ```ts
 * parseRetryAfter("3", undefined); // 3
 * ```
 */
export function parseRetryAfter(header: string | null, details?: unknown): number | null {
  if (header && /^\s*\d+\s*$/.test(header)) return Number(header);
  if (header) {
    const at = Date.parse(header);
    if (!Number.isNaN(at)) return Math.max(0, Math.ceil((at - Date.now()) / 1000));
  }
  const fromDetails = (details as { retryAfter?: unknown } | undefined)?.retryAfter;
  return typeof fromDetails === "number" && fromDetails >= 0 ? Math.ceil(fromDetails) : null;
}

/**
 * A few words on why a request failed: "connection refused", "timed out", …
 *
 * @example
 * ```ts
 * networkReason(new DOMException("", "TimeoutError")); // "timed out"
 * ```
 */
export function networkReason(cause: unknown): string {
  if (cause instanceof DOMException && cause.name === "TimeoutError") return "timed out";
  // Deno's fetch says only "fetch failed"; what went wrong is in its cause.
  const inner = cause instanceof Error && cause.cause instanceof Error ? cause.cause : cause;
  const text = inner instanceof Error ? inner.message : String(inner);
  if (/refused/i.test(text)) return "connection refused";
  if (/dns|lookup|not known/i.test(text)) return "unknown host";
  if (/reset|closed|broken pipe|eof|reading a body/i.test(text)) return "connection lost";
  return text.split("\n")[0].slice(0, 120);
}

function enc(part: string): string {
  return encodeURIComponent(part);
}

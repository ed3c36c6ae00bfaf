/**
 * The terminal client's HTTP client for Parley's public API, with the
 * server's error shape turned into one-line errors.
 *
 * @module
 */
import type { Message, Room, User, UserPresence } from "../shared/api_types.ts";
import type { ApiCall } from "../shared/client_actions.ts";

/** The server answered with an error (`{"error": {code, message}}`). */
export class ApiFailure extends Error {
  /** HTTP status. */
  readonly status: number;
  /** The server's stable error code, e.g. `room_full`. */
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiFailure";
    this.status = status;
    this.code = code;
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
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
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
    if (!res.ok) throw failureOf(res.status, text);
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

  /** Adds a user to a room (its owner only). */
  async invite(id: string, username: string): Promise<Room> {
    const path = `/api/rooms/${enc(id)}/members`;
    return (await this.request<{ room: Room }>("POST", path, { body: { username } })).room;
  }

  /** Opens (or finds) the direct conversation with `username`. */
  async direct(username: string): Promise<Room> {
    return (await this.request<{ room: Room }>("POST", `/api/direct/${enc(username)}`)).room;
  }

  /** Posts one message; the same `clientId` again returns the original. */
  async send(id: string, text: string, clientId: string, timeoutMs?: number): Promise<Message> {
    const path = `/api/rooms/${enc(id)}/messages`;
    return (await this.request<{ message: Message }>("POST", path, {
      body: { text, clientId },
      timeoutMs,
    })).message;
  }

  /** Moves the user's read marker in a room forward. */
  async markRead(id: string, seq: number): Promise<void> {
    await this.request("POST", `/api/rooms/${enc(id)}/read`, { body: { seq } });
  }

  /** Users, alphabetically; only those online when asked. */
  async users(onlineOnly: boolean): Promise<UserPresence[]> {
    const query = onlineOnly ? "?online=true&limit=100" : "?limit=100";
    return (await this.request<{ users: UserPresence[] }>("GET", `/api/users${query}`)).users;
  }

  /** Asks the server whether it is healthy. */
  async health(): Promise<void> {
    await this.request("GET", "/api/health");
  }
}

/**
 * Posts a message, retrying with the same `clientId` after a timeout, a
 * network failure or a 5xx answer, so a retry never duplicates it.
 *
 * @param options.deadlineMs give up after this long in all.
 * @param options.attemptTimeoutMs how long one attempt may take (default 8 s).
 * @param options.onRetry told before each retry, e.g. to say "retrying".
 */
export async function sendWithRetry(
  api: Api,
  roomId: string,
  text: string,
  options: {
    clientId?: string;
    deadlineMs?: number;
    attemptTimeoutMs?: number;
    onRetry?: (attempt: number) => void;
  } = {},
): Promise<Message> {
  const clientId = options.clientId ?? crypto.randomUUID();
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  for (let attempt = 1;; attempt++) {
    try {
      return await api.send(roomId, text, clientId, options.attemptTimeoutMs ?? 8_000);
    } catch (error) {
      const retryable = error instanceof Unreachable ||
        (error instanceof ApiFailure && (error.status >= 500 || error.status === 429));
      const wait = Math.min(250 * 2 ** (attempt - 1), 4_000);
      if (!retryable || Date.now() + wait > deadline) throw error;
      options.onRetry?.(attempt);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

function failureOf(status: number, text: string): ApiFailure {
  try {
    const { error } = JSON.parse(text);
    if (error?.code && error?.message) {
      return new ApiFailure(status, String(error.code), String(error.message));
    }
  } catch {
    // not the server's error shape: a proxy's page, say
  }
  return new ApiFailure(status, "http_" + status, `The server answered ${status}`);
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

/**
 * A small JSON client for the Parley API, for the browser. The session
 * cookie does the authentication; the browser adds `Origin` to every POST.
 *
 * @module
 */

/** A failed API call: the server's error code and message, or a network failure. */
export class ApiFailure extends Error {
  /** HTTP status; 0 when the request never got an answer. */
  readonly status: number;
  /** The API's error code, or `network`. */
  readonly code: string;
  /** For a 429: how many seconds to wait before trying again, when the server said. */
  readonly retryAfter?: number;

  constructor(status: number, code: string, message: string, retryAfter?: number) {
    super(message);
    this.status = status;
    this.code = code;
    if (retryAfter !== undefined) this.retryAfter = retryAfter;
  }
}

/**
 * Calls the API with an optional JSON body and returns the parsed answer
 * (`undefined` for 204).
 *
 * @throws {ApiFailure} for any answer but 2xx, and when the network fails. A
 * 429's message says when to try again.
 * @example
 * ```ts
 * const { rooms } = await api<{ rooms: Room[] }>("GET", "/api/rooms");
 * ```
 */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiFailure(0, "network", "Cannot reach the server.");
  }
  if (res.status === 204) return undefined as T;
  const parsed = await res.json().catch(() => null);
  if (!res.ok) {
    const error = parsed?.error;
    const code = error?.code ?? "http_" + res.status;
    if (res.status === 429) {
      const retryAfter = retryAfterOf(error?.details?.retryAfter, res.headers.get("retry-after"));
      throw new ApiFailure(429, code, tooMany("requests", retryAfter), retryAfter);
    }
    throw new ApiFailure(
      res.status,
      code,
      error?.message ?? `The server answered ${res.status}.`,
    );
  }
  return parsed as T;
}

/** The seconds to wait, from the error's details or else the `Retry-After` header. */
export function retryAfterOf(detail: unknown, header: string | null): number | undefined {
  for (const value of [detail, header]) {
    const seconds = Number(value);
    if (value !== null && value !== undefined && Number.isFinite(seconds) && seconds >= 0) {
      return Math.ceil(seconds);
    }
  }
  return undefined;
}

/**
 * "Too many messages — try again in 3 s.": what a 429 says, for `what` was
 * refused.
 */
export function tooMany(what: string, retryAfter?: number): string {
  if (retryAfter === undefined) return `Too many ${what} — wait a moment and try again.`;
  const wait = retryAfter >= 120 ? `${Math.ceil(retryAfter / 60)} min` : `${retryAfter} s`;
  return `Too many ${what} — try again in ${wait}.`;
}

/**
 * The text of an error for the user; a 429 says what there were too many
 * of (`what`) and when to try again.
 */
export function failureText(e: unknown, what?: string): string {
  if (e instanceof ApiFailure && e.status === 429 && what) return tooMany(what, e.retryAfter);
  return e instanceof Error ? e.message : String(e);
}

/**
 * For `.catch()`: rethrows a failure, a 429 saying there were too many of
 * `what` and when to try again.
 *
 * @example
 * ```ts
 * await api("POST", "/api/rooms", body).catch(rateLimitedAs("new rooms"));
 * ```
 */
export function rateLimitedAs(what: string): (e: unknown) => never {
  return (e) => {
    if (e instanceof ApiFailure && e.status === 429) {
      throw new ApiFailure(429, e.code, tooMany(what, e.retryAfter), e.retryAfter);
    }
    throw e;
  };
}

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

  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/**
 * Calls the API with an optional JSON body and returns the parsed answer
 * (`undefined` for 204).
 *
 * @throws {ApiFailure} for any answer but 2xx, and when the network fails.
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
    throw new ApiFailure(
      res.status,
      error?.code ?? "http_" + res.status,
      error?.message ?? `The server answered ${res.status}.`,
    );
  }
  return parsed as T;
}

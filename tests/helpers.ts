// deno-lint-ignore-file no-explicit-any
/**
 * Test helpers: apps over in-memory KV, real servers on loopback, and a small
 * API client.
 *
 * @module
 */
import { createApp, type ParleyApp } from "../http/app.ts";
import { type Config, defaultConfig } from "../lib/config.ts";

/** A clock the test moves by hand. */
export interface ManualClock {
  (): number;
  advance(ms: number): void;
}

/** A clock starting at a fixed time that only moves when told. */
export function manualClock(start = Date.UTC(2026, 0, 1)): ManualClock {
  let now = start;
  return Object.assign(() => now, { advance: (ms: number) => void (now += ms) });
}

/** An app over a fresh in-memory KV; `close()` releases both. */
export interface TestApp extends AsyncDisposable {
  app: ParleyApp;
  kv: Deno.Kv;
  clock: ManualClock;
  config: Config;
}

/**
 * Builds an app over `Deno.openKv(":memory:")` (or the KV file at `path`)
 * with a manual clock. Rate limits are off, as in load tests: the tests of
 * the limits turn them on with `{ rateLimitsOn: true }`.
 */
export async function testApp(
  config: Partial<Config> = {},
  options: { path?: string; clock?: ManualClock } = {},
): Promise<TestApp> {
  const kv = await Deno.openKv(options.path ?? ":memory:");
  const clock = options.clock ?? manualClock();
  const full = { ...defaultConfig, rateLimitsOn: false, ...config };
  const app = createApp({ kv, clock, config: full });
  return {
    app,
    kv,
    clock,
    config: full,
    async [Symbol.asyncDispose]() {
      await app.close();
      kv.close();
    },
  };
}

/** A server listening on a loopback port. */
export interface TestServer extends AsyncDisposable {
  url: string;
}

/** Serves a fetch handler on 127.0.0.1 with a free port. */
export function serve(fetch: Deno.ServeHandler): TestServer {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, fetch);
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** Options for {@linkcode call}. */
export interface CallOptions {
  method?: string;
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

/** A parsed JSON response. */
export interface CallResult<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

/**
 * Calls the API at `base` (a URL) or through `app.request` (an app), with JSON in and out.
 */
export async function call<T = any>(
  target: string | { request: (path: string, init: RequestInit) => Response | Promise<Response> },
  path: string,
  options: CallOptions = {},
): Promise<CallResult<T>> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] ??= "application/json";
  const init: RequestInit = {
    method: options.method ?? (options.body === undefined ? "GET" : "POST"),
    headers,
    body: options.body === undefined
      ? undefined
      : typeof options.body === "string"
      ? options.body
      : JSON.stringify(options.body),
  };
  const res = typeof target === "string"
    ? await fetch(target + path, init)
    : await target.request(path, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

let userCounter = 0;

/** Registers a fresh user and returns its id, name and token. */
export async function registerUser(
  target: Parameters<typeof call>[0],
  username = `user${++userCounter}_${crypto.randomUUID().slice(0, 6)}`,
): Promise<{ id: string; username: string; token: string }> {
  const res = await call(target, "/api/auth/register", {
    body: { username, password: "password-123" },
  });
  if (res.status !== 201) throw new Error(`register failed: ${JSON.stringify(res.body)}`);
  return { ...res.body.user, token: res.body.token };
}

/** A fresh temporary directory's KV file path; the directory is removed on dispose. */
export async function tempKvPath(): Promise<{ path: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "parley-test-" });
  return {
    path: `${dir}/parley.kv`,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Creates a room as `owner` and has every other user join it; returns its id. */
export async function roomWith(
  target: Parameters<typeof call>[0],
  owner: { token: string },
  others: { token: string }[],
  body: Record<string, unknown> = { name: "room" },
): Promise<string> {
  const created = await call(target, "/api/rooms", { token: owner.token, body });
  if (created.status !== 201) throw new Error(`create room: ${JSON.stringify(created.body)}`);
  const id = created.body.room.id;
  for (const u of others) {
    const joined = await call(target, `/api/rooms/${id}/join`, { token: u.token, method: "POST" });
    if (joined.status !== 200) throw new Error(`join: ${JSON.stringify(joined.body)}`);
  }
  return id;
}

/** Posts a message and returns the response. */
export function post(
  target: Parameters<typeof call>[0],
  token: string,
  roomId: string,
  text: string,
  clientId?: string,
) {
  return call(target, `/api/rooms/${roomId}/messages`, {
    token,
    body: clientId ? { text, clientId } : { text },
  });
}

/** Parley running as its own process (`deno run main.ts`), as `deno task start` runs it. */
export interface ServerProcess extends AsyncDisposable {
  url: string;
  /** Ends the process: SIGKILL for a crash, SIGTERM (the default) for a clean stop. */
  kill(signal?: Deno.Signal): Promise<void>;
}

/**
 * Starts `main.ts` on 127.0.0.1 with the KV file `kvPath` (and any other
 * environment in `env`) and waits until it answers.
 */
export async function spawnServer(
  kvPath: string,
  port = 20000 + Math.floor(Math.random() * 20000),
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-write", "main.ts"],
    env: { RATE_LIMITS: "off", ...env, PORT: String(port), HOST: "127.0.0.1", KV_PATH: kvPath },
    cwd: new URL("..", import.meta.url).pathname,
    stdout: "null",
    stderr: Deno.env.get("PARLEY_TEST_SERVER_LOGS") ? "inherit" : "null",
  }).spawn();
  let done = false;
  const kill = async (signal: Deno.Signal = "SIGTERM") => {
    if (!done) {
      done = true;
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    }
    await child.status;
  };
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0;; i++) {
    try {
      const res = await fetch(`${url}/api/health`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (i > 200) {
      await kill("SIGKILL");
      throw new Error(`the server on port ${port} did not start`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { url, kill, [Symbol.asyncDispose]: () => kill() };
}

/**
 * Test harness for the terminal client: Parley as a real server process on
 * a temporary KV file, and the client as a real process on pipes or in a
 * tmux pseudo-terminal.
 *
 * @module
 */

const root = new URL("../../", import.meta.url).pathname;
const decoder = new TextDecoder();
const encoder = new TextEncoder();

/** A free loopback port (bound, read, released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Collects a child's output and waits for text to show up in it. */
class Output {
  text = "";
  #waiters = new Set<() => void>();
  readonly done: Promise<void>;

  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      for await (const chunk of stream) {
        this.text += decoder.decode(chunk, { stream: true });
        for (const wake of this.#waiters) wake();
      }
    })();
  }

  /** Waits until `pattern` matches the output after `from`; returns the match. */
  async waitFor(pattern: RegExp | string, timeoutMs = 8000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.text.slice(from);
      const hit = typeof pattern === "string"
        ? (rest.includes(pattern) ? pattern : null)
        : rest.match(pattern)?.[0];
      if (hit != null) return hit;
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for ${pattern}; output so far:\n${this.text}`);
      }
      await new Promise<void>((resolve) => {
        const wake = () => {
          clearTimeout(timer);
          this.#waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, Math.min(left, 200));
        this.#waiters.add(wake);
      });
    }
  }
}

/** Parley running as `deno run main.ts`. */
export interface ServerProcess extends AsyncDisposable {
  url: string;
  port: number;
  kvPath: string;
  /** Ends the process: SIGKILL to simulate a crash, SIGTERM for a clean stop. */
  stop(signal?: Deno.Signal): Promise<void>;
}

/**
 * Starts Parley on `port` (default a free one) with the KV file `kvPath`;
 * `env` adds to or overrides its environment.
 */
export async function startServer(
  kvPath: string,
  port = freePort(),
  env: Record<string, string> = {},
): Promise<ServerProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "main.ts"],
    cwd: root,
    env: {
      PORT: String(port),
      HOST: "127.0.0.1",
      KV_PATH: kvPath,
      PRESENCE_GRACE_MS: "200",
      NO_COLOR: "1",
      RATE_LIMITS: "off",
      ...env,
    },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new Output(child.stdout);
  const err = new Output(child.stderr);
  let stopped = false;
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    if (stopped) return;
    stopped = true;
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
    await child.status;
    await Promise.all([out.done, err.done]);
  };
  try {
    await out.waitFor("listening", 15_000);
  } catch (error) {
    await stop("SIGKILL");
    throw new Error(`server did not start: ${(error as Error).message}\n${err.text}`);
  }
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    kvPath,
    stop,
    [Symbol.asyncDispose]: () => stop("SIGKILL"),
  };
}

/** Options of {@linkcode startClient}. */
export interface ClientOptions {
  server: string;
  /** Its own config directory (XDG_CONFIG_HOME and HOME). */
  home: string;
  args?: string[];
  password?: string;
  /** Where it runs (default the project's root): where `/download` saves by default. */
  cwd?: string;
}

/** The client as a process on pipes. */
export interface ClientProcess extends AsyncDisposable {
  /** Everything it printed on stdout so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Waits for text on stdout after character `from`; returns the match. */
  waitFor(pattern: RegExp | string, timeoutMs?: number, from?: number): Promise<string>;
  /** Types `text` (no newline added). */
  type(text: string): Promise<void>;
  /** Types a line. */
  line(text: string): Promise<void>;
  /** Closes stdin and waits for the exit code. */
  finish(): Promise<number>;
}

/** Starts `deno run cli/main.ts` with piped stdin and stdout. */
export function startClient(o: ClientOptions): ClientProcess {
  const env: Record<string, string> = {
    HOME: o.home,
    XDG_CONFIG_HOME: `${o.home}/.config`,
    // A new HOME would otherwise mean a new, empty module cache.
    DENO_DIR: Deno.env.get("DENO_DIR") ?? `${Deno.env.get("HOME")}/.cache/deno`,
    NO_COLOR: "1",
    PARLEY_PASSWORD: o.password ?? "",
  };
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-env", "--allow-read", "--allow-write"]
      .concat(o.cwd ? ["--config", `${root}deno.json`, `${root}cli/main.ts`] : ["cli/main.ts"])
      .concat(["--server", o.server], o.args ?? []),
    cwd: o.cwd ?? root,
    env,
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out = new Output(child.stdout);
  const err = new Output(child.stderr);
  const writer = child.stdin.getWriter();
  let finished: Promise<number> | null = null;
  const finish = () =>
    finished ??= (async () => {
      await writer.close().catch(() => {});
      const { code } = await child.status;
      await Promise.all([out.done, err.done]);
      return code;
    })();
  return {
    get stdout() {
      return out.text;
    },
    get stderr() {
      return err.text;
    },
    waitFor: (pattern, timeoutMs, from) => out.waitFor(pattern, timeoutMs, from),
    type: (text) => writer.write(encoder.encode(text)),
    line: (text) => writer.write(encoder.encode(text + "\n")),
    finish,
    async [Symbol.asyncDispose]() {
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
      }, 5_000);
      await finish();
      clearTimeout(timer);
    },
  };
}

/** A temporary directory removed on dispose. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "parley_cli_" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }).catch(() => {}),
  };
}

/** Calls the API with JSON in and out, outside the client. */
export async function api<T = Record<string, unknown>>(
  server: string,
  path: string,
  options: { token?: string; body?: unknown; method?: string } = {},
): Promise<{ status: number; body: T }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(server + path, {
    method: options.method ?? (options.body === undefined ? "GET" : "POST"),
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** Registers a user over HTTP; returns its token. */
export async function register(server: string, username: string): Promise<string> {
  const res = await api<{ token: string }>(server, "/api/auth/register", {
    body: { username, password: "password-123" },
  });
  if (res.status !== 201) throw new Error(`register ${username}: ${JSON.stringify(res.body)}`);
  return res.body.token;
}

/** How often `needle` occurs in `text`. */
export function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

/**
 * A TCP proxy on loopback the test can cut and block, to drop the client's
 * network without touching the server, and to hold it off while the test
 * does something first.
 */
export interface Proxy extends AsyncDisposable {
  url: string;
  /** Points the proxy at another port (a restarted server). */
  target: number;
  /** While blocked, new connections are closed at once. */
  blocked: boolean;
  /** Connections refused while blocked. */
  refused: number;
  /** Everything clients sent through the proxy, as text (request heads show here). */
  sent: string;
  /** Rewrites what clients send (each chunk read, as text), e.g. to spoil a header. */
  rewrite: ((text: string) => string) | null;
  /** Waits this long after passing on each chunk a client sent (at most 16 KiB): a slow uplink. */
  delayMs: number;
  /** Closes every open connection (a network drop). */
  cut(): void;
}

/** Starts a proxy to `127.0.0.1:target`. */
export function startProxy(target: number): Proxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const pipes = new Set<Promise<unknown>>();
  const close = (conn: Deno.Conn) => {
    open.delete(conn);
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  const proxy: Proxy = {
    url: `http://127.0.0.1:${listener.addr.port}`,
    target,
    blocked: false,
    refused: 0,
    sent: "",
    rewrite: null,
    delayMs: 0,
    cut() {
      for (const conn of [...open]) close(conn);
    },
    async [Symbol.asyncDispose]() {
      listener.close();
      proxy.cut();
      await accepting;
      await Promise.allSettled([...pipes]);
    },
  };
  const pump = async (from: Deno.Conn, to: Deno.Conn, log = false) => {
    const buf = new Uint8Array(16 * 1024);
    try {
      for (;;) {
        const n = await from.read(buf);
        if (n === null) break;
        let data = buf.subarray(0, n);
        if (log) {
          const text = decoder.decode(data);
          proxy.sent += text;
          if (proxy.rewrite) data = encoder.encode(proxy.rewrite(text));
        }
        let sent = 0;
        while (sent < data.length) sent += await to.write(data.subarray(sent));
        if (log && proxy.delayMs) {
          await new Promise((resolve) => setTimeout(resolve, proxy.delayMs));
        }
      }
    } catch {
      // either side went away
    }
    close(from);
    close(to);
  };
  const accepting = (async () => {
    for await (const conn of listener) {
      if (proxy.blocked) {
        proxy.refused++;
        conn.close();
        continue;
      }
      const task = (async () => {
        let upstream: Deno.Conn;
        try {
          upstream = await Deno.connect({ hostname: "127.0.0.1", port: proxy.target });
        } catch {
          conn.close();
          return;
        }
        open.add(conn);
        open.add(upstream);
        await Promise.all([pump(conn, upstream, true), pump(upstream, conn)]);
      })();
      pipes.add(task);
      task.finally(() => pipes.delete(task));
    }
  })().catch(() => {});
  return proxy;
}

/** The client in a real pseudo-terminal: a detached tmux session on its own socket. */
export class TmuxClient implements AsyncDisposable {
  readonly socket = `parley-cli-test-${crypto.randomUUID().slice(0, 8)}`;

  async start(command: string[], env: Record<string, string>): Promise<void> {
    const vars = Object.entries(env).map(([k, v]) => `${k}=${quote(v)}`);
    const line = ["env", ...vars, ...command.map(quote)].join(" ");
    await this.#tmux("new-session", "-d", "-x", "100", "-y", "30", "-s", "t", "-c", root, line);
  }

  /** Types text literally, or named keys such as Enter. */
  async keys(text: string, literal = true): Promise<void> {
    await this.#tmux("send-keys", "-t", "t", ...(literal ? ["-l", text] : [text]));
  }

  /** The visible screen, trailing blanks trimmed. */
  async screen(): Promise<string> {
    const out = await this.#tmux("capture-pane", "-p", "-t", "t");
    return out.replace(/\s+$/, "");
  }

  async waitFor(pattern: RegExp, timeoutMs = 8000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const screen = await this.screen();
      if (pattern.test(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}:\n${screen}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Whether the session ended (its only program exited) within `timeoutMs`. */
  async ended(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!(await this.#tmux("has-session", "-t", "t").then(() => true, () => false))) return true;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return false;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#tmux("kill-server").catch(() => {});
  }

  async #tmux(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-L", this.socket, "-f", "/dev/null", ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(`tmux ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    return new TextDecoder().decode(out.stdout);
  }
}

function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** Whether tmux is here, for the tests that need a real terminal. */
export const hasTmux = await new Deno.Command("tmux", {
  args: ["-V"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

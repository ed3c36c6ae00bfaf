/**
 * The terminal client's saved sessions: one JSON file under the user's
 * configuration directory, keyed by server, readable by its owner only
 * (a token is as good as a password until it expires).
 *
 * @module
 */

/** A saved sign-in for one server. */
export interface SavedSession {
  username: string;
  token: string;
}

type SessionFile = Record<string, SavedSession>;

/**
 * The directory Parley's client keeps its files in: `$XDG_CONFIG_HOME/parley`,
 * else `~/.config/parley` (`%APPDATA%\parley` on Windows).
 *
 * @example
 * ```ts
 * configDir({ HOME: "/home/ann" }); // "/home/ann/.config/parley"
 * ```
 */
export function configDir(env: Record<string, string | undefined>): string {
  if (env.XDG_CONFIG_HOME) return `${env.XDG_CONFIG_HOME}/parley`;
  if (env.APPDATA && !env.HOME) return `${env.APPDATA}\\parley`;
  if (env.HOME) return `${env.HOME}/.config/parley`;
  throw new Error("Neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the session");
}

/** Saved sessions in one file, keyed by server origin. */
export class SessionStore {
  /** The directory holding the file. */
  readonly dir: string;
  /** The file's path. */
  readonly path: string;

  constructor(dir: string) {
    this.dir = dir;
    this.path = `${dir}/sessions.json`;
  }

  /** The session saved for `server`, if any. A broken file counts as empty. */
  async get(server: string): Promise<SavedSession | null> {
    const saved = (await this.#read())[keyOf(server)];
    return saved && typeof saved.token === "string" && typeof saved.username === "string"
      ? saved
      : null;
  }

  /** Saves the session for `server`, replacing an earlier one. */
  async set(server: string, session: SavedSession): Promise<void> {
    const all = await this.#read();
    all[keyOf(server)] = { username: session.username, token: session.token };
    await this.#write(all);
  }

  /** Forgets the session for `server`. */
  async delete(server: string): Promise<void> {
    const all = await this.#read();
    if (!(keyOf(server) in all)) return;
    delete all[keyOf(server)];
    await this.#write(all);
  }

  async #read(): Promise<SessionFile> {
    return await readPrivateJson(this.path) as SessionFile;
  }

  async #write(all: SessionFile): Promise<void> {
    await writePrivateJson(this.dir, this.path, all);
  }
}

/**
 * Reads a JSON object from a file of the client's own; a missing file reads
 * as `{}`, and so does a broken one unless `strict`. A file others can read
 * (copied in, or from an older client) is made owner-only on the way.
 *
 * @param options.strict a file that cannot be read, or is not a JSON object,
 *   throws (naming it) instead: what it holds must not be overwritten.
 */
export async function readPrivateJson(
  path: string,
  options: { strict?: boolean } = {},
): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (options.strict && !(error instanceof Deno.errors.NotFound)) {
      throw new Error(`Cannot read ${path} (${(error as Error).message}); it was left as it is.`);
    }
    return {};
  }
  const mode = Deno.build.os === "windows" ? null : (await Deno.stat(path)).mode;
  if (mode !== null && (mode & 0o077) !== 0) await chmod(path, 0o600);
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Said below, the same as JSON of the wrong shape.
  }
  if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
    return parsed as Record<string, unknown>;
  }
  if (options.strict) {
    throw new Error(
      `${path} is not a JSON object as this client writes it, so it was left as it is; ` +
        "repair it, or move it away to make new keys (they cannot read what was sent to the old).",
    );
  }
  return {};
}

/**
 * Writes `data` as JSON to `path` in `dir`, owner-only: the directory 0700,
 * the file 0600 from its first byte, and all of it or nothing.
 */
export async function writePrivateJson(dir: string, path: string, data: unknown): Promise<void> {
  await Deno.mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode is masked by the umask and ignored for an existing directory.
  await chmod(dir, 0o700);
  // Written beside the file and renamed over it, so a crash never leaves half a file,
  // and created 0600 so a secret is never readable by others, not even for a moment.
  const temp = `${path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  await Deno.writeTextFile(temp, JSON.stringify(data, null, 2) + "\n", { mode: 0o600 });
  await chmod(temp, 0o600);
  await Deno.rename(temp, path);
}

/** Servers are told apart by origin, so `http://host:8000/` and `http://host:8000` agree. */
function keyOf(server: string): string {
  return new URL(server).origin;
}

async function chmod(path: string, mode: number): Promise<void> {
  if (Deno.build.os !== "windows") await Deno.chmod(path, mode);
}

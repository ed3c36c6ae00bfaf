/**
 * Server configuration, read from environment variables.
 *
 * @module
 */

/** Everything the server can be configured with. */
export interface Config {
  /** TCP port to listen on (`PORT`, default 8000). */
  port: number;
  /** Interface to listen on (`HOST`, default `0.0.0.0`). */
  hostname: string;
  /** Path of the embedded Deno KV file (`KV_PATH`, default `./data/parley.kv`). */
  kvPath: string;
  /** The public origin when served behind a proxy, e.g. `https://chat.example.com` (`PUBLIC_ORIGIN`). */
  publicOrigin?: string;
  /** How long a session lasts, in milliseconds (`SESSION_TTL_DAYS`, default 30 days). */
  sessionTtlMs: number;
  /** How long after a user's last stream closes they show offline (`PRESENCE_GRACE_MS`, default 5 s). */
  presenceGraceMs: number;
  /** How much may wait for one slow stream before it is cut off (`STREAM_BUFFER_KIB`, default 1 MiB). */
  streamBufferBytes: number;
  /** How long the feed keeps events for resuming streams (`FEED_RETENTION_HOURS`, default 7 days). */
  feedRetentionMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The configuration used when nothing is set. */
export const defaultConfig: Config = {
  port: 8000,
  hostname: "0.0.0.0",
  kvPath: "./data/parley.kv",
  sessionTtlMs: 30 * DAY_MS,
  presenceGraceMs: 5_000,
  streamBufferBytes: 1024 * 1024,
  feedRetentionMs: 7 * DAY_MS,
};

/**
 * Reads the configuration from environment variables, falling back to {@linkcode defaultConfig}.
 *
 * @throws {Error} when a variable is set to something unusable, so a typo fails at start-up.
 * @example
 * ```ts
 * const config = loadConfig(Deno.env.toObject());
 * ```
 */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const config: Config = { ...defaultConfig };
  if (env.PORT) config.port = integer("PORT", env.PORT, 0, 65535);
  if (env.HOST) config.hostname = env.HOST;
  if (env.KV_PATH) config.kvPath = env.KV_PATH;
  if (env.PUBLIC_ORIGIN) config.publicOrigin = new URL(env.PUBLIC_ORIGIN).origin;
  if (env.SESSION_TTL_DAYS) {
    config.sessionTtlMs = integer("SESSION_TTL_DAYS", env.SESSION_TTL_DAYS, 1, 3650) * DAY_MS;
  }
  if (env.PRESENCE_GRACE_MS) {
    config.presenceGraceMs = integer("PRESENCE_GRACE_MS", env.PRESENCE_GRACE_MS, 0, 60_000);
  }
  if (env.STREAM_BUFFER_KIB) {
    config.streamBufferBytes = integer("STREAM_BUFFER_KIB", env.STREAM_BUFFER_KIB, 16, 65536) *
      1024;
  }
  if (env.FEED_RETENTION_HOURS) {
    config.feedRetentionMs = integer("FEED_RETENTION_HOURS", env.FEED_RETENTION_HOURS, 1, 8760) *
      3_600_000;
  }
  return config;
}

function integer(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, not "${value}"`);
  }
  return n;
}

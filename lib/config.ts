/**
 * Server configuration, read from environment variables.
 *
 * @module
 */
import { defaultLimits, type Limits, parseLimit } from "./rate_limits.ts";

/** Everything the server can be configured with. */
export interface Config {
  /** TCP port to listen on (`PORT`, default 8000). */
  port: number;
  /** Interface to listen on (`HOST`, default `0.0.0.0`). */
  hostname: string;
  /** Path of the embedded Deno KV file, or `:memory:` (`KV_PATH`, default `./data/parley.kv`). */
  kvPath: string;
  /**
   * A KV Connect URL (`KV_URL`), e.g. a Deno Deploy KV database's
   * `https://api.deno.com/v2/databases/<id>/connect` or a self-hosted denokv
   * server; its token comes from `DENO_KV_ACCESS_TOKEN`. Wins over `kvPath`.
   */
  kvUrl?: string;
  /** Running on Deno Deploy (`DENO_DEPLOYMENT_ID` is set): KV is the deployment's own. */
  onDeploy: boolean;
  /** The token `GET /metrics` asks for (`METRICS_TOKEN`); without it the route answers 404. */
  metricsToken?: string;
  /** The public origin when served behind a proxy, e.g. `https://chat.example.com` (`PUBLIC_ORIGIN`). */
  publicOrigin?: string;
  /** How long a session lasts, in milliseconds (`SESSION_TTL_DAYS`, default 30 days). */
  sessionTtlMs: number;
  /** How long after a user's last stream closes they show offline (`PRESENCE_GRACE_MS`, default 5 s). */
  presenceGraceMs: number;
  /** How much may wait for one slow stream before it is cut off (`STREAM_BUFFER_KIB`, default 1 MiB). */
  streamBufferBytes: number;
  /** Whether rate limits are enforced (`RATE_LIMITS=off` turns them off, for load tests). */
  rateLimitsOn: boolean;
  /** The rate limits (`RATE_MESSAGES`, `RATE_ROOMS`, … as `count/unit[:burst]`). */
  limits: Limits;
  /** A stream whose client takes nothing for this long is dropped (`STREAM_STALL_SECONDS`, 30). */
  streamStallMs: number;
  /** How often streams get a keep-alive comment (`KEEPALIVE_SECONDS`, 20). */
  keepAliveMs: number;
  /** How many event streams one user may hold open on one instance (`MAX_STREAMS_PER_USER`). */
  maxStreamsPerUser: number;
  /** How many password hashes may run at once (`HASH_CONCURRENCY`). */
  hashConcurrency: number;
  /**
   * Proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed
   * (`TRUSTED_PROXIES`: addresses or CIDR ranges, comma-separated).
   */
  trustedProxies: string[];
  /** The largest file one upload may be, in bytes (`MAX_UPLOAD_MB`, default 25). */
  maxUploadBytes: number;
  /** What one user's files may take in all, in bytes (`UPLOAD_QUOTA_MB`, default 500). */
  uploadQuotaBytes: number;
  /** The usernames of the server's administrators (`PARLEY_ADMINS`, comma-separated). */
  admins: string[];
  /** The file of terms the content filter refuses (`CONTENT_FILTER_FILE`), one per line. */
  contentFilterFile?: string;
  /** The terms themselves: read from the file by `main.ts`, or given directly in tests. */
  contentFilterTerms: string[];
  /** How long a stream can be resumed: the log keeps events this long (`RESUME_WINDOW_MINUTES`, default 24 h). */
  resumeWindowMs: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The configuration used when nothing is set. */
export const defaultConfig: Config = {
  port: 8000,
  hostname: "0.0.0.0",
  kvPath: "./data/parley.kv",
  onDeploy: false,
  sessionTtlMs: 30 * DAY_MS,
  presenceGraceMs: 5_000,
  streamBufferBytes: 1024 * 1024,
  resumeWindowMs: DAY_MS,
  rateLimitsOn: true,
  limits: defaultLimits,
  maxStreamsPerUser: 20,
  streamStallMs: 30_000,
  keepAliveMs: 20_000,
  hashConcurrency: 2,
  trustedProxies: [],
  admins: [],
  maxUploadBytes: 25 * 1024 * 1024,
  uploadQuotaBytes: 500 * 1024 * 1024,
  contentFilterTerms: [],
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
  if (env.KV_URL) config.kvUrl = new URL(env.KV_URL).href;
  config.onDeploy = !!env.DENO_DEPLOYMENT_ID;
  if (env.METRICS_TOKEN) config.metricsToken = env.METRICS_TOKEN;
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
  if (env.RATE_LIMITS) config.rateLimitsOn = onOff("RATE_LIMITS", env.RATE_LIMITS);
  config.limits = { ...defaultLimits };
  for (const name of Object.keys(defaultLimits) as (keyof Limits)[]) {
    const variable = `RATE_${name.toUpperCase()}`;
    if (env[variable]) config.limits[name] = limitFrom(variable, env[variable]!);
  }
  if (env.STREAM_STALL_SECONDS) {
    config.streamStallMs = integer("STREAM_STALL_SECONDS", env.STREAM_STALL_SECONDS, 5, 3600) *
      1000;
  }
  if (env.KEEPALIVE_SECONDS) {
    config.keepAliveMs = integer("KEEPALIVE_SECONDS", env.KEEPALIVE_SECONDS, 5, 300) * 1000;
  }
  if (env.MAX_STREAMS_PER_USER) {
    config.maxStreamsPerUser = integer("MAX_STREAMS_PER_USER", env.MAX_STREAMS_PER_USER, 1, 1000);
  }
  if (env.HASH_CONCURRENCY) {
    config.hashConcurrency = integer("HASH_CONCURRENCY", env.HASH_CONCURRENCY, 1, 64);
  }
  if (env.TRUSTED_PROXIES) {
    config.trustedProxies = env.TRUSTED_PROXIES.split(",").map((s) => s.trim()).filter(Boolean);
  }
  if (env.MAX_UPLOAD_MB) {
    config.maxUploadBytes = integer("MAX_UPLOAD_MB", env.MAX_UPLOAD_MB, 1, 1024) * 1024 * 1024;
  }
  if (env.UPLOAD_QUOTA_MB) {
    config.uploadQuotaBytes = integer("UPLOAD_QUOTA_MB", env.UPLOAD_QUOTA_MB, 1, 1024 * 1024) *
      1024 * 1024;
  }
  if (env.PARLEY_ADMINS) {
    config.admins = env.PARLEY_ADMINS.split(",").map((s) => s.trim().toLowerCase())
      .filter(Boolean);
  }
  if (env.CONTENT_FILTER_FILE) config.contentFilterFile = env.CONTENT_FILTER_FILE;
  if (env.RESUME_WINDOW_MINUTES) {
    config.resumeWindowMs =
      integer("RESUME_WINDOW_MINUTES", env.RESUME_WINDOW_MINUTES, 1, 7 * 24 * 60) * 60_000;
  }
  return config;
}

function onOff(name: string, value: string): boolean {
  if (/^(on|true|1)$/i.test(value)) return true;
  if (/^(off|false|0)$/i.test(value)) return false;
  throw new Error(`${name} must be on or off, not "${value}"`);
}

function limitFrom(name: string, value: string) {
  try {
    return parseLimit(value);
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
}

function integer(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, not "${value}"`);
  }
  return n;
}

/**
 * Whether instances must poll for each other's commits: only several
 * processes on one local KV file, where `kv.watch` does not cross processes.
 */
export function needsPoll(config: Config): boolean {
  return kvIsLocal(config) && config.kvPath !== ":memory:";
}

/** Whether KV is the runtime's own (a local file or `:memory:`), not KV Connect or Deploy's. */
export function kvIsLocal(config: Config): boolean {
  return !config.kvUrl && !config.onDeploy;
}

/** Opens the KV the configuration names: Deno Deploy's own, a KV Connect URL, or a file. */
export function kvLocation(config: Config): string | undefined {
  if (config.onDeploy) return undefined;
  return config.kvUrl ?? config.kvPath;
}

/**
 * What every route module is built from: the dependencies the app factory
 * hands out, the Hono environment, and a router whose validation failures
 * answer in the project's error shape.
 *
 * @module
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { User } from "../lib/accounts.ts";
import type { Config } from "../lib/config.ts";
import { ApiError, Errors } from "../lib/errors.ts";
import type { FeedWriter } from "../lib/feed.ts";
import type { Hub } from "../lib/hub.ts";
import type { Jobs } from "../lib/jobs.ts";
import type { MessageSender } from "../lib/messages.ts";
import type { Presence } from "../lib/presence.ts";
import type { SessionCache } from "../lib/session_cache.ts";
import type { Session } from "../lib/sessions.ts";

/** Milliseconds since the epoch; injected so tests can move time. */
export type Clock = () => number;

/** What the app factory is given. */
export interface Deps {
  kv: Deno.Kv;
  clock: Clock;
  config: Config;
}

/** The dependencies plus the long-lived services the app factory builds on them. */
export interface Services extends Deps {
  /** Recently checked tokens. */
  sessions: SessionCache;
  /** Appends every change to the feed, in group commits. */
  feed: FeedWriter;
  /** Sends messages in per-room batches. */
  sender: MessageSender;
  /** Serves event streams from the feed. */
  hub: Hub;
  /** Tracks who is online. */
  presence: Presence;
  /** Scheduled work, run by one instance at a time. */
  jobs: Jobs;
}

/** Per-request values set by the middleware. */
export interface AppEnv {
  Variables: {
    /** The signed-in user, set by `requireUser`. */
    user: User;
    /** The session's token, set by `requireUser`. */
    token: string;
    /** The session, set by `requireUser`. */
    session: Session;
  };
}

/**
 * A router whose request validation throws `invalid_input` (400) with the
 * zod issues as details.
 */
export function newRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw new ApiError(Errors.invalidInput, issues(result.error));
    },
  });
}

function issues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
}

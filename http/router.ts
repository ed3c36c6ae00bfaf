/**
 * What every route module is built from: the dependencies the app factory
 * hands out, the Hono environment, and a router whose validation failures
 * answer in the project's error shape.
 *
 * @module
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { User } from "../lib/accounts.ts";
import { ApiError, Errors } from "../lib/errors.ts";
import type { Domain } from "../lib/domain.ts";
import type { ClientInfo } from "./client_address.ts";
import type { Session } from "../lib/sessions.ts";

/** What routes are given: the domain's services, never the KV handle. */
export type Services = Domain;

/** Per-request values set by the middleware. */
export interface AppEnv {
  Variables: {
    /** The signed-in user, set by `requireUser`. */
    user: User;
    /** The session, set by `requireUser`. */
    session: Session;
    /** Who is asking (address, https), behind trusted proxies too; set for every request. */
    client: ClientInfo;
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

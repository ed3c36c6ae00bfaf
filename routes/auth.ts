/**
 * `/api/auth/*`: register, log in, log out.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { deleteCookie, setCookie } from "hono/cookie";
import type { User } from "../lib/accounts.ts";
import { ApiError, Errors } from "../lib/errors.ts";
import { isHttps, requireUser, SESSION_COOKIE } from "../http/middleware/auth.ts";
import { errors, json, jsonBody, signedIn } from "../http/openapi.ts";
import { type AppEnv, newRouter, type Services } from "../http/router.ts";
import { AuthResult, Credentials } from "../shared/schemas.ts";

const register = createRoute({
  method: "post",
  path: "/auth/register",
  tags: ["Accounts"],
  summary: "Create an account and sign in",
  request: jsonBody(Credentials),
  responses: {
    201: json(AuthResult, "The new user and a session token"),
    ...errors(400, 409, 429),
  },
});

const login = createRoute({
  method: "post",
  path: "/auth/login",
  tags: ["Accounts"],
  summary: "Sign in; also sets the session cookie",
  request: jsonBody(Credentials),
  responses: { 200: json(AuthResult, "The user and a session token"), ...errors(400, 401, 429) },
});

const logout = createRoute({
  method: "post",
  path: "/auth/logout",
  tags: ["Accounts"],
  summary: "End this session; its token and cookie stop working",
  security: signedIn,
  responses: { 204: { description: "Signed out" }, ...errors(401, 403) },
});

/** The account routes. */
export function authRoutes(deps: Services) {
  const app = newRouter();
  app.use("/auth/logout", requireUser(deps));

  app.openapi(register, async (c) => {
    const { username, password } = c.req.valid("json");
    const user = await deps.accounts.register(username, password, c.var.client.address);
    return c.json(await startSession(c, deps, user), 201);
  });

  app.openapi(login, async (c) => {
    const { username, password } = c.req.valid("json");
    const user = await deps.accounts.logIn(username, password, c.var.client.address);
    if (!user) throw new ApiError(Errors.badCredentials);
    return c.json(await startSession(c, deps, user), 200);
  });

  app.openapi(logout, async (c) => {
    await deps.sessions.end(c.var.user.id, [c.var.session.id]);
    deleteCookie(c, SESSION_COOKIE, { path: "/" });
    return c.body(null, 204);
  });

  return app;
}

async function startSession(c: Context<AppEnv>, deps: Services, user: User) {
  const device = c.req.header("user-agent") ?? "unknown";
  const { token } = await deps.sessions.start(user.id, { device, address: c.var.client.address });
  setCookie(c, SESSION_COOKIE, token, {
    path: "/",
    httpOnly: true,
    sameSite: "Lax",
    secure: isHttps(c, deps.config.publicOrigin),
    maxAge: Math.floor(deps.config.sessionTtlMs / 1000),
  });
  return { user, token };
}

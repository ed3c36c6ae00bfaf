/**
 * `/api/admin/*`: server administration, for the usernames in `PARLEY_ADMINS`.
 *
 * @module
 */
import { createRoute } from "@hono/zod-openapi";
import { requireUser } from "../http/middleware/auth.ts";
import { errors, json, jsonBody, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import {
  AdminUserPage,
  AdminUsersQuery,
  AuditPage,
  AuditQuery,
  SuspendBody,
  UsernameParams,
} from "../shared/schemas.ts";

const tags = ["Administration"];
const security = signedIn;

const suspend = createRoute({
  method: "post",
  path: "/admin/users/{username}/suspend",
  tags,
  security,
  summary: "Suspend an account: its sessions and streams end; logins get 403 `suspended`",
  request: { params: UsernameParams, ...jsonBody(SuspendBody) },
  responses: { 204: { description: "Suspended" }, ...errors(400, 401, 403, 404) },
});

const lift = createRoute({
  method: "delete",
  path: "/admin/users/{username}/suspend",
  tags,
  security,
  summary: "Lift a suspension",
  request: { params: UsernameParams },
  responses: { 204: { description: "Lifted" }, ...errors(400, 401, 403, 404) },
});

const users = createRoute({
  method: "get",
  path: "/admin/users",
  tags,
  security,
  summary: "Accounts by name, with status, room count and last activity",
  request: { query: AdminUsersQuery },
  responses: { 200: json(AdminUserPage, "A page of accounts"), ...errors(400, 401, 403) },
});

const audit = createRoute({
  method: "get",
  path: "/admin/audit",
  tags,
  security,
  summary: "The server's audit log, newest first",
  request: { query: AuditQuery },
  responses: { 200: json(AuditPage, "A page of the log"), ...errors(400, 401, 403) },
});

/** The administration routes. */
export function adminRoutes(s: Services) {
  const app = newRouter();
  app.use("/admin/*", requireUser(s));
  app.openapi(suspend, async (c) => {
    const reason = c.req.valid("json").reason ?? null;
    await s.admin.suspend(c.var.user, c.req.valid("param").username, reason);
    return c.body(null, 204);
  });
  app.openapi(lift, async (c) => {
    await s.admin.unsuspend(c.var.user, c.req.valid("param").username);
    return c.body(null, 204);
  });
  app.openapi(
    users,
    async (c) => c.json(await s.admin.accounts(c.var.user, c.req.valid("query")), 200),
  );
  app.openapi(
    audit,
    async (c) => c.json(await s.admin.audit(c.var.user, c.req.valid("query")), 200),
  );
  return app;
}

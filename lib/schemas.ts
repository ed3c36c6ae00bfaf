/**
 * The API's request and response schemas. The same zod schemas validate
 * requests and generate the OpenAPI document; clients import the types.
 * Nothing here touches the server (no KV), so the web app and the terminal
 * client can share it.
 *
 * @module
 */
import { z } from "@hono/zod-openapi";

/** 3–32 letters, digits, `_` or `-`. */
export const Username = z.string().regex(/^[A-Za-z0-9_-]{3,32}$/, {
  message: "Usernames are 3–32 letters, digits, _ or -",
}).openapi({ example: "alice" });

/** 8–128 characters. */
export const Password = z.string().min(8).max(128).openapi({ example: "correct horse" });

/** Body of register and login. */
export const Credentials = z.object({ username: Username, password: Password })
  .openapi("Credentials");

/** A user as everyone may see them. */
export const UserSchema = z.object({ id: z.string(), username: z.string() }).openapi("User");

/** What register and login answer. */
export const AuthResult = z.object({
  user: UserSchema,
  token: z.string().openapi({ description: "Send as `Authorization: Bearer <token>`." }),
}).openapi("AuthResult");

/** What `GET /api/me` answers. */
export const MeResult = z.object({ user: UserSchema }).openapi("Me");

/** The error shape of every failure. */
export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: "invalid_input" }),
    message: z.string(),
    details: z.unknown().optional(),
  }),
}).openapi("Error");

/** What `GET /api/health` answers. */
export const HealthResult = z.object({ status: z.literal("ok") }).openapi("Health");

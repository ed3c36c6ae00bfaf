/**
 * Small helpers for route definitions, so every route documents its
 * responses the same way.
 *
 * @module
 */
import type { z } from "@hono/zod-openapi";
import { ErrorSchema } from "../shared/schemas.ts";

const errorDescriptions: Record<number, string> = {
  400: "Invalid input",
  401: "Not signed in",
  403: "Not allowed",
  404: "Not found",
  409: "Conflict",
  413: "Body too large",
  415: "Body is not JSON",
  422: "Refused by the content filter",
  429: "Too many requests",
  503: "Unavailable",
};

/**
 * Error responses for a route definition, all in the error shape.
 *
 * @example
 * ```ts
 * responses: { 200: json(RoomResult, "The room"), ...errors(401, 404) }
 * ```
 */
export function errors(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [s, json(ErrorSchema, errorDescriptions[s] ?? "Error")]),
  );
}

/** A JSON response (or request body) of a schema. */
export function json<T extends z.ZodType>(schema: T, description: string) {
  return { content: { "application/json": { schema } }, description };
}

/** A required JSON request body. */
export function jsonBody<T extends z.ZodType>(schema: T) {
  return { body: { content: { "application/json": { schema } }, required: true } };
}

/** The security requirement of routes that need a signed-in user. */
export const signedIn: Record<string, string[]>[] = [{ bearer: [] }, { cookie: [] }];

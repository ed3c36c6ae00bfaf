/**
 * Attachments: `POST /api/rooms/:id/attachments` streams a file in
 * (`multipart/form-data`, field `file`), `GET /api/attachments/:id` streams
 * it out, to members of its room only.
 *
 * @module
 */
import { createRoute, z } from "@hono/zod-openapi";
import { boundaryOf, MultipartError, readFilePart } from "../http/multipart.ts";
import { requireUser } from "../http/middleware/auth.ts";
import { errors, json, signedIn } from "../http/openapi.ts";
import { newRouter, type Services } from "../http/router.ts";
import { ApiError, Errors } from "../lib/errors.ts";
import { AttachmentParams, AttachmentResult, RoomParams } from "../shared/schemas.ts";

/** Types a browser may show in the page; everything else is downloaded, never rendered. */
const INLINE_TYPES = new Set(["image/png", "image/jpeg", "image/gif", "image/webp"]);

// Documented here, served by a plain handler: a validated body would be read whole.
const upload = createRoute({
  method: "post",
  path: "/rooms/{id}/attachments",
  tags: ["Attachments"],
  security: signedIn,
  summary: "Upload a file to a room (members only); attach it with the next message",
  description:
    "`multipart/form-data` with the file in field `file`, as `curl -F file=@photo.jpg` " +
    "sends it. The file is streamed into KV and visible only once stored whole. At most " +
    "`MAX_UPLOAD_MB` per file and `UPLOAD_QUOTA_MB` per user (413 `file_too_large`, " +
    "`quota_exceeded`). Images report width and height. A file no message uses within 24 h " +
    "is deleted.",
  request: {
    params: RoomParams,
    body: {
      content: {
        "multipart/form-data": {
          schema: z.object({ file: z.string().openapi({ type: "string", format: "binary" }) }),
        },
      },
      required: true,
    },
  },
  responses: {
    201: json(AttachmentResult, "Stored"),
    ...errors(400, 401, 403, 404, 413, 415, 429),
  },
});

const download = createRoute({
  method: "get",
  path: "/attachments/{id}",
  tags: ["Attachments"],
  security: signedIn,
  summary: "Download a file (members of its room only); `Range` resumes and seeks",
  request: { params: AttachmentParams },
  responses: {
    200: {
      description: "The file's bytes",
      content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
    },
    206: {
      description: "The bytes a `Range` asked for",
      content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
    },
    416: { description: "The range is past the end of the file" },
    ...errors(400, 401, 404),
  },
});

/** The attachment routes. */
export function attachmentRoutes(s: Services) {
  const app = newRouter();
  app.use("/rooms/:id/attachments", requireUser(s));
  app.use("/attachments/*", requireUser(s));

  app.openAPIRegistry.registerPath(upload);
  app.post("/rooms/:id/attachments", async (c) => {
    const params = RoomParams.safeParse(c.req.param());
    if (!params.success) {
      throw new ApiError(Errors.invalidInput, undefined, { message: "Not a room id" });
    }
    const { id } = params.data;
    const boundary = boundaryOf(c.req.header("content-type") ?? null);
    if (!boundary) {
      throw new ApiError(Errors.unsupportedMediaType, undefined, {
        message: 'Send the file as multipart/form-data, in field "file".',
      });
    }
    const length = Number(c.req.header("content-length") ?? 0);
    if (length > s.attachments.limits.maxBytes + 64 * 1024) {
      throw new ApiError(Errors.fileTooLarge, { maxBytes: s.attachments.limits.maxBytes });
    }
    if (!c.req.raw.body) {
      throw new ApiError(Errors.invalidInput, undefined, { message: "No file." });
    }
    try {
      const part = await readFilePart(c.req.raw.body, boundary, "file");
      const attachment = await s.attachments.upload(c.var.user, id, {
        name: part.filename,
        contentType: part.contentType,
        body: part.body,
      });
      await part.drain();
      return c.json({ attachment }, 201);
    } catch (error) {
      if (error instanceof MultipartError) {
        throw new ApiError(Errors.invalidInput, undefined, { message: error.message });
      }
      // The client went away mid-file (a cancelled upload): nothing was stored; say so quietly.
      if (error instanceof Deno.errors.BadResource || /request body/i.test(String(error))) {
        throw new ApiError(Errors.invalidInput, undefined, { message: "The upload was cut off." });
      }
      throw error;
    }
  });

  app.openapi(download, async (c) => {
    const attachment = await s.attachments.find(c.var.user, c.req.valid("param").id);
    const inline = INLINE_TYPES.has(attachment.contentType);
    const headers: Record<string, string> = {
      "content-type": inline ? attachment.contentType : "application/octet-stream",
      "content-disposition": `${inline ? "inline" : "attachment"}; ${
        fileNameParams(attachment.name)
      }`,
      // `content-security-policy: sandbox` and `nosniff` come from the security headers
      // middleware, so whatever was uploaded (HTML, SVG) never runs in Parley's origin.
      "cache-control": "private, max-age=31536000, immutable",
      "accept-ranges": "bytes",
      etag: `"${attachment.sha256}"`,
    };
    const range = parseRange(c.req.header("range"), attachment.size);
    if (range === "unsatisfiable") {
      return new Response(null, {
        status: 416,
        headers: { ...headers, "content-range": `bytes */${attachment.size}` },
      }) as never;
    }
    const [start, end] = range ?? [0, attachment.size - 1];
    const body = s.attachments.read(attachment, start, end);
    return new Response(body, {
      status: range ? 206 : 200,
      headers: {
        ...headers,
        "content-length": String(end - start + 1),
        ...range ? { "content-range": `bytes ${start}-${end}/${attachment.size}` } : {},
      },
    }) as never;
  });

  return app;
}

/**
 * One byte range of `Range: bytes=…` (RFC 9110): `[start, end]`, `null` for
 * none (or several, which get the whole file), or `unsatisfiable`.
 */
export function parseRange(
  header: string | undefined,
  size: number,
): [number, number] | null | "unsatisfiable" {
  const m = header?.match(/^bytes=(\d*)-(\d*)$/);
  if (!m || (m[1] === "" && m[2] === "")) return null;
  let start: number, end: number;
  if (m[1] === "") {
    // A suffix: the last n bytes.
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === "" ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  return start >= size || start > end ? "unsatisfiable" : [start, end];
}

/** `filename="…"` (ASCII, for old clients) and `filename*=UTF-8''…` (RFC 6266). */
function fileNameParams(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, "_").replace(/["\\]/g, "_");
  return `filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`;
}

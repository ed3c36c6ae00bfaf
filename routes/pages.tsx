/**
 * The web app's pages: `/`, `/rooms/:id`, `/login` and `/register` are one
 * app shell, rendered on the server with the signed-in user's state and
 * hydrated in the browser by the islands in `islands/`. Also serves
 * `static/`.
 *
 * @module
 */
import type { Context } from "hono";
import { getCookie } from "hono/cookie";
import { renderToString } from "preact-render-to-string";
import { App, titleFor } from "../islands/app.tsx";
import { createStore } from "../islands/store.ts";
import type { Boot } from "../islands/types.ts";
import type { User } from "../lib/accounts.ts";
import { SESSION_COOKIE } from "../http/middleware/auth.ts";
import { type AppEnv, newRouter, type Services } from "../http/router.ts";
import { STATIC_DIR, staticFiles } from "../http/static_files.ts";
import { ROOM_ID_PATTERN } from "../shared/limits.ts";

/** The page routes and the static files. */
export function pageRoutes(s: Services, staticDir: string = STATIC_DIR) {
  const app = newRouter();
  app.get("/static/*", staticFiles("/static/", staticDir));
  app.get("/favicon.ico", (c) => c.redirect("/static/favicon.svg", 301));

  app.get("/", (c) => appPage(c, s, null));
  app.get("/rooms/:id", async (c, next) => {
    const id = c.req.param("id");
    return ROOM_ID_PATTERN.test(id) ? await appPage(c, s, id) : await next();
  });
  app.get("/login", (c) => authPage(c, s, "login"));
  app.get("/register", (c) => authPage(c, s, "register"));
  return app;
}

async function appPage(c: Context<AppEnv>, s: Services, roomId: string | null) {
  const user = await signedInUser(c, s);
  if (!user) {
    const next = roomId ? `?next=${encodeURIComponent(`/rooms/${roomId}`)}` : "";
    return c.redirect(`/login${next}`, 302);
  }
  const [rooms, invitations, blocks] = await Promise.all([
    s.rooms.mine(user.id),
    s.invitations.list(user.id),
    s.blocks.list(user.id),
  ]);
  const blocked = blocks.map((b) => b.user);
  const boot: Boot = {
    user,
    rooms,
    invitations,
    blocked,
    admin: s.admin.isAdmin(user),
    maxUploadBytes: s.attachments.limits.maxBytes,
    roomId,
    auth: "login",
    next: "/",
  };
  const unread = rooms.reduce((n, r) => n + r.unread, 0);
  const title = titleFor(unread, rooms.find((r) => r.id === roomId)?.name);
  return c.html(renderPage(title, boot), 200, { "cache-control": "no-store" });
}

async function authPage(c: Context<AppEnv>, s: Services, mode: "login" | "register") {
  const next = safeNext(c.req.query("next"));
  if (await signedInUser(c, s)) return c.redirect(next, 302);
  const boot: Boot = { user: null, rooms: [], roomId: null, auth: mode, next };
  const title = mode === "login" ? "Sign in · Parley" : "Create an account · Parley";
  return c.html(renderPage(title, boot), 200, { "cache-control": "no-store" });
}

/** The user of the session cookie, if it is live. */
async function signedInUser(c: Context<AppEnv>, s: Services): Promise<User | null> {
  const token = getCookie(c, SESSION_COOKIE);
  return token ? (await s.sessions.signIn(token))?.user ?? null : null;
}

/** Only same-site paths, so a crafted link cannot send someone elsewhere after signing in. */
function safeNext(next: string | undefined): string {
  return next && /^\/(?!\/)[\w\-/]*$/.test(next) ? next : "/";
}

/**
 * The HTML of a page: the app rendered with `boot`, and `boot` itself as a
 * JSON block the bundle reads (JSON is never executed, so the strict
 * Content-Security-Policy allows it).
 */
export function renderPage(title: string, boot: Boot): string {
  const body = renderToString(<App store={createStore(boot)} boot={boot} />);
  const json = JSON.stringify(boot).replace(/</g, "\\u003c");
  return "<!doctype html>" + renderToString(
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light" />
        <meta name="theme-color" content="#3b5bdb" />
        <title>{title}</title>
        <link rel="icon" href="/static/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href="/static/app.css" />
        <script type="module" src="/static/app.js" />
      </head>
      <body>
        <div id="app" dangerouslySetInnerHTML={{ __html: body }} />
        <script type="application/json" id="boot" dangerouslySetInnerHTML={{ __html: json }} />
      </body>
    </html>,
  );
}
